"""Fictional demo data: a team of workers and about thirty families spread over the pathway.

Every family, worker, phone number and postcode is invented. Phone numbers come from Ofcom's
ranges kept for drama (01632 960xxx, 07700 900xxx) and postcodes are ``LU1 9ZZ`` to
``LU7 9ZZ``. The password ``demo`` is for a local demonstration only.

Each family is driven through the real runtime (``start_case``, ``complete_task``,
``send_message``, ``wake_case``) with valid form data, on a frozen clock moved over past dates,
so due dates, overdue tasks and the chronology look like a live service. Before a family is
seeded its story is run once "dry" (time only, no engine) to find when it must have started
so that its last step lands shortly before now. Randomness is seeded: the same seed gives the
same families and the same spread every time, relative to the moment of seeding.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import clock
from engine.accounts import User, create_user, get_or_create_team, set_password
from engine.actors import Actor
from engine.deploy import deploy_paths, latest_version
from engine.errors import VersionNotFound
from engine.models import Case, ProcessVersion
from engine.queries import due_case_ids, get_case, list_tasks
from engine.runtime import Runtime

DEMO_PASSWORD = "demo"
DEMO_TEAM = "Luton FGC service (demo)"
PATHWAY = "fgc_pathway"
ORGANISATION = "Children's social care (demo)"


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    job: str

    @property
    def actor(self) -> Actor:
        return Actor.of(self.username, self.role)


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("rhea.walsh", "Rhea Walsh", "referrer", "social worker"),
    DemoUser("owen.pryce", "Owen Pryce", "referrer", "education welfare officer"),
    DemoUser("mira.hale", "Mira Hale", "fgc_manager", "FGC service manager"),
    DemoUser("grant.ellery", "Grant Ellery", "fgc_manager", "senior manager"),
    DemoUser("casey.bright", "Casey Bright", "coordinator", "FGC coordinator"),
    DemoUser("idris.noor", "Idris Noor", "coordinator", "FGC coordinator"),
    DemoUser("nell.okoro", "Nell Okoro", "coordinator", "FGC coordinator"),
    DemoUser("lena.marsh", "Lena Marsh", "lead_practitioner", "family help lead practitioner"),
    DemoUser("dev.sandhu", "Dev Sandhu", "data_officer", "performance officer"),
    DemoUser("pat.quinlan", "Pat Quinlan", "process_owner", "service lead"),
    DemoUser("ari.stone", "Ari Stone", "admin", "system administrator"),
)
_BY_NAME = {u.username: u for u in DEMO_USERS}
REFERRERS = (_BY_NAME["rhea.walsh"], _BY_NAME["owen.pryce"])
MANAGER, SENIOR = _BY_NAME["mira.hale"], _BY_NAME["grant.ellery"]
COORDINATORS = tuple(u for u in DEMO_USERS if u.role == "coordinator")
LEAD, DATA_OFFICER = _BY_NAME["lena.marsh"], _BY_NAME["dev.sandhu"]


@dataclass(frozen=True)
class SeedResult:
    created: bool  # False when the demo users already existed, so nothing was added
    cases: int
    users: int


def demo_exists(session: Session) -> bool:
    usernames = [u.username for u in DEMO_USERS]
    return bool(session.scalar(select(func.count(User.id)).where(User.username.in_(usernames))))


def seed_demo(
    session: Session,
    runtime: Runtime,
    workflows_dir: Path,
    forms_dir: Path,
    eligibility_rule: str = "stronger_families",
    seed: int = 2026,
    now: datetime | None = None,
) -> SeedResult:
    """Load the demo team and families once; does nothing when the demo users exist."""
    if demo_exists(session):
        return SeedResult(created=False, cases=0, users=0)
    now = now or clock.now()
    stories = [_Story.planned(i, plan, seed, now, runtime) for i, plan in enumerate(PLANS)]
    stories.sort(key=lambda s: s.start)  # case numbers follow the order families were referred
    fake = clock.FrozenClock(stories[0].start - timedelta(days=21))
    with clock.using(fake):
        version = _pathway(session, runtime, workflows_dir, forms_dir)
        for story in stories:
            story.run(session, runtime, version, fake, eligibility_rule)
        _fire_timers_due_by(session, runtime, fake, now)
        fake.set(stories[0].start - timedelta(days=21))
        _add_users(session)
    return SeedResult(created=True, cases=len(stories), users=len(DEMO_USERS))


def _add_users(session: Session) -> None:
    """The demo team, added last: a seed cut short leaves no users, so the next one runs."""
    team = get_or_create_team(session, DEMO_TEAM)
    shared = User()
    set_password(shared, DEMO_PASSWORD)  # hashed once for all: the password is public anyway
    for u in DEMO_USERS:
        email = f"{u.username}@example.org"
        user = create_user(session, u.username, u.display_name, [u.role], team, email=email)
        user.password_hash = shared.password_hash
    # Every demo family is the demo team's, so its manager oversees them all.
    session.execute(update(Case).where(Case.team_id.is_(None)).values(team_id=team.id))
    session.commit()


def _fire_timers_due_by(session: Session, runtime: Runtime, fake: clock.FrozenClock, now):
    """Fire what fell due after each family's last step (screening deadlines), each when due."""
    for _ in range(5):  # a timer's follow-up may fall due too; five rounds are plenty
        for case_id in due_case_ids(session, now):
            fake.set(get_case(session, case_id).next_wake_at + timedelta(minutes=1))
            runtime.wake_case(session, case_id)


