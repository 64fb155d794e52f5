"""The claims page, its CSV and the case-level extract, as data officers and managers use them.

Families (tests/claims_data.py), all with their six-month check on 15 July 2026:
Central FGC: "Ashdown" (a name written to trip up CSV files: leading =, comma, quotes, line
break), claimable, coordinated by Zed (whose display name is as tricky); Birch, whose plan was
rejected. North FGC: Northcott, claimable.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from engine.audit import AuditEntry
from tests.claims_data import TRICKY_COORDINATOR, TRICKY_FAMILY, seed_families
from tests.web import OTHER_TEAM, TEAM, login, team_id

JULY = "from=2026-07-01&to=2026-07-31"
SINCE_2025 = "from=2025-01-01&to=2026-07-31"
CLAIM_HEADER = [
    "Case number",
    "Family",
    "Claimable",
    "Why not claimable",
    "Lead practitioner",
    "Support delivered",
    "Closed on",
    "Six-month check on",
    "Need",
    "Significant progress at closure",
    "Closure note",
    "Closure outcome recorded on",
    "Sustained at six months",
    "Six-month note",
    "Six-month outcome recorded on",
]
CASE_HEADER = [
    "Case number",
    "Team",
    "Referral date",
    "Referral type",
    "Child status",
    "Urgency",
    "Number of children",
    "Headline needs",
    "Eligible",
    "Eligibility reason",
    "Screening decision",
    "Decline reason",
    "Coordinator",
    "Allocated on",
    "Conference held on",
    "Plan agreed",
    "Reviews held",
    "Support paid (pounds)",
    "Closed on",
    "Closure reason",
    "Outcomes recorded at closure",
    "Outcomes with significant progress at closure",
    "Outcomes checked at six months",
    "Outcomes sustained at six months",
    "Stepped up",
    "Pre-proceedings FGC offered on",
    "Pre-proceedings FGC offer accepted",
    "Current stage",
    "Status",
]


@pytest.fixture
def families(app, workers) -> dict[str, int]:
    return seed_families(app)


def rows_of(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff"), "Excel needs the byte order mark to read UTF-8"
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def audit_rows(app, action: str) -> list[AuditEntry]:
    from webapp.extensions import db

    with app.app_context():
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(db.session().scalars(query))


@pytest.mark.parametrize(
    "username",
    ["riley.referrer", "casey.coordinator", "lee.practitioner", "pat.owner", "ada.admin"],
)
def test_only_data_officers_and_managers_may_read_claims_and_extracts(client, username):
    login(client, username)
    for path in ("/reports/claims", "/reports/claims.csv", "/reports/cases.csv"):
        assert client.get(f"{path}?{JULY}").status_code == 403, path
    assert "/reports/claims" not in client.get("/tasks").get_data(as_text=True)


def test_a_data_officer_sees_every_teams_claims_with_reasons(client, families):
    login(client, "dana.data")
    assert 'href="/reports"' in client.get("/tasks").get_data(as_text=True)  # the menu's Reports
    assert 'href="/reports/claims?' in client.get("/reports").get_data(as_text=True)  # its tab
    response = client.get(f"/reports/claims?{JULY}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    claimable, rest = page.split('id="not-claimable-heading"')
    assert "Claimable families (2)" in claimable
    assert f"Case {families['Northcott']}: Northcott family" in claimable
    assert "=Ashdown, &#34;Jo&#34;\nand Sam family" in claimable  # escaped, never markup
    assert "Sustained, recorded 15 Jul 2026: School every day since Easter." in claimable
    assert "Not claimable (1)" in rest
    assert "Birch" in rest and "No accepted family plan (action plan)" in rest


def test_a_manager_sees_only_their_own_team_whatever_team_they_ask_for(app, client, families):
    north = team_id(app, OTHER_TEAM)
    login(client, "morgan.manager")
    page = client.get(f"/reports/claims?{JULY}&team={north}").get_data(as_text=True)
    assert "Birch" in page and "Ashdown" in page
    assert "Northcott" not in page
    claims = rows_of(client.get(f"/reports/claims.csv?{JULY}&team={north}").data)
    assert {row[0] for row in claims[1:]} == {str(families["Ashdown"]), str(families["Birch"])}
    cases = rows_of(client.get(f"/reports/cases.csv?{SINCE_2025}&team={north}").data)
    assert [row[0] for row in cases[1:]] == [str(families["Ashdown"]), str(families["Birch"])]
    assert {row[1] for row in cases[1:]} == {TEAM}


def test_the_claims_file_has_a_row_per_need_and_text_that_cannot_run_as_a_formula(client, families):
    login(client, "dana.data")
    response = client.get(f"/reports/claims.csv?{JULY}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="kinflow-claims-2026-07-01-to-2026-07-31.csv"'
    )
    rows = rows_of(response.data)
    assert rows[0] == CLAIM_HEADER
    ashdown = [r for r in rows[1:] if r[0] == str(families["Ashdown"])]
    assert [r[8] for r in ashdown] == [
        "Getting a good education",
        "Improved mental and physical health",
        "Secure housing",
    ]
    first = ashdown[0]
    assert first[1] == "'" + TRICKY_FAMILY  # read back whole: comma, quotes and line break
    assert first[2:4] == ["yes", ""]
    assert first[6:8] == ["2026-01-15", "2026-07-15"]
    assert first[9:] == ["yes", "School every day since Easter.", "2026-01-15"] + [
        "yes",
        "School every day since Easter.",
        "2026-07-15",
    ]
    assert b'"\'=Ashdown, ""Jo""\nand Sam"' in response.data
    birch = [r for r in rows[1:] if r[1] == "Birch"]
    assert {r[2] for r in birch} == {"no"}
    assert {r[3] for r in birch} == {"No accepted family plan (action plan)"}


def test_the_case_extract_has_the_return_columns_and_no_names(client, families):
    login(client, "dana.data")
    response = client.get(f"/reports/cases.csv?{SINCE_2025}")
    assert response.status_code == 200
    rows = rows_of(response.data)
    assert rows[0] == CASE_HEADER
    by_case = {row[0]: dict(zip(CASE_HEADER, row, strict=True)) for row in rows[1:]}
    assert set(by_case) == {str(i) for i in families.values()}
    ashdown = by_case[str(families["Ashdown"])]
    assert ashdown["Coordinator"] == "'" + TRICKY_COORDINATOR
    assert ashdown["Team"] == TEAM
    assert ashdown["Referral date"] == "2025-09-01"
    assert ashdown["Number of children"] == "1"
    assert ashdown["Headline needs"] == "education; health; housing"
    assert ashdown["Plan agreed"] == "yes"
    assert ashdown["Support paid (pounds)"] == "350.00"
    assert (ashdown["Closed on"], ashdown["Closure reason"]) == ("2026-01-15", "plan_achieved")
    assert [ashdown[c] for c in CASE_HEADER[20:24]] == ["3", "3", "3", "3"]
    assert (ashdown["Stepped up"], ashdown["Status"]) == ("no", "completed")
    assert by_case[str(families["Birch"])]["Plan agreed"] == "no"
    text = response.data.decode("utf-8")
    assert "Ashdown" not in text and "Birch" not in text and "Sam" not in text


def test_the_extract_holds_cases_open_in_the_period_only(client, families):
    """Closed on 15 January 2026: in a period that includes that day, not in one after it."""
    login(client, "dana.data")
    assert len(rows_of(client.get("/reports/cases.csv?from=2026-01-15&to=2026-03-31").data)) == 4
    assert rows_of(client.get("/reports/cases.csv?from=2026-01-16&to=2026-03-31").data) == [
        CASE_HEADER
    ]


def test_every_view_and_download_is_audited_per_case(app, client, families):
    login(client, "dana.data")
    client.get(f"/reports/claims?{JULY}")
    client.get(f"/reports/claims.csv?{JULY}")
    client.get(f"/reports/cases.csv?{SINCE_2025}")
    everyone = set(families.values())
    for action in ("view_claims_report", "download_claims_csv", "download_case_extract"):
        entries = audit_rows(app, action)
        assert {e.username for e in entries} == {"dana.data"}
        assert {e.case_id for e in entries} == everyone | {None}, action
        [summary] = [e for e in entries if e.case_id is None]
        assert summary.target.endswith(": 3 cases")
    [summary] = [e for e in audit_rows(app, "view_claims_report") if e.case_id is None]
    assert summary.target == "claims report from=2026-07-01, to=2026-07-31: 3 cases"


def test_a_bad_filter_is_named_and_no_file_is_given(client, families):
    login(client, "dana.data")
    response = client.get("/reports/claims.csv?from=31/02/2026")
    assert response.status_code == 400
    assert "From: Give a date" in response.get_data(as_text=True)
    page = client.get("/reports/claims?from=yesterday")
    assert page.status_code == 400
    assert "From: Give a date in the years 2000 to 2099" in page.get_data(as_text=True)
