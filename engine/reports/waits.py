"""Where cases wait: how long cases stay in each stage of the pathway, from ``stage_visits``.

A visit counts in the period it ended (``left_at`` in the period), so a stage's figures are
about stays that are over; cases in a stage now are counted apart, with how long they have been
there so far (now, whatever the period). Days are elapsed time (24 hours a day, to one decimal
place), not calendar dates: many stages take hours, not days. Visits are matched to stages by
the process the stage's call activity calls, so a stage renamed in a later version keeps its
history; the name shown is the latest version's.

``stage_heat`` gives the same figures keyed by the call activities' element ids in the latest
deployed pathway diagram, with a step of a five-step scale, for the heat map drawn over it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Float, Select, cast, func, literal, select
from sqlalchemy.orm import Session

from engine import clock
from engine.deploy import latest_version
from engine.errors import VersionNotFound
from engine.models import Case, CaseStatus, ProcessVersion, StageVisit, UTCDateTime
from engine.pathway_stages import PATHWAY, Stage, pathway_stages
from engine.record.models import Referral
from engine.reports.spreads import SHARES, Spread, spread_by
from engine.reports.tables import Column, ReportFilter, Table, measure
from engine.xmlsafe import XmlRejected, parse_xml

STEPS = 5  # shades of the heat map, pale to dark
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_DAY = 86400.0

COLUMNS = (
    Column("stage", "Stage"),
    Column("finished", "Stays ended in the period", "count"),
    Column("median_days", "Median days", "days"),
    Column("p90_days", "90th percentile, days", "days"),
    Column("now", "Cases in the stage now", "count"),
    Column("now_median_days", "Median days so far", "days"),
)


@dataclass(frozen=True)
class StageWait:
    """One stage's figures: stays ended in the period, and cases there now."""

    stage: Stage
    finished: int
    median_days: float | None
    p90_days: float | None
    now: int
    now_median_days: float | None

    def row(self) -> tuple[Any, ...]:
        return (
            self.stage.name,
            self.finished,
            self.median_days,
            self.p90_days,
            self.now,
            self.now_median_days,
        )


def stage_waits(session: Session, where: ReportFilter) -> list[StageWait]:
    """Every pathway stage in running order, with its figures (zeros for a quiet stage)."""
    stages = pathway_stages(session)
    processes = [s.process_id for s in stages]
    if not processes:
        return []
    dialect = session.get_bind().dialect.name
    ended = _seconds(StageVisit.left_at, StageVisit.entered_at, dialect)
    finished = spread_by(
        session,
        StageVisit.process_id,
        processes,
        ended,
        _visits(where).where(StageVisit.left_at >= where.since, StageVisit.left_at < where.until),
        SHARES,
    )
    so_far = _seconds(literal(clock.now(), UTCDateTime()), StageVisit.entered_at, dialect)
    current = spread_by(
        session,
        StageVisit.process_id,
        processes,
        so_far,
        _visits(where, running=True).where(StageVisit.left_at.is_(None)),
        (0.5,),
    )
    found = []
    nothing = Spread(0, (None, None))
    for stage in stages:
        done = finished.get(stage.process_id, nothing)
        waiting = current.get(stage.process_id, nothing)
        found.append(
            StageWait(
                stage,
                done.count,
                _days(done.percentiles[0]),
                _days(done.percentiles[1]),
                waiting.count,
                _days(waiting.percentiles[0]),
            )
        )
    return found


@measure("waits", order=160)
def waits(session: Session, where: ReportFilter) -> Table:
    return waits_table(stage_waits(session, where))


def waits_table(figures: Iterable[StageWait]) -> Table:
    """The measure's table from figures already read (the page draws both from one read)."""
    return Table(
        key="waits",
        title="Where cases wait: days in each stage",
        columns=COLUMNS,
        rows=tuple(w.row() for w in figures),
        how=(
            "Each stay of a case in a stage of the pathway, from entering the stage to leaving "
            "it, counted in the period it ended; days are elapsed time to one decimal place. "
            "A stage visited twice (a second review) counts twice. Cases in a stage now are "
            "counted as of today, with the days they have spent there so far."
        ),
        chart="median_days",
    )


def _seconds(later: Any, earlier: Any, dialect: str) -> ColumnElement[float]:
    """Elapsed seconds between two stored moments, never below zero (clocks of two servers may
    differ), computed by the database.

    On PostgreSQL ``extract`` gives exact decimal seconds, but turning 450,000 decimals into
    doubles goes through text and costs more than the sort; whole microseconds as a ``bigint``
    and one division give the same double (the nearest to the exact value), much faster.
    """
    if dialect == "postgresql":
        micro = cast(func.extract("epoch", later - earlier) * 1_000_000, BigInteger)
        seconds: ColumnElement[float] = cast(micro, Float) / 1_000_000.0
        return func.greatest(func.coalesce(seconds, 0.0), 0.0)
    seconds = (func.julianday(later) - func.julianday(earlier)) * _DAY
    return func.max(func.coalesce(seconds, 0.0), 0.0)