def _pathway(session: Session, runtime: Runtime, workflows: Path, forms: Path) -> ProcessVersion:
    try:
        return latest_version(session, PATHWAY)
    except VersionNotFound:
        deployed = deploy_paths(session, [workflows], "pat.quinlan", runtime.codec, forms)
        return next(d.version for d in deployed if d.version.process_id == PATHWAY)


# -- who the families are ------------------------------------------------------------------

_INVENTED_SURNAMES = (
    "Ashgrove Brambleton Calloway-Finch Dunmere Elsworth Farrowdale Gillenham Hartwell-Ade "
    "Iverbrook Jessamy Kestrelle Larkspur Marlowe-Osei Nettlefield Oakhanger Pennington-Rao "
    "Quarrendon Rookwood Saltmarsh Thornbury-Khan Umberleigh Valemont Wexcombe Yarrowby "
    "Zennor-Hughes Amberley-Nwosu Blackthorne Coldharbour Dovecote Emberton Foxhollow "
    "Gorsedene Hawksmere Inglethorpe Kittiwake Lindenfold"
)
_SURNAMES = _INVENTED_SURNAMES.split()


@dataclass(frozen=True)
class _Background:
    ethnicity: str
    language: str
    religion: str
    women: list[str]
    men: list[str]
    girls: list[str]
    boys: list[str]

    @classmethod
    def parse(cls, line: str) -> _Background:
        ethnicity, language, religion, *names = line.split("|")
        return cls(ethnicity, language, religion, *(n.split() for n in names))


# ethnicity | first language | religion | women | men | girls | boys
_BACKGROUNDS = [
    _Background.parse(line)
    for line in (
        "White British|English|No religion|Gemma Kerry Lorna Jade|Connor Gareth Liam Reece"
        "|Poppy Daisy Lily-Mae|Alfie Harvey Theo",
        "Pakistani|Urdu|Muslim|Halima Maryam Shabnam|Adeel Imran Tariq|Iqra Safa Zara"
        "|Bilal Rayan Zain",
        "Bangladeshi|Bengali|Muslim|Farah Nasreen Ruksana|Faisal Jamal Shahid|Hana Amira Tania"
        "|Ibrahim Musa Arif",
        "Black African|English|Christian|Efua Precious Ngozi|Emeka Obi Kwame|Amara Nia Adaeze"
        "|Caleb Jayden Tobi",
        "Polish|Polish|Christian|Danuta Agnieszka Maja|Kacper Tomasz Piotr|Zofia Lena Julia"
        "|Dawid Filip Szymon",
        "Romanian|Romanian|Christian|Ioana Roxana Elena|Mihai Andrei Bogdan|Bianca Maria Sofia"
        "|Luca David Matei",
        "Mixed White and Black Caribbean|English|Christian|Tasha Chloe Bethany"
        "|Darnell Nathan Marcus|Ciara Eliza Freya|Kai Leo Ethan",
    )
]
_PROBLEM_OUTCOME = {
    "crime_asb": "crime",
    "school_attendance": "education",
    "children_need_help": "family_relationships",
    "worklessness": "financial_stability",
    "domestic_abuse": "domestic_abuse",
    "health": "health",
}
_WHY_NOW = {
    "school_attendance": "{child} has missed a third of this term and the school is worried.",
    "health": "{parent}'s health has got worse and the children are caring for her.",
    "domestic_abuse": "Police were called to the home twice this month.",
    "crime_asb": "{child} has been picked up by police late at night with older boys.",
    "worklessness": "{parent} lost her job and the family is behind on rent.",
    "children_need_help": "The children were found home alone on two evenings.",
}
_ACTIONS = {
    "school_attendance": "{helper} takes {child} to school on Mondays and Wednesdays",
    "health": "{helper} goes with {parent} to her hospital appointments",
    "domestic_abuse": "{parent} goes to the Thursday support group; {helper} has the children",
    "crime_asb": "{child} stays with {helper} on Friday nights and is home by 9pm on weekdays",
    "worklessness": "{helper} has the children two mornings a week so {parent} can look for work",
    "children_need_help": "{helper} is the named adult for the children after school",
}
# relationship -> how the family names them ("" : by their own name)
_NETWORK = {"grandmother": "Nan", "aunt": "Aunt", "uncle": "Uncle", "grandfather": "Grandad"}
_NETWORK |= {"family friend": "", "neighbour": "", "godmother": ""}
_PR = ("mother", "father")  # who holds parental responsibility in the demo families
_HUBS = ("Riverside Family Hub (demo)", "Northfields Family Hub (demo)")
_VENUES = ("Riverside Family Hub (demo)", "St Aldwyn's church hall (demo)", "The family's home")


