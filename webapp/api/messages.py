"""Messages to a case: a safeguarding concern, consent withdrawn, or any message its diagrams
catch.

Only names the case's own deployed diagrams define are delivered; the two the pathway uses
(docs/pathway.md) have their one text field checked and the sender added, as the web page does.
A case that is not waiting for the message (the pathway ended, consent was withdrawn) is a
conflict with its state (409), not a malformed request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import abort
from SpiffWorkflow.bpmn.specs.event_definitions import MessageEventDefinition

from engine.errors import CaseNotActive, FormInvalid, KinflowError, NotFound
from engine.models import Case
from webapp.api.auth import api_actor
from webapp.extensions import db, runtime

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,79}$")
MAX_TEXT = 5000


@dataclass(frozen=True)
class KnownMessage:
    """A message of the shipped pathway: the text the sender writes and who sent it."""

    text_field: str
    sender_field: str
    audit_action: str


KNOWN = {
    "safeguarding_concern": KnownMessage("concern", "raised_by", "raise_concern"),
    "consent_withdrawn": KnownMessage("reason", "withdrawn_by", "withdraw_consent"),
}


def audit_action(name: str) -> str:
    known = KNOWN.get(name)
    return known.audit_action if known else "send_message"


def check_name(name: str) -> None:
    """404 for a name no diagram could define, before anything is looked up or audited."""
    if not NAME_PATTERN.match(name):
        raise NotFound("There is no message of that name.")


def message_names(case: Case) -> set[str]:
    """The messages the case's deployed diagrams catch (a start, boundary or catch event)."""
    spec, subprocesses = runtime().store.version(db.session(), case.version_id).specs
    names = set()
    for process in [spec, *subprocesses.values()]:
        for task_spec in process.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(definition, MessageEventDefinition) and definition.name:
                names.add(definition.name)
    return names


def deliver(case: Case, name: str, body: dict[str, Any]) -> Case:
    """Send the message to the case; the engine records what it means in the chronology."""
    defined = message_names(case)
    if name not in defined:
        accepted = ", ".join(sorted(defined)) or "none"
        raise NotFound(f"Case {case.id} has no message '{name}'. Its diagrams accept: {accepted}.")
    actor = api_actor()
    payload = _payload(name, body, actor.username)
    try:
        return runtime().send_message(db.session(), case.id, name, payload, actor)
    except KinflowError as exc:
        if type(exc) is KinflowError or isinstance(exc, CaseNotActive):
            db.session.rollback()
            abort(409, description=str(exc))
        raise


def _payload(name: str, body: dict[str, Any], sender: str) -> dict[str, Any]:
    known = KNOWN.get(name)
    if known is None:
        return body | {"sent_by": sender}
    field = known.text_field
    errors = {key: "This field is not known here." for key in body if key != field}
    text = body.get(field)
    if not isinstance(text, str) or not text.strip():
        errors[field] = "This field is required."
    elif len(text) > MAX_TEXT:
        errors[field] = f"At most {MAX_TEXT} characters."
    if errors:
        raise FormInvalid(errors)
    return {field: text.strip(), known.sender_field: sender}
