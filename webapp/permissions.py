"""Checks every view makes: which roles may use it, and whether the user may see a case.

Seeing a case is recorded in the audit log here, so no page can show a family's record
without leaving a trace of who looked.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, request
from flask_login import current_user

from engine import audit
from engine.access import visible_case
from engine.accounts import User, actor_for
from engine.actors import Actor
from engine.models import Case
from webapp.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


def me() -> User:
    """The signed-in user as the engine's ``User`` row."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


def my_actor() -> Actor:
    return actor_for(me())


def requires_roles(*roles: str) -> Callable[[F], F]:
    """Refuse (403) users without any of ``roles``; sign-in is already checked for every page."""

    def decorate(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if not set(roles) & set(me().roles):
                abort(403)
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def blueprint_for_roles(bp: Blueprint, *roles: str) -> None:
    """Refuse (403) every page of ``bp`` to users without any of ``roles``: an area such as
    the modeller or the admin pages belongs to its roles as a whole."""

    @bp.before_request
    def _roles_only() -> None:
        if not set(roles) & set(me().roles):
            abort(403)


def case_for(case_id: int, action: str, target: str = "", via: str = "web") -> Case:
    """The case if the user may see it (else 404), with this view or change audited."""
    session = db.session()
    case = visible_case(session, me(), case_id)
    audit.record(session, me().username, action, case.id, target or request.path, via)
    session.commit()
    return case


def audit_change(case_id: int | None, action: str, target: str = "", via: str = "web") -> None:
    """Record a change the user made (the engine's chronology holds what it was)."""
    session = db.session()
    audit.record(session, me().username, action, case_id, target or request.path, via)
    session.commit()
