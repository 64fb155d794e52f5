"""A task's JSON Schema form as HTML fields, for the macros in templates/macros/form.html.

Reading the post back is webapp/form_post.py; both read schemas the same way, through the
helpers under "reading the schema" below. HTML names are data paths (``people.0.name``), the
paths ``validate_submission`` reports errors on, so an error finds its field by name. A
repeating group's add and remove buttons post ``__action`` (``add:people``,
``remove:people.2``) and each tick box, tick-box group and repeat entry carries a hidden
``__present__`` marker: form_post.py explains why.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

# Longer radio lists are hard to scan, so they become a select whatever the form asks.
MAX_RADIOS = 12

Schema = Mapping[str, Any]


class Option(NamedTuple):
    value: str
    label: str
    checked: bool


class Button(NamedTuple):
    value: str  # posted as __action
    text: str


class ErrorLink(NamedTuple):
    target: str | None  # HTML id of the field; None when no field on the page shows it
    label: str
    message: str


@dataclass
class RepeatItem:
    """One entry of a repeating group; `grouped` entries (objects) get a fieldset."""

    name: str
    id: str
    legend: str
    grouped: bool
    fields: list[Field]
    remove: Button | None = None
    error: str | None = None


@dataclass
class Field:
    """One question on the page; the template picks its markup by `widget`.

    widget: text, textarea, date, email, number, checkbox (one box), radio, select,
    checkboxes (several boxes, one name), group (`children`) or repeat (`items`, `add`).
    """

    name: str
    id: str
    label: str
    widget: str
    help: str | None = None
    required: bool = False
    options: list[Option] = field(default_factory=list)
    value: str = ""
    checked: bool = False
    error: str | None = None
    children: list[Field] = field(default_factory=list)
    items: list[RepeatItem] = field(default_factory=list)
    add: Button | None = None
    readonly: bool = False  # shown for reading and copying, not for answering

    @property
    def hint_id(self) -> str:
        return f"{self.id}-hint"

    @property
    def error_id(self) -> str:
        return f"{self.id}-error"

    @property
    def describedby(self) -> str:
        """Screen readers read the hint and the error with the field only if linked."""
        ids = [self.hint_id] if self.help else []
        return " ".join([*ids, self.error_id] if self.error else ids)


# --- reading the schema (shared with form_post.py) --------------------------------------------


def schema_type(schema: Schema) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and "properties" in schema:
        return "object"
    return kind


def ordered_keys(schema: Schema) -> list[str]:
    props = schema.get("properties") or {}
    order = [key for key in schema.get("x-order") or [] if key in props]
    return order + [key for key in props if key not in order]


def item_schema(schema: Schema) -> Schema:
    items = schema.get("items")
    return items if isinstance(items, Mapping) else {}


def is_checkboxes(schema: Schema) -> bool:
    return schema.get("x-widget") == "checkboxes" and "enum" in item_schema(schema)


def fewest_entries(schema: Schema, required: bool) -> int:
    """Fewest entries to show: an empty required group still needs a first entry to fill in."""
    return max(int(schema.get("minItems") or 0), 1 if required else 0)


def _widget(schema: Schema, required: bool) -> str:
    kind, hint = schema_type(schema), schema.get("x-widget")
    if kind == "object":
        return "group"
    if kind == "array":
        return "checkboxes" if is_checkboxes(schema) else "repeat"
    if kind == "boolean":
        if hint in ("checkbox", "radio"):
            return hint
        # An unticked box cannot say "not answered", so a required yes/no question is asked
        # with two radios; a box that must be ticked (const true) stays a box.
        return "radio" if required and schema.get("const") is not True else "checkbox"
    if "enum" in schema:
        return "radio" if hint == "radio" and len(schema["enum"]) <= MAX_RADIOS else "select"
    if kind in ("number", "integer"):
        return "number"
    if hint in ("textarea", "date"):
        return hint
    return schema.get("format") if schema.get("format") in ("date", "email") else "text"


def _humanise(key: str) -> str:
    words = key.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


_SINGULAR = (
    (re.compile(r"^people$"), "person"),
    (re.compile(r"(?<=..)ies$"), "y"),
    (re.compile(r"(?<=...)(?<![siu])s$"), ""),  # but not "address", "bus", "analysis"
)


def _noun(schema: Schema, key: str) -> str:
    """What one entry is called ("person" for `people`), for legends and button text.

    A form can say (``x-item-label``, or a title on `items`); otherwise the first plural word
    of the key is made singular, and a key with none ("network") gives "entry".
    """
    explicit = schema.get("x-item-label") or item_schema(schema).get("title")
    if explicit:  # lower-case it mid-sentence, unless it is an acronym such as "GP"
        return explicit if explicit[1:2].isupper() else explicit[:1].lower() + explicit[1:]
    words = _humanise(key).lower().split()
    for i, word in enumerate(words):
        for plural, singular in _SINGULAR:
            if plural.search(word):
                words[i] = plural.sub(singular, word)
                return " ".join(words)
    return "entry"


def _html_id(path: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", path)
    suffix = "" if safe == path else "-" + hashlib.sha1(path.encode()).hexdigest()[:6]
    return "f-" + safe.replace(".", "-") + suffix


def as_text(value: Any) -> str:
    """A data value as an input shows it."""
    if value is None or isinstance(value, Mapping | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def join_path(prefix: str, key: str | int) -> str:
    """The data path (and HTML name) of `key` inside `prefix`."""
    return f"{prefix}.{key}" if prefix else str(key)


def _choices(schema: Schema) -> list[tuple[Any, str]]:
    if schema_type(schema) == "boolean" and "enum" not in schema:
        return [(True, "Yes"), (False, "No")]
    labels = schema.get("x-labels") or {}
    return [(v, str(labels.get(as_text(v), as_text(v)))) for v in schema.get("enum") or []]


def _options(schema: Schema, current: Iterable[Any]) -> list[Option]:
    """The schema's choices; a current value the schema no longer offers is kept, not lost."""
    chosen = dict.fromkeys(as_text(v) for v in current if as_text(v))
    options = [Option(as_text(v), label, as_text(v) in chosen) for v, label in _choices(schema)]
    known = {option.value for option in options}
    return options + [Option(text, text, True) for text in chosen if text not in known]


