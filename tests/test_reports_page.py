"""The reports dashboard (/reports) and its CSV files, as managers and data officers use them.

Figures are checked against the hand-counted referrals of tests/report_data.py.
"""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import lxml.html
import pytest
from sqlalchemy import update

from engine.accounts import User
from engine.reports.csv_export import table_csv
from engine.reports.tables import Column, Table, measure_keys
from tests.report_data import (
    CENTRAL,
    EVERY_TEAM,
    NORTH,
    TRICKY_NAME,
    csv_counts,
    csv_rows,
    measure_exists,
    page_counts,
    page_table,
    seed,
)
from tests.web import OTHER_TEAM, login, team_id
from webapp.extensions import db
from webapp.report_figures import figure_text


@pytest.fixture
def seeded(app, workers, frozen_clock):
    measure_exists("referrals")
    return seed(app)


def dashboard(client, query: str = "", status: int = 200) -> str:
    answer = client.get("/reports" + query)
    assert answer.status_code == status, answer.get_data(as_text=True)[-2000:]
    return answer.get_data(as_text=True)


def error_beside(html: str, field: str) -> str:
    found = lxml.html.fromstring(html).xpath(f'//p[@id="{field}-error"]')
    return found[0].text_content().strip() if found else ""


# --- who sees what --------------------------------------------------------------------------


def test_a_manager_sees_their_own_team_over_the_last_twelve_months(client, seeded):
    login(client, "morgan.manager")
    html = dashboard(client)
    assert page_counts(html) == CENTRAL
    intro = lxml.html.fromstring(html).xpath('//p[@class="reports-intro"]')[0].text_content()
    assert "Central FGC" in intro
    assert "3 March 2025 to 2 March 2026" in intro
    assert 'name="team"' not in html  # the team is fixed, named, not chosen
    assert '<a href="/reports" aria-current="page">Reports</a>' in html


def test_the_page_says_when_its_figures_were_counted_and_how_often(client, seeded):
    login(client, "morgan.manager")
    page = lxml.html.fromstring(dashboard(client))
    [heading] = page.xpath("//h1")
    said = heading.getnext()
    assert said.get("class") == "reports-as-of"  # right under the heading
    assert " ".join(said.text_content().split()) == (
        "Figures as of 09:00 (London time); they are refreshed every 15 minutes."
    )


def test_a_manager_asking_for_another_team_still_sees_their_own(app, client, seeded):
    login(client, "morgan.manager")
    html = dashboard(client, f"?team={team_id(app, OTHER_TEAM)}")
    assert page_counts(html) == CENTRAL
    assert "North FGC" not in html
    csv = client.get(f"/reports/referrals.csv?team={team_id(app, OTHER_TEAM)}")
    assert csv_counts(csv.data) == CENTRAL


def test_a_data_officer_sees_every_team_or_the_one_they_choose(app, client, seeded):
    login(client, "dana.data")
    html = dashboard(client)
    assert page_counts(html) == EVERY_TEAM
    assert "every team" in html
    north = team_id(app, OTHER_TEAM)
    html = dashboard(client, f"?team={north}")
    assert page_counts(html) == NORTH
    assert f'<option value="{north}" selected>North FGC</option>' in html


@pytest.mark.parametrize("username", ["riley.referrer", "casey.coordinator", "ada.admin"])
def test_other_roles_are_refused_the_page_and_the_files(client, seeded, username):
    login(client, username)
    assert client.get("/reports").status_code == 403
    assert client.get("/reports/referrals.csv").status_code == 403
    assert client.get("/reports/all.zip").status_code == 403
    assert ">Reports</a>" not in client.get("/tasks").get_data(as_text=True)


def test_a_manager_with_no_team_is_told_why_they_see_nothing(app, client, seeded):
    with app.app_context():
        db.session.execute(
            update(User).where(User.username == "morgan.manager").values(team_id=None)
        )
        db.session.commit()
    login(client, "morgan.manager")
    answer = client.get("/reports")
    assert answer.status_code == 403
    assert "your account has no team" in answer.get_data(as_text=True)


# --- filters --------------------------------------------------------------------------------


def test_coordinator_and_referral_type_narrow_every_figure(client, seeded):
    login(client, "morgan.manager")
    html = dashboard(client, "?coordinator=casey.coordinator")
    assert page_counts(html) == {"received": 1, "accepted": 1, "declined": 0}
    html = dashboard(client, "?referral_type=pre_proceedings")
    assert page_counts(html) == {"received": 1, "accepted": 0, "declined": 0}
    assert '<option value="pre_proceedings" selected>' in html