@dataclass
class _Family:
    surname: str
    background: _Background
    people: list[dict[str, Any]]
    network: list[dict[str, Any]]
    problems: list[str]
    outcomes: list[str]

    @property
    def adults(self) -> list[str]:
        return [p["name"] for p in self.people if not p["is_child"]]

    @property
    def parent(self) -> str:
        return self.adults[0]

    @property
    def child(self) -> str:
        return self.people[0]["name"]

    def helper(self, n: int = 0) -> str:
        return self.network[n % len(self.network)]["name"] if self.network else self.adults[-1]

    @classmethod
    def invent(cls, index: int, rng: random.Random, now: datetime, plan: _Plan) -> _Family:
        surname = _SURNAMES[index % len(_SURNAMES)]
        bg = rng.choice(_BACKGROUNDS)
        family = cls(surname, bg, [], [], [], [])
        # Every child is born by the referral; the followed-up families began two years ago.
        born_before = now.date() - timedelta(days=800)
        for _ in range(rng.choice((1, 1, 2, 3))):
            girl = rng.random() < 0.5
            name = f"{rng.choice(bg.girls if girl else bg.boys)} {surname}"
            born = born_before - timedelta(days=rng.randint(200, 5600))
            if name not in family.adults + [p["name"] for p in family.people]:
                family.add(name, born, "female" if girl else "male", "the child")
        if plan.expecting:
            due = now.date() + timedelta(days=rng.randint(40, 150))
            family.people.append(
                {"name": f"Unborn baby {surname}", "due_date": due.isoformat(), "is_child": True}
                | {"relationship_to_child": "unborn sibling", "parental_responsibility": False}
            )
        postcode = f"LU{rng.randint(1, 7)} 9ZZ"
        interpreter = bg.language != "English" and rng.random() < 0.5
        carers = [("female", rng.choice(bg.women), "mother")]
        if rng.random() < 0.5:
            carers.append(("male", rng.choice(bg.men), rng.choice(("father", "stepfather"))))
        for gender, first, relation in carers:
            born = born_before - timedelta(days=rng.randint(7000, 16000))
            phone = (
                rng.choice(("07700 900", "07700 900", "01632 960")) + f"{rng.randrange(1000):03d}"
            )
            contact = {"phone": phone, "postcode": postcode, "interpreter_needed": interpreter}
            family.add(f"{first} {surname}", born, gender, relation, contact)
        if rng.random() < 0.3:
            family.people[0]["disability"] = rng.choice(("ADHD, diagnosed last year", "Autistic"))
        if not plan.no_network:
            for relation in rng.sample(sorted(_NETWORK), rng.randint(2, 4)):
                title = _NETWORK[relation]
                first = rng.choice(bg.women + bg.men)
                name = f"{title} {first}" if title else f"{first} {rng.choice(_SURNAMES)}"
                family.network.append({"name": name, "relationship": relation})
        family.problems = rng.sample(
            sorted(_PROBLEM_OUTCOME), rng.randint(2, 4) if plan.eligible else 1
        )
        family.outcomes = [_PROBLEM_OUTCOME[p] for p in family.problems]
        if plan.eligible and len(family.outcomes) < 3:
            family.outcomes.append(rng.choice(("housing", "substance_use", "early_years")))
        return family

    def add(self, name: str, born: date, gender: str, relation: str, extra: dict | None = None):
        bg, child = self.background, relation == "the child"
        self.people.append(
            {"name": name, "date_of_birth": born.isoformat(), "is_child": child, "gender": gender}
            | {"ethnicity": bg.ethnicity, "first_language": bg.language, "religion": bg.religion}
            | {"relationship_to_child": relation, "parental_responsibility": relation in _PR}
            | (extra or {})
        )


