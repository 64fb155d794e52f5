"""Who may read reports, and the report filter a request asks for, checked field by field.

The dashboard page, its CSV downloads and ``GET /api/v1/reports/kpis`` read their filter here,
so all three answer the same question with the same figures. Roles (decided by the lead): a
data officer reads every team and may narrow to one; an FGC manager reads their own team only,
and any team they send is replaced by theirs; everyone else is refused.

A bad value is reported against its field and dropped; a bad date (or a period that ends before
it starts) falls back to the default period: the last twelve whole months ending today, London.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.accounts import Team, User
from engine.errors import NotAllowed
from engine.pathway_stages import referral_types
from engine.reports import snapshots
from engine.reports.tables import ReportFilter, Table
from engine.roles import COORDINATOR, DATA_OFFICER, FGC_MANAGER
from engine.time_words import LONDON

FIELDS = ("from", "to", "team", "coordinator", "referral_type")
LABELS = {
    "from": "From",
    "to": "To (inclusive)",
    "team": "Team",
    "coordinator": "Coordinator",
    "referral_type": "Type of referral",
}
READERS = (FGC_MANAGER, DATA_OFFICER)
# Kinflow holds no work before 2000; the bounds also keep date arithmetic in range.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


@dataclass
class ReportRequest:
    """The filter to report on, what the form shows again, and what was wrong with the input.

    ``errors`` maps a field of ``FIELDS`` to a sentence that does not repeat the field's name
    (the page shows it beside the field; the API prefixes the parameter's name).
    """

    where: ReportFilter
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    team: Team | None = None
    team_fixed: bool = False
    teams: list[Team] = field(default_factory=list)
    coordinators: list[User] = field(default_factory=list)
    referral_types: list[tuple[str, str]] = field(default_factory=list)

    @property
    def period_text(self) -> str:
        """3 March 2025 to 2 March 2026: the period in words, for headings and captions."""
        return f"{_spelt(self.where.start)} to {_spelt(self.where.end)}"

    @property
    def team_options(self) -> list[tuple[str, str]]:
        return [(str(team.id), team.name) for team in self.teams]

    @property
    def coordinator_options(self) -> list[tuple[str, str]]:
        return [
            (u.username, u.display_name + ("" if u.active else " (no longer active)"))
            for u in self.coordinators
        ]

    @property
    def summary(self) -> dict[str, str]:
        """Each refused field's message with the field's label, for the error summary."""
        return {name: f"{LABELS[name]}: {message}" for name, message in self.errors.items()}

    def file_name(self, key: str, suffix: str) -> str:
        where = self.where
        return f"kinflow-{key}-{where.start.isoformat()}-to-{where.end.isoformat()}.{suffix}"

    def query(self) -> dict[str, str]:
        """The filter as query-string values, to carry it to the CSV links."""
        where = self.where
        values = {"from": where.start.isoformat(), "to": where.end.isoformat()}
        if where.team_id is not None and not self.team_fixed:
            values["team"] = str(where.team_id)
        if where.coordinator:
            values["coordinator"] = where.coordinator
        if where.referral_type:
            values["referral_type"] = where.referral_type
        return values


def _spelt(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def today() -> date:
    return clock.now().astimezone(LONDON).date()


def default_period(end: date | None = None) -> tuple[date, date]:
    """Twelve whole months ending on ``end`` (today): 3 Mar 2025 to 2 Mar 2026 inclusive.

    The scheduler keeps figures for this period ready (``engine.reports.snapshots``), so both
    read the one definition there."""
    return snapshots.default_period(end or today())


def refresh_minutes() -> int:
    """How often the scheduler refreshes kept figures (0: figures are counted for each view)."""
    return int(current_app.config["KINFLOW_REPORT_REFRESH_MINUTES"])


def dashboard_figures(session: Session, where: ReportFilter) -> tuple[list[Table], datetime]:
    """The dashboard's tables for ``where`` and when they were counted: kept figures while they
    are fresh, for the page, its CSV files and the API alike."""
    max_age = snapshots.max_age_for(timedelta(minutes=refresh_minutes()))
    return snapshots.figures(session, where, max_age=max_age)


def check_reader(user: User) -> None:
    """Refuse (``NotAllowed``) anyone who may not read reports, and a manager with no team."""
    roles = set(user.roles or [])
    if not user.active or not roles & set(READERS):
        raise NotAllowed("Reports are for FGC managers and data officers.")
    if DATA_OFFICER not in roles and user.team_id is None:
        raise NotAllowed(
            "Reports show an FGC manager their own team's figures, and your account has no "
            "team. Ask an admin to put you in your team."
        )


def _day(text: str) -> date:
    """A day as a date input sends it (2026-03-02) or as people type it (02/03/2026)."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(text)
        return day
    raise ValueError(text)


def _period(values: dict[str, str], errors: dict[str, str]) -> tuple[date, date]:
    days: dict[str, date | None] = {"from": None, "to": None}
    for name in ("from", "to"):
        if values[name]:
            try:
                days[name] = _day(values[name])
            except ValueError:
                errors[name] = "Give a date in the years 2000 to 2099, such as 2026-03-02."
    start, end = days["from"], days["to"]
    if start and end and start > end:
        errors["to"] = "Give a date on or after the start of the period."
    if errors:
        return default_period()
    if end is None:
        end = max(today(), start) if start else today()
    if start is None:
        start = default_period(end)[0]
    return start, end


def _coordinators(session: Session, team_id: int | None) -> list[User]:
    """Coordinators of the reader's team (managers) or of every team, active ones first."""
    query = select(User)
    if team_id is not None:
        query = query.where(User.team_id == team_id)
    people = [u for u in session.scalars(query) if COORDINATOR in (u.roles or [])]
    return sorted(people, key=lambda u: (not u.active, u.display_name.casefold(), u.username))


def read_request(session: Session, reader: User, args: Mapping[str, str]) -> ReportRequest:
    """The filter ``reader`` asks for in ``args``; raises ``NotAllowed`` for other roles."""
    check_reader(reader)
    values = {name: (args.get(name) or "").strip() for name in FIELDS}
    errors: dict[str, str] = {}
    start, end = _period(values, errors)
    if "from" not in errors and "to" not in errors:
        values["from"], values["to"] = start.isoformat(), end.isoformat()

    teams = list(session.scalars(select(Team).order_by(Team.name)))
    fixed = DATA_OFFICER not in reader.roles
    team: Team | None = None
    if fixed:
        team = next((t for t in teams if t.id == reader.team_id), None)
        values["team"] = str(reader.team_id)
    elif values["team"]:
        chosen = values["team"]
        team = next((t for t in teams if str(t.id) == chosen), None)
        if team is None:
            errors["team"] = "Choose a team from the list, or every team."
            values["team"] = ""

    coordinators = _coordinators(session, reader.team_id if fixed else None)
    coordinator = values["coordinator"].lower() or None
    if coordinator and coordinator not in {u.username for u in coordinators}:
        errors["coordinator"] = "Choose a coordinator from the list, or any coordinator."
        coordinator, values["coordinator"] = None, ""

    types = referral_types(session)
    referral_type = values["referral_type"] or None
    if referral_type and referral_type not in {value for value, _ in types}:
        errors["referral_type"] = "Choose a type of referral from the list, or any type."
        referral_type, values["referral_type"] = None, ""

    where = ReportFilter(
        start=start,
        end=end,
        team_id=team.id if team else (reader.team_id if fixed else None),
        coordinator=coordinator,
        referral_type=referral_type,
    )
    return ReportRequest(
        where=where,
        values=values,
        errors=errors,
        team=team,
        team_fixed=fixed,
        teams=teams if not fixed else [],
        coordinators=coordinators,
        referral_types=types,
    )