def test_the_coordinators_offered_are_those_of_the_managers_team(client, seeded):
    login(client, "morgan.manager")
    html = lxml.html.fromstring(dashboard(client))
    offered = html.xpath('//select[@name="coordinator"]/option/@value')
    assert offered == ["", "zed.coordinator", "cam.coordinator", "casey.coordinator"]  # by name


def test_a_period_boundary_counts_each_day_once(client, seeded):
    login(client, "morgan.manager")
    html = dashboard(client, "?from=2026-01-20&to=2026-01-20")
    assert page_counts(html) == {"received": 1, "accepted": 0, "declined": 0}
    html = dashboard(client, "?from=21/01/2026&to=2026-01-21")  # typed UK style, or ISO
    assert page_counts(html) == {"received": 0, "accepted": 0, "declined": 1}
    assert "21 January 2026 to 21 January 2026" in html


def test_an_empty_period_shows_no_data_not_an_error(client, seeded):
    login(client, "morgan.manager")
    html = dashboard(client, "?from=2024-01-01&to=2024-01-31")
    assert page_counts(html) == {"received": 0, "accepted": 0, "declined": 0}
    timeliness = {row[0]: row[1:] for row in page_table(html, "timeliness")[1:]}
    assert timeliness["Allocation of a coordinator"] == ["0", "no data", "no data"]
    assert "Referrals declined, by reason: no data for this period." in html


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?from=31/02/2026", "from", "Give a date in the years 2000 to 2099"),
        ("?from=yesterday&to=2026-01-31", "from", "Give a date in the years 2000 to 2099"),
        ("?to=9999-12-31", "to", "Give a date in the years 2000 to 2099"),
        ("?from=2026-03-01&to=2026-01-01", "to", "on or after the start of the period"),
    ],
)
def test_bad_dates_are_named_beside_the_field_and_the_default_period_shown(
    client, seeded, query, field, message
):
    login(client, "morgan.manager")
    html = dashboard(client, query, status=400)
    assert message in error_beside(html, field)
    summary = lxml.html.fromstring(html).xpath('//div[@class="error-summary"]')[0]
    assert f'href="#{field}"' in lxml.html.tostring(summary, encoding="unicode")
    assert "Showing 3 March 2025 to 2 March 2026" in html
    assert page_counts(html) == CENTRAL


def test_a_team_coordinator_or_type_not_on_the_lists_is_named_and_dropped(app, client, seeded):
    login(client, "dana.data")
    html = dashboard(client, "?team=99999&coordinator=nobody&referral_type=urgent", status=400)
    assert "Choose a team from the list" in error_beside(html, "team")
    assert "Choose a coordinator from the list" in error_beside(html, "coordinator")
    assert "Choose a type of referral from the list" in error_beside(html, "referral_type")
    assert page_counts(html) == EVERY_TEAM
    manager = app.test_client()
    login(manager, "morgan.manager")
    html = dashboard(manager, "?coordinator=<script>", status=400)
    assert "<script>" not in html


# --- how figures are shown ------------------------------------------------------------------


def test_figures_are_written_by_their_kind(client, seeded):
    login(client, "morgan.manager")
    html = dashboard(client)
    measure_exists("timeliness")
    measure_exists("support")
    timeliness = {row[0]: row[1:] for row in page_table(html, "timeliness")[1:]}
    assert timeliness["Allocation of a coordinator"] == ["1", "4.0", "4.0"]
    assert timeliness["The conference"] == ["0", "no data", "no data"]
    support = {row[0]: row[1:] for row in page_table(html, "support")[1:]}
    assert support["Requested"] == ["1", "£1,234.50"]


def test_figure_text_by_kind():
    assert figure_text(1234, "count") == "1,234"
    assert figure_text(4.25, "days") == "4.2"
    assert figure_text(Decimal("1234.5"), "money") == "£1,234.50"
    assert figure_text(Decimal("-20"), "money") == "-£20.00"
    assert figure_text(87.6, "percent") == "87.6%"
    assert figure_text(None, "percent") == "no data"
    assert figure_text("Received", "text") == "Received"


def test_every_table_is_an_accessible_table_and_charts_are_named_pictures(client, seeded):
    login(client, "morgan.manager")
    page = lxml.html.fromstring(dashboard(client))
    sections = page.xpath('//section[@class="report"]')
    assert [s.get("id") for s in sections] == [f"table-{key}" for key in measure_keys()]
    for section in sections:
        key = section.get("id").removeprefix("table-")
        link = section.xpath('.//a[contains(@href, ".csv")]')[0]
        assert link.get("href").startswith(f"/reports/{key}.csv?from=2025-03-03&to=2026-03-02")
        for table in section.xpath(".//table"):
            assert table.xpath("./caption")[0].text_content().strip()
            assert table.xpath(".//thead//th/@scope") == ["col"] * len(table.xpath(".//thead//th"))
            assert all(th.get("scope") == "row" for th in table.xpath(".//tbody//th"))
        for svg in section.xpath(".//svg"):
            assert svg.get("role") == "img"
            title_id, desc_id = svg.get("aria-labelledby"), svg.get("aria-describedby")
            assert svg.xpath(f'.//*[@id="{title_id}"]') and svg.xpath(f'.//*[@id="{desc_id}"]')
    referrals = page.get_element_by_id("table-referrals")
    [chart] = referrals.xpath(".//svg")
    assert "Received: 3; Accepted: 1; Declined: 1" in chart.xpath(".//desc")[0].text


