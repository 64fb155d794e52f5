"""Form schemas through the API, so another system can build or check what it will send.

A form comes from the latest deployed version of the pathway (``referral`` is the form a
referral is posted with); a form that only another process uses is found in that process's
latest version. Versions are immutable, so what a case started on may be older.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from engine.errors import NotFound
from engine.forms import FORM_KEY_PATTERN
from engine.models import ProcessVersion
from webapp.api import bp
from webapp.api.cases import PATHWAY
from webapp.extensions import db, runtime


@bp.get("/forms/<key>")
def get_form(key: str) -> dict[str, Any]:
    schema = latest_form(key) if FORM_KEY_PATTERN.match(key) else None
    if schema is None:
        raise NotFound("There is no form with that key in the deployed processes.")
    return schema


def latest_form(key: str) -> dict[str, Any] | None:
    """The form ``key`` from the newest version of the pathway, else of any other process."""
    session = db.session()
    newest = (
        select(ProcessVersion.process_id, func.max(ProcessVersion.version).label("version"))
        .group_by(ProcessVersion.process_id)
        .subquery()
    )
    query = select(ProcessVersion.process_id, ProcessVersion.id).join(
        newest,
        (newest.c.process_id == ProcessVersion.process_id)
        & (newest.c.version == ProcessVersion.version),
    )
    rows = list(session.execute(query).all())
    rows.sort(key=lambda row: (row.process_id != PATHWAY, row.process_id))
    for row in rows:
        schema = runtime().store.version(session, row.id).forms.get(key)
        if schema is not None:
            return schema
    return None
