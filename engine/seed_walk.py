"""One fictional family walked along the FGC pathway as far as its dates reach today.

``Rows`` collects the record rows as dicts by table; ``add_family`` writes one family's case,
referral, people and, stage by stage, what the pathway would have written, stopping where the
family's next date lies after today (or after a step-up, which ends the pathway). Used by
``engine.seed_record``, which inserts the rows in bulk (for ``kinflow bench-seed`` and the
benchmarks).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.models import Case
from engine.record import models as record
from engine.seed_people import FAMILIES
from engine.time_words import LONDON

if TYPE_CHECKING:  # seed_record imports this module
    from engine.seed_record import Rows

DAYS = 730
PROBLEMS = (
    "crime_asb",
    "school_attendance",
    "children_need_help",
    "worklessness",
    "domestic_abuse",
    "health",
)
DECLINES = ("not_eligible", "no_consent", "other_service_better", "family_declined", "other")


def add_family(
    rows: Rows, rng: random.Random, case_id: int, version_id: int, team: int, team_id: int
) -> None:
    """One family's case, walked along the pathway until its dates pass today."""
    day = timedelta(days=1)
    received = rows.now - rng.uniform(0, DAYS) * day
    plo = rng.random() < 0.2
    coordinator = f"coord.t{team}.{rng.randrange(20)}"
    case = rows.add(
        Case,
        id=case_id,
        version_id=version_id,
        title=f"Case {case_id}",
        status="active",
        stage=None,
        state="",
        revision=1,
        created_at=received,
        updated_at=received,
        created_by=f"referrer.t{team}.0",
        team_id=team_id,
        _stop=rows.now,
    )
    problems = rng.sample(PROBLEMS, rng.randint(2, 3))
    referral = rows.add(
        record.Referral,
        case_id=case_id,
        family_name=f"{rng.choice(FAMILIES)} {case_id}",
        referrer_name="A Referrer",
        referred_by=f"referrer.t{team}.0",
        received_at=received,
        referral_type="pre_proceedings" if plo else "standard",
        urgency="routine",
        why_now="Benchmark data.",
        problems=problems,
        headline_outcomes=[],
        consent_given=True,
        plo_offer_date=(received + 2 * day).date() if plo else None,
        plo_offer_accepted=(rng.random() < 0.7) if plo else None,
        screening_decision=None,
        decline_reason=None,
        screened_at=None,
        coordinator=None,
        allocated_at=None,
    )
    children = rng.randint(1, 3)
    for n in range(children + 1):
        rows.add(
            record.Person,
            case_id=case_id,
            name=f"Person {n}",
            is_child=n > 0,
            parental_responsibility=n == 0,
        )
    if rng.random() < 0.07:  # a safeguarding concern; a third are stepped up, ending the case
        raised = received + rng.uniform(5, 200) * day
        reviewed = raised + rng.uniform(0.1, 2) * day
        step_up = rng.random() < 0.33
        if raised <= rows.now:
            done = reviewed <= rows.now
            rows.add(
                record.SafeguardingConcern,
                case_id=case_id,
                concern="Benchmark concern",
                raised_by=coordinator,
                raised_at=raised,
                decision=("step_up" if step_up else "continue") if done else None,
                reviewed_by="manager" if done else None,
                reviewed_at=reviewed if done else None,
            )
            if step_up and done:
                case["_stop"] = reviewed
    _walk(rows, rng, case, referral, problems, children, coordinator)
    if case["_stop"] < rows.now or (case["stage"] is None and case.get("_finished")):
        case["status"] = "completed"
    del case["_stop"]
    case.pop("_finished", None)


