"""Engine errors become pages (or JSON for the API) in one place, never a traceback."""

from __future__ import annotations

from contextlib import suppress

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from engine.errors import (
    ConcurrentChange,
    FormInvalid,
    KinflowError,
    NotAllowed,
    NotFound,
    TaskNotReady,
)
from webapp.extensions import db

_STATUS: list[tuple[type[KinflowError], int]] = [
    (NotFound, 404),
    (NotAllowed, 403),
    (TaskNotReady, 409),
    (ConcurrentChange, 409),
    (FormInvalid, 422),
    (KinflowError, 400),
]

_TITLES = {
    400: "That could not be done",
    401: "Sign in to continue",
    403: "You cannot do this",
    404: "Not found",
    405: "Not allowed here",
    409: "Someone else got there first",
    422: "Some answers need changing",
    500: "Something went wrong on our side",
    503: "Database unavailable",
}

DATABASE_DOWN = (
    "The database is unavailable at the moment, so nothing was saved. "
    "Try again in a minute: Kinflow reconnects by itself when it is back."
)


def status_for(error: KinflowError) -> int:
    return next(code for kind, code in _STATUS if isinstance(error, kind))


def wants_json() -> bool:
    return request.blueprint == "api" or request.path.startswith("/api/")


def error_response(status: int, message: str, **extra: object) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify({"error": _TITLES.get(status, "Error"), "message": message, **extra}), status
    page = render_template(
        "errors/error.html", status=status, title=_TITLES.get(status, "Error"), message=message
    )
    return page, status


def init_app(app: Flask) -> None:
    @app.errorhandler(KinflowError)
    def _engine_error(error: KinflowError):  # type: ignore[no-untyped-def]
        db.session.rollback()
        extra = {"errors": error.errors} if isinstance(error, FormInvalid) else {}
        return error_response(status_for(error), str(error), **extra)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):  # type: ignore[no-untyped-def]
        return error_response(
            400,
            "This form had expired or did not come from Kinflow. "
            "Go back, reload the page and send it again.",
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):  # type: ignore[no-untyped-def]
        if error.code is None or error.code < 400:
            return error
        thing = "address" if wants_json() else "page"
        messages = {
            403: "Your role does not allow this page or action.",
            404: f"There is no such {thing}, or you do not have access to it.",
            405: f"This {thing} does not take a {request.method} request.",
        }
        message = messages.get(error.code, error.description or "")
        body, status = error_response(error.code, message)
        response = app.make_response((body, status))
        for name, value in error.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
        return response

    @app.before_request
    def _refuse_unstorable_text():  # type: ignore[no-untyped-def]
        # PostgreSQL cannot store a NUL character; refusing it here keeps it from becoming a 500.
        fields = [*request.args.items(multi=True), *request.form.items(multi=True)]
        for name, value in fields:
            if "\x00" in value or "\x00" in name:
                return error_response(
                    400, f"{name.replace(chr(0), '')}: contains a character that cannot be stored."
                )
        return None

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_down(error: Exception):  # type: ignore[no-untyped-def]
        # PostgreSQL restarting or unreachable: say so, briefly, instead of a traceback page.
        app.logger.warning("Database unavailable on %s: %s", request.path, error)
        # The connection may be gone already; the pool replaces it on the next checkout.
        with suppress(OperationalError, InterfaceError):
            db.session.rollback()
        if wants_json():
            body = jsonify({"error": _TITLES[503], "message": DATABASE_DOWN, "retry": True})
        else:
            # The error page itself may need the database (the signed-in user): plain text.
            body = Response(f"{_TITLES[503]}. {DATABASE_DOWN}", mimetype="text/plain")
        response = app.make_response((body, 503))
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):  # type: ignore[no-untyped-def]
        db.session.rollback()
        app.logger.exception("Unexpected error on %s", request.path)
        return error_response(
            500, "The error has been logged. Drafts you saved are kept: go back and try again."
        )
