"""Reading a request's JSON body: an object, or a clear 400 saying what is wrong with it.

Text that the databases cannot store is refused here, before anything is written: PostgreSQL
keeps no NUL character in text or JSONB, and a lone UTF-16 surrogate cannot be encoded at all.
Left in, either would fail deep inside a transaction as a server error.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

from engine.errors import FormInvalid, KinflowError

# Far above any form (drafts are capped at 256 kB), far below what could hurt the server.
MAX_BODY_BYTES = 1_000_000


def json_object() -> dict[str, Any]:
    """The body as a JSON object; anything else is refused with a message naming the problem."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise KinflowError(f"The request body is larger than {MAX_BODY_BYTES:,} bytes.")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise KinflowError(f"The request body is larger than {MAX_BODY_BYTES:,} bytes.")
    if not raw.strip():
        raise KinflowError("The request body is empty: send a JSON object.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        # The decoder's message can quote the body; say only where the JSON went wrong.
        raise KinflowError(
            'The request body is not valid JSON: send a JSON object such as {"field": "value"}.'
        ) from None
    if not isinstance(body, dict):
        raise KinflowError(
            f"The request body must be a JSON object (with field names), not {_kind(body)}."
        )
    problems = dict(_unstorable(body, ""))
    if problems:
        raise FormInvalid(problems)
    return body


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "true or false", type(None): "null"}
    return names.get(type(value), "a number")


def _unstorable(value: Any, path: str) -> list[tuple[str, str]]:
    """(field path, message) for every text that cannot be stored, in keys and values alike."""
    if isinstance(value, str):
        return [(path or "(body)", _CONTROL)] if not _storable(value) else []
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = key or '""'  # an empty field name must not vanish from the path
            where = f"{path}.{name}" if path else name
            if not _storable(str(key)):
                found.append((path or "(body)", "A field name holds a character not allowed."))
                continue
            found += _unstorable(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _unstorable(item, f"{path}.{index}" if path else str(index))
    return found


_CONTROL = "This text holds a character that cannot be stored (a NUL or a broken character)."


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