@dataclass
class _Walk:
    """One family on its way: each step returns the moment it moved on, or None if it stopped."""

    rows: Rows
    rng: random.Random
    case: dict[str, Any]
    referral: dict[str, Any]
    coordinator: str

    def days(self, low: float, high: float) -> timedelta:
        return timedelta(days=self.rng.uniform(low, high))

    def add(self, model: Any, **row: Any) -> dict[str, Any]:
        return self.rows.add(model, case_id=self.case["id"], **row)

    def to_allocation(self) -> datetime | None:
        received, stop = self.referral["received_at"], self.case["_stop"]
        acknowledged = received + self.days(0.2, 2)
        if not self.rows.stay(self.case, 0, received, acknowledged):
            return None
        screened = acknowledged + self.days(0.3, 5)
        if self.rng.random() < 0.1:  # more information first, then screened again
            if screened <= stop:
                self.referral |= {"screening_decision": "more_information", "screened_at": screened}
            answered = screened + self.days(1, 7)
            done = answered <= stop
            self.rows.task(
                self.case["id"],
                "provide_more_information",
                "referrer",
                screened,
                screened + timedelta(days=5),
                "completed" if done else "ready",
                answered if done else None,
            )
            screened = answered + self.days(0.5, 3)
        declined = self.rng.random() < 0.14
        allocated = screened + self.days(0, 6)
        decision = "decline" if declined else "accept"
        if screened <= stop:
            self.referral |= {"screening_decision": decision, "screened_at": screened}
        if not self.rows.stay(self.case, 1, acknowledged, screened if declined else allocated):
            return None
        if declined:
            self.referral["decline_reason"] = self.rng.choices(DECLINES, (5, 2, 3, 3, 1))[0]
            self.case["_finished"] = True
            return None
        self.referral |= {"coordinator": self.coordinator, "allocated_at": allocated}
        return allocated

    def to_accepted_plan(self, allocated: datetime) -> tuple[datetime, dict] | None:
        baseline = allocated + self.days(3, 15)
        if not self.rows.stay(self.case, 2, allocated, baseline):
            return None
        arranged = baseline + self.days(7, 40)
        conference = max(
            arranged + self.days(3, 14), self.referral["received_at"] + self.days(21, 80)
        )
        if not self.rows.stay(self.case, 3, baseline, arranged):
            return None
        self.add(
            record.ConferenceArrangement,
            conference_date=_day(conference),
            venue="Community centre",
            language="English",
            arranged_by=self.coordinator,
            arranged_at=arranged,
        )
        if not self.rows.stay(self.case, 4, arranged, conference):
            return None
        plan = self.add(record.FamilyPlan, version=1, agreed_on=_day(conference), status="proposed")
        decided = conference + self.days(0.2, 4)
        if self.rng.random() < 0.08 and decided <= self.case["_stop"]:  # rejected, then revised
            plan |= {"status": "rejected", "decided_on": _day(decided), "decided_by": "referrer"}
            revised = decided + timedelta(days=7)
            plan = self.add(
                record.FamilyPlan, version=2, agreed_on=_day(revised), status="proposed"
            )
            decided = revised + self.days(0.2, 3)
        if not self.rows.stay(self.case, 5, conference, decided):
            return None
        plan |= {"status": "accepted", "decided_on": _day(decided), "decided_by": "referrer"}
        return decided, plan

    def support(self, decided: datetime) -> datetime | None:
        if self.rng.random() >= 0.45:
            return decided  # no package needed
        requested = decided + self.days(0.5, 3)
        approval = requested + self.days(1, 5)
        approved = self.rng.random() < 0.85
        paid = approval + self.days(3, 14)
        total = Decimal(self.rng.randrange(5_000, 150_000)) / 100
        package = self.add(
            record.SupportPackage,
            items=[],
            requested_by=self.coordinator,
            total=total,
            requested_on=_day(requested),
        )
        if approval <= self.case["_stop"]:
            package |= {"approved": approved, "decided_on": _day(approval)}
        if approved and paid <= self.case["_stop"]:
            package["paid_on"] = _day(paid)
        moved_on = paid if approved else approval
        return moved_on if self.rows.stay(self.case, 6, requested, moved_on) else None

    def reviews_to_closure(self, moved_on: datetime, plan: dict) -> datetime | None:
        due = plan["agreed_on"] + timedelta(days=84)
        for n in range(self.rng.randint(1, 3)):
            opens = datetime.combine(due, datetime.min.time(), LONDON).astimezone(UTC)
            held = opens + self.days(-3, 14)
            if not self.rows.stay(self.case, 7, min(opens, held - timedelta(hours=1)), held):
                return None
            self.add(
                record.Review,
                held_on=_day(held),
                due_on=due,
                progress=[],
                another_review=n < 2,
                recorded_by=self.coordinator,
            )
            moved_on, due = held, _day(held + timedelta(days=84))
        closed = moved_on + self.days(3, 30)
        if not self.rows.stay(self.case, 8, moved_on, closed):
            return None
        self.add(
            record.Closure, reason="plan_achieved", closed_at=closed, closed_by=self.coordinator
        )
        return closed

    def outcomes(self, stage: str, on: datetime, met: dict[str, bool]) -> None:
        for problem, achieved in met.items():
            self.add(
                record.Outcome,
                stage=stage,
                problem=problem,
                achieved=achieved,
                recorded_on=_day(on),
                recorded_by=self.coordinator,
            )

    def six_months_on(self, closed: datetime, problems: list[str], children: int) -> None:
        met = {p: self.rng.random() < 0.75 for p in problems}
        self.outcomes("closure", closed, met)
        check = closed + timedelta(days=183)
        checked = check + self.days(1, 12)
        if not self.rows.stay(self.case, 9, check, checked):
            return
        chance = {True: 0.85, False: 0.2}  # progress sustained, or made since closure
        self.outcomes(
            "six_month", checked, {p: self.rng.random() < chance[m] for p, m in met.items()}
        )
        self.case["_finished"] = True
        followed = closed + self.days(365, 390)
        if followed > self.case["_stop"]:
            return
        for n in range(children):
            living = self.rng.choices(("parents", "kin", "looked_after", "other"), (60, 20, 15, 5))
            self.add(
                record.ChildFollowUp,
                child_name=f"Person {n + 1}",
                months_after_closure=12,
                living=living[0],
                proceedings_issued=self.rng.random() < 0.1,
                recorded_on=_day(followed),
                recorded_by="data.officer",
            )


def _walk(rows, rng, case, referral, problems, children, coordinator) -> None:
    walk = _Walk(rows, rng, case, referral, coordinator)
    allocated = walk.to_allocation()
    accepted = allocated and walk.to_accepted_plan(allocated)
    if not accepted:
        return
    decided, plan = accepted
    moved_on = walk.support(decided)
    closed = moved_on and walk.reviews_to_closure(moved_on, plan)
    if closed:
        walk.six_months_on(closed, problems, children)


def _day(moment):
    """A moment's London day (a date passes through)."""
    return moment.astimezone(LONDON).date() if isinstance(moment, datetime) else moment