# -- where each family's story stops ---------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """One family's route through the pathway and the milestone it has reached by now."""

    stop: str  # a milestone of ``_Story.walk`` or, with ``event``, the event's kind
    slack: tuple[float, float] = (0.1, 2.5)  # days from the last step to now
    pre_proceedings: bool = False
    urgent: bool = False
    eligible: bool = True
    expecting: bool = False
    more_information: bool = False
    decline: str | None = None
    no_network: bool = False
    plan_rejected: bool = False
    support: int | None = None  # pounds asked for; None when no support is needed
    reviews: int = 1  # reviews held before closure (the last says no more are needed)
    event: tuple[str, str] | None = None  # (milestone, concern | continue | step_up | withdrawn)
    sustained: bool = True


PLANS: tuple[_Plan, ...] = (
    _Plan("referred", slack=(0.05, 0.6), expecting=True),
    _Plan("referred", slack=(0.05, 0.3), pre_proceedings=True, urgent=True),
    _Plan("acknowledged", slack=(0.1, 0.8)),
    _Plan("acknowledged", slack=(4, 6)),  # screening overdue: the SLA escalation has fired
    _Plan("asked_more", more_information=True),
    _Plan("declined", eligible=False, decline="not_eligible", slack=(5, 40)),
    _Plan("declined", decline="other_service_better", slack=(10, 60)),
    _Plan("allocated", more_information=True, expecting=True),
    _Plan("allocated", pre_proceedings=True, urgent=True, slack=(0.05, 0.4)),
    _Plan("baseline", slack=(1, 6)),
    _Plan("assessment", slack=(2, 12)),
    _Plan("no_network", no_network=True),  # the Family Hub link is still to be made
    _Plan("network"),
    _Plan("arranged", pre_proceedings=True, slack=(1, 5)),
    _Plan("conference", slack=(0.1, 1.5)),
    _Plan("plan_rejected", plan_rejected=True),
    _Plan("plan_accepted", plan_rejected=True, slack=(0.1, 1.5)),
    _Plan("circulated"),
    _Plan("support_requested", support=350),
    _Plan("support_requested", support=1150),
    _Plan("support_approved", support=420),
    _Plan("support_done", support=980, slack=(10, 40)),
    _Plan("review_1_due", no_network=True, slack=(0.1, 3)),
    _Plan("review_1", reviews=3, slack=(5, 30)),
    _Plan("review_3_due", reviews=3, slack=(0.1, 3)),
    _Plan("review_2", reviews=2, support=260, slack=(0.5, 4)),
    _Plan("closed", support=300, slack=(20, 90)),
    _Plan("six_month_due", reviews=2, pre_proceedings=True, slack=(0.5, 6)),
    _Plan("six_month_done", reviews=2, support=640, slack=(5, 40)),
    _Plan("twelve_month_due", pre_proceedings=True, slack=(0.5, 6)),
    _Plan("followed_up", reviews=2, pre_proceedings=True, support=380, slack=(5, 40)),
    _Plan("concern", event=("assessment", "concern"), slack=(0.1, 0.8)),
    _Plan("circulated", event=("conference", "continue"), pre_proceedings=True),
    _Plan("step_up", event=("baseline", "step_up"), slack=(3, 30)),
    _Plan("withdrawn", event=("network", "withdrawn"), slack=(3, 30)),
)

_SIX_MONTHS = TimerEventDefinition.parse_iso_duration("P6M")


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


# -- driving one family through the engine -------------------------------------------------


@dataclass
class _Engine:
    """What a real (not dry) run needs."""

    session: Session
    runtime: Runtime
    clock: clock.FrozenClock
    case: Case | None = None