# --- CSV ------------------------------------------------------------------------------------


def test_a_table_downloads_as_csv_for_the_same_filter(client, seeded):
    login(client, "morgan.manager")
    html = lxml.html.fromstring(dashboard(client, "?from=2026-01-01&to=2026-01-31"))
    href = html.get_element_by_id("table-referrals").xpath('.//a[contains(@href, ".csv")]/@href')
    answer = client.get(href[0])
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="kinflow-referrals-2026-01-01-to-2026-01-31.csv"'
    )
    assert answer.data.startswith("\ufeff".encode())
    assert b"\r\n" in answer.data
    assert csv_rows(answer.data)[0] == ["Referrals", "Number"]
    assert csv_counts(answer.data) == {"received": 2, "accepted": 1, "declined": 1}


def test_names_in_a_csv_are_quoted_and_cannot_run_as_formulas(client, seeded):
    measure_exists("caseload")
    login(client, "morgan.manager")
    answer = client.get("/reports/caseload.csv")
    assert answer.status_code == 200
    rows = csv_rows(answer.data)
    assert ["'" + TRICKY_NAME, "1"] in rows
    assert '"\'=Zed, ""the boss""\nCoordinator",1\r\n' in answer.data.decode("utf-8")
    # On the page the name is text, in the table and in the chart.
    assert TRICKY_NAME in [row[0] for row in page_table(dashboard(client), "caseload")]


def test_an_unknown_table_is_not_found_and_a_bad_filter_is_explained(client, seeded):
    login(client, "morgan.manager")
    assert client.get("/reports/nothing.csv").status_code == 404
    answer = client.get("/reports/referrals.csv?from=2026-13-01")
    assert answer.status_code == 400
    assert "From: Give a date" in answer.get_data(as_text=True)


def test_every_table_downloads_at_once_as_a_zip(client, seeded):
    login(client, "dana.data")
    answer = client.get("/reports/all.zip?from=2026-01-01&to=2026-01-31")
    assert answer.status_code == 200
    assert "kinflow-reports-2026-01-01-to-2026-01-31.zip" in answer.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(answer.data))
    names = archive.namelist()
    assert names == [f"kinflow-{key}-2026-01-01-to-2026-01-31.csv" for key in measure_keys()]
    referrals = archive.read("kinflow-referrals-2026-01-01-to-2026-01-31.csv")
    assert csv_counts(referrals) == {"received": 4, "accepted": 3, "declined": 1}  # not Cole


def test_csv_quotes_as_rfc_4180_and_neutralises_formulas_but_keeps_numbers():
    table = Table(
        key="t",
        title="T",
        columns=(
            Column("reason", "Reason, as given"),
            Column("n", "Number", "count"),
            Column("d", "Days", "days"),
            Column("m", "Cost", "money"),
            Column("p", "Share", "percent"),
        ),
        rows=(
            ('Said "no", then\nleft', -3, -1.25, Decimal("-12.5"), None),
            ('=HYPERLINK("http://example.org")', 0, 2.0, Decimal("1234.5"), 87.55),
            ("+1", 1, None, None, 0.0),
            ("-x", 2, 1, Decimal(0), 100),
            ("@SUM(A1)", 3, 0, Decimal(1), 5),
            ("\tTab", 4, 0, Decimal(1), 5),
            ("\rCR", 5, 0, Decimal(1), 5),
            ("-7", 6, 0, Decimal(1), 5),
        ),
    )
    text = table_csv(table)
    assert text.startswith('\ufeff"Reason, as given",Number,Days,Cost,Share\r\n')
    assert '"Said ""no"", then\nleft",-3,-1.2,-12.50,\r\n' in text
    rows = csv_rows(text.encode())
    assert [row[0] for row in rows[2:]] == [
        '\'=HYPERLINK("http://example.org")',
        "'+1",
        "'-x",
        "'@SUM(A1)",
        "'\tTab",
        "'\rCR",
        "-7",  # a negative number written as text is still just a number
    ]
    assert rows[2][1:] == ["0", "2.0", "1234.50", "87.5"]
