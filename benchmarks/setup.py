"""Databases and deployed diagrams for the benchmarks, built the way the app builds them."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from engine.actors import Actor
from engine.db import make_engine, make_sessionmaker, upgrade
from engine.deploy import deploy_paths
from engine.models import ProcessVersion
from engine.runtime import Runtime

DIAGRAMS = Path(__file__).parent / "diagrams"
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
COORDINATOR = Actor.of("bench.coordinator", "coordinator")


@contextmanager
def database(kind: str) -> Iterator[sessionmaker[Session]]:
    """A fresh, migrated database: a temporary SQLite file, or a scratch PostgreSQL schema."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{folder}/bench.db")
            upgrade(engine)
            yield make_sessionmaker(engine)
            engine.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def deploy(sessions: sessionmaker[Session], runtime: Runtime, name: str) -> ProcessVersion:
    folder = DIAGRAMS / name
    with sessions() as session:
        return deploy_paths(session, [folder], "bench", runtime.codec, folder / "forms")[0].version