# --- building the fields -----------------------------------------------------------------------


def build_fields(
    schema: Schema,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    *,
    readonly: bool = False,
) -> list[Field]:
    """The fields of a form, filled with `values` and marked with `errors` ({path: message}).

    Pre-filled data and data re-read from a failed post render the same way. `readonly`
    fields are for someone who may not answer (the task is another worker's, or done): text
    stays selectable so it can be copied, and no entry can be added or removed.
    """
    start = values if isinstance(values, Mapping) else {}
    fields = _object_fields(schema, start, errors or {}, "")
    if readonly:
        _lock(fields)
    return fields


def _lock(fields: list[Field]) -> None:
    for f in fields:
        f.readonly, f.add = True, None
        _lock(f.children)
        for item in f.items:
            item.remove = None
            _lock(item.fields)


def _object_fields(
    schema: Schema, values: Mapping[str, Any], errors: Mapping[str, str], prefix: str
) -> list[Field]:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    return [
        _field(props[key], values.get(key), errors, join_path(prefix, key), key, key in required)
        for key in ordered_keys(schema)
    ]


def _field(
    schema: Schema, value: Any, errors: Mapping[str, str], path: str, key: str, required: bool
) -> Field:
    widget = _widget(schema, required)
    result = Field(
        name=path,
        id=_html_id(path),
        label=str(schema.get("title") or _humanise(key)),
        widget=widget,
        help=schema.get("x-help") or schema.get("description"),
        required=required,
        error=errors.get(path),
    )
    if widget == "group":
        entries = value if isinstance(value, Mapping) else {}
        result.children = _object_fields(schema, entries, errors, path)
    elif widget == "repeat":
        _fill_repeat(result, schema, value if isinstance(value, list) else [], errors, key)
    elif widget == "checkboxes":
        result.options = _options(item_schema(schema), value if isinstance(value, list) else [])
    elif widget in ("radio", "select"):
        result.options = _options(schema, [value])
        result.value = as_text(value)
    elif widget == "checkbox":
        result.checked = value is True
    else:
        result.value = as_text(value)
    return result


def _fill_repeat(
    group: Field, schema: Schema, entries: list[Any], errors: Mapping[str, str], key: str
) -> None:
    entry, noun = item_schema(schema), _noun(schema, key)
    grouped = schema_type(entry) == "object"
    floor = fewest_entries(schema, group.required)
    count = max(len(entries), floor)
    for i in range(count):
        path, value = f"{group.name}.{i}", entries[i] if i < len(entries) else None
        legend = f"{noun[:1].upper()}{noun[1:]} {i + 1}"
        if grouped:
            value = value if isinstance(value, Mapping) else {}
            fields = _object_fields(entry, value, errors, path)
        else:
            fields = [_field(entry, value, errors, path, key, False)]
            fields[0].label = legend
        remove = Button(f"remove:{path}", f"Remove {noun} {i + 1}") if count > floor else None
        error = errors.get(path) if grouped else None
        group.items.append(RepeatItem(path, _html_id(path), legend, grouped, fields, remove, error))
    max_items = schema.get("maxItems")
    if max_items is None or count < max_items:
        article = "an" if noun[:1].lower() in "aeiou" else "a"
        group.add = Button(
            f"add:{group.name}", f"Add another {noun}" if count else f"Add {article} {noun}"
        )


def error_summary(fields: list[Field], errors: Mapping[str, str]) -> list[ErrorLink]:
    """Every error in page order, each linked to its field, for a summary at the top.

    Errors no field shows (``(form)``, a field the page does not have) come last, unlinked,
    so none is silently dropped.
    """
    links: list[ErrorLink] = []
    placed: set[str] = set()

    def walk(level: list[Field]) -> None:
        for f in level:
            if f.error:
                links.append(ErrorLink(f.id, f.label, f.error))
                placed.add(f.name)
            walk(f.children)
            for item in f.items:
                if item.error:
                    links.append(ErrorLink(item.id, item.legend, item.error))
                    placed.add(item.name)
                walk(item.fields)

    walk(fields)
    rest = [ErrorLink(None, "The form", m) for path, m in errors.items() if path not in placed]
    return links + rest