def _visits(where: ReportFilter, running: bool = False) -> Select:
    """Visits by cases of the pathway, narrowed by ``where``; only visits of cases still
    running when ``running``.

    A case is read only when its team or status is asked: otherwise "the case is on a version
    of the pathway" is asked as "the visit is not one of a case on another version", a set
    built once from the few cases of other processes instead of a join with every case.
    """
    pathway_versions = select(ProcessVersion.id).where(ProcessVersion.process_id == PATHWAY)
    query = select(StageVisit.process_id)
    if running or where.team_id is not None:
        query = query.join(Case, Case.id == StageVisit.case_id).where(
            Case.version_id.in_(pathway_versions)
        )
        if running:
            query = query.where(Case.status == CaseStatus.ACTIVE)
    else:
        # Looked up by version (indexed): usually no case at all, where "not a pathway
        # version" would read every case.
        other_versions = select(ProcessVersion.id).where(ProcessVersion.process_id != PATHWAY)
        elsewhere = select(Case.id).where(Case.version_id.in_(other_versions))
        query = query.where(StageVisit.case_id.not_in(elsewhere))
    if where.coordinator is not None or where.referral_type is not None:
        query = query.join(Referral, Referral.case_id == StageVisit.case_id)
    return query.where(*_narrowing(where))


def _narrowing(where: ReportFilter) -> list[ColumnElement[bool]]:
    """A case with no referral row yet (its form not submitted) has no coordinator or type:
    it drops out only when one of those is asked for (the join above is inner only then)."""
    conditions: list[ColumnElement[bool]] = []
    if where.team_id is not None:
        conditions.append(Case.team_id == where.team_id)
    if where.coordinator is not None:
        conditions.append(Referral.coordinator == where.coordinator)
    if where.referral_type is not None:
        conditions.append(Referral.referral_type == where.referral_type)
    return conditions


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / _DAY, 1)


# --- the heat map over the diagram ----------------------------------------------------------


@dataclass(frozen=True)
class HeatMap:
    """The latest pathway diagram with each stage's figures at its call activity's element.

    ``steps`` holds the upper bound in days of each shade, darkest last; a stage with no
    stays ended in the period has step None (not shaded).
    """

    process_id: str
    name: str
    bpmn_xml: str
    stages: tuple[tuple[tuple[str, ...], StageWait, int | None], ...]
    steps: tuple[float, ...]

    def by_element(self) -> dict[str, tuple[StageWait, int | None]]:
        return {e: (wait, step) for elements, wait, step in self.stages for e in elements}


def stage_heat(
    session: Session, where: ReportFilter, figures: list[StageWait] | None = None
) -> HeatMap | None:
    """The heat map for ``where`` (from ``figures`` when already read); None when no pathway
    is deployed."""
    try:
        version = latest_version(session, PATHWAY)
    except VersionNotFound:
        return None
    drawn = _drawing(version.content_hash, version.files)
    if drawn is None:
        return None
    file_name, name, elements = drawn
    stage_figures = stage_waits(session, where) if figures is None else figures
    highest = max((w.median_days for w in stage_figures if w.median_days is not None), default=0)
    stages = tuple(
        (tuple(elements.get(w.stage.process_id, ())), w, step_of(w.median_days, highest))
        for w in stage_figures
    )
    steps = tuple(round(highest * k / STEPS, 1) for k in range(1, STEPS + 1))
    return HeatMap(PATHWAY, name, version.files[file_name], stages, steps)


def step_of(days: float | None, highest: float) -> int | None:
    """The shade, 1 (palest) to ``STEPS`` (darkest), of ``days`` on a scale up to ``highest``
    (the slowest stage in the period), so the bottleneck is always the darkest."""
    if days is None:
        return None
    if highest <= 0:
        return 1
    return min(STEPS, max(1, math.ceil(STEPS * days / highest)))


# Per content hash: versions are immutable. (file name, process name, process -> element ids)
_drawings: dict[str, tuple[str, str, dict[str, list[str]]] | None] = {}


def _drawing(
    content_hash: str, files: Mapping[str, str]
) -> tuple[str, str, dict[str, list[str]]] | None:
    if content_hash not in _drawings:
        _drawings[content_hash] = _read_drawing(files)
    return _drawings[content_hash]


def _read_drawing(files: Mapping[str, str]) -> tuple[str, str, dict[str, list[str]]] | None:
    """The file drawing the pathway, its name, and the call activities calling each process
    (embedded sub-processes are drawn in the same diagram, so their call activities count)."""
    for file_name, text in sorted(files.items()):
        if not file_name.endswith(".bpmn") or f'id="{PATHWAY}"' not in text:
            continue
        try:
            root = parse_xml(text.encode(), file_name).getroot()
        except XmlRejected:
            continue
        for process in root.iter(f"{_BPMN}process"):
            if process.get("id") != PATHWAY:
                continue
            called: dict[str, list[str]] = defaultdict(list)
            for element in process.iter(f"{_BPMN}callActivity"):
                if element.get("id") and element.get("calledElement"):
                    called[element.get("calledElement", "")].append(element.get("id", ""))
            return file_name, process.get("name") or PATHWAY, dict(called)
    return None
