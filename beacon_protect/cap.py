"""The line cap: a protected record whose JSON line is still too long loses `raw` field by
field, then most of `message`; if even that is not enough, a minimal record says so. Nothing
is ever dropped silently.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterator, Tuple

from beacon_protect.text import MAX_LINE_BYTES, TRUNCATED_MARKER

# What the line cap keeps of `raw` however large the rest is: what identifies the source.
RAW_IDENTITY = frozenset({"otel_signal", "event_name", "metric_name", "metric_unit", "span_name"})
RAW_SHRUNK_BYTES = 256  # raw strings are cut to this when the line is too long
MESSAGE_SHRUNK_BYTES = 1024


# What a stand-in for an event too large to write keeps: the fields every event has, and who,
# where and which capture.
MINIMAL_EVENT_FIELDS = (
    *("timestamp", "vendor", "product", "schema_version", "event", "severity", "endpoint", "harness"),
    *("user", "capture", "origin", "run"),
)


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


Cutter = Callable[[str, int], Tuple[str, bool]]


def fit_line(event: Dict[str, Any], redacted: bool, cut: Cutter) -> Dict[str, Any]:
    """`event` (changed in place) within MAX_LINE_BYTES: raw strings cut, then raw members
    dropped (not the identifying ones), then message cut; else a minimal event saying so."""
    size = _json_size(event)
    if size <= MAX_LINE_BYTES:
        return event
    original = size
    if not event.get("field_truncated"):
        event["field_truncated"] = True
        size += len(',"field_truncated":true')
    size = _shrink_raw(event, size, cut)
    if size > MAX_LINE_BYTES and isinstance(event.get("message"), str):
        size = _shrink_string(event, "message", MESSAGE_SHRUNK_BYTES, size, cut)
    if size <= MAX_LINE_BYTES and _json_size(event) <= MAX_LINE_BYTES:  # the arithmetic, checked
        return event
    return _minimal_event(event, original, redacted, cut)


def _shrink_raw(event: Dict[str, Any], size: int, cut: Cutter) -> int:
    if "raw" not in event:
        return size
    leaves = sorted(_string_leaves(event, "raw"), key=lambda leaf: -_json_size(leaf[0][leaf[1]]))
    for container, key in leaves:  # the largest strings first
        if size <= MAX_LINE_BYTES:
            return size
        size = _shrink_string(container, key, RAW_SHRUNK_BYTES, size, cut)
    raw = event["raw"]
    if isinstance(raw, dict):
        members = sorted(
            (key for key in raw if key not in RAW_IDENTITY), key=lambda key: -_json_size(raw[key])
        )
        for key in members:  # then the largest members, whole
            if size <= MAX_LINE_BYTES:
                break
            size -= _json_size(key) + 1 + _json_size(raw[key]) + (1 if len(raw) > 1 else 0)
            del raw[key]
    elif isinstance(raw, list):
        while raw and size > MAX_LINE_BYTES:
            largest = max(range(len(raw)), key=lambda index: _json_size(raw[index]))
            size -= _json_size(raw[largest]) + (1 if len(raw) > 1 else 0)
            del raw[largest]
    return size


def _string_leaves(container: Any, key: Any) -> Iterator[Tuple[Any, Any]]:
    """(container, key) of every string under container[key], itself included."""
    value = container[key]
    if isinstance(value, str):
        yield container, key
    elif isinstance(value, dict):
        for inner in value:
            yield from _string_leaves(value, inner)
    elif isinstance(value, list):
        for index in range(len(value)):
            yield from _string_leaves(value, index)


def _shrink_string(container: Any, key: Any, limit: int, size: int, cut: Cutter) -> int:
    """Cut container[key] to `limit` bytes; the line's new size (the JSON string's length changes)."""
    before = container[key]
    after, was_cut = cut(before, limit)
    if not was_cut:
        return size
    container[key] = after
    return size - _json_size(before) + _json_size(after)


def _minimal_event(event: Dict[str, Any], size: int, redacted: bool, cut: Cutter) -> Dict[str, Any]:
    """The required fields only, each object reduced to its first scalar members, and a message
    saying what happened. The second setting fits whatever the input: 12 fields x 16 members x
    (32-byte key + 64-byte value, doubled by JSON escapes) stays far below the cap."""
    minimal: Dict[str, Any] = {}
    for strings, members in ((256, 32), (64, 16)):
        minimal = {
            name: _small(event[name], strings, members, cut) for name in MINIMAL_EVENT_FIELDS if name in event
        }
        minimal["message"] = f"event too large: {size} bytes; content dropped"
        minimal["field_truncated"] = True
        if redacted:
            minimal["content"] = {"redacted": True}
        if _json_size(minimal) <= MAX_LINE_BYTES:
            break
    return minimal


def _small(value: Any, strings: int, members: int, cut: Cutter) -> Any:
    if isinstance(value, str):
        return cut(value, strings)[0]
    if isinstance(value, dict):
        # event.kind/action/category/id first: they must survive the member limit.
        keys = sorted(value, key=lambda key: key not in ("kind", "action", "category", "id", "name"))
        scalars = [key for key in keys if value[key] is None or isinstance(value[key], (str, int, float))]
        return {
            cut(key, strings // 2)[0]: _small(value[key], strings, members, cut) for key in scalars[:members]
        }
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return TRUNCATED_MARKER
