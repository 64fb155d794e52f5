"""The conference board: a coordinator's or manager's conferences in columns by stage.

Read-only: a conference moves on when its tasks are completed, never by dragging a card.
The board lists only cases the user may see (``engine.access.case_visible_to``); opening one
is audited on the case page. Seeing the board is recorded once, without a case.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from flask import Blueprint, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from engine.accounts import User
from engine.administration import list_teams, list_users
from engine.board import BoardFilter, board, scopes_for
from engine.errors import KinflowError, NotAllowed
from engine.pathway_stages import referral_types
from engine.roles import COORDINATOR, FGC_MANAGER
from webapp.extensions import db
from webapp.permissions import audit_change, me, requires_roles

bp = Blueprint("board", __name__)

SCOPE_LABELS = {"mine": "Cases I coordinate", "team": "All my team's cases"}


@bp.get("/board")
@requires_roles(COORDINATOR, FGC_MANAGER)
def index() -> tuple[str, int]:
    session = db.session()
    user = me()
    problem = None
    try:
        where = BoardFilter.from_query(request.args)
        shown = board(session, user, where)
    except NotAllowed:
        raise
    except KinflowError as error:  # a bad filter: say which, and show the whole board
        problem, where = str(error), BoardFilter()
        shown = board(session, user, where)
    types = referral_types(session)
    audit_change(None, "view_board", target=request.full_path)
    page = render_template(
        "board/index.html",
        board=shown,
        where=where,
        problem=problem,
        scopes=[(s, SCOPE_LABELS[s]) for s in scopes_for(user)],
        scope_label=SCOPE_LABELS[shown.scope],
        coordinators=_coordinators(session),
        teams=list_teams(session),
        referral_types=types,
        type_labels={value: _short(label) for value, label in types},
        filtered=any((where.coordinator, where.team_id, where.referral_type)),
        clear_url=_board_url(BoardFilter(scope=where.scope)),
        case_url=_case_urls(),
    )
    return page, 400 if problem else 200


def _coordinators(session: Session) -> list[User]:
    """Active coordinators, by name, for the coordinator filter."""
    found = [u for u in list_users(session) if u.active and COORDINATOR in (u.roles or [])]
    return sorted(found, key=lambda u: (u.display_name.casefold(), u.username))


def _short(label: str) -> str:
    """A referral type's label for a card: the words before any explanation."""
    return label.split(":", 1)[0]


def _board_url(where: BoardFilter) -> str:
    query = {
        "scope": where.scope,
        "coordinator": where.coordinator,
        "team": where.team_id,
        "referral_type": where.referral_type,
    }
    given = {k: v for k, v in query.items() if v is not None}
    return url_for("board.index") + ("?" + urlencode(given) if given else "")


def _case_urls() -> Callable[[int], str]:
    """Each card's link to its case page. The route is built once per page, not once per card
    (a thousand cards on a full board): url_for was a fifth of the page's Python time."""
    try:
        sample = url_for("cases.show", case_id=_SAMPLE_ID)
    except BuildError:  # the case pages are another area; keep the board usable without them
        sample = f"/cases/{_SAMPLE_ID}"
    before, after = sample.split(str(_SAMPLE_ID), 1)
    return lambda case_id: f"{before}{case_id}{after}"


_SAMPLE_ID = 987654321  # no other number in the route's URL: it marks where the id goes
