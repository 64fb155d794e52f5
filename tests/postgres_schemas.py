"""PostgreSQL schemas for tests, recycled: a test's schema is reset and kept for the next test.

Creating the tables of a schema and dropping them again costs about a second here; deleting a
test's rows takes a few milliseconds. Each test process (each xdist worker) migrates two
template schemas (migrated; migrated and deployed) and a spare. For each test a spare is
renamed to the test's own schema name and the template's rows are copied in. After the test
its rows are deleted, its sequences reset, the migrated template's rows copied back, and it
is renamed to a spare's name. A schema whose tables, columns, indexes or constraints the test
changed, or that cannot be reset within seconds (a lock held by a connection left open), is
dropped instead. Connections a test left open keep the test's schema name in their
``search_path``; once the schema is renamed that name no longer exists, so they cannot touch
the next test's rows.
"""

from __future__ import annotations

import functools
import uuid
import warnings
from dataclasses import dataclass
from graphlib import TopologicalSorter

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from engine.db import make_engine
from tests.databases import MIGRATED, build, postgres_url, stamp_deployed_now

VACUUM_EVERY = 20  # tests; a vacuum of a schema takes 50-100 ms


class PostgresSchemas:
    """Migrated schemas of this test process: two templates, and spares recycled between tests."""

    def __init__(self, url: str):
        self.url = url
        self.prefix = f"kf_{uuid.uuid4().hex[:10]}"
        self.admin = make_engine(url, pool_size=1)
        self.spares: list[str] = []
        self.made = 0
        self.released = 0

    def _new_name(self) -> str:
        self.made += 1
        return f"{self.prefix}_{self.made}"

    def _built(self, state: str) -> str:
        name = self._new_name()
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        engine = make_engine(postgres_url(self.url, name))
        try:
            build(engine, state)
        finally:
            engine.dispose()
        return name

    @functools.cache  # noqa: B019  (one instance per test process, kept for the whole run)
    def template(self, state: str) -> _Template:
        name = self._built(state)
        with self.admin.connect() as conn:
            return _Template.read(conn, name)

    def fill(self, schema: str, state: str) -> None:
        """Give the test ``schema`` (absent, or empty) a copy of the template for ``state``;
        raises ``RuntimeError`` if something was made in it already."""
        migrated, wanted = self.template(MIGRATED), self.template(state)
        spare = self.spares.pop() if self.spares else self._built(MIGRATED)
        try:
            with self.admin.begin() as conn:
                if _holds_anything(conn, schema):
                    raise RuntimeError(f"{schema} is not empty")
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}"')
                conn.exec_driver_sql(f'ALTER SCHEMA "{spare}" RENAME TO "{schema}"')
                if wanted is not migrated:
                    conn.exec_driver_sql(wanted.restore_script(schema, migrated.with_rows))
                    stamp_deployed_now(conn.execution_options(schema_translate_map={None: schema}))
        except BaseException:
            self.spares.append(spare)
            raise

    def release(self, schema: str) -> None:
        """Reset a test's schema to the migrated template and keep it, or else drop it."""
        migrated = self.template(MIGRATED)
        spare = self._new_name()
        try:
            with self.admin.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                if _fingerprint(conn, schema) != migrated.fingerprint:
                    raise ValueError(f"the test changed the tables of {schema}")
                conn.exec_driver_sql(migrated.restore_script(schema, migrated.tables))
                conn.exec_driver_sql(f'ALTER SCHEMA "{schema}" RENAME TO "{spare}"')
        except (SQLAlchemyError, ValueError) as exc:
            warnings.warn(f"dropping {schema} instead of reusing it: {exc}", stacklevel=1)
            self.drop(schema)
            return
        self.released += 1
        if self.released % VACUUM_EVERY == 0:
            self._vacuum(spare)
        self.spares.append(spare)

    def _vacuum(self, schema: str) -> None:
        """Clear the dead rows the deletes left, which autovacuum (off on some test servers,
        as here) would otherwise leave to slow every later test down."""
        tables = ", ".join(f'"{schema}"."{t}"' for t in self.template(MIGRATED).tables)
        with self.admin.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"VACUUM {tables}")

    def drop(self, schema: str) -> None:
        try:
            with self.admin.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        except SQLAlchemyError as exc:
            warnings.warn(f"could not drop schema {schema}: {exc}", stacklevel=1)

    def close(self) -> None:
        """Drop the templates and spares (the tests' own schemas are gone already)."""
        with self.admin.connect() as conn:
            ours = conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :prefix)"),
                {"prefix": f"{self.prefix}_"},
            )
            names = ours.scalars().all()
        for name in names:
            self.drop(name)
        self.admin.dispose()


