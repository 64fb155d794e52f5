"""A task form's POST read back into data, and the add and remove buttons applied to it.

The pages work without JavaScript, so everything a form needs travels in plain posts. A
repeating group grows or shrinks through submit buttons named ``__action`` (``add:people``,
``remove:people.2``) that show the form again instead of completing the task. A hidden
``__present__`` input names each tick box, tick-box group and repeat entry the page showed:
browsers send nothing for an unticked box, and only the marker says whether nothing means
"no" or "this was never on the page".

Everything posted is untrusted: a button naming a group the form does not have, or an
entry number out of range, only shows the form again.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webapp.schema_form import (
    Schema,
    as_text,
    fewest_entries,
    is_checkboxes,
    item_schema,
    join_path,
    ordered_keys,
    schema_type,
)

ACTION = "__action"
PRESENT = "__present__"


@dataclass(frozen=True)
class FormAction:
    """A button that edits the form rather than completing the task. ``refresh`` is an add or
    remove this form does not have (a stale page, a hand-made post): show the form again."""

    kind: str  # "add", "remove" or "refresh"
    path: tuple[str | int, ...] = ()  # the array, as data keys
    index: int | None = None  # the entry to remove
    min_items: int = 0
    max_items: int | None = None
    grouped: bool = True  # entries are objects (else single values)


_ABSENT = object()
_BOOLEANS = {"true": True, "on": True, "yes": True, "false": False, "no": False}
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_THOUSANDS = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
_INDEX = re.compile(r"[0-9]{1,6}")  # six digits: more entries than any form has


class _Posted:
    """The post as {name: [values]}, whatever mapping the caller had."""

    def __init__(self, form: Mapping[str, Any]) -> None:
        getlist = getattr(form, "getlist", None)
        self.lists: dict[str, list[str]] = {}
        for name in form:
            raw = getlist(name) if getlist else form[name]
            values = [raw] if isinstance(raw, str) else [str(v) for v in raw]
            # No one types a NUL character, and PostgreSQL cannot store one in a JSON document.
            self.lists[str(name)] = [v.replace("\x00", "") for v in values]
        self.present = set(self.lists.pop(PRESENT, []))
        self.action = (self.lists.pop(ACTION, None) or [""])[0]

    def first(self, name: str) -> str:
        return next(iter(self.lists.get(name, [])), "")

    def indices(self, name: str) -> list[int]:
        """Entry numbers posted under `name`, in order; gaps (a removed entry) just close."""
        pattern = re.compile(re.escape(name) + r"\.([0-9]{1,6})(?:\.|$)")
        found = {pattern.match(n) for n in [*self.lists, *self.present]}
        return sorted({int(m.group(1)) for m in found if m})

    def blank(self, name: str) -> bool:
        inside = [vs for n, vs in self.lists.items() if n == name or n.startswith(name + ".")]
        return not any(v.strip() for values in inside for v in values)


def parse_submission(
    schema: Schema, form: Mapping[str, Any]
) -> tuple[dict[str, Any], FormAction | None]:
    """The posted form as data of the schema's types, and the add/remove button pressed, if any.

    Blank inputs are left out, so `required` says what is missing. Text that is not a number
    stays text, so the worker sees it again beside "Expected a number". Blank entries of a
    repeating group are dropped when the form is submitted but kept while it is being edited,
    so "Add another" twice gives two new entries.
    """
    posted = _Posted(form)
    action = _parse_action(schema, posted.action)
    data = _parse_object(schema, posted, "", keep_blank=action is not None)
    return data, action


def parse_draft(schema: Schema, form: Mapping[str, Any]) -> dict[str, Any]:
    """A post read as a draft: like a submission being edited, entries left blank are kept
    (a worker who added an empty entry finds it again), and no button is acted on."""
    posted = _Posted(form)
    return _parse_object(schema, posted, "", keep_blank=True)


def _parse_object(schema: Schema, posted: _Posted, prefix: str, keep_blank: bool) -> dict:
    props = schema.get("properties") or {}
    data: dict[str, Any] = {}
    for key in ordered_keys(schema):
        value = _parse_value(props[key], posted, join_path(prefix, key), keep_blank)
        if value is not _ABSENT:
            data[key] = value
    return data


def _parse_value(schema: Schema, posted: _Posted, name: str, keep_blank: bool) -> Any:
    kind = schema_type(schema)
    if kind == "object":
        return _parse_object(schema, posted, name, keep_blank) or _ABSENT
    if kind == "array":
        return _parse_array(schema, posted, name, keep_blank)
    if kind == "boolean" and name in posted.present:
        ticked = posted.first(name).strip().lower()
        return _BOOLEANS.get(ticked, True) if ticked else False
    return _scalar(schema, posted.first(name))


def _parse_array(schema: Schema, posted: _Posted, name: str, keep_blank: bool) -> Any:
    items = item_schema(schema)
    if is_checkboxes(schema):
        ticked = [v for v in posted.lists.get(name, []) if v.strip()]
        if not ticked:
            return [] if name in posted.present else _ABSENT
        chosen = dict.fromkeys(ticked)
        in_order = [v for v in items["enum"] if as_text(v) in chosen]
        known = {as_text(v) for v in items["enum"]}
        return in_order + [t for t in chosen if t not in known]
    entries = []
    for i in posted.indices(name):
        path = f"{name}.{i}"
        if not keep_blank and posted.blank(path):
            continue
        value = _parse_value(items, posted, path, keep_blank)
        if value is _ABSENT:
            value = {} if schema_type(items) == "object" else ""
        entries.append(value)
    return entries or _ABSENT


def _scalar(schema: Schema, raw: str) -> Any:
    text = raw.replace("\r\n", "\n").strip()
    if not text:
        return _ABSENT
    if "enum" in schema:
        return next((v for v in schema["enum"] if as_text(v) == text), text)
    kind = schema_type(schema)
    if kind in ("number", "integer"):
        return _number(text, kind)
    if kind == "boolean":
        return _BOOLEANS.get(text.lower(), text)
    return text


def _number(text: str, kind: str) -> Any:
    """The number typed, or the text itself when it is not one (validation then says so)."""
    cleaned = text.removeprefix("£").strip()
    if _THOUSANDS.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    if not _NUMBER.fullmatch(cleaned):
        return text
    if re.fullmatch(r"[+-]?[0-9]+", cleaned):
        return int(cleaned)
    value = float(cleaned)
    if not math.isfinite(value):
        return text
    return int(value) if kind == "integer" and value.is_integer() else value


def _parse_action(schema: Schema, raw: str) -> FormAction | None:
    kind, colon, path = raw.partition(":")
    if not colon or kind not in ("add", "remove"):
        return None
    parts = path.split(".")
    index = int(parts.pop()) if kind == "remove" and _INDEX.fullmatch(parts[-1]) else None
    found = _resolve_array(schema, parts) if kind == "add" or index is not None else None
    if found is None:
        return FormAction("refresh")
    array, required, tokens = found
    grouped = schema_type(item_schema(array)) == "object"
    limits = fewest_entries(array, required), array.get("maxItems")
    return FormAction(kind, tokens, index, *limits, grouped=grouped)


def _resolve_array(
    schema: Schema, parts: list[str]
) -> tuple[Schema, bool, tuple[str | int, ...]] | None:
    """The repeating group a button names, checked against the schema (posts are untrusted)."""
    node, required, tokens = schema, False, []
    for part in parts:
        props = node.get("properties") or {}
        if schema_type(node) == "object" and part in props:
            required = part in (node.get("required") or [])
            node, tokens = props[part], [*tokens, part]
        elif schema_type(node) == "array" and _INDEX.fullmatch(part):
            node, required, tokens = item_schema(node), False, [*tokens, int(part)]
        else:
            return None
    if not tokens or schema_type(node) != "array" or is_checkboxes(node):
        return None
    return node, required, tuple(tokens)


def apply_action(data: Mapping[str, Any], action: FormAction) -> dict[str, Any]:
    """A copy of `data` with one entry added or removed, within minItems and maxItems."""
    result = copy.deepcopy(dict(data))
    node: Any = result
    for step in action.path[:-1]:
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and step < len(node) else None
        else:
            node = node.setdefault(step, {}) if isinstance(node, dict) else None
    if action.kind == "refresh" or not isinstance(node, dict):
        return result
    entries = node.get(action.path[-1])
    entries = entries if isinstance(entries, list) else []
    if action.kind == "add" and (action.max_items is None or len(entries) < action.max_items):
        entries.append({} if action.grouped else "")
    if action.kind == "remove" and len(entries) > max(action.min_items, action.index or 0):
        del entries[action.index or 0]
    node[action.path[-1]] = entries
    return result