@dataclass
class _Story:
    """One family's story: run dry to plan its timing, then for real against the engine."""

    index: int
    plan: _Plan
    family: _Family
    seed: int
    calendar: Any
    start: datetime
    engine: _Engine | None = None
    # Set afresh by every walk, dry or real.
    rng: random.Random = field(init=False)
    t: datetime = field(init=False)
    referrer: DemoUser = field(init=False)
    coordinator: DemoUser = field(init=False)
    review_on: str = field(init=False)  # the next review's date
    reached: str = field(init=False)  # the last milestone passed

    @classmethod
    def planned(cls, index: int, plan: _Plan, seed: int, now: datetime, runtime: Runtime):
        """The story, starting early enough that its last step falls ``plan.slack`` before now."""
        rng = random.Random(f"{seed}:{index}:family")
        family = _Family.invent(index, rng, now, plan)
        target = now - timedelta(days=rng.uniform(*plan.slack))
        story = cls(index, plan, family, seed, runtime.calendar, target)
        for _ in range(200):
            end = story.walk()
            if story.reached != plan.stop:
                raise ValueError(f"demo family {index} never reaches {plan.stop!r}")
            if end <= target:
                return story
            # Office hours make the end stand still while the start crosses a night or a
            # weekend, so always step back a little more than the overshoot.
            story.start -= max(end - target, timedelta(hours=2))
        raise RuntimeError(f"could not fit demo family {index} before {now}")

    def run(
        self,
        session: Session,
        runtime: Runtime,
        version: ProcessVersion,
        fake: clock.FrozenClock,
        rule: str,
    ) -> None:
        self.engine = _Engine(session, runtime, fake)
        self.walk(version, rule)

    # -- time -------------------------------------------------------------------------------

    def _working(self, moment: datetime) -> datetime:
        """The next moment in office hours (09:00-17:00 UTC on a working day)."""
        morning = timedelta(hours=9, minutes=self.rng.randint(0, 240))  # drawn every time
        if moment.hour >= 17:
            moment = _midnight(moment + timedelta(days=1)) + morning
        elif moment.hour < 9:
            moment = _midnight(moment) + morning
        while not self.calendar.is_working_day(moment.date()):
            moment = _midnight(moment + timedelta(days=1)) + morning
        return moment

    def later(self, low: float, high: float) -> None:
        self.t = self._working(self.t + timedelta(days=self.rng.uniform(low, high)))

    def timer(self, due: datetime) -> None:
        """Let time pass until a timer of the case has fired."""
        if self.engine:
            due = max(due, self.engine.case.next_wake_at or due)
        self.t = self._working(max(self.t, due) + timedelta(minutes=self.rng.randint(1, 50)))
        if self.engine:
            e = self._now()
            e.runtime.wake_case(e.session, e.case.id)

    @property
    def today(self) -> str:
        return self.t.date().isoformat()

    def day(self, days: int) -> str:
        """A working day ``days`` calendar days from now, as an ISO date."""
        return self._working(self.t + timedelta(days=days)).date().isoformat()

    # -- the engine ---------------------------------------------------------------------------

    def do(self, element: str, data: dict[str, Any], who: DemoUser) -> None:
        if self.engine:
            e = self._now()
            [task] = [
                t for t in list_tasks(e.session, case_id=e.case.id) if t.element_id == element
            ]
            e.runtime.complete_task(e.session, task.id, data, who.actor)

    def message(self, name: str, payload: dict[str, Any], who: DemoUser) -> None:
        if self.engine:
            e = self._now()
            e.runtime.send_message(e.session, e.case.id, name, payload, who.actor)

    def _now(self) -> _Engine:
        self.engine.clock.set(self.t)
        return self.engine

    def stop(self, milestone: str) -> bool:
        """Whether the story ends here, after any concern or withdrawal planned for this point."""
        self.reached = milestone
        event = self.plan.event
        if event and event[0] == milestone and self._event(event[1]):
            self.reached = event[1]
            return True
        return self.plan.stop == milestone

    def _event(self, kind: str) -> bool:
        """A concern raised (and perhaps reviewed) or consent withdrawn; True if that ends it."""
        f = self.family
        self.later(0.3, 2)
        if kind == "withdrawn":
            reason = f"{f.parent} no longer wants the family meeting to go ahead"
            payload = {"reason": reason, "withdrawn_by": f.parent}
            self.message("consent_withdrawn", payload, self.referrer)
            return True
        concern = self.rng.choice(_CONCERNS).format(child=f.child, parent=f.parent)
        payload = {"concern": concern, "raised_by": self.coordinator.username}
        self.message("safeguarding_concern", payload, self.coordinator)
        if kind == "concern":
            return True
        self.later(0.1, 0.6)
        self.do("review_safeguarding_concern", _review_of_concern(kind, self), MANAGER)
        return kind == "step_up"

    # -- the pathway --------------------------------------------------------------------------

    def walk(self, version: ProcessVersion | None = None, rule: str = "") -> datetime:
        """Take the family as far as its plan says; returns the moment of the last step."""
        self.rng = random.Random(f"{self.seed}:{self.index}:story")
        self.t = self._working(self.start)
        self.referrer = REFERRERS[self.index % 2]
        self.coordinator = COORDINATORS[self.index % 3]
        if self.engine:
            e = self.engine
            e.clock.set(self.t)
            title = f"{self.family.surname} family"
            data = {"eligibility_rule": rule}
            e.case = e.runtime.start_case(e.session, version, data, self.referrer.actor, title)
        if self._through_screening() and self._through_conference():
            self._to_the_end()
        return self.t

    def _through_screening(self) -> bool:
        p, f = self.plan, self.family
        self.later(0.005, 0.03)
        self.do("submit_referral", _referral(self), self.referrer)
        if self.stop("referred"):
            return False
        self.later(0.2, 1.2)
        self.do("acknowledge_referral", {"acknowledged_on": self.today}, MANAGER)
        if self.stop("acknowledged"):
            return False
        if p.more_information:
            self.later(0.2, 1)
            question = f"Does {f.parent} know about the referral, and has the school been told?"
            ask = {"screening_decision": "more_information", "information_needed": question}
            self.do("screen_referral", ask, MANAGER)
            if self.stop("asked_more"):
                return False
            self.later(1, 3)
            answer = f"Yes: {f.parent} has read the referral and the school supports it."
            self.do("provide_more_information", {"additional_information": answer}, self.referrer)
        self.later(0.2, 1.2)
        if p.decline:
            note = "Under the threshold for a conference." if not p.eligible else None
            note = note or "The Family Hub's parenting group fits better for now."
            decision = {"screening_decision": "decline", "decline_reason": p.decline}
            self.do("screen_referral", decision | {"screening_note": note}, MANAGER)
            self.later(0.02, 0.3)
            notice = {"referrer_told_on": self.today, "family_hub_signposted": True}
            notice["family_hub_name"] = self.rng.choice(_HUBS)
            self.do("tell_referrer_declined", notice, MANAGER)
            return not self.stop("declined")
        self.do("screen_referral", {"screening_decision": "accept"}, MANAGER)
        self.later(0.02, 0.2)
        allocation = {"coordinator": self.coordinator.username, "referrer_contact_by": self.day(2)}
        if any(p.get("interpreter_needed") for p in f.people):
            allocation["matching_preferences"] = ["language"]
        self.do("allocate_coordinator", allocation, MANAGER)
        return not self.stop("allocated")

    def _through_conference(self) -> bool:
        p = self.plan
        if p.urgent:
            self.later(0.1, 0.6)
        else:
            self.later(2, 4)
        self.do("hold_baseline_meeting", _baseline(self), self.coordinator)
        if self.stop("baseline"):
            return False
        self.later(6, 14)
        self.do("whole_family_assessment", _assessment(self), LEAD)
        if self.stop("assessment"):
            return False
        self.later(12, 24)
        self.do("prepare_network", _network(self), self.coordinator)
        if p.no_network:
            if self.stop("no_network"):
                return False
            self.later(1, 3)
            hub = {"family_hub_name": _HUBS[self.index % 2], "linked_on": self.today}
            self.do("link_family_hub", hub | {"smaller_meeting_planned": True}, self.coordinator)
        if self.stop("network"):
            return False
        self.later(1, 4)
        when = self.day(self.rng.randint(8, 16))
        self.do("arrange_conference", _arrangements(self, when), self.coordinator)
        if self.stop("arranged"):
            return False
        self.t = max(self.t, datetime.fromisoformat(when).replace(hour=15, tzinfo=UTC))
        self.later(0.01, 0.1)
        weeks = 6 if p.pre_proceedings else 12
        self.review_on = (self.t.date() + timedelta(weeks=weeks)).isoformat()
        self.do("record_conference", _conference(self), self.coordinator)
        return not self.stop("conference")

    def _to_the_end(self) -> None:
        """Plan acceptance, support, reviews, closure, the six-month check and the follow-up."""
        p, f = self.plan, self.family
        self.later(0.5, 1.5)
        if p.plan_rejected:
            reason = (
                f"The plan does not say who looks after {f.child} when {f.parent} is in hospital."
            )
            reject = {"plan_decision": "reject", "rejection_reason": reason}
            self.do("review_family_plan", reject, self.referrer)
            if self.stop("plan_rejected"):
                return
            self.later(1, 3)
            revision = {"actions": _actions(self), "contingency_plan": _contingency(self)}
            revision["revision_note"] = f"The family added overnight cover by {f.helper(1)}."
            self.do("revise_family_plan", revision, self.coordinator)
            self.later(0.5, 1.5)
        self.do("review_family_plan", {"plan_decision": "accept"}, self.referrer)
        if self.stop("plan_accepted"):
            return
        self.later(0.2, 1)
        circulated = {"circulated_on": self.today, "circulated_to": f.adults + [f.helper()]}
        self.do("circulate_plan", circulated, self.coordinator)
        if not self.stop("circulated") and self._through_support():
            self._reviews_and_closure()

    def _through_support(self) -> bool:
        p = self.plan
        self.later(1, 3)
        self.do("request_support", _support(self), self.coordinator)
        if p.support:
            if self.stop("support_requested"):
                return False
            self.later(0.5, 2)
            senior = p.support > 500
            approval = {"support_approved": True, "approval_note": "Within the support policy."}
            element = "senior_approve_support" if senior else "approve_support"
            self.do(element, approval, SENIOR if senior else MANAGER)
            if self.stop("support_approved"):
                return False
            self.later(2, 5)
            paid = {
                "paid_on": self.today,
                "payment_reference": f"FNS-{self.rng.randint(1000, 9999)}",
            }
            self.do("record_support_payment", paid, self.coordinator)
        return not self.stop("support_done")

    def _reviews_and_closure(self) -> None:
        for number in range(1, self.plan.reviews + 1):
            self.timer(datetime.fromisoformat(self.review_on + "T09:00:00+00:00"))
            if self.stop(f"review_{number}_due"):
                return
            self.later(0.05, 0.2)
            self.do("hold_review", _review(self, number), self.coordinator)
            if self.stop(f"review_{number}"):
                return
        self.later(1, 5)
        self.do("close_case", _closure(self), self.coordinator)
        closed_at = self.t  # record_closed keeps it; the twelve-month follow-up counts from it
        if self.stop("closed"):
            return
        self.timer(self.t + TimerEventDefinition.get_timedelta_from_start(_SIX_MONTHS, self.t))
        if self.stop("six_month_due"):
            return
        self.later(2, 8)
        self.do("record_six_month_check", _six_month_check(self), DATA_OFFICER)
        if self.stop("six_month_done"):
            return
        self.timer(closed_at + relativedelta(months=12))
        if self.stop("twelve_month_due"):
            return
        self.later(2, 8)
        self.do("record_twelve_month_follow_up", _follow_up(self), DATA_OFFICER)
        self.stop("followed_up")


