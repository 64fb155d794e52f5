"""Shared by the HTTP fuzz tests: a process that opens one task for every shipped form at once,
a snapshot of what a case has stored, and hypothesis strategies for hostile text.

One case of the all-forms process gives a ready task per form, so each form can be posted to
through the real pages and API without walking the pathway up to it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.chronology import case_events
from engine.deploy import deploy_paths, latest_version
from engine.models import Case, HumanTask, TaskState
from engine.runtime import Runtime
from tests.databases import REPO

FORMS = REPO / "forms"
FORM_KEYS = sorted(p.stem for p in FORMS.glob("*.json"))
PROCESS = "all_forms"
ROLE = "fgc_manager"


def all_forms_bpmn() -> str:
    """A process whose start splits into one user task per shipped form, for ``ROLE``."""
    tasks, flows = [], []
    for key in FORM_KEYS:
        tasks.append(
            f'<bpmn:userTask id="t_{key}" name="Fill in {key}" camunda:formKey="{key}" '
            f'camunda:candidateGroups="{ROLE}" />'
        )
        flows.append(f'<bpmn:sequenceFlow id="in_{key}" sourceRef="split" targetRef="t_{key}" />')
        flows.append(f'<bpmn:sequenceFlow id="out_{key}" sourceRef="t_{key}" targetRef="join" />')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="defs_all_forms" targetNamespace="http://kinflow.example/test">
  <bpmn:process id="{PROCESS}" name="Every shipped form" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="split" />
    <bpmn:parallelGateway id="split" />
    {"".join(tasks)}
    {"".join(flows)}
    <bpmn:parallelGateway id="join" />
    <bpmn:sequenceFlow id="f_end" sourceRef="join" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def deploy_all_forms(session: Session, runtime: Runtime, folder: Path) -> None:
    path = folder / "all_forms.bpmn"
    path.write_text(all_forms_bpmn(), encoding="utf-8")
    deploy_paths(session, [path], "pat.owner", runtime.codec, FORMS)
    session.commit()


def ready_task(session: Session, runtime: Runtime, key: str, team_id: int) -> int:
    """A ready task of form ``key``, starting a new all-forms case when every one is done."""
    found = session.scalar(
        select(HumanTask.id)
        .where(HumanTask.form_key == key, HumanTask.state == TaskState.READY)
        .limit(1)
    )
    if found is not None:
        return found
    version = latest_version(session, PROCESS)
    actor = Actor.of("pat.owner", "process_owner")
    runtime.start_case(session, version, {}, actor, "Fuzz family", team_id)
    session.commit()
    return ready_task(session, runtime, key, team_id)


def stored(session: Session, task_id: int) -> dict[str, Any]:
    """Everything a refused post must leave as it was: the task, its case's saved workflow
    state and version counter, every task of the case, and the chronology."""
    session.expire_all()
    task = session.get(HumanTask, task_id)
    assert task is not None
    case = session.get(Case, task.case_id)
    assert case is not None
    tasks = session.scalars(select(HumanTask).where(HumanTask.case_id == case.id))
    columns = [c.key for c in Case.__table__.columns if c.key != "updated_at"]
    return {
        "case": {c: _digest(getattr(case, c, None)) for c in columns},
        "tasks": sorted((t.id, str(t.state), t.assignee, t.completed_by) for t in tasks),
        "events": [(e.id, e.kind, _digest(e.summary)) for e in case_events(session, case.id)],
    }


def _digest(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# Text a browser or a script could send: ordinary and odd unicode, control characters and
# NULs, numbers and booleans as text, very long values.
ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "0",
            "-1",
            "1e309",
            "NaN",
            "Infinity",
            "true",
            "null",
            "[]",
            "{}",
            "2026-02-30",
            "9999-12-31",
            "\u202eevil",
            "\ufeff",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "£1,000.50",
            "x" * 300_000,
            "é" * 100_000,
        ]
    ),
)
