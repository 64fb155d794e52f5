"""Kept dashboard figures (engine/reports/snapshots.py): fresh enough, refreshed, never lost.

Figures are checked against the hand-counted referrals of tests/report_data.py: on the frozen
clock's Monday 2 March 2026, 09:00 (London is on GMT), Central FGC received 3 referrals in the
default period, every team 5.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.accounts import Team
from engine.models import ReportSnapshot
from engine.reports import snapshots
from engine.reports.snapshots import figures, keep, refresh, snapshot_key
from engine.reports.tables import Column, ReportFilter, Table, measure_keys
from engine.scheduler import Scheduler
from engine.time_words import london_day
from tests.report_data import CENTRAL, EVERY_TEAM, csv_counts, json_counts, page_counts, seed
from tests.test_pathway_walkthrough import REFERRAL
from tests.test_reports_api import bearer
from tests.web import OTHER_TEAM, TEAM, login, team_id
from webapp.extensions import db

NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the frozen clock's start
DEFAULT = {"start": date(2025, 3, 3), "end": date(2026, 3, 2)}


@pytest.fixture
def seeded(app, workers, frozen_clock):
    return seed(app)


def refer_a_family(app, client) -> None:
    """Riley (Central FGC) refers a family through the API: received now, in the period."""
    made = client.post("/api/v1/cases", json=REFERRAL, headers=bearer(app, "riley.referrer"))
    assert made.status_code == 201, made.get_data(as_text=True)


def as_the_manager_sees_it(app, client) -> tuple[dict, dict, dict, str, str]:
    """Central's referral counts on the page, in the CSV and in the API, and the page's
    "as of" sentence and the API's computed_at."""
    import lxml.html

    html = client.get("/reports").get_data(as_text=True)
    csv = client.get("/reports/referrals.csv").data
    document = client.get("/api/v1/reports/kpis", headers=bearer(app, "morgan.manager"))
    as_of = lxml.html.fromstring(html).xpath('//p[@class="reports-as-of"]')[0].text_content()
    counts = (page_counts(html), csv_counts(csv), json_counts(document.get_json()))
    return *counts, " ".join(as_of.split()), document.get_json()["computed_at"]


# --- kept while fresh, counted again once old ----------------------------------------------


def test_a_second_view_within_max_age_shows_the_kept_figures_and_when_they_were_counted(
    app, client, seeded, frozen_clock
):
    login(client, "morgan.manager")
    page, csv, api, as_of, computed_at = as_the_manager_sees_it(app, client)
    assert page == csv == api == CENTRAL
    assert as_of == "Figures as of 09:00 (London time); they are refreshed every 15 minutes."
    assert computed_at == "2026-03-02T09:00:00+00:00"

    frozen_clock.advance(minutes=16)  # within 15 minutes plus the refresh's two of grace
    refer_a_family(app, client)
    page, csv, api, as_of, computed_at = as_the_manager_sees_it(app, client)
    assert page == csv == api == CENTRAL  # the new referral is not counted yet
    assert "Figures as of 09:00 (London time)" in as_of
    assert computed_at == "2026-03-02T09:00:00+00:00"

    frozen_clock.advance(minutes=2)  # 09:18: older than 17 minutes, counted again
    page, csv, api, as_of, computed_at = as_the_manager_sees_it(app, client)
    assert page == csv == api == CENTRAL | {"received": 4}
    assert "Figures as of 09:18 (London time)" in as_of
    assert computed_at == "2026-03-02T09:18:00+00:00"


def test_with_refresh_set_to_zero_every_view_counts_afresh(app, client, seeded, frozen_clock):
    app.config["KINFLOW_REPORT_REFRESH_MINUTES"] = 0
    login(client, "morgan.manager")
    assert as_the_manager_sees_it(app, client)[0] == CENTRAL
    refer_a_family(app, client)
    page, csv, api, as_of, _ = as_the_manager_sees_it(app, client)
    assert page == csv == api == CENTRAL | {"received": 4}
    assert as_of == "Figures as of 09:00 (London time); they are counted afresh for each view."
    with app.app_context():
        assert db.session.scalar(select(func.count(ReportSnapshot.id))) == 0


