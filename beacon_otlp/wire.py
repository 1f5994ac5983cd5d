"""OTLP protobuf wire format: decode to the plain shape, and encode it back.

Driven by the generated field tables; no protobuf package needed. Decoding is strict about
structure (lengths, wire types of known fields, varint size, nesting) and lenient about
content (unknown fields are skipped, invalid UTF-8 becomes U+FFFD).
"""

from __future__ import annotations

import math
import struct
from typing import Any, Dict, List, Optional, Tuple, Union

from . import tables as t
from .shape import (
    ANY_VALUE,
    KEY_VALUE,
    MAX_DEPTH,
    MAX_ELEMENTS,
    SPECS,
    DecodeError,
    Field,
    LimitError,
    NestingError,
    Spec,
    root_spec,
)

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_WIRE_OF_KIND = {
    t.DOUBLE: I64,
    t.FIXED64: I64,
    t.SFIXED64: I64,
    t.FLOAT: I32,
    t.FIXED32: I32,
    t.SFIXED32: I32,
    t.INT64: VARINT,
    t.UINT64: VARINT,
    t.INT32: VARINT,
    t.UINT32: VARINT,
    t.BOOL: VARINT,
    t.ENUM: VARINT,
    t.SINT32: VARINT,
    t.SINT64: VARINT,
    t.STRING: LEN,
    t.BYTES: LEN,
    t.MESSAGE: LEN,
    t.ANY: LEN,
    t.ATTRS: LEN,
    t.HEXID: LEN,
}
_FIXED = {
    t.DOUBLE: struct.Struct("<d"),
    t.FIXED64: struct.Struct("<Q"),
    t.SFIXED64: struct.Struct("<q"),
    t.FLOAT: struct.Struct("<f"),
    t.FIXED32: struct.Struct("<I"),
    t.SFIXED32: struct.Struct("<i"),
}
_NESTED = (t.MESSAGE, t.ANY)  # kinds whose decoder counts itself toward the element budget
_MASK32, _MASK64 = (1 << 32) - 1, (1 << 64) - 1


def _tag_table(spec: Spec) -> Dict[int, Field]:
    """tag -> field, for every tag a field may arrive with (packed repeated scalars too)."""
    table = {}
    for f in spec.fields:
        wire = _WIRE_OF_KIND[f.kind]
        table[f.number << 3 | wire] = f
        if f.repeated and wire != LEN:
            table[f.number << 3 | LEN] = f
    return table


_TAGS = {name: _tag_table(spec) for name, spec in SPECS.items()}
# Attributes dominate agent telemetry: KeyValue{key, value} and AnyValue.string_value get
# inlined fast paths (same tables, fewer calls per attribute).
_KEY_TAG = KEY_VALUE.by_json["key"].number << 3 | LEN
_VALUE_TAG = KEY_VALUE.by_json["value"].number << 3 | LEN
_STRING_TAG = ANY_VALUE.by_json["string_value"].number << 3 | LEN
_INT_TAG = ANY_VALUE.by_json["int_value"].number << 3 | VARINT


def decode_protobuf(signal: str, data: bytes) -> Dict[str, Any]:
    """Decode an Export{Logs,Trace,Metrics}ServiceRequest from protobuf bytes."""
    spec = root_spec(signal)
    decoder = _Decoder(bytes(data))
    try:
        return decoder.message(0, len(decoder.data), spec, 0)
    except IndexError:
        raise DecodeError("truncated message: a field runs past the end of the body") from None


