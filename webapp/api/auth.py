"""Who is calling the API, and what they may see: bearer tokens only, every case access audited.

Other council systems call the API with a personal API token (``Authorization: Bearer kf_...``),
never with the browser's session cookie, so a page on another site cannot make a signed-in
worker's browser use the API on its behalf. The token stands for its owner: the same roles,
the same cases, the same audit trail as on the web, with ``via="api"`` in the log.
"""

from __future__ import annotations

from typing import cast

from flask import g, request
from werkzeug.wrappers import Response

from engine import audit
from engine.access import visible_case
from engine.accounts import User, actor_for
from engine.actors import Actor
from engine.errors import CaseNotFound, NotAllowed, TaskNotFound
from engine.models import MAX_ID, Case, HumanTask
from engine.queries import get_task_and_case
from engine.tokens import user_for_token
from webapp.api import bp
from webapp.errors import error_response
from webapp.extensions import db

# Documentation is public: a developer reads it before they have a token.
PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})
_REALM = 'Bearer realm="kinflow"'


@bp.before_request
def _check_token() -> Response | None:
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
    if not 0 < case_id <= MAX_ID:
        raise CaseNotFound(f"Case {case_id} does not exist.")
    case = visible_case(session, api_user(), case_id)
    audit_request(action, case.id)
    session.commit()
    return case


def task_for(task_id: int, action: str) -> tuple[HumanTask, Case]:
    """The task and its case if the caller may see the case (else 404), audited."""
    session = db.session()
    missing = TaskNotFound(f"Task {task_id} does not exist.")
    if not 0 < task_id <= MAX_ID:
        raise missing
    task, _ = get_task_and_case(session, task_id)
    try:
        case = visible_case(session, api_user(), task.case_id)
    except CaseNotFound:
        raise missing from None
    audit_request(action, case.id)
    session.commit()
    return task, case