def test_figures_counted_on_an_earlier_day_say_which_day(app, client, seeded, frozen_clock):
    login(client, "dana.data")
    period = "?from=2026-01-01&to=2026-01-31"  # a fixed period: the same filter tomorrow
    frozen_clock.set(datetime(2026, 3, 2, 23, 55, tzinfo=UTC))
    client.get("/reports" + period)
    frozen_clock.set(datetime(2026, 3, 3, 0, 5, tzinfo=UTC))
    html = client.get("/reports" + period).get_data(as_text=True)
    assert "Figures as of 23:55 on 2 Mar (London time)" in html


# --- the scheduler's refresh ----------------------------------------------------------------


def test_refresh_keeps_the_default_views_of_every_team_and_each_team_and_drops_old_ones(
    app, seeded, frozen_clock
):
    central, north = team_id(app, TEAM), team_id(app, OTHER_TEAM)
    with app.app_context():
        session = db.session()
        old = ReportFilter(date(2026, 1, 1), date(2026, 1, 31))
        recent = ReportFilter(date(2026, 2, 1), date(2026, 2, 28))
        keep(session, snapshot_key(old), [], NINE - timedelta(hours=25))
        keep(session, snapshot_key(recent), [], NINE - timedelta(hours=23))

        assert refresh(session, date(2026, 3, 2)) == 3  # every team, Central, North

        kept = dict(session.execute(select(ReportSnapshot.key, ReportSnapshot.computed_at)).all())
        assert kept == {
            "from=2025-03-03&to=2026-03-02&team=&coordinator=&referral_type=": NINE,
            f"from=2025-03-03&to=2026-03-02&team={central}&coordinator=&referral_type=": NINE,
            f"from=2025-03-03&to=2026-03-02&team={north}&coordinator=&referral_type=": NINE,
            snapshot_key(recent): NINE - timedelta(hours=23),
        }
        # A manager's view and a data officer's are answered from what refresh kept.
        frozen_clock.advance(minutes=10)
        for team, expected in ((central, CENTRAL), (None, EVERY_TEAM)):
            where = ReportFilter(**DEFAULT, team_id=team)
            tables, computed_at = figures(session, where, max_age=timedelta(minutes=17))
            assert computed_at == NINE
            [referrals] = [t for t in tables if t.key == "referrals"]
            counts = {row[0].lower(): row[1] for row in referrals.rows}
            assert {k: counts[k] for k in expected} == expected


def test_the_scheduler_refreshes_the_dashboard_every_interval_when_it_leads(
    db_engine, sessions, runtime
):
    with sessions() as session:
        session.add_all([Team(name="East FGC"), Team(name="West FGC")])
        session.commit()
    leader = Scheduler(
        db_engine,
        sessions,
        runtime,
        look_every=timedelta(minutes=5),
        report_refresh=timedelta(milliseconds=300),
    )
    standby = Scheduler(db_engine, sessions, runtime, report_refresh=timedelta(minutes=15))

    def every_team() -> datetime | None:
        with sessions() as session:
            key = snapshot_key(ReportFilter(*snapshots.default_period(today())))
            return session.scalar(
                select(ReportSnapshot.computed_at).where(ReportSnapshot.key == key)
            )

    def today() -> date:
        return london_day(datetime.now(UTC))  # the scheduler's threads run on the real clock

    leader.start()
    try:
        first = wait_for(lambda: every_team())
        assert standby.refresh_reports() == 0  # not the leader: counts nothing
        wait_for(lambda: (every_team() or first) > first)  # counted again 300 ms later
    finally:
        leader.stop()
        standby.stop()
    with sessions() as session:
        assert session.scalar(select(func.count(ReportSnapshot.id))) == 3  # all, East, West


