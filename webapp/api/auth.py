"""Who is calling the API, and what they may see: bearer tokens only, every case access audited.

Other council systems call the API with a personal API token (``Authorization: Bearer kf_...``),
never with the browser's session cookie, so a page on another site cannot make a signed-in
worker's browser use the API on its behalf. The token stands for its owner: the same roles,
the same cases, the same audit trail as on the web, with ``via="api"`` in the log.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from flask import g, request
from sqlalchemy import Select, bindparam, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import aliased, defer
from werkzeug.wrappers import Response

from engine import audit
from engine.access import case_visible_to
from engine.accounts import User, actor_for
from engine.actors import Actor
from engine.errors import CaseNotFound, NotAllowed, TaskNotFound
from engine.models import MAX_ID, Case, HumanTask
from engine.tokens import user_for_token
from webapp.api import bp
from webapp.errors import error_response
from webapp.extensions import db

# Documentation is public: a developer reads it before they have a token.
PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})
_REALM = 'Bearer realm="kinflow"'


@bp.before_request
def _check_token() -> Response | None:
    # Every API request reads what it needs afresh (the task actions reload their rows with
    # populate_existing, the engine keeps the objects it writes in step), so expiring every
    # loaded object at each of a request's commits only bought repeated SELECTs: nine of a
    # completion's 28 statements were the token owner, the case and the task read again.
    db.session().expire_on_commit = False
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    if not header.strip():
        return _unauthorized(
            "Send your personal API token in the header 'Authorization: Bearer <token>'. "
            "Create one on your account page.",
            None,
        )
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized(
            "The Authorization header must be 'Bearer <token>'; other schemes are not accepted.",
            "invalid_request",
        )
    user = user_for_token(db.session(), token.strip())
    if user is None:
        return _unauthorized(
            "This API token is not valid: it is mistyped, was revoked, "
            "or belongs to an account that was deactivated.",
            "invalid_token",
        )
    g.api_user = user
    return None


def _unauthorized(message: str, error: str | None) -> Response:
    """401 with the challenge RFC 6750 asks for, naming what was wrong with the token."""
    body, _ = error_response(401, message)
    response = cast(Response, body)  # always JSON on an API path
    response.status_code = 401
    challenge = _REALM + (f', error="{error}"' if error else "")
    response.headers["WWW-Authenticate"] = challenge
    return response


def api_user() -> User:
    """The token's owner (the token check ran before every view but the documentation)."""
    return g.api_user


def api_actor() -> Actor:
    return actor_for(api_user())


def require_any_role(roles: tuple[str, ...], what: str) -> None:
    """Refuse (403) a caller holding none of ``roles``; ``what`` says what they tried."""
    if set(roles).isdisjoint(api_user().roles):
        raise NotAllowed(f"Only {' or '.join(roles)} users can {what}.")


def audit_request(action: str, case_id: int | None = None) -> None:
    """Add an audit entry for this request to the caller's transaction."""
    audit.record(db.session(), api_user().username, action, case_id, request.path, "api")


def case_for(case_id: int, action: str) -> Case:
    """The case if the caller may see it (else 404, as if it did not exist), audited."""
    session = db.session()
    case = None
    if 0 < case_id <= MAX_ID:
        case = session.scalar(_visible_case_query(_user_key(api_user())), {"case_id": case_id})
    if case is None:
        raise CaseNotFound(f"Case {case_id} does not exist.")
    audit_request(action, case.id)
    session.commit()
    return case


def still_visible_case(case_id: int) -> Case | None:
    """The case as it now stands if the caller sees it, else None (not audited)."""
    return db.session().scalar(_visible_case_query(_user_key(api_user())), {"case_id": case_id})


def task_for(task_id: int, action: str) -> tuple[HumanTask, Case]:
    """The task and its case if the caller may see the case (else 404), audited.

    One query: a task on a case the caller cannot see is as missing as one that never was.
    """
    session = db.session()
    found = None
    if 0 < task_id <= MAX_ID:
        query = _visible_task_query(_user_key(api_user()))
        found = session.execute(query, {"task_id": task_id}).first()
    if found is None:
        raise TaskNotFound(f"Task {task_id} does not exist.")
    task, case = found
    audit_request(action, case.id)
    session.commit()
    return task, case


# -- the visibility queries, built once per caller -------------------------------------------
#
# Building the visibility rule's statement took about 1 ms of CPU per request, more than
# PostgreSQL took to run it. The statements are kept per caller, keyed on every column of the
# caller's row and built from that key alone, so a statement can only depend on what the key
# holds: a change of team, roles or active flag is a new key. Only the SQL is kept; every
# request runs it against the database as it is then.

_USER_FIELDS = tuple(attr.key for attr in sa_inspect(User).column_attrs)


def _user_key(user: User) -> tuple[Any, ...]:
    values = (getattr(user, name) for name in _USER_FIELDS)
    return tuple(tuple(v) if isinstance(v, list) else v for v in values)


def _user_from(key: tuple[Any, ...]) -> User:
    """A detached copy of the caller made from the key, for building a statement."""
    values = {
        n: list(v) if isinstance(v, tuple) else v for n, v in zip(_USER_FIELDS, key, strict=True)
    }
    return User(**values)


@lru_cache(maxsize=1024)
def _visible_task_query(key: tuple[Any, ...]) -> Select:
    """A task with its case, if the case is visible to the caller (``task_id`` bound later).

    The case's serialized workflow is left unread: the engine reads the case again in its own
    write transaction, so loading the document here would only be thrown away.
    """
    # Aliased: the visibility rule's own subqueries over human_tasks must not correlate to it.
    task_row = aliased(HumanTask)
    return (
        select(task_row, Case)
        .join(Case, Case.id == task_row.case_id)
        .where(task_row.id == bindparam("task_id"), case_visible_to(_user_from(key)))
        .options(defer(Case.state))
        .execution_options(populate_existing=True)
    )


@lru_cache(maxsize=1024)
def _visible_case_query(key: tuple[Any, ...]) -> Select:
    """A case, if visible to the caller (``case_id`` bound later); its serialized workflow,
    which no API answer shows, is read only if something asks for it."""
    return (
        select(Case)
        .where(Case.id == bindparam("case_id"), case_visible_to(_user_from(key)))
        .options(defer(Case.state))
        .execution_options(populate_existing=True)
    )