# -- what the workers write in each form ---------------------------------------------------

_CONCERNS = (
    "{child} told a teacher there was shouting and a smashed window at home last night.",
    "Bruising on {child}'s arm seen at school; {child} would not say how it happened.",
    "{parent} was found asleep and could not be woken while the children were alone.",
)


def _referral(s: _Story) -> dict[str, Any]:
    p, f, referrer = s.plan, s.family, s.referrer
    first = f.problems[0]
    data = {
        "referrer_name": referrer.display_name,
        "referrer_organisation": ORGANISATION if referrer is REFERRERS[0] else "Education welfare",
        "referrer_phone": f"01632 960{100 + REFERRERS.index(referrer):03d}",
        "referrer_email": f"{referrer.username}@example.org",
        "family_name": f.surname,
        "people": f.people,
        "child_status": "pre_proceedings" if p.pre_proceedings else s.rng.choice(_STATUSES),
        "referral_type": "pre_proceedings" if p.pre_proceedings else "standard",
        "urgency": "urgent" if p.urgent else "routine",
        "why_now": _WHY_NOW[first].format(child=f.child, parent=f.parent),
        "what_needs_to_change": f"{f.child} is safe and settled, and {f.parent} has help nearby.",
        "problems": f.problems,
        "headline_outcomes": f.outcomes,
        "consent_given": True,
        "consent_given_by": f.parent,
    }
    if p.pre_proceedings:
        data["plo_offer_date"] = (s.t.date() - timedelta(days=s.rng.randint(3, 10))).isoformat()
        data["plo_offer_accepted"] = True
    return data