@dataclass(frozen=True)
class _Template:
    """A template schema: its tables, which of them hold rows, where its sequences stand."""

    name: str
    tables: list[str]  # parents before children
    with_rows: list[str]
    sequences: dict[str, tuple[int, bool]]  # name -> (value, is_called) for setval
    fingerprint: str

    @classmethod
    def read(cls, conn: Connection, name: str) -> _Template:
        tables = _tables_parents_first(conn, name)
        with_rows = [
            t
            for t in tables
            if conn.exec_driver_sql(f'SELECT EXISTS (SELECT FROM "{name}"."{t}")').scalar()
        ]
        sequences = {
            row.sequencename: (row.last_value or row.start_value, row.last_value is not None)
            for row in conn.execute(
                text(
                    "SELECT sequencename, last_value, start_value FROM pg_sequences"
                    " WHERE schemaname = :schema"
                ),
                {"schema": name},
            )
        }
        return cls(name, tables, with_rows, sequences, _fingerprint(conn, name))

    def restore_script(self, schema: str, holding: list[str]) -> str:
        """SQL that makes ``schema``, whose rows are all in the tables ``holding``, hold
        exactly this template's rows, with its sequences where this template's are."""
        cleared = [t for t in reversed(self.tables) if t in holding]
        filled = [t for t in self.tables if t in self.with_rows]
        return ";\n".join(
            [f'DELETE FROM "{schema}"."{t}"' for t in cleared]
            + [f'INSERT INTO "{schema}"."{t}" SELECT * FROM "{self.name}"."{t}"' for t in filled]
            + [
                f'SELECT setval(\'"{schema}"."{seq}"\', {value}, {str(called).lower()})'
                for seq, (value, called) in self.sequences.items()
            ]
        )


def _holds_anything(conn: Connection, schema: str) -> bool:
    """Whether anything was made in the schema (found through pg_depend's index)."""
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT FROM pg_depend d JOIN pg_namespace n ON d.refobjid = n.oid"
                " WHERE d.refclassid = 'pg_namespace'::regclass AND n.nspname = :schema)"
            ),
            {"schema": schema},
        ).scalar()
    )


def _tables_parents_first(conn: Connection, schema: str) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT c.relname AS child, p.relname AS parent FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'f'"
            " LEFT JOIN pg_class p ON p.oid = k.confrelid"
            " WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')"
        ),
        {"schema": schema},
    )
    graph: dict[str, set[str]] = {}
    for child, parent in rows:
        graph.setdefault(child, set())
        if parent is not None and parent != child:
            graph[child].add(parent)
    return list(TopologicalSorter(graph).static_order())


# Found through the catalogs' indexes: with autovacuum off (as on the test server here) the
# catalogs fill with dead rows from every schema ever dropped, and a scan of pg_class takes 50 ms.
_FINGERPRINT = text(
    """
    WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = :schema),
    member AS (
        SELECT d.classid, d.objid FROM pg_depend d JOIN ns ON d.refobjid = ns.oid
        WHERE d.refclassid = 'pg_namespace'::regclass
    ),
    rels AS (SELECT objid AS oid FROM member WHERE classid = 'pg_class'::regclass)
    SELECT md5(string_agg(item, ';' ORDER BY item)) FROM (
        SELECT concat_ws(' ', 'obj', i.type, i.name) AS item
            FROM member m, pg_identify_object(m.classid, m.objid, 0) i
        UNION ALL
        SELECT concat_ws(' ', 'col', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                a.attnotnull, a.atthasdef)
            FROM rels JOIN pg_class c ON c.oid = rels.oid JOIN pg_attribute a ON a.attrelid = c.oid
            WHERE a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT concat_ws(' ', 'idx', c.relname, x.indkey, x.indisunique)
            FROM rels JOIN pg_index x ON x.indrelid = rels.oid
            JOIN pg_class c ON c.oid = x.indexrelid
        UNION ALL
        SELECT concat_ws(' ', 'con', k.conname, k.contype)
            FROM rels JOIN pg_constraint k ON k.conrelid = rels.oid
        UNION ALL
        SELECT concat_ws(' ', 'trg', t.tgname) FROM rels JOIN pg_trigger t ON t.tgrelid = rels.oid
            WHERE NOT t.tgisinternal
    ) items
    """
)


def _fingerprint(conn: Connection, schema: str) -> str:
    """A digest of what the schema holds: tables and their columns, indexes, constraints and
    triggers, sequences, functions; names and types only, so copies of a schema match."""
    return conn.execute(_FINGERPRINT, {"schema": schema}).scalar_one()
