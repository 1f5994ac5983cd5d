"""OTLP/JSON (the OTLP spec's JSON mapping) decoded to the same plain shape as protobuf.

lowerCamelCase keys (snake_case accepted too), hex trace/span ids, integers as JSON numbers or
strings holding one ("12", "1e3"), enums as ints (names accepted too), bytes as base64; unknown
fields are ignored and null means "not sent". Invalid UTF-8 and unpaired surrogate escapes
("\\ud800") become U+FFFD, as invalid UTF-8 does in protobuf strings: one bad character never
costs an agent's event.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import json
import math
import re
from typing import Any, Dict, Tuple, Union

from . import tables as t
from .shape import (
    ANY_VALUE,
    MAX_DEPTH,
    MAX_ELEMENTS,
    DecodeError,
    Field,
    LimitError,
    NestingError,
    Spec,
    root_spec,
)

_INT_RANGES: Dict[int, Tuple[int, int]] = {
    t.INT64: (-(1 << 63), (1 << 63) - 1),
    t.SINT64: (-(1 << 63), (1 << 63) - 1),
    t.SFIXED64: (-(1 << 63), (1 << 63) - 1),
    t.UINT64: (0, (1 << 64) - 1),
    t.FIXED64: (0, (1 << 64) - 1),
    t.INT32: (-(1 << 31), (1 << 31) - 1),
    t.SINT32: (-(1 << 31), (1 << 31) - 1),
    t.SFIXED32: (-(1 << 31), (1 << 31) - 1),
    t.ENUM: (-(1 << 31), (1 << 31) - 1),
    t.UINT32: (0, (1 << 32) - 1),
    t.FIXED32: (0, (1 << 32) - 1),
}
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# An integer in a string is written as a JSON number, as in the proto3 JSON mapping ("12", "-3",
# "1e3", "1.0"): int() and Decimal() alone would take "+12", " 12", "1_000" and non-ASCII digits.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_MAX_NUMBER_CHARS = 64  # far more than any 64-bit integer needs
# json.loads joins an escaped surrogate pair into one character but leaves an unpaired surrogate
# escape as a lone surrogate, which no UTF-8 encoder takes: such escapes become \ufffd first.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# An escaped backslash (kept: the "u" after it is text), a surrogate pair (kept), or a surrogate.
_ESCAPED_SURROGATES = re.compile(
    r"\\\\|(\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2})|\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
)


def decode_json(signal: str, data: bytes) -> Dict[str, Any]:
    """Decode an Export{Logs,Trace,Metrics}ServiceRequest from OTLP/JSON bytes."""
    spec = root_spec(signal)
    text = bytes(data).decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    if _SURROGATE_ESCAPE.search(text) is not None:  # rare: one scan is all the others cost
        text = _ESCAPED_SURROGATES.sub(_unpaired_to_replacement, text)
    try:
        document = json.loads(text)
    except RecursionError:
        raise NestingError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    try:
        return _JsonDecoder().message(document, spec, 0)
    except _FieldError as exc:
        raise DecodeError(f"{spec.name}{exc.path}: {exc.problem}") from None


def _unpaired_to_replacement(match: re.Match[str]) -> str:
    escape = match.group(0)
    return escape if escape[1] == "\\" or match.group(1) else "\\ufffd"


class _FieldError(DecodeError):
    """A bad value; the path to it is built while the error travels up (errors are rare)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = ""

    def under(self, step: str) -> _FieldError:
        self.path = step + self.path
        return self