def wait_for(check, seconds: float = 15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("the scheduler did not refresh the dashboard in time")


def test_the_app_arms_the_refresh_with_its_setting(app):
    from webapp.scheduling import scheduler_for

    assert scheduler_for(app).report_refresh == timedelta(minutes=15)
    app.config["KINFLOW_REPORT_REFRESH_MINUTES"] = 0
    assert scheduler_for(app).report_refresh is None


# --- two views at once ----------------------------------------------------------------------


def test_two_views_counting_at_once_on_an_empty_table_both_succeed(sessions, monkeypatch):
    both_counting = threading.Barrier(2, timeout=20)

    def slow_count(session, where):
        # Both have looked and found nothing kept before either stores its figures.
        name = threading.current_thread().name
        both_counting.wait()
        return [Table("who", "Who counted", (Column("name", "Name"),), ((name,),))]

    monkeypatch.setattr(snapshots, "dashboard", slow_count)
    where = ReportFilter(**DEFAULT)
    answers: dict[str, object] = {}

    def view() -> None:
        with sessions() as session:
            try:
                tables, _ = figures(session, where, max_age=timedelta(minutes=17))
                answers[threading.current_thread().name] = tables[0].rows[0][0]
            except Exception as exc:  # recorded, so the test names it
                answers[threading.current_thread().name] = exc

    threads = [threading.Thread(target=view, name=name) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == {"first": "first", "second": "second"}  # each its own figures
    with sessions() as session:
        [stored] = session.scalars(select(ReportSnapshot)).all()
        assert stored.key == snapshot_key(where)
        assert stored.tables[0]["rows"][0][0] in {"first", "second"}


# --- every kind of cell comes back as it went in ---------------------------------------------

CELLS = (
    "Received",
    "",
    'Said "no", then\nleft — £5',
    '{"date": "2026-03-02"}',  # text that looks like a tag stays text
    0,
    -3,
    10**18,
    True,
    False,
    None,
    4.25,
    0.1,
    -0.0,
    1e300,
    2.0,
    float("inf"),
    Decimal("1234.50"),
    Decimal("-0.10"),
    Decimal("0"),
    date(2026, 3, 2),
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
)


def test_every_kind_of_value_a_table_holds_comes_back_exactly(session, frozen_clock, monkeypatch):
    monkeypatch.setattr(snapshots, "measure_keys", lambda: ["all_kinds", "bare"])
    table = Table(
        key="all_kinds",
        title="Every kind",
        columns=(Column("value", "Value"), Column("n", "Number", "count")),
        rows=tuple((value, i) for i, value in enumerate(CELLS)),
        how="One row per kind of value.",
        chart="n",
    )
    bare = Table("bare", "No rows", (Column("x", "X", "money"),), ())
    where = ReportFilter(**DEFAULT, coordinator="casey.coordinator", referral_type="standard")
    keep(session, snapshot_key(where), [table, bare], NINE)
    session.expire_all()

    tables, computed_at = figures(session, where, max_age=timedelta(minutes=17))
    assert computed_at == NINE
    assert tables == [table, bare]
    back = [row[0] for row in tables[0].rows]
    assert [type(v) for v in back] == [type(v) for v in CELLS]  # 2.0 is not 2, True is not 1
    assert [str(v) for v in back] == [str(v) for v in CELLS]  # 1234.50 keeps its pence, -0.0
    assert back[-1].tzinfo is not None


def test_figures_kept_before_a_measure_was_added_are_counted_again(session, frozen_clock):
    where = ReportFilter(**DEFAULT)
    gone = Table("retired", "A measure since removed", (Column("n", "N", "count"),), ((1,),))
    keep(session, snapshot_key(where), [gone], NINE)
    frozen_clock.advance(minutes=5)  # fresh, but not what this version of Kinflow shows
    tables, computed_at = figures(session, where, max_age=timedelta(minutes=17))
    assert computed_at == NINE + timedelta(minutes=5)
    assert [t.key for t in tables] == measure_keys()


def test_a_cell_of_a_kind_that_cannot_be_kept_is_refused_by_name():
    with pytest.raises(TypeError, match="of type set cannot be kept"):
        snapshots.cell_json({1})


def test_the_refresh_setting_is_read_from_the_environment_and_checked(monkeypatch):
    from webapp import create_app

    monkeypatch.setenv("KINFLOW_REPORT_REFRESH_MINUTES", "5")
    assert create_app({"SECRET_KEY": "t"}).config["KINFLOW_REPORT_REFRESH_MINUTES"] == 5
    monkeypatch.setenv("KINFLOW_REPORT_REFRESH_MINUTES", "soon")
    with pytest.raises(RuntimeError, match="KINFLOW_REPORT_REFRESH_MINUTES must be a whole"):
        create_app({"SECRET_KEY": "t"})
