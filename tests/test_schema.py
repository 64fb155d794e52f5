"""The database schema: migrations match the models, on both databases; history is kept safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from engine.models import Base, CaseEvent, ProcessVersion
from tests.people import REFERRER


def test_migrations_create_exactly_the_models(migrated_from_scratch):
    with migrated_from_scratch.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_times_come_back_timezone_aware_in_utc(session, runtime, two_lanes):
    paris = timezone(timedelta(hours=1))
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    event = CaseEvent(
        case_id=case.id,
        at=datetime(2026, 3, 2, 10, 0, tzinfo=paris),
        actor="x",
        kind="note",
        summary="Checked the time zone.",
        payload={},
    )
    session.add(event)
    session.commit()
    session.expire_all()
    stored = session.get(CaseEvent, event.id)
    assert stored.at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert stored.at.tzinfo is not None


def test_a_deployed_version_cannot_be_edited(session, two_lanes):
    two_lanes.name = "Quietly changed"
    with pytest.raises(ValueError, match="immutable"):
        session.commit()
    session.rollback()
    assert session.get(ProcessVersion, two_lanes.id).name == "Two-lane request"


def test_the_chronology_cannot_be_rewritten(session, runtime, two_lanes):
    case = runtime.start_case(session, two_lanes, {}, REFERRER)
    event = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).first()
    event.summary = "Something else happened"
    with pytest.raises(ValueError, match="append-only"):
        session.commit()
    session.rollback()
