"""The conference board page (/board) through the Flask test client, as its users meet it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.audit import AuditEntry
from engine.deploy import latest_version
from tests.test_board_engine import BASELINE_STAGE, PLAN_ACCEPTANCE, STAGES, open_case
from tests.test_pathway_walkthrough import at
from tests.web import OTHER_TEAM, login, team_id
from webapp.extensions import db, runtime


def add_case(app, family: str, stage: str, team: str | None = "Central FGC", **options):
    with app.app_context():
        session = db.session()
        version = latest_version(session, "fgc_pathway")
        tid = team_id(app, team) if team else None
        return open_case(runtime(), session, version, family, stage, team_id=tid, **options).id


def board_page(client, query: str = "") -> str:
    page = client.get("/board" + query)
    assert page.status_code == 200, page.status_code
    return page.get_data(as_text=True)


def columns(html: str) -> dict[str, str]:
    """Each column's heading text -> the HTML of its section."""
    found = {}
    for section in html.split('<section class="board-column')[1:]:
        heading = re.search(r"<h2[^>]*>(.*?)</h2>", section, re.S).group(1)
        name = re.sub(r"<[^>]+>.*", "", heading, flags=re.S).strip()
        found[name] = section.split("</section>")[0]
    return found


def count_in(html: str, column: str) -> int:
    heading = re.search(r"<h2[^>]*>(.*?)</h2>", columns(html)[column], re.S).group(1)
    return int(re.search(r'class="column-count">(\d+)', heading).group(1))


@pytest.fixture
def cases(app, workers, frozen_clock):
    """Four Central FGC conferences and one of North FGC, referred on Monday 2 March 2026."""
    return {
        "Ashdown": add_case(app, "Ashdown", BASELINE_STAGE),
        "Birch": add_case(app, "Birch", PLAN_ACCEPTANCE, referral_type="pre_proceedings"),
        "Cole": add_case(app, "Cole", BASELINE_STAGE, coordinator="cam.coordinator"),
        "Dunmore": add_case(app, "Dunmore", STAGES[1]),
        "Northcott": add_case(app, "Northcott", BASELINE_STAGE, team=OTHER_TEAM),
    }


def test_logged_out_the_board_sends_you_to_sign_in(client):
    page = client.get("/board")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("username", ["riley.referrer", "dana.data", "ada.admin"])
def test_people_who_neither_coordinate_nor_manage_are_refused(client, username):
    login(client, username)
    assert client.get("/board").status_code == 403


def test_a_manager_sees_the_teams_conferences_in_their_stage_columns_with_counts(client, cases):
    login(client, "morgan.manager")
    html = board_page(client)

    found = columns(html)
    assert list(found) == STAGES + ["Waiting"]
    assert "Ashdown" in found[BASELINE_STAGE] and "Cole" in found[BASELINE_STAGE]
    assert "Birch" in found[PLAN_ACCEPTANCE]
    assert "Dunmore" in found[STAGES[1]]
    assert count_in(html, BASELINE_STAGE) == 2
    assert count_in(html, "Waiting") == 0
    assert "Northcott" not in html
    assert f'href="/cases/{cases["Ashdown"]}"' in found[BASELINE_STAGE]
    assert "Casey Coordinator" in found[BASELINE_STAGE]
    assert "Pre-proceedings" in found[PLAN_ACCEPTANCE]


def test_a_coordinator_sees_the_cases_they_coordinate_unless_they_ask_for_more(client, cases):
    login(client, "cam.coordinator")
    html = board_page(client)
    assert "Cole" in html
    assert "Ashdown" not in html and "Birch" not in html
    assert 'id="scope-mine" name="scope" value="mine" checked' in html

    wider = board_page(client, "?scope=team")
    assert "Cole" in wider
    assert "Ashdown" not in wider  # Casey's conference: Cam does not work on it


def test_a_manager_of_another_team_sees_none_of_central_fgcs_conferences(client, cases):
    login(client, "mel.manager")
    html = board_page(client)
    assert "Northcott" in html
    for family in ("Ashdown", "Birch", "Cole", "Dunmore"):
        assert family not in html


def test_each_filter_narrows_the_board(client, app, cases):
    login(client, "morgan.manager")
    by_type = board_page(client, "?referral_type=pre_proceedings")
    assert "Birch" in by_type and "Ashdown" not in by_type

    by_coordinator = board_page(client, "?coordinator=cam.coordinator")
    assert "Cole" in by_coordinator and "Ashdown" not in by_coordinator
    assert '<option value="cam.coordinator" selected>' in by_coordinator

    north = team_id(app, OTHER_TEAM)
    by_team = board_page(client, f"?team={north}")
    assert not any(family in by_team for family in ("Ashdown", "Birch", "Cole", "Dunmore"))
    assert "Clear filters" in by_team

    central = board_page(client, f"?team={team_id(app)}")
    assert all(family in central for family in ("Ashdown", "Birch", "Cole", "Dunmore"))


def test_the_sla_state_is_written_on_each_card(client, cases, frozen_clock):
    login(client, "casey.coordinator")
    html = board_page(client)
    assert "On time" in columns(html)[BASELINE_STAGE]
    assert "<strong>0</strong> overdue" in html

    frozen_clock.set(at("2026-03-09", 10))  # the baseline meeting was due at 09:00
    html = board_page(client)
    ashdown = columns(html)[BASELINE_STAGE]
    assert '<span class="tag tag-overdue">Overdue</span>' in ashdown
    assert "<strong>3</strong> overdue" in html  # all three of Casey's conferences


def test_days_in_stage_are_shown_on_the_card(client, cases, frozen_clock):
    frozen_clock.set(at("2026-03-05", 12))
    login(client, "casey.coordinator")
    card = columns(board_page(client))[BASELINE_STAGE]
    assert re.search(r"In this stage</dt>\s*<dd>3 days</dd>", card)


def test_a_bad_filter_is_explained_and_the_whole_board_shown(client, cases):
    login(client, "morgan.manager")
    page = client.get("/board?team=central&scope=mine")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "That filter could not be used" in html
    assert "team: choose a team from the list." in html
    assert "Ashdown" in html


def test_a_manager_cannot_ask_for_cases_they_coordinate(client, cases):
    login(client, "morgan.manager")
    page = client.get("/board?scope=mine")
    assert page.status_code == 400
    assert "scope: only coordinators" in page.get_data(as_text=True)


def test_looking_at_the_board_is_audited(client, app, cases):
    login(client, "morgan.manager")
    board_page(client, "?referral_type=standard")
    with app.app_context():
        entry = (
            db.session().scalars(select(AuditEntry).where(AuditEntry.action == "view_board")).one()
        )
    assert (entry.username, entry.case_id) == ("morgan.manager", None)
    assert entry.target == "/board?referral_type=standard"


def test_the_board_is_accessible_without_javascript(client, cases):
    login(client, "morgan.manager")
    html = board_page(client)
    assert "<script" not in html.split("<main", 1)[1]
    for field in ("filter-coordinator", "filter-team", "filter-referral-type"):
        assert f'<label for="{field}">' in html
    assert html.count('<section class="board-column') == len(STAGES) + 1
    assert "<h1>Conference board</h1>" in html
