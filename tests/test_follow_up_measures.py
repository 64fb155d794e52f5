"""The twelve-month follow-up's measures (engine/reports/follow_ups.py): children, not
families, followed up in the period by where they live, and care proceedings issued. The
figures are worked out by hand from a small fictional set of ``child_follow_ups`` rows; the
pathway that writes those rows is tested in tests/test_twelve_month_follow_up.py.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from engine.accounts import get_or_create_team
from engine.models import CaseStatus, ProcessVersion
from engine.record.models import ChildFollowUp, Closure
from engine.reports.follow_ups import LIVING
from engine.reports.tables import ReportFilter, measure_keys, one_measure
from tests.test_pathway_walkthrough import FORMS
from tests.test_report_measures import family

# -- the seeded set ----------------------------------------------------------------------------


def seeded(session):
    """Two teams, two coordinators, two referral types; the children followed up by hand:

    case  team     coordinator  type             recorded    children (living, proceedings)
    A     Central  casey        standard         2027-01-04  parents -, parents -, kin -
    B     Central  cam          pre_proceedings  2027-03-31  looked_after yes, kin yes
    C     North    casey        pre_proceedings  2027-02-15  parents -, other yes
    D     Central  casey        standard         2027-04-01  looked_after yes (after the period)
    E     Central  casey        standard         2026-12-31  parents - (before the period)
    """
    version = ProcessVersion(
        process_id="fgc_pathway",
        name="FGC pathway",
        version=1,
        content_hash="x" * 64,
        files={},
        spec_json="{}",
        user_tasks={},
        deployed_by="pat.owner",
    )
    session.add(version)
    session.flush()
    central = get_or_create_team(session, "Central FGC").id
    north = get_or_create_team(session, "North FGC").id
    families = [
        (central, "casey.coordinator", "standard", "2027-01-04",
         [("parents", False), ("parents", False), ("kin", False)]),
        (central, "cam.coordinator", "pre_proceedings", "2027-03-31",
         [("looked_after", True), ("kin", True)]),
        (north, "casey.coordinator", "pre_proceedings", "2027-02-15",
         [("parents", False), ("other", True)]),
        (central, "casey.coordinator", "standard", "2027-04-01", [("looked_after", True)]),
        (central, "casey.coordinator", "standard", "2026-12-31", [("parents", False)]),
    ]  # fmt: skip
    for team, coordinator, kind, recorded, children in families:
        case_id = family(
            session,
            version.id,
            team,
            datetime(2025, 3, 2, 10, tzinfo=UTC),
            coordinator=coordinator,
            referral_type=kind,
            status=CaseStatus.COMPLETED,
        )
        session.add(
            Closure(
                case_id=case_id,
                reason="plan_achieved",
                closed_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
                closed_by=coordinator,
            )
        )
        session.add_all(
            ChildFollowUp(
                case_id=case_id,
                child_name=f"Child {n} of family {case_id}",
                living=living,
                proceedings_issued=issued,
                recorded_on=date.fromisoformat(recorded),
                recorded_by="dana.data",
            )
            for n, (living, issued) in enumerate(children, 1)
        )
    session.commit()
    return central, north


FIRST_QUARTER = ReportFilter(date(2027, 1, 1), date(2027, 3, 31))


def figures(session, where, key):
    table = one_measure(session, where, key)
    return [tuple(row) for row in table.rows]


def test_both_measures_are_on_the_dashboard():
    keys = measure_keys()
    assert {"follow_ups", "children_at_home"} <= set(keys)
    assert keys.index("children_at_home") == keys.index("follow_ups") + 1


def test_children_followed_up_in_the_period_by_where_they_live(session):
    seeded(session)
    # In the period: A (3 children), B (2), C (2) = 7 children; D and E fall outside it.
    # Parents 2 (A) + 1 (C) = 3, 3/7 = 42.9%; kin 1 (A) + 1 (B) = 2, 28.6%;
    # looked after 1 (B), 14.3%; other 1 (C), 14.3%. Proceedings: B 2 + C 1 = 3.
    assert figures(session, FIRST_QUARTER, "follow_ups") == [
        ("With parents", 3, 42.9, 0),
        ("With kin (family or friends)", 2, 28.6, 1),
        ("Looked after", 1, 14.3, 1),
        ("Other", 1, 14.3, 1),
        ("All children followed up", 7, 100.0, 3),
    ]
    table = one_measure(session, FIRST_QUARTER, "follow_ups")
    assert "children, not families" in table.how
    assert [c.kind for c in table.columns] == ["text", "count", "percent", "count"]


def test_children_at_home_twelve_months_on_compared_with_the_trial(session):
    seeded(session)
    # At home (parents or kin): 3 + 2 = 5 of 7 = 71.4%; looked after 1 of 7 = 14.3%;
    # proceedings issued 3 of 7 = 42.9%.
    assert figures(session, FIRST_QUARTER, "children_at_home") == [
        ("At home with parents or kin", 5, 7, 71.4),
        ("Looked after", 1, 7, 14.3),
        ("Care proceedings issued", 3, 7, 42.9),
    ]
    table = one_measure(session, FIRST_QUARTER, "children_at_home")
    assert table.chart == "share" and "children, not families" in table.how.lower()


def test_the_measures_honour_team_coordinator_and_referral_type(session):
    central, north = seeded(session)
    # Central: A and B = 5 children; parents 2 (40.0%), kin 2 (40.0%), looked after 1 (20.0%).
    assert figures(session, FIRST_QUARTER.narrowed(team_id=central), "follow_ups") == [
        ("With parents", 2, 40.0, 0),
        ("With kin (family or friends)", 2, 40.0, 1),
        ("Looked after", 1, 20.0, 1),
        ("Other", 0, 0.0, 0),
        ("All children followed up", 5, 100.0, 2),
    ]
    # North: C = 2 children; at home 1 of 2 = 50.0%; proceedings 1 of 2.
    assert figures(session, FIRST_QUARTER.narrowed(team_id=north), "children_at_home") == [
        ("At home with parents or kin", 1, 2, 50.0),
        ("Looked after", 0, 2, 0.0),
        ("Care proceedings issued", 1, 2, 50.0),
    ]
    # casey: A and C = 5 children; at home 2 + 1 + 1 = 4 (80.0%); proceedings 1 (20.0%).
    casey = FIRST_QUARTER.narrowed(coordinator="casey.coordinator")
    assert figures(session, casey, "children_at_home") == [
        ("At home with parents or kin", 4, 5, 80.0),
        ("Looked after", 0, 5, 0.0),
        ("Care proceedings issued", 1, 5, 20.0),
    ]
    # Pre-proceedings: B and C = 4 children; at home 1 + 1 = 2; looked after 1; proceedings 3.
    plo = FIRST_QUARTER.narrowed(referral_type="pre_proceedings")
    assert figures(session, plo, "children_at_home") == [
        ("At home with parents or kin", 2, 4, 50.0),
        ("Looked after", 1, 4, 25.0),
        ("Care proceedings issued", 3, 4, 75.0),
    ]


def test_the_period_takes_whole_days_at_both_ends(session):
    seeded(session)
    # 31 December 2026 to 1 April 2027 takes E (1 child) and D (1 child) too: 9 children.
    wider = ReportFilter(date(2026, 12, 31), date(2027, 4, 1))
    assert figures(session, wider, "follow_ups")[-1] == ("All children followed up", 9, 100.0, 4)
    # 31 March alone: B only.
    last_day = ReportFilter(date(2027, 3, 31), date(2027, 3, 31))
    assert figures(session, last_day, "follow_ups")[-1] == ("All children followed up", 2, 100.0, 2)


def test_an_empty_period_gives_zero_children_and_no_shares(session):
    seeded(session)
    empty = ReportFilter(date(2025, 1, 1), date(2025, 12, 31))
    assert figures(session, empty, "follow_ups") == [
        ("With parents", 0, None, 0),
        ("With kin (family or friends)", 0, None, 0),
        ("Looked after", 0, None, 0),
        ("Other", 0, None, 0),
        ("All children followed up", 0, None, 0),
    ]
    assert [row[1:] for row in figures(session, empty, "children_at_home")] == [(0, 0, None)] * 3


def test_the_measures_use_the_forms_words_for_where_a_child_lives():
    form = json.loads((FORMS / "twelve_month_follow_up.json").read_text())
    living = form["properties"]["children"]["items"]["properties"]["living"]
    assert living["x-labels"] == LIVING and list(LIVING) == living["enum"]