class _JsonDecoder:
    __slots__ = ("budget",)

    def __init__(self) -> None:
        self.budget = MAX_ELEMENTS

    def _enter(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise NestingError(f"nesting deeper than {MAX_DEPTH} levels")
        self.budget -= 1
        if self.budget < 0:
            raise LimitError(f"more than {MAX_ELEMENTS} decoded elements in one request")

    def message(self, obj: Any, spec: Spec, depth: int) -> Dict[str, Any]:
        self._enter(depth)
        if not isinstance(obj, dict):
            raise _FieldError(f"expected a JSON object, got {_json_type(obj)}")
        out = spec.new()
        for key, value in obj.items():
            f = spec.by_json.get(key)
            if f is None or value is None:
                continue
            try:
                if f.kind == t.ATTRS:
                    out[f.name] = self.attributes(value, depth + 1)
                elif f.repeated:
                    out[f.name] = self.repeated(value, f, depth)
                else:
                    out[f.name] = self.value(value, f, depth)
            except _FieldError as exc:
                raise exc.under("." + f.json_name) from None
        return spec.finish(out)

    def repeated(self, items: Any, f: Field, depth: int) -> list:
        if not isinstance(items, list):
            raise _FieldError(f"expected a JSON array, got {_json_type(items)}")
        out = []
        counts_itself = f.kind == t.MESSAGE or f.kind == t.ANY
        for index, item in enumerate(items):
            if not counts_itself:
                self._enter(depth)  # repeated scalars count toward the budget too
            try:
                out.append(self.value(item, f, depth))
            except _FieldError as exc:
                raise exc.under(f"[{index}]") from None
        return out

    def attributes(self, items: Any, depth: int) -> Dict[str, Any]:
        if not isinstance(items, list):
            raise _FieldError(f"expected a JSON array, got {_json_type(items)}")
        out: Dict[str, Any] = {}
        for index, item in enumerate(items):
            self._enter(depth)
            if not isinstance(item, dict):
                raise _FieldError(f"expected a key/value object, got {_json_type(item)}").under(f"[{index}]")
            key = item.get("key")
            if key is None:
                key = ""
            elif not isinstance(key, str):
                raise _FieldError(f"expected a string, got {_json_type(key)}").under(f"[{index}].key")
            value = item.get("value")
            try:
                out[key] = None if value is None else self.any_value(value, depth + 1)
            except _FieldError as exc:
                raise exc.under(f"[{index}].value") from None
        return out

    def any_value(self, obj: Any, depth: int) -> Any:
        self._enter(depth)
        if not isinstance(obj, dict):
            raise _FieldError(f"expected an AnyValue object, got {_json_type(obj)}")
        value = None
        for key, member in obj.items():
            f = ANY_VALUE.by_json.get(key)
            if f is None or member is None:
                continue
            try:
                value = self.value(member, f, depth)
            except _FieldError as exc:
                raise exc.under("." + f.json_name) from None
            if f.kind == t.MESSAGE:
                value = value["values"]  # ArrayValue / KeyValueList wrap their items
        return value

    def value(self, value: Any, f: Field, depth: int) -> Any:
        kind = f.kind
        if kind == t.STRING:
            if not isinstance(value, str):
                raise _FieldError(f"expected a string, got {_json_type(value)}")
            return value
        if kind == t.MESSAGE:
            return self.message(value, f.spec, depth + 1)  # type: ignore[arg-type]
        if kind == t.ANY:
            return self.any_value(value, depth + 1)
        if kind in _INT_RANGES:
            return _integer(value, kind, f)
        if kind == t.DOUBLE or kind == t.FLOAT:
            return _number(value)
        if kind == t.BOOL:
            if not isinstance(value, bool):
                raise _FieldError(f"expected true or false, got {_json_type(value)}")
            return value
        if kind == t.HEXID:
            return _hex_id(value)
        return _base64(value)


def _integer(value: Any, kind: int, f: Field) -> int:
    if isinstance(value, bool):
        raise _FieldError("expected an integer, got a boolean")
    number: Union[int, decimal.Decimal]
    if isinstance(value, str):
        if f.enum is not None and value in f.enum:
            return f.enum[value]
        number = _integer_in_string(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise _FieldError(f"expected an integer, got {_json_type(value)}")
    low, high = _INT_RANGES[kind]
    if not low <= number <= high:  # before int(): "1e999999999" must not become a huge int
        raise _FieldError(f"{number} is out of range for this field")
    return int(number)


def _integer_in_string(value: str) -> Union[int, decimal.Decimal]:
    if len(value) <= _MAX_NUMBER_CHARS:
        try:
            number = int(value)
        except ValueError:
            pass
        else:
            if str(number) == value:  # the usual, plain form ("12", "-3"), the fastest check
                return number
        if _JSON_NUMBER.fullmatch(value):
            exact = decimal.Decimal(value)
            if exact == exact.to_integral_value():
                return exact
    raise _FieldError(f"expected an integer, got the string {value[:40]!r}")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise _FieldError("expected a number, got a boolean")
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            raise _FieldError("expected a number, got an integer too large for a double") from None
    if isinstance(value, str):
        if value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
        try:
            return float(value)
        except ValueError:
            pass
    raise _FieldError(f"expected a number, got {_json_type(value)}")


def _hex_id(value: Any) -> str:
    if not isinstance(value, str):
        raise _FieldError(f"expected a hex string, got {_json_type(value)}")
    try:
        return bytes.fromhex(value).hex()
    except ValueError:
        raise _FieldError(f"expected a hex string, got {value[:40]!r}") from None


def _base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise _FieldError(f"expected a base64 string, got {_json_type(value)}")
    text = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _FieldError(f"expected a base64 string, got {value[:40]!r}") from None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# --- encoding (the synthetic agent, forwarding and benchmarks use it) -----------------

_STRING_INTS = {t.INT64, t.UINT64, t.FIXED64, t.SFIXED64, t.SINT64}


def encode_json(signal: str, request: Dict[str, Any]) -> bytes:
    """Encode a request in the plain shape as OTLP/JSON bytes. Defaults are not written."""
    return json.dumps(_json_message(request, root_spec(signal)), separators=(",", ":")).encode("utf-8")


def _json_message(message: Dict[str, Any], spec: Spec) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for f in spec.fields:
        value = message.get(f.name)
        if value is None:
            continue
        if f.kind == t.ATTRS:
            if value:
                out[f.json_name] = [{"key": k, "value": _json_any(v)} for k, v in value.items()]
        elif f.repeated:
            if value:
                out[f.json_name] = [_json_scalar_or_message(f, item) for item in value]
        elif f.presence or value != spec.defaults.get(f.name):
            out[f.json_name] = _json_scalar_or_message(f, value)
    return out


def _json_scalar_or_message(f: Field, value: Any) -> Any:
    kind = f.kind
    if kind == t.MESSAGE:
        return _json_message(value, f.spec)  # type: ignore[arg-type]
    if kind == t.ANY:
        return _json_any(value)
    if kind in _STRING_INTS:
        return str(value)
    if kind == t.BYTES:
        return base64.b64encode(value).decode("ascii")
    if (kind == t.DOUBLE or kind == t.FLOAT) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _json_any(value: Any) -> Dict[str, Any]:
    fields = ANY_VALUE.by_json
    if value is None:
        return {}
    if isinstance(value, bool):
        f = fields["bool_value"]
    elif isinstance(value, int):
        f = fields["int_value"]
    elif isinstance(value, float):
        f = fields["double_value"]
    elif isinstance(value, str):
        f = fields["string_value"]
    elif isinstance(value, (bytes, bytearray)):
        return {fields["bytes_value"].json_name: base64.b64encode(value).decode("ascii")}
    elif isinstance(value, (list, tuple)):
        return {fields["array_value"].json_name: {"values": [_json_any(v) for v in value]}}
    elif isinstance(value, dict):
        items = [{"key": k, "value": _json_any(v)} for k, v in value.items()]
        return {fields["kvlist_value"].json_name: {"values": items}}
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as an OTLP AnyValue")
    return {f.json_name: _json_scalar_or_message(f, value)}
