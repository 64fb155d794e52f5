"""The "where cases wait" page: who may read it, the figures it shows for the filter, and the
diagram data it embeds for the heat map (the drawing itself: tests/browser/test_stage_waits.py).

Stays written straight into ``stage_visits``, by hand: Central FGC (Morgan Manager's team) has
screening stays of 1 and 3 days and network preparation stays of 6 days ended in March 2026,
and a case in baseline now; North FGC has a screening stay of 10 days.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from engine.models import Case, StageVisit
from engine.record.models import Referral
from tests.web import OTHER_TEAM, TEAM, login, team_id

MARCH = "from=2026-03-01&to=2026-03-31"
NOW = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)


def stays(app) -> None:
    from engine.deploy import latest_version
    from webapp.extensions import db

    central, north = team_id(app, TEAM), team_id(app, OTHER_TEAM)
    with app.app_context():
        session = db.session()
        version = latest_version(session, "fgc_pathway").id

        def case(family: str, team: int) -> int:
            row = Case(version_id=version, title=f"{family} family", state="", created_by="x")
            row.team_id = team
            session.add(row)
            session.flush()
            session.add(
                Referral(
                    case_id=row.id,
                    family_name=family,
                    referrer_name="Riley Shaw",
                    referred_by="riley.referrer",
                    referral_type="standard",
                    urgency="routine",
                    why_now="Fictional test family.",
                    consent_given=True,
                    coordinator="casey.coordinator",
                )
            )
            return row.id

        def stay(case_id: int, stage: str, process: str, entered: datetime, days=None):
            left = None if days is None else entered + timedelta(days=days)
            session.add(
                StageVisit(
                    case_id=case_id,
                    stage=stage,
                    process_id=process,
                    entered_at=entered,
                    left_at=left,
                )
            )

        screening = ("Screening and allocation", "screening_allocation")
        stay(case("Ashdown", central), *screening, at("2026-03-02"), 1)
        stay(case("Birch", central), *screening, at("2026-03-02"), 3)
        stay(
            case("Cole", central), "Network preparation", "network_preparation", at("2026-03-05"), 6
        )
        stay(
            case("Dunmore", central),
            "Baseline meeting and whole-family assessment",
            "baseline_assessment",
            NOW - timedelta(days=4),
        )
        stay(case("Northcott", north), *screening, at("2026-03-02"), 10)
        session.commit()


@pytest.fixture
def seeded(app, workers, frozen_clock):
    frozen_clock.set(NOW)
    stays(app)


def row_of(page: str, stage: str) -> list[str]:
    """The table row of a stage: its cells' text, after the stage's name."""
    found = re.search(rf'<th scope="row">{re.escape(stage)}</th>(.*?)</tr>', page, re.S)
    assert found, f"no row for {stage}"
    return [re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", found[1])]


def diagram_data(page: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="waits-diagram-data">(.*?)</script>', page, re.S
    )
    assert found, "no diagram data on the page"
    [diagram] = json.loads(found[1])
    return diagram


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("morgan.manager", 200),
        ("dana.data", 200),
        ("casey.coordinator", 403),
        ("riley.referrer", 403),
        ("lee.practitioner", 403),
        ("pat.owner", 403),
        ("ada.admin", 403),
    ],
)
def test_only_fgc_managers_and_data_officers_may_read_it(client, username, status):
    login(client, username)
    assert client.get("/reports/waits").status_code == status


def test_a_manager_sees_their_own_team_whatever_team_they_ask_for(app, client, seeded):
    login(client, "morgan.manager")
    north = team_id(app, OTHER_TEAM)
    page = client.get(f"/reports/waits?{MARCH}&team={north}").get_data(as_text=True)
    assert "Central FGC" in page
    # Central's screening stays, 1 and 3 days: median 2.0, p90 = 1 + 0.9 x 2 = 2.8.
    assert row_of(page, "Screening and allocation") == ["2", "2.0", "2.8", "0", "no data"]
    assert row_of(page, "Network preparation") == ["1", "6.0", "6.0", "0", "no data"]
    assert row_of(page, "Baseline meeting and whole-family assessment") == [
        "0",
        "no data",
        "no data",
        "1",
        "4.0",
    ]


def test_a_data_officer_sees_every_team_or_the_one_they_choose(app, client, seeded):
    login(client, "dana.data")
    page = client.get(f"/reports/waits?{MARCH}").get_data(as_text=True)
    # 1, 3 and 10 days: median 3.0, p90 = 3 + 0.8 x 7 = 8.6.
    assert row_of(page, "Screening and allocation") == ["3", "3.0", "8.6", "0", "no data"]
    north = team_id(app, OTHER_TEAM)
    page = client.get(f"/reports/waits?{MARCH}&team={north}").get_data(as_text=True)
    assert row_of(page, "Screening and allocation") == ["1", "10.0", "10.0", "0", "no data"]
    assert row_of(page, "Network preparation") == ["0", "no data", "no data", "0", "no data"]


def test_the_diagram_data_shades_each_stage_at_its_call_activity(client, seeded):
    login(client, "morgan.manager")
    page = client.get(f"/reports/waits?{MARCH}").get_data(as_text=True)
    diagram = diagram_data(page)
    assert diagram["process_id"] == "fgc_pathway"
    assert '<bpmn:callActivity id="screening"' in diagram["bpmn_xml"]
    # The slowest median (network preparation, 6.0 days) is the darkest; 2.0 is a third of it.
    assert diagram["heat"] == {"network_preparation": 5, "screening": 2}
    assert diagram["badges"]["screening"] == "2.0 days"
    assert diagram["badges"]["baseline_and_assessment"] == "no data"
    assert diagram["notes"]["baseline_and_assessment"] == (
        "no stay ended in the period; 1 case there now"
    )
    assert diagram["notes"]["screening"] == "median 2.0 days"
    assert diagram["order"][:2] == ["referral", "screening"]
    assert diagram["labels"]["screening"] == "Screening and allocation"
    # The key to the shades, in words on the page: fifths of 6.0 days.
    assert "Median up to 1.2 days" in page
    assert "Median 4.8 to 6.0 days" in page


def test_the_table_is_accessible_and_the_page_says_what_needs_javascript(client, seeded):
    login(client, "dana.data")
    page = client.get(f"/reports/waits?{MARCH}").get_data(as_text=True)
    assert (
        "<caption>Where cases wait: days in each stage: stays ended 1 March 2026 to 31 March 2026"
        in page
    )
    assert '<th scope="col" class="number">Median days</th>' in page
    assert "<noscript>" in page
    assert 'data-diagram-source="waits-diagram-data"' in page


def test_a_bad_filter_names_its_field_and_shows_the_default_period(client, seeded):
    login(client, "dana.data")
    answer = client.get("/reports/waits?from=someday&coordinator=nobody")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "From: Give a date in the years 2000 to 2099" in page
    assert "Coordinator: Choose a coordinator from the list" in page
    assert row_of(page, "Screening and allocation")  # the figures are still there


def test_no_stay_ended_in_the_period_shades_nothing(client, seeded):
    login(client, "dana.data")
    page = client.get("/reports/waits?from=2025-01-01&to=2025-01-31").get_data(as_text=True)
    assert diagram_data(page)["heat"] == {}
    assert "No stay in a stage ended in this period, so no stage is shaded." in page