_STATUSES = ("early_help", "child_in_need", "child_in_need", "child_protection_plan")


def _baseline(s: _Story) -> dict[str, Any]:
    f = s.family
    return {
        "meeting_date": s.today,
        "questions_for_family": [
            f"How will the family make sure {f.child} is safe and cared for every day?",
            f"Who can help {f.parent} when things get difficult?",
        ],
        "bottom_lines": ["The children must not be left alone overnight."],
        "resources_offered": ["Help with transport to the conference", "An interpreter"],
    }


def _assessment(s: _Story) -> dict[str, Any]:
    f = s.family
    members = []
    for person in f.people:
        needs = "Routine and someone to talk to" if person["is_child"] else "Practical help"
        members.append({"name": person["name"], "needs": needs, "strengths": "Loving and honest"})
    return {
        "members": members,
        "child_views": f"{f.child} wants to stay at home and see more of the wider family.",
        "assessment_summary": "A close family under strain that wants practical help.",
    }


def _network(s: _Story) -> dict[str, Any]:
    f = s.family
    members = []
    for i, person in enumerate(f.network):
        taking_part = i < 2 or s.rng.random() < 0.6
        members.append(
            person
            | {
                "contact_made": True,
                "contact_method": s.rng.choice(("visit", "phone", "video")),
                "attendance": s.rng.choice(("in_person", "in_person", "phone", "video"))
                if taking_part
                else "not_taking_part",
                "needs_advocate": False,
                "needs_interpreter": bool(f.people[-1].get("interpreter_needed")),
            }
        )
    return {"has_network": bool(members), "network": members, "child_advocate_offered": True}


