"""The plain in-memory shape both OTLP decoders produce, compiled from the field tables.

A decoded request is nested dicts keyed by the protobuf field names (snake_case):

- scalars: always present, with the proto3 default when not sent;
- oneof members and `optional` scalars: present only when sent;
- singular messages: a dict, or None when not sent;
- repeated fields: a list (empty when not sent);
- `attributes` and other repeated `KeyValue` fields: a dict {key: value};
- `AnyValue`: a Python value (str, bool, int, float, bytes, list, dict, or None);
- trace and span ids: lowercase hex strings; enums: ints.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from . import tables
from .limits import MAX_DEPTH, MAX_ELEMENTS, SIGNALS, DecodeError, LimitError, NestingError  # noqa: F401
from .tables import ANY, ATTRS, HEXID, MESSAGE, PRESENCE, REPEATED


class Field:
    """One field of a message spec."""

    __slots__ = ("enum", "json_name", "kind", "name", "number", "presence", "ref", "repeated", "spec")

    def __init__(self, row: tuple) -> None:
        number, name, json_name, kind, flags, ref = row
        self.number: int = number
        self.name: str = name
        self.json_name: str = json_name
        self.kind: int = kind
        self.repeated = bool(flags & REPEATED)
        self.presence = bool(flags & PRESENCE)
        self.spec: Optional[Spec] = None  # resolved after every spec exists
        self.enum: Optional[Dict[str, int]] = tables.ENUMS.get(ref) if ref else None
        self.ref: Optional[str] = ref


class Spec:
    """A message: its fields by number and by JSON name, and its default shape."""

    def __init__(self, name: str, rows: Tuple[tuple, ...]) -> None:
        self.name = name
        self.fields: List[Field] = [Field(row) for row in rows]
        self.by_number: Dict[int, Field] = {f.number: f for f in self.fields}
        self.by_json: Dict[str, Field] = {}
        for f in self.fields:
            self.by_json[f.json_name] = f
            self.by_json[f.name] = f
        self.defaults: Dict[str, Any] = {}
        self.containers: List[Tuple[str, type]] = []
        for f in self.fields:
            if f.repeated:
                self.containers.append((f.name, dict if f.kind == ATTRS else list))
            elif not f.presence:
                self.defaults[f.name] = _default(f.kind)

    def new(self) -> Dict[str, Any]:
        return self.defaults.copy()

    def finish(self, out: Dict[str, Any]) -> Dict[str, Any]:
        """Give every repeated field that was not sent its empty container."""
        for name, factory in self.containers:
            if name not in out:
                out[name] = factory()
        return out


def _default(kind: int) -> Any:
    if kind in (MESSAGE, ANY):
        return None
    if kind == tables.STRING or kind == HEXID:
        return ""
    if kind == tables.BYTES:
        return b""
    if kind == tables.BOOL:
        return False
    if kind in (tables.DOUBLE, tables.FLOAT):
        return 0.0
    return 0


def _compile() -> Dict[str, Spec]:
    specs = {name: Spec(name, rows) for name, rows in tables.MESSAGES.items()}
    for spec in specs.values():
        for f in spec.fields:
            if f.kind == MESSAGE:
                f.spec = specs[f.ref]  # type: ignore[index]
    return specs


SPECS = _compile()
ROOTS: Dict[str, Spec] = {signal: SPECS[name] for signal, name in tables.ROOTS.items()}
ANY_VALUE = SPECS["common.v1.AnyValue"]
KEY_VALUE = SPECS["common.v1.KeyValue"]


def root_spec(signal: str) -> Spec:
    try:
        return ROOTS[signal]
    except KeyError:
        raise ValueError(f"unknown OTLP signal {signal!r}; expected one of {SIGNALS}") from None


def unwrap_any(field: Field, value: Any) -> Any:
    """AnyValue's array and kvlist members wrap their items in a `values` field."""
    if field.kind == MESSAGE:
        return value["values"]
    return value
