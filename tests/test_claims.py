"""The Supporting Families claim rules (domain.md, "Outcome rules"), on the family's record.

Each failing condition alone makes a family not claimable with its reason; a family meeting
every rule is claimable. Verdicts come from workflows/claim_rules.dmn as deployed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from engine.reports.claim_evidence import claims_table
from engine.reports.claims import (
    ClaimFacts,
    NeedEvidence,
    Recorded,
    claim_report,
    claim_rules,
    decide,
    whole_months,
)
from engine.reports.tables import ReportFilter
from tests.claims_data import CHILD, MOTHER, RULES, Family, add_family, pathway_version

JULY = ReportFilter(date(2026, 7, 1), date(2026, 7, 31))
NO_DEPENDANTS = "No dependent children or expectant parent in the family"
NO_LEAD = (
    "No lead practitioner: nobody completed the whole-family assessment or worked on the case "
    "as lead practitioner"
)
NO_ASSESSMENT = "No whole-family assessment completed"
NO_PLAN = "No accepted family plan (action plan)"
NO_SUPPORT = "No support delivered: no support package paid and no plan action reviewed as done"


def report(session, family: Family | None = None, where: ReportFilter = JULY, rules=RULES):
    version = pathway_version(session, rules)
    if family is not None:
        add_family(session, version, family)
    return claim_report(session, where, claim_rules(session))


def verdict(session, family: Family) -> tuple[bool, tuple[str, ...]]:
    checked = date.fromisoformat(family.checked)
    [claim] = [
        c
        for c in report(session, family, ReportFilter(checked, checked))
        if c.family_name == family.name
    ]
    return claim.claimable, claim.reasons


def test_a_family_meeting_every_rule_is_claimable_with_its_evidence(session):
    [claim] = report(session, Family())
    assert (claim.claimable, claim.reasons) == (True, ())
    assert claim.family_name == "Ashdown"
    facts = claim.facts
    assert facts.lead_practitioner == "lee.practitioner"
    assert facts.support == "Support package of £350.00 paid on 1 Nov 2025"
    assert (facts.closure_on, facts.check_on) == (date(2026, 1, 15), date(2026, 7, 15))
    assert facts.months_after_closure == 6
    [education, health, housing] = claim.evidence
    assert education.need == "education"
    assert (education.closure.positive, education.closure.on) == (True, date(2026, 1, 15))
    assert education.six_month.note == "School every day since Easter."
    assert (housing.six_month.positive, housing.six_month.on) == (True, date(2026, 7, 15))


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        ({"people": [MOTHER]}, (NO_DEPENDANTS,)),
        (
            {"people": [MOTHER, CHILD | {"date_of_birth": date(2007, 8, 31)}]},
            (NO_DEPENDANTS,),  # 18 on the day of referral, 1 September 2025
        ),
        (
            {"needs": ["education", "health"]},
            ("2 of the 10 headline needs identified (at least 3 needed)",),
        ),
        ({"assessed_by": None, "lead_task_for": "lee.practitioner"}, (NO_ASSESSMENT,)),
        ({"assessed_by": None}, (NO_LEAD, NO_ASSESSMENT)),
        ({"plan_status": "rejected"}, (NO_PLAN,)),
        ({"plan_status": None}, (NO_PLAN,)),
        ({"paid": False, "review_progress": [{"action": "School run", "status": "on_track"}]},
         (NO_SUPPORT,)),
        (
            {"checked": "2026-07-14"},
            (
                "Six-month check on 14/07/2026 is only 5 whole months after closure on "
                "15/01/2026 (at least 6 needed)",
            ),
        ),
        (
            {"achieved": {"health": False}},
            ("No positive outcome at closure for: Improved mental and physical health",),
        ),
        (
            {"sustained": {"housing": False, "education": False}},
            ("Outcome not sustained at the six-month check for: Getting a good education, "
             "Secure housing",),
        ),
        (
            {"sustained": {"housing": None}},
            ("Outcome not sustained at the six-month check for: Secure housing (none recorded)",),
        ),
    ],
    ids=[
        "no-child",
        "child-now-adult",
        "two-needs",
        "no-assessment",
        "no-lead-practitioner",
        "plan-rejected",
        "no-plan",
        "no-support",
        "check-too-early",
        "no-progress-at-closure",
        "not-sustained",
        "need-not-checked",
    ],
)  # fmt: skip
def test_each_failing_condition_makes_the_family_not_claimable_with_its_reason(
    session, change, reasons
):
    assert verdict(session, Family(**change)) == (False, reasons)


def test_a_family_with_no_closure_recorded_is_not_claimable(session):
    claimable, reasons = verdict(session, Family(closed=None))
    assert not claimable
    assert "No closure recorded" in reasons


def test_no_lead_practitioner_alone_fails_the_claim(session):
    """The record always names who completed an assessment, so the rule is checked alone on
    the facts the report hands the decision table."""
    pathway_version(session)
    rules = claim_rules(session)
    facts = ClaimFacts(
        dependants=True,
        needs=("education", "health", "housing"),
        lead_practitioner=None,
        assessment_done=True,
        plan_accepted=True,
        support="Support package paid",
        closure_on=date(2026, 1, 15),
        check_on=date(2026, 7, 15),
        months_after_closure=6,
    )
    good = [
        NeedEvidence(need, need, Recorded(True, None, facts.closure_on), Recorded(True, None, day))
        for need, day in zip(facts.needs, [facts.check_on] * 3, strict=True)
    ]
    assert decide(rules, facts, good) == (False, (NO_LEAD,))
    assert decide(rules, replace(facts, lead_practitioner="lee.practitioner"), good) == (True, ())


def test_a_check_exactly_six_months_after_closure_is_in_time(session):
    assert verdict(session, Family(closed="2025-08-31", checked="2026-02-28")) == (True, ())


def test_an_expectant_parent_with_no_child_qualifies(session):
    expecting = {"name": "Baby Ashdown", "is_child": True, "due_date": date(2025, 12, 1)}
    assert verdict(session, Family(people=[MOTHER, expecting])) == (True, ())
    mother_due = MOTHER | {"due_date": date(2025, 12, 1)}
    assert verdict(session, Family(name="Birch", people=[mother_due]))[0] is True


def test_support_can_be_a_plan_action_reviewed_as_done(session):
    done = [{"action": "Nan does the school run", "status": "done"}]
    [claim] = report(session, Family(paid=False, review_progress=done))
    assert claim.claimable
    assert claim.facts.support == "Plan action reviewed as done on 1 Dec 2025"


def test_outcomes_recorded_in_the_needs_own_words_count(session):
    words = {"education": "  getting a GOOD education", "housing": "Secure housing"}
    assert verdict(session, Family(problem_words=words)) == (True, ())


def test_only_six_month_checks_recorded_in_the_period_and_filter_are_listed(session):
    version = pathway_version(session)
    june = add_family(session, version, Family(name="Junebury", checked="2026-06-30"))
    july = add_family(session, version, Family(name="Ashdown", checked="2026-07-31"))
    north = add_family(session, version, Family(name="Northcott", coordinator="cam.coordinator"))
    rules = claim_rules(session)
    assert [c.case_id for c in claim_report(session, JULY, rules)] == [july, north]
    june_only = ReportFilter(date(2026, 6, 1), date(2026, 6, 30))
    assert [c.case_id for c in claim_report(session, june_only, rules)] == [june]
    cam = JULY.narrowed(coordinator="cam.coordinator")
    assert [c.case_id for c in claim_report(session, cam, rules)] == [north]
    assert claim_report(session, JULY.narrowed(referral_type="pre_proceedings"), rules) == []


def test_the_council_changes_the_rules_by_deploying_an_edited_table(session):
    two_needs = Family(needs=["education", "health"])
    assert verdict(session, two_needs)[0] is False
    edited = RULES.replace("<text>&lt; 3</text>", "<text>&lt; 2</text>")
    assert edited != RULES
    pathway_version(session, edited)  # the newer version of the pathway holds the edit
    [claim] = claim_report(session, JULY, claim_rules(session))
    assert (claim.claimable, claim.reasons) == (True, ())


def test_the_claims_file_has_one_row_per_need_with_its_evidence(session):
    claims = report(session, Family(sustained={"housing": False}))
    table = claims_table(claims)
    assert [c.label for c in table.columns][:4] == [
        "Case number",
        "Family",
        "Claimable",
        "Why not claimable",
    ]
    rows = [dict(zip([c.key for c in table.columns], row, strict=True)) for row in table.rows]
    assert [r["need"] for r in rows] == [
        "Getting a good education",
        "Improved mental and physical health",
        "Secure housing",
    ]
    housing = rows[2]
    assert housing["claimable"] is False
    assert housing["closure_progress"] is True
    assert (housing["sustained"], housing["six_month_note"]) == (False, "Rent arrears again.")
    assert housing["six_month_on"] == date(2026, 7, 15)


def test_whole_months_count_calendar_months():
    assert whole_months(date(2026, 1, 15), date(2026, 7, 15)) == 6
    assert whole_months(date(2026, 1, 15), date(2026, 7, 14)) == 5
    assert whole_months(date(2025, 8, 31), date(2026, 2, 28)) == 6
    assert whole_months(None, date(2026, 2, 28)) == 0


def test_a_family_walked_through_the_real_pathway_is_claimable(session, runtime, frozen_clock):
    """Referral to six-month check through the shipped diagrams and forms (the walkthrough's
    answers), with the closure and six-month outcomes recorded against the three needs."""
    from tests import test_pathway_walkthrough as walk

    pathway = walk.deploy_pathway(session, runtime)
    case = walk.start(runtime, session, pathway)
    walk.through_conference(runtime, session, case)
    steps = (
        ("review_family_plan", walk.PLAN_ACCEPTED, walk.REFERRER),
        ("circulate_plan", walk.CIRCULATED, walk.COORDINATOR),
        ("request_support", walk.support_request(350), walk.COORDINATOR),
        ("approve_support", walk.APPROVED, walk.MANAGER),
        ("record_support_payment", walk.PAID, walk.COORDINATOR),
    )
    for element, answers, actor in steps:
        walk.do(runtime, session, case, element, answers, actor)
    frozen_clock.set(walk.at("2026-07-13", 10))
    runtime.wake_case(session, case.id)
    walk.do(runtime, session, case, "hold_review", walk.REVIEW_LAST, walk.COORDINATOR)
    needs = walk.REFERRAL["headline_outcomes"]
    closure = [{"problem": n, "significant_progress": True} for n in needs]
    frozen_clock.set(walk.at("2026-10-20", 11))
    walk.do(
        runtime, session, case, "close_case", walk.CLOSURE | {"outcomes": closure}, walk.COORDINATOR
    )
    frozen_clock.set(walk.at("2027-04-20", 12))
    runtime.wake_case(session, case.id)
    check = {
        "checked_on": "2027-04-20",
        "outcomes": [{"problem": n, "sustained": True} for n in needs],
    }
    walk.do(runtime, session, case, "record_six_month_check", check, walk.DATA_OFFICER)

    april = ReportFilter(date(2027, 4, 1), date(2027, 4, 30))
    [claim] = claim_report(session, april, claim_rules(session))
    assert (claim.case_id, claim.claimable, claim.reasons) == (case.id, True, ())
    assert claim.facts.lead_practitioner == "lee.practitioner"
    assert claim.facts.support == "Support package of £350.00 paid on 30 Apr 2026"
    assert [e.label for e in claim.evidence] == [
        "Getting a good education",
        "Improved mental and physical health",
        "Improved family relationships",
    ]


def test_outcomes_recorded_against_a_stronger_families_problem_are_not_evidence_for_a_need(
    session,
):
    """Closure records an outcome for each Stronger Families problem and each headline need
    (engine/record/prefill.py); one recorded against "school_attendance" is not evidence for the
    headline need "education", so the need has none and the reason says none was recorded."""
    claimable, reasons = verdict(session, Family(problem_words={"education": "school_attendance"}))
    assert not claimable
    assert reasons == (
        "No positive outcome at closure for: Getting a good education (none recorded)",
        "Outcome not sustained at the six-month check for: Getting a good education "
        "(none recorded)",
    )