def _arrangements(s: _Story, when: str) -> dict[str, Any]:
    interpreter = any(p.get("interpreter_needed") for p in s.family.people)
    return {
        "conference_date": when,
        "venue": s.rng.choice(_VENUES),
        "language": s.family.background.language,
        "food_arranged": s.rng.random() < 0.7,
        "interpreter_booked": interpreter,
    }


def _actions(s: _Story) -> list[dict[str, Any]]:
    f = s.family
    actions = []
    for n, problem in enumerate(f.problems[:3]):
        helper = f.helper(n)
        what = _ACTIONS[problem].format(helper=helper, child=f.child, parent=f.parent)
        by_when = s.day(28 + 14 * n)
        actions.append({"what": what, "who": helper, "by_when": by_when, "who_checks": f.parent})
    return actions


def _contingency(s: _Story) -> str:
    f = s.family
    return f"If {f.helper()} cannot help, {f.helper(1)} steps in and tells the coordinator."


def _conference(s: _Story) -> dict[str, Any]:
    f = s.family
    return {
        "held_on": s.today,
        "attendees": f.adults + [m["name"] for m in f.network],
        "information_givers": [s.referrer.display_name, LEAD.display_name],
        "private_family_time_held": True,
        "actions": _actions(s),
        "contingency_plan": _contingency(s),
        "plan_monitor": f.helper(),
        "next_review_date": s.review_on,
    }


def _support(s: _Story) -> dict[str, Any]:
    total = s.plan.support
    if not total:
        return {"support_needed": False}
    helper = s.family.helper()
    items = [{"description": "Sofa bed so the children can stay over", "category": "furniture"}]
    if total > 400:
        items.append({"description": "Bus passes for the school run", "category": "transport"})
    share = round(total / len(items), 2)
    for item in items:
        item |= {"cost": share, "beneficiary": helper}
    return {
        "support_needed": True,
        "items": items,
        "support_total": share * len(items),
        "justification": f"So {helper} can look after the children as the plan says.",
    }


def _review(s: _Story, number: int) -> dict[str, Any]:
    statuses = ("on_track", "done", "behind") if number == 1 else ("done", "done", "on_track")
    progress = [{"action": a["what"], "status": statuses[i % 3]} for i, a in enumerate(_actions(s))]
    data = {"held_on": s.today, "progress": progress, "family_view": "Things are calmer at home."}
    if number < s.plan.reviews:
        s.review_on = (s.t.date() + timedelta(weeks=8)).isoformat()
        return data | {"another_review": True, "next_review_date": s.review_on}
    return data | {"another_review": False}


def _closure(s: _Story) -> dict[str, Any]:
    reason = "plan_achieved" if s.plan.sustained else "stepped_down"
    outcomes = [{"problem": p, "significant_progress": True} for p in _recorded(s.family)]
    return {"closure_reason": reason, "outcomes": outcomes, "family_feedback": "It helped."}


def _six_month_check(s: _Story) -> dict[str, Any]:
    outcomes = [
        {"problem": p, "sustained": s.plan.sustained or i > 0}
        for i, p in enumerate(_recorded(s.family))
    ]
    return {"checked_on": s.today, "outcomes": outcomes}


def _recorded(family: _Family) -> list[str]:
    """What closure records an outcome for: each problem and each headline need, as the
    forms are pre-filled (engine/record/prefill.py)."""
    return list(dict.fromkeys([*family.problems, *family.outcomes]))


def _follow_up(s: _Story) -> dict[str, Any]:
    """A year on, the children are at home; after pre-proceedings the eldest lives with kin."""
    f = s.family
    children = [p["name"] for p in f.people if p["is_child"]]
    rows = []
    for i, name in enumerate(children):
        row = {"child_name": name, "living": "parents", "proceedings_issued": False}
        if i == 0 and s.plan.pre_proceedings:
            row["living"] = "kin"
            row["note"] = f"Lives with {f.helper()} in the week, as the family's plan set out."
        rows.append(row)
    return {"followed_up_on": s.today, "children": rows}


def _review_of_concern(kind: str, s: _Story) -> dict[str, Any]:
    if kind == "step_up":
        return {
            "safeguarding_decision": "step_up",
            "mash_reference": f"MASH-DEMO-{s.rng.randint(1000, 9999)}",
            "safeguarding_reason": "Risk of significant harm: referred to children's social care.",
        }
    reason = "Explained and checked with the school; the plan already covers it."
    return {"safeguarding_decision": "continue", "safeguarding_reason": reason}