class _Decoder:
    __slots__ = ("budget", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.budget = MAX_ELEMENTS

    def _enter(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise NestingError(f"nesting deeper than {MAX_DEPTH} levels")
        self.budget -= 1
        if self.budget < 0:
            raise LimitError(f"more than {MAX_ELEMENTS} decoded elements in one request")

    def message(self, pos: int, end: int, spec: Spec, depth: int) -> Dict[str, Any]:
        self._enter(depth)
        data = self.data
        tags = _TAGS[spec.name]
        out = spec.new()
        while pos < end:
            tag = data[pos]
            pos += 1
            if tag >= 0x80:
                tag, pos = _varint_tail(data, pos, tag)
            f = tags.get(tag)
            if f is None:
                pos = self._unknown(pos, end, tag, spec)
                continue
            wire = tag & 7
            if f.repeated:
                if f.kind == t.ATTRS:
                    n = data[pos] if pos < end else 0x80
                    if n < 0x80 and pos + 1 + n <= end:
                        pos += 1
                    else:
                        n, pos = _length(data, pos, end)
                    items = out.get(f.name)
                    if items is None:
                        items = out[f.name] = {}
                    key, value = self._short_string_attribute(pos, pos + n, depth + 1)
                    if key is None:
                        key, value = self.key_value(pos, pos + n, depth + 1)
                    items[key] = value
                    pos += n
                    continue
                items = out.get(f.name)
                if items is None:
                    items = out[f.name] = []
                if wire == LEN and _WIRE_OF_KIND[f.kind] != LEN:
                    n, pos = _length(data, pos, end)
                    pos = self._packed(pos, pos + n, f, items)
                else:
                    if f.kind not in _NESTED:
                        self._enter(depth)  # repeated scalars count toward the budget too
                    value, pos = self.value(pos, end, f, depth)
                    items.append(value)
            else:
                out[f.name], pos = self.value(pos, end, f, depth)
        if pos != end:
            raise DecodeError(f"{spec.name}: last field runs past the end of its message")
        return spec.finish(out)

    def value(self, pos: int, end: int, f: Field, depth: int) -> Tuple[Any, int]:
        """Read one value of field `f` whose tag has just been read."""
        data = self.data
        kind = f.kind
        if kind == t.STRING:
            n, pos = _length(data, pos, end)
            return data[pos : pos + n].decode("utf-8", "replace"), pos + n
        if kind == t.ANY:
            n, pos = _length(data, pos, end)
            return self.any_value(pos, pos + n, depth + 1), pos + n
        if kind == t.MESSAGE:
            n, pos = _length(data, pos, end)
            return self.message(pos, pos + n, f.spec, depth + 1), pos + n  # type: ignore[arg-type]
        if kind in _FIXED:
            fixed = _FIXED[kind]
            if pos + fixed.size > end:
                raise DecodeError(f"{f.name}: fixed-size value runs past the end")
            return fixed.unpack_from(data, pos)[0], pos + fixed.size
        if kind == t.BYTES or kind == t.HEXID:
            n, pos = _length(data, pos, end)
            raw = data[pos : pos + n]
            return (raw.hex() if kind == t.HEXID else raw), pos + n
        value, pos = _varint(data, pos)
        if pos > end:
            raise DecodeError(f"{f.name}: varint runs past the end of its message")
        return _from_varint(kind, value), pos

    def _packed(self, pos: int, end: int, f: Field, items: List[Any]) -> int:
        while pos < end:
            self._enter(0)
            value, pos = self.value(pos, end, f, 0)
            items.append(value)
        if pos != end:
            raise DecodeError(f"{f.name}: packed values run past their length")
        return pos

    def any_value(self, pos: int, end: int, depth: int) -> Any:
        """An AnyValue becomes the Python value of whichever member was sent (last wins)."""
        self._enter(depth)
        data = self.data
        tags = _TAGS[ANY_VALUE.name]
        value = None
        while pos < end:
            tag = data[pos]
            pos += 1
            if tag == _STRING_TAG:
                n = data[pos]
                pos += 1
                if n >= 0x80:
                    n, pos = _varint_tail(data, pos, n)
                if pos + n > end:
                    raise DecodeError(f"length {n} runs past the end of the enclosing message")
                value = data[pos : pos + n].decode("utf-8", "replace")
                pos += n
                continue
            if tag >= 0x80:
                tag, pos = _varint_tail(data, pos, tag)
            f = tags.get(tag)
            if f is None:
                pos = self._unknown(pos, end, tag, ANY_VALUE)
                continue
            value, pos = self.value(pos, end, f, depth)
            if f.kind == t.MESSAGE:
                value = value["values"]  # ArrayValue / KeyValueList wrap their items
        if pos != end:
            raise DecodeError("AnyValue: last field runs past the end of its message")
        return value

    def _short_string_attribute(self, pos: int, end: int, depth: int) -> Tuple[Optional[str], Any]:
        """(key, value) of the most common KeyValues, read in one go: a key under 128 bytes, then
        a value under 128 bytes that is only a string or only an integer; (None, None) for any
        other shape, which key_value reads. Counted toward the budget as key_value counts it."""
        data = self.data
        if end - pos < 6 or data[pos] != _KEY_TAG:
            return None, None
        key_end = pos + 2 + data[pos + 1]
        if data[pos + 1] >= 0x80 or key_end + 4 > end or data[key_end] != _VALUE_TAG:
            return None, None
        any_length = data[key_end + 1]
        if any_length >= 0x80 or key_end + 2 + any_length != end or depth + 1 > MAX_DEPTH:
            return None, None
        member = data[key_end + 2]
        if member == _STRING_TAG and data[key_end + 3] == any_length - 2:
            value: Any = data[key_end + 4 : end].decode("utf-8", "replace")
        elif member == _INT_TAG and any_length > 1 and data[end - 1] < 0x80:
            number, after = _varint(data, key_end + 3)  # a counter, a size, a sequence number
            if after != end:
                return None, None
            value = _from_varint(t.INT64, number)
        else:
            return None, None
        self.budget -= 2  # the KeyValue and its AnyValue, as _enter counts them
        if self.budget < 0:
            raise LimitError(f"more than {MAX_ELEMENTS} decoded elements in one request")
        return data[pos + 2 : key_end].decode("utf-8", "replace"), value

    def key_value(self, pos: int, end: int, depth: int) -> Tuple[str, Any]:
        self._enter(depth)  # a KeyValue counts, as it does in OTLP/JSON
        data = self.data
        key, value = "", None
        while pos < end:
            tag = data[pos]
            pos += 1
            if tag == _KEY_TAG or tag == _VALUE_TAG:
                n = data[pos]
                pos += 1
                if n >= 0x80:
                    n, pos = _varint_tail(data, pos, n)
                if pos + n > end:
                    raise DecodeError(f"length {n} runs past the end of the enclosing message")
                if tag == _KEY_TAG:
                    key = data[pos : pos + n].decode("utf-8", "replace")
                elif n >= 2 and data[pos] == _STRING_TAG and _string_only(data, pos, n):
                    # Most attributes: an AnyValue holding one string and nothing else, read
                    # here rather than through any_value (its budget counted the same).
                    self._enter(depth + 1)
                    value = data[pos + n - _string_length(n) : pos + n].decode("utf-8", "replace")
                else:
                    value = self.any_value(pos, pos + n, depth + 1)
                pos += n
                continue
            if tag >= 0x80:
                tag, pos = _varint_tail(data, pos, tag)
            f = _TAGS[KEY_VALUE.name].get(tag)
            if f is None:
                pos = self._unknown(pos, end, tag, KEY_VALUE)
            else:  # key_strindex: only meaningful in profiles' dictionaries
                _, pos = self.value(pos, end, f, depth)
        if pos != end:
            raise DecodeError("KeyValue: last field runs past the end of its message")
        return key, value

    def _unknown(self, pos: int, end: int, tag: int, spec: Spec) -> int:
        """Skip a field this spec does not know; a known field with a wrong wire type is an error."""
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise DecodeError(f"{spec.name}: field number 0 is invalid")
        known = spec.by_number.get(number)
        if known is not None:
            raise DecodeError(f"{spec.name}.{known.name}: wire type {wire} is wrong for this field")
        data = self.data
        if wire == VARINT:
            _, pos = _varint(data, pos)
        elif wire == I64:
            pos += 8
        elif wire == I32:
            pos += 4
        elif wire == LEN:
            n, pos = _length(data, pos, end)
            pos += n
        else:
            raise DecodeError(f"{spec.name}: field {number} has unsupported wire type {wire}")
        if pos > end:
            raise DecodeError(f"{spec.name}: unknown field {number} runs past the end")
        return pos


def _varint(data: bytes, pos: int) -> Tuple[int, int]:
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    return _varint_tail(data, pos + 1, b)


def _string_length(n: int) -> int:
    """The string's length in an AnyValue of n bytes that holds only a string (see _string_only)."""
    return n - 2 if n < 0x82 else n - 3


def _string_only(data: bytes, pos: int, n: int) -> bool:
    """Whether the n bytes at pos are an AnyValue's string field and nothing else: its tag, then a
    length of one byte (a string under 128 bytes) or two (under 16 KiB) that runs to the end."""
    if n < 0x82:
        return data[pos + 1] == n - 2
    length = n - 3
    return length < 0x4000 and data[pos + 1] == (length & 0x7F) | 0x80 and data[pos + 2] == length >> 7


def _varint_tail(data: bytes, pos: int, first: int) -> Tuple[int, int]:
    result = first & 0x7F
    shift = 7
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def _length(data: bytes, pos: int, end: int) -> Tuple[int, int]:
    n, pos = _varint(data, pos)
    if pos + n > end:
        raise DecodeError(f"length {n} runs past the end of the enclosing message")
    return n, pos


def _from_varint(kind: int, value: int) -> Any:
    if kind == t.INT64:
        return value - (1 << 64) if value >> 63 else value
    if kind == t.INT32 or kind == t.ENUM:
        value &= _MASK32
        return value - (1 << 32) if value >> 31 else value
    if kind == t.UINT32:
        return value & _MASK32
    if kind == t.BOOL:
        return value != 0
    if kind == t.SINT32:
        value &= _MASK32
        return (value >> 1) ^ -(value & 1)
    if kind == t.SINT64:
        return (value >> 1) ^ -(value & 1)
    return value  # UINT64


# --- encoding (the synthetic agent, forwarding and tests use it) -----------------------


def encode_protobuf(signal: str, request: Dict[str, Any]) -> bytes:
    """Encode a request in the plain shape to protobuf bytes. Defaults are not written."""
    out = bytearray()
    _encode_message(out, root_spec(signal), request)
    return bytes(out)


def encode_rpc_status(code: int, message: str) -> bytes:
    """A google.rpc.Status {code = 1, message = 2}, the body of OTLP error responses."""
    out = bytearray()
    _put_varint(out, 1 << 3 | VARINT)
    _put_varint(out, code)
    _put_len(out, 2, message.encode("utf-8", "replace"))
    return bytes(out)


def _encode_message(out: bytearray, spec: Spec, message: Dict[str, Any]) -> None:
    for f in spec.fields:
        value = message.get(f.name)
        if value is None:
            continue
        if f.kind == t.ATTRS:
            for key, item in value.items():
                _put_len(out, f.number, _encoded_key_value(key, item))
        elif f.repeated:
            for item in value:
                _encode_field(out, f, item)
        elif f.presence or not _is_default(value, spec.defaults.get(f.name)):
            _encode_field(out, f, value)


def _is_default(value: Any, default: Any) -> bool:
    """-0.0 == 0.0, but only +0.0 is a double's default: protobuf writes -0.0 out."""
    return value == default and not (isinstance(value, float) and math.copysign(1.0, value) < 0)


def _encode_field(out: bytearray, f: Field, value: Any) -> None:
    kind = f.kind
    if kind == t.MESSAGE:
        inner = bytearray()
        _encode_message(inner, f.spec, value)  # type: ignore[arg-type]
        _put_len(out, f.number, inner)
    elif kind == t.ANY:
        _put_len(out, f.number, _encoded_any(value))
    elif kind == t.STRING:
        _put_len(out, f.number, value.encode("utf-8", "surrogatepass"))
    elif kind == t.BYTES:
        _put_len(out, f.number, value)
    elif kind == t.HEXID:
        _put_len(out, f.number, bytes.fromhex(value))
    elif kind in _FIXED:
        _put_varint(out, f.number << 3 | _WIRE_OF_KIND[kind])
        out += _FIXED[kind].pack(value)
    else:
        _put_varint(out, f.number << 3 | VARINT)
        if kind in (t.SINT32, t.SINT64):
            value = (value << 1) ^ (value >> 63)
        _put_varint(out, int(value) & _MASK64)


def _encoded_any(value: Any) -> bytes:
    fields = ANY_VALUE.by_json
    out = bytearray()
    if value is None:
        return b""
    if isinstance(value, bool):
        _encode_field(out, fields["bool_value"], value)
    elif isinstance(value, int):
        _encode_field(out, fields["int_value"], value)
    elif isinstance(value, float):
        _encode_field(out, fields["double_value"], value)
    elif isinstance(value, str):
        _encode_field(out, fields["string_value"], value)
    elif isinstance(value, (bytes, bytearray)):
        _encode_field(out, fields["bytes_value"], bytes(value))
    elif isinstance(value, (list, tuple)):
        _encode_field(out, fields["array_value"], {"values": list(value)})
    elif isinstance(value, dict):
        _encode_field(out, fields["kvlist_value"], {"values": value})
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as an OTLP AnyValue")
    return bytes(out)


def _encoded_key_value(key: str, value: Any) -> bytes:
    out = bytearray()
    _put_len(out, KEY_VALUE.by_json["key"].number, key.encode("utf-8", "surrogatepass"))
    _put_len(out, KEY_VALUE.by_json["value"].number, _encoded_any(value))
    return bytes(out)


def _put_len(out: bytearray, number: int, payload: Union[bytes, bytearray]) -> None:
    _put_varint(out, number << 3 | LEN)
    _put_varint(out, len(payload))
    out += payload


def _put_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
