"""GET /api/v1/reports/kpis: the dashboard's figures as JSON, the same as the page and the CSV.

Figures are checked against the hand-counted referrals of tests/report_data.py.
"""

from __future__ import annotations

import pytest

from engine.accounts import find_user
from engine.reports.tables import measure_keys
from engine.tokens import create_token
from tests.report_data import (
    CENTRAL,
    EVERY_TEAM,
    NORTH,
    csv_counts,
    json_counts,
    measure_exists,
    page_counts,
    seed,
)
from tests.web import OTHER_TEAM, TEAM, login, team_id
from webapp.extensions import db


@pytest.fixture
def seeded(app, workers, frozen_clock):
    measure_exists("referrals")
    return seed(app)


def bearer(app, username: str) -> dict[str, str]:
    with app.app_context():
        session = db.session()
        token = create_token(session, find_user(session, username), "tests")[1]
    return {"Authorization": f"Bearer {token}"}


def kpis(app, client, username: str, query: str = "", status: int = 200) -> dict:
    answer = client.get("/api/v1/reports/kpis" + query, headers=bearer(app, username))
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.is_json
    return answer.get_json()


def test_the_page_the_csv_and_the_api_give_the_same_figures(app, client, seeded):
    document = kpis(app, client, "morgan.manager")
    login(client, "morgan.manager")
    page = client.get("/reports").get_data(as_text=True)
    csv = client.get("/reports/referrals.csv").data
    assert json_counts(document) == page_counts(page) == csv_counts(csv) == CENTRAL


def test_a_manager_gets_their_own_team_for_the_last_twelve_months(app, client, seeded):
    document = kpis(app, client, "morgan.manager")
    assert document["period"] == {"from": "2025-03-03", "to": "2026-03-02"}
    assert document["computed_at"] == "2026-03-02T09:00:00+00:00"  # the frozen clock's now
    assert document["team"] == {"id": team_id(app, TEAM), "name": TEAM}
    assert [t["key"] for t in document["tables"]] == measure_keys()
    [referrals] = [t for t in document["tables"] if t["key"] == "referrals"]
    assert referrals["title"] and referrals["how"]
    assert referrals["columns"][1] == {"key": "count", "label": "Number", "kind": "count"}
    # Asking for another team changes nothing for a manager.
    other = kpis(app, client, "morgan.manager", f"?team={team_id(app, OTHER_TEAM)}")
    assert json_counts(other) == CENTRAL
    assert other["team"]["name"] == TEAM


def test_a_data_officer_gets_every_team_or_the_one_asked_for(app, client, seeded):
    document = kpis(app, client, "dana.data")
    assert document["team"] is None
    assert json_counts(document) == EVERY_TEAM
    north = kpis(app, client, "dana.data", f"?team={team_id(app, OTHER_TEAM)}")
    assert north["team"] == {"id": team_id(app, OTHER_TEAM), "name": OTHER_TEAM}
    assert json_counts(north) == NORTH


def test_filters_and_a_period_boundary(app, client, seeded):
    query = "?from=2026-01-20&to=2026-01-20&coordinator=&referral_type=standard"
    document = kpis(app, client, "morgan.manager", query)
    assert document["period"] == {"from": "2026-01-20", "to": "2026-01-20"}
    assert document["referral_type"] == "standard" and document["coordinator"] is None
    assert json_counts(document) == {"received": 1, "accepted": 0, "declined": 0}
    casey = kpis(app, client, "morgan.manager", "?coordinator=casey.coordinator")
    assert json_counts(casey) == {"received": 1, "accepted": 1, "declined": 0}


def test_numbers_are_numbers_money_is_a_string_and_no_data_is_null(app, client, seeded):
    measure_exists("timeliness")
    measure_exists("support")
    tables = {t["key"]: t for t in kpis(app, client, "morgan.manager")["tables"]}
    [allocation, conference] = tables["timeliness"]["rows"]
    assert allocation == {
        "measure": "Allocation of a coordinator",
        "count": 1,
        "median": 4.0,
        "p90": 4.0,
    }
    assert conference["count"] == 0 and conference["median"] is None
    requested = tables["support"]["rows"][0]
    assert requested == {"stage": "Requested", "count": 1, "total": "1234.50"}


def test_an_empty_period_answers_zeros_and_nulls(app, client, seeded):
    document = kpis(app, client, "morgan.manager", "?from=2024-01-01&to=2024-01-31")
    assert json_counts(document) == {"received": 0, "accepted": 0, "declined": 0}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("?from=2026-02-30", "from"),
        ("?to=tomorrow", "to"),
        ("?from=2026-03-01&to=2026-02-01", "to"),
        ("?team=north", "team"),
        ("?team=99999", "team"),
        ("?coordinator=nobody", "coordinator"),
        ("?referral_type=emergency", "referral_type"),
    ],
)
def test_a_bad_parameter_is_422_naming_it(app, client, seeded, query, parameter):
    answer = kpis(app, client, "dana.data", query, status=422)
    assert list(answer["errors"]) == [parameter]
    assert answer["errors"][parameter].startswith(f"{parameter}: ")
    assert f"{parameter}: " in answer["message"]


@pytest.mark.parametrize(
    "username", ["riley.referrer", "casey.coordinator", "lee.practitioner", "ada.admin"]
)
def test_roles_that_may_not_read_reports_are_refused(app, client, seeded, username):
    answer = kpis(app, client, username, status=403)
    assert "FGC managers and data officers" in answer["message"]


def test_without_a_token_the_answer_is_401(client, seeded):
    assert client.get("/api/v1/reports/kpis").status_code == 401


def test_a_missing_end_of_the_period_is_filled_in(app, client, seeded):
    since = kpis(app, client, "morgan.manager", "?from=2026-01-01")["period"]
    assert since == {"from": "2026-01-01", "to": "2026-03-02"}  # until today
    until = kpis(app, client, "morgan.manager", "?to=2026-01-31")["period"]
    assert until == {"from": "2025-02-01", "to": "2026-01-31"}  # the twelve months before
