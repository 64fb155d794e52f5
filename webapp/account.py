"""A worker's own account: the personal API tokens other council systems use on their behalf.

A new token is shown once, in the response to the request that made it, and never stored in
the session or a flash message; only its hash is kept (``engine.tokens``).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from engine import tokens as api_tokens
from engine.errors import KinflowError
from webapp.extensions import db
from webapp.permissions import me

bp = Blueprint("account", __name__, url_prefix="/account")


def _tokens_page(**extra: object) -> str:
    return render_template(
        "account/tokens.html",
        tokens=api_tokens.tokens_of(db.session(), me()),
        new_token=extra.get("new_token"),
        error=extra.get("error"),
        name=extra.get("name", ""),
    )


@bp.get("/tokens")
def tokens() -> str:
    return _tokens_page()


@bp.post("/tokens")
def create_token() -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    name = request.form.get("name", "").strip()
    try:
        row, plain = api_tokens.create_token(db.session(), me(), name, actor=me().username)
    except KinflowError as exc:
        message = str(exc).removeprefix("name: ")
        return _tokens_page(error=message[:1].upper() + message[1:], name=name), 422
    # The only time the token exists in plain text: keep it out of every cache.
    return _tokens_page(new_token=(row, plain)), 200, {"Cache-Control": "no-store"}


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> Response:
    row = api_tokens.revoke_token(db.session(), token_id, me(), actor=me().username)
    flash(f"The token '{row.name}' ({row.hint}…) is revoked: it no longer works.")
    return redirect(url_for("account.tokens"))
