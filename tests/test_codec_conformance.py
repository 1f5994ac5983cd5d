"""The beacon_otlp decoders agree with the reference protobuf implementation.

Random *real* OTLP export requests are built with the official `opentelemetry-proto` classes;
a reference converter derives the documented plain shape (beacon_otlp/shape.py) from each
message by walking its descriptor, independently of beacon_otlp's generated tables. Then:

- decode_protobuf(serialized message) == reference shape;
- decode_json(OTLP/JSON of the message, camelCase or snake_case) == reference shape;
- encode_protobuf(shape) decodes back to the shape, and the reference parses it to the shape;
- unknown fields anywhere, and packed or unpacked repeated scalars, change nothing;
- invalid UTF-8 in string fields becomes U+FFFD, in protobuf and in OTLP/JSON (as do unpaired
  surrogate escapes in JSON), where the reference rejects the whole request: a deliberate
  difference, so that one bad character never costs an agent's event.
"""

from __future__ import annotations

import base64
import importlib.util
import inspect
import json
import math
import pathlib
from importlib.metadata import version
from typing import Any, Callable, Dict, List

import pytest
from conftest import DEEPEST, I32, I64, VARINT, len_field, tag, varint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon_otlp import MAX_DEPTH, NestingError, decode_json, decode_protobuf, encode_protobuf, tables
from beacon_otlp.shape import SPECS

pytest.importorskip("opentelemetry.proto", reason="the reference (opentelemetry-proto) is not installed")

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor as FD
from google.protobuf.message import DecodeError as ReferenceDecodeError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

# An older reference (Python 3.8 installs opentelemetry-proto 1.33.1) knows fewer fields than
# the tables: it can never send them, so for it they are at their defaults (see reference_shape).
REFERENCE_VERSION = version("opentelemetry-proto")
SAME_PROTO = REFERENCE_VERSION == tables.PROTO_PACKAGE_VERSION
ROOT = pathlib.Path(__file__).resolve().parent.parent
REQUEST_TYPES = {
    "logs": logs_service_pb2.ExportLogsServiceRequest,
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
}
SIGNALS = sorted(REQUEST_TYPES)
ANY_VALUE = "opentelemetry.proto.common.v1.AnyValue"
KEY_VALUE = "opentelemetry.proto.common.v1.KeyValue"
ID_FIELDS = ("trace_id", "span_id", "parent_span_id")
ID_JSON_KEYS = frozenset((*ID_FIELDS, "traceId", "spanId", "parentSpanId"))

MAX_REPEATED = 2  # messages per repeated field: keeps a metrics request to a few hundred fields
MAX_ANY_NESTING = 3  # arrays/kvlists inside AnyValues; far below the decoders' depth limit

SETTINGS = settings(
    max_examples=75,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- descriptor helpers -----------------------------------------------------------------


def is_repeated(field: Any) -> bool:
    if hasattr(field, "is_repeated"):  # protobuf >= 6 deprecates `label`
        return bool(field.is_repeated)
    return field.label == FD.LABEL_REPEATED


def is_message(field: Any) -> bool:
    return field.type == FD.TYPE_MESSAGE


def message_name(field: Any) -> str:
    return field.message_type.full_name if is_message(field) else ""


def is_packable(field: Any) -> bool:
    return field.type not in (FD.TYPE_STRING, FD.TYPE_BYTES, FD.TYPE_MESSAGE, FD.TYPE_GROUP)


# --- the reference shape ----------------------------------------------------------------


def reference_shape(message: Any) -> Dict[str, Any]:
    """The plain shape of a reference message, derived from its descriptor alone."""
    present = {field.name for field, _ in message.ListFields()}
    shape: Dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if is_repeated(field):
            if message_name(field) == KEY_VALUE:
                shape[field.name] = reference_attributes(value)
            else:
                shape[field.name] = [reference_value(field, item) for item in value]
        elif field.containing_oneof is not None:  # oneof member or proto3 `optional`
            if field.name in present:
                shape[field.name] = reference_value(field, value)
        elif is_message(field) and message_name(field) != ANY_VALUE:
            shape[field.name] = reference_shape(value) if field.name in present else None
        else:
            shape[field.name] = reference_value(field, value)
    return with_fields_the_reference_lacks(message.DESCRIPTOR.full_name, shape)


def our_spec(full_name: str) -> Any:
    """beacon_otlp's spec for a reference message (tables drop the `opentelemetry.proto.` prefix)."""
    return SPECS[full_name[len("opentelemetry.proto.") :]]


def with_fields_the_reference_lacks(full_name: str, shape: Dict[str, Any]) -> Dict[str, Any]:
    """Fields added to OTLP after the installed reference: unsent, so their default shape."""
    spec = our_spec(full_name)
    for field in spec.fields:
        if field.name not in shape and not field.presence:
            default = spec.new().get(field.name)
            shape[field.name] = spec.finish({}).get(field.name) if field.repeated else default
    return shape


def reference_value(field: Any, value: Any) -> Any:
    if message_name(field) == ANY_VALUE:
        return reference_any(value)
    if is_message(field):
        return reference_shape(value)
    if field.name in ID_FIELDS:
        return value.hex()
    return value  # enums are already ints


def reference_any(any_value: Any) -> Any:
    member = any_value.WhichOneof("value")
    if member is None:
        return None
    if member == "array_value":
        return [reference_any(item) for item in any_value.array_value.values]
    if member == "kvlist_value":
        return reference_attributes(any_value.kvlist_value.values)
    return getattr(any_value, member)


def reference_attributes(key_values: Any) -> Dict[str, Any]:
    return {kv.key: reference_any(kv.value) for kv in key_values}  # last duplicate key wins


def canonical(value: Any) -> Any:
    """Make == strict: NaN equals NaN, -0.0 differs from 0.0, True differs from 1 and 1.0."""
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value.hex())
    return (type(value).__name__, value)


def assert_same_shape(actual: Dict[str, Any], expected: Dict[str, Any]) -> None:
    assert canonical(actual) == canonical(expected)


# --- random reference messages ----------------------------------------------------------


def ints(low: int, high: int) -> st.SearchStrategy[int]:
    edges = [n for n in (low, high, 0, -1, 1) if low <= n <= high]
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


INT64, UINT64 = (-(2**63), 2**63 - 1), (0, 2**64 - 1)
INT32, UINT32 = (-(2**31), 2**31 - 1), (0, 2**32 - 1)
INT_RANGES = {
    FD.TYPE_INT64: INT64,
    FD.TYPE_SINT64: INT64,
    FD.TYPE_SFIXED64: INT64,
    FD.TYPE_UINT64: UINT64,
    FD.TYPE_FIXED64: UINT64,
    FD.TYPE_INT32: INT32,
    FD.TYPE_SINT32: INT32,
    FD.TYPE_SFIXED32: INT32,
    FD.TYPE_ENUM: INT32,
    FD.TYPE_UINT32: UINT32,
    FD.TYPE_FIXED32: UINT32,
}
DOUBLES = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1.7976931348623157e308]),
    st.floats(),
)
STRINGS = st.one_of(
    st.sampled_from(["", "héllo wörld", "日本語", "🎉 emoji", "nul\x00byte"]), st.text(max_size=10)
)
KEYS = st.one_of(st.sampled_from(["", "k", "service.name", "ключ"]), st.text(max_size=4))  # duplicates happen
IDS = st.one_of(
    st.binary(min_size=16, max_size=16), st.binary(min_size=8, max_size=8), st.binary(max_size=20)
)

_SCALARS: Dict[str, st.SearchStrategy[Any]] = {}


def scalars(field: Any) -> st.SearchStrategy[Any]:
    """Values for a non-message field, edge cases included (unknown enum numbers too)."""
    if field.full_name not in _SCALARS:
        _SCALARS[field.full_name] = _scalars(field)
    return _SCALARS[field.full_name]


def _scalars(field: Any) -> st.SearchStrategy[Any]:
    if field.name in ID_FIELDS:
        return IDS
    if field.containing_type.full_name == KEY_VALUE and field.name == "key":
        return KEYS
    kind = field.type
    if kind == FD.TYPE_ENUM:
        return st.one_of(st.sampled_from([v.number for v in field.enum_type.values]), ints(*INT32))
    if kind in INT_RANGES:
        return ints(*INT_RANGES[kind])
    if kind == FD.TYPE_DOUBLE:
        return DOUBLES
    if kind == FD.TYPE_FLOAT:
        return st.floats(width=32)
    if kind == FD.TYPE_BOOL:
        return st.booleans()
    if kind == FD.TYPE_STRING:
        return STRINGS
    if kind == FD.TYPE_BYTES:
        return st.binary(max_size=12)
    raise AssertionError(f"no strategy for {field.full_name}")


RECORD_PATHS = {
    "logs": ("resource_logs", "scope_logs", "log_records"),
    "traces": ("resource_spans", "scope_spans", "spans"),
    "metrics": ("resource_metrics", "scope_metrics", "metrics"),
}


@st.composite
def requests(draw: Callable[..., Any], signal: str) -> Any:
    """A random export request: every field of every message may be set, to any value. Half of
    them are one random record (log record, span or metric) in bare wrappers, so that the fields
    of records, data points and exemplars come up more often."""
    request = REQUEST_TYPES[signal]()
    if draw(st.booleans()):
        fill(draw, request, any_nesting=0)
    else:
        record = request
        for name in RECORD_PATHS[signal]:
            record = getattr(record, name).add()
        fill(draw, record, any_nesting=0)
    return request


def fill(draw: Callable[..., Any], message: Any, any_nesting: int) -> None:
    descriptor = message.DESCRIPTOR
    in_any = descriptor.full_name == ANY_VALUE
    too_deep = in_any and any_nesting >= MAX_ANY_NESTING  # no more arrays or kvlists
    chosen = set()
    for oneof in descriptor.oneofs:  # at most one member of each (proto3 optionals are oneofs too)
        members = [f.name for f in oneof.fields if not (too_deep and is_message(f))]
        chosen.add(draw(st.sampled_from([None, *members])))
    for field in descriptor.fields:
        if field.containing_oneof is None or field.name in chosen:
            fill_field(draw, message, field, any_nesting + in_any)


def fill_field(draw: Callable[..., Any], message: Any, field: Any, any_nesting: int) -> None:
    if not is_message(field):
        if is_repeated(field):
            getattr(message, field.name).extend(draw(st.lists(scalars(field), max_size=5)))
        else:
            setattr(message, field.name, draw(scalars(field)))
    elif is_repeated(field):
        for _ in range(draw(st.integers(0, MAX_REPEATED))):
            fill(draw, getattr(message, field.name).add(), any_nesting)
    elif field.containing_oneof is not None or draw(st.booleans()):
        child = getattr(message, field.name)
        child.SetInParent()  # present even if it stays empty
        fill(draw, child, any_nesting)


# --- OTLP/JSON from the reference ---------------------------------------------------------

_TO_DICT_OPTIONS = inspect.signature(json_format.MessageToDict).parameters
# Older protobuf releases call this option including_default_value_fields.
_PRINT_DEFAULTS = next(
    (
        name
        for name in ("always_print_fields_with_no_presence", "including_default_value_fields")
        if name in _TO_DICT_OPTIONS
    ),
    None,
)
_UNQUOTE_INT64 = "unquote_int64_if_possible" if "unquote_int64_if_possible" in _TO_DICT_OPTIONS else None
UNKNOWN_JSON_MEMBER = ("someFutureField", {"values": [1, "two", None, {"key": "k"}], "traceId": 3})
# null means "not sent", for any field: messages, oneof members, scalars, lists, ids, AnyValue members.
NULLABLE_JSON_KEYS = (
    "resource",
    "scope",
    "attributes",
    "body",
    "key",
    "value",
    "stringValue",
    "boolValue",
    "arrayValue",
    "values",
    "sum",
    "gauge",
    "asInt",
    "asDouble",
    "min",
    "traceId",
    "status",
    "bucketCounts",
    "timeUnixNano",
    "kind",
    "flags",
)


def otlp_json(
    message: Any,
    snake_case: bool = False,
    enum_names: bool = False,
    int64_numbers: bool = False,
    print_defaults: bool = False,
    upper_case_ids: bool = False,
) -> Dict[str, Any]:
    """json_format's ProtoJSON, with the ids in hex as the OTLP spec requires."""
    options = {"preserving_proto_field_name": snake_case, "use_integers_for_enums": not enum_names}
    if int64_numbers and _UNQUOTE_INT64:
        options[_UNQUOTE_INT64] = True
    if print_defaults and _PRINT_DEFAULTS:
        options[_PRINT_DEFAULTS] = True
    return hex_ids(json_format.MessageToDict(message, **options), upper_case_ids)


def hex_ids(node: Any, upper_case: bool = False) -> Any:
    """Base64 ids as hex, which the OTLP spec says is case-insensitive."""
    if isinstance(node, dict):
        return {
            key: hex_id(value, upper_case) if key in ID_JSON_KEYS else hex_ids(value, upper_case)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [hex_ids(item, upper_case) for item in node]
    return node


def hex_id(value: str, upper_case: bool) -> str:
    digits = base64.b64decode(value).hex()
    return digits.upper() if upper_case else digits


def with_noise(node: Any) -> Any:
    """Add a member no OTLP message has, and nulls for absent members, to every object."""
    if isinstance(node, dict):
        out = {key: with_noise(value) for key, value in node.items()}
        out.update((key, None) for key in NULLABLE_JSON_KEYS if key not in node)
        out[UNKNOWN_JSON_MEMBER[0]] = UNKNOWN_JSON_MEMBER[1]
        return out
    if isinstance(node, list):
        return [with_noise(item) for item in node]
    return node


@st.composite
def json_bodies(draw: Callable[..., Any], message: Any, snake_case: bool) -> bytes:
    """The message as an OTLP/JSON body, in one of the styles a sender may use."""
    document = otlp_json(
        message,
        snake_case=snake_case,
        enum_names=draw(st.booleans()),
        int64_numbers=draw(st.booleans()),
        print_defaults=draw(st.booleans()),
        upper_case_ids=draw(st.booleans()),
    )
    if draw(st.booleans()):
        document = with_noise(document)
    return json.dumps(document, ensure_ascii=draw(st.booleans())).encode("utf-8")


# --- protobuf bytes by hand ---------------------------------------------------------------

ELEMENT_WIRE = {
    FD.TYPE_DOUBLE: I64,
    FD.TYPE_FIXED64: I64,
    FD.TYPE_SFIXED64: I64,
    FD.TYPE_FLOAT: I32,
    FD.TYPE_FIXED32: I32,
    FD.TYPE_SFIXED32: I32,
}  # every other packable type is a varint
PACKINGS = ("packed", "runs", "unpacked")


def skip_varint(data: bytes, pos: int) -> int:
    while data[pos] >= 0x80:
        pos += 1
    return pos + 1


def only_field(message: Any, field: Any, value: Any) -> bytes:
    """The reference serialization of `field` set to `value` in an otherwise empty message."""
    single = type(message)()
    if is_repeated(field):
        getattr(single, field.name).extend(value)
    else:
        setattr(single, field.name, value)
    return single.SerializeToString()


def repeated_scalars(message: Any, field: Any, values: List[Any], packing: str) -> bytes:
    """One packed run, one packed run per element, or every element unpacked."""
    if packing == "packed":
        return only_field(message, field, values)
    runs = [only_field(message, field, [value]) for value in values]
    if packing == "runs":
        return b"".join(runs)
    element_tag = tag(field.number, ELEMENT_WIRE.get(field.type, VARINT))
    return b"".join(element_tag + run[skip_varint(run, skip_varint(run, 0)) :] for run in runs)


def serialize_by_hand(message: Any, noise: Callable[[Any], bytes], packing: Callable[[Any], str]) -> bytes:
    """Serialize field by field: sub-messages recursively, so that `noise(message)` (bytes to
    put before, between and after the fields) reaches every level; repeated scalars packed as
    `packing(field)` says; every other field as the reference serializes it alone."""
    out = bytearray(noise(message))
    for field, value in message.ListFields():
        if is_message(field):
            for child in value if is_repeated(field) else [value]:
                out += len_field(field.number, serialize_by_hand(child, noise, packing))
        elif is_repeated(field) and is_packable(field):
            out += repeated_scalars(message, field, list(value), packing(field))
        else:
            out += only_field(message, field, value)
        out += noise(message)
    return bytes(out)


_UNKNOWN_FIELDS: Dict[str, st.SearchStrategy[bytes]] = {}


def unknown_fields(message: Any) -> st.SearchStrategy[bytes]:
    """Zero or more fields whose numbers `message` does not define, of wire types 0, 1, 2, 5."""
    name = message.DESCRIPTOR.full_name
    if name not in _UNKNOWN_FIELDS:
        known = {field.number for field in message.DESCRIPTOR.fields}
        known |= set(our_spec(name).by_number)  # fields newer than the reference
        number = st.one_of(st.integers(1, 20), st.integers(1, 2**29 - 1)).filter(lambda n: n not in known)
        field = st.one_of(
            st.builds(lambda n, v: tag(n, VARINT) + varint(v), number, ints(*UINT64)),
            st.builds(lambda n, v: tag(n, I64) + v, number, st.binary(min_size=8, max_size=8)),
            st.builds(len_field, number, st.binary(max_size=10)),
            st.builds(lambda n, v: tag(n, I32) + v, number, st.binary(min_size=4, max_size=4)),
        )
        _UNKNOWN_FIELDS[name] = st.lists(field, max_size=2).map(b"".join)
    return _UNKNOWN_FIELDS[name]


# --- properties -----------------------------------------------------------------------------


@pytest.mark.parametrize("signal", SIGNALS)
@SETTINGS
@given(data=st.data())
def test_decode_protobuf_matches_reference(signal: str, data: st.DataObject) -> None:
    request = data.draw(requests(signal))
    assert_same_shape(decode_protobuf(signal, request.SerializeToString()), reference_shape(request))


@pytest.mark.parametrize("snake_case", [False, True], ids=["camelCase", "snake_case"])
@pytest.mark.parametrize("signal", SIGNALS)
@SETTINGS
@given(data=st.data())
def test_decode_json_matches_reference(signal: str, snake_case: bool, data: st.DataObject) -> None:
    request = data.draw(requests(signal))
    body = data.draw(json_bodies(request, snake_case))
    assert_same_shape(decode_json(signal, body), reference_shape(request))


@pytest.mark.parametrize("signal", SIGNALS)
@SETTINGS
@given(data=st.data())
def test_encode_protobuf_round_trips(signal: str, data: st.DataObject) -> None:
    shape = reference_shape(data.draw(requests(signal)))
    encoded = encode_protobuf(signal, shape)
    assert_same_shape(decode_protobuf(signal, encoded), shape)
    assert_same_shape(reference_shape(REQUEST_TYPES[signal].FromString(encoded)), shape)


@pytest.mark.parametrize("signal", SIGNALS)
@SETTINGS
@given(data=st.data())
def test_unknown_fields_and_packing_change_nothing(signal: str, data: st.DataObject) -> None:
    request = data.draw(requests(signal))
    body = serialize_by_hand(
        request,
        noise=lambda message: data.draw(unknown_fields(message)),
        packing=lambda field: data.draw(st.sampled_from(PACKINGS)),
    )
    expected = reference_shape(request)
    assert_same_shape(reference_shape(REQUEST_TYPES[signal].FromString(body)), expected)
    assert_same_shape(decode_protobuf(signal, body), expected)


def histogram_request(counts: List[int], bounds: List[float]) -> Any:
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    point = metrics.add().histogram.data_points.add()
    point.bucket_counts.extend(counts)
    point.explicit_bounds.extend(bounds)
    exponential = metrics.add().exponential_histogram.data_points.add()
    exponential.positive.bucket_counts.extend(counts)
    exponential.negative.bucket_counts.extend(reversed(counts))
    return request


@pytest.mark.parametrize("packing", PACKINGS)
@SETTINGS
@given(counts=st.lists(ints(*UINT64), max_size=6), bounds=st.lists(DOUBLES, max_size=6))
def test_packed_and_unpacked_repeated_scalars_decode_the_same(
    packing: str, counts: List[int], bounds: List[float]
) -> None:
    request = histogram_request(counts, bounds)
    body = serialize_by_hand(request, noise=lambda message: b"", packing=lambda field: packing)
    decoded = decode_protobuf("metrics", body)
    assert_same_shape(decoded, reference_shape(request))
    metrics = decoded["resource_metrics"][0]["scope_metrics"][0]["metrics"]
    assert metrics[0]["histogram"]["data_points"][0]["bucket_counts"] == counts
    assert metrics[1]["exponential_histogram"]["data_points"][0]["positive"]["bucket_counts"] == counts


ANY_SCALAR_MEMBERS = [f for f in common_pb2.AnyValue.DESCRIPTOR.fields if not is_message(f)]


@SETTINGS
@given(data=st.data())
def test_an_any_value_with_several_members_is_its_last_one(data: st.DataObject) -> None:
    """A sender may put several members of AnyValue's oneof on the wire: the last one wins."""
    members = data.draw(st.lists(st.sampled_from(ANY_SCALAR_MEMBERS), min_size=2, max_size=4))
    any_value = b"".join(only_field(common_pb2.AnyValue(), f, data.draw(scalars(f))) for f in members)
    body = len_field(1, len_field(2, len_field(2, len_field(5, any_value))))  # a log record's body
    request = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
    assert request.resource_logs[0].scope_logs[0].log_records[0].body.WhichOneof("value") == members[-1].name
    assert_same_shape(decode_protobuf("logs", body), reference_shape(request))


def skeleton(message: Any) -> Any:
    """Give `message` one of each sub-message (the first member of a oneof), all left empty."""
    for field in message.DESCRIPTOR.fields:
        if not is_message(field) or message_name(field) in (ANY_VALUE, KEY_VALUE):
            continue
        if field.containing_oneof is not None and field.containing_oneof.fields[0] is not field:
            continue
        if is_repeated(field):
            skeleton(getattr(message, field.name).add())
        else:
            getattr(message, field.name).SetInParent()
            skeleton(getattr(message, field.name))
    return message


@pytest.mark.parametrize("signal", SIGNALS)
def test_empty_requests_and_empty_messages(signal: str) -> None:
    for request in (REQUEST_TYPES[signal](), skeleton(REQUEST_TYPES[signal]())):
        expected = reference_shape(request)
        assert_same_shape(decode_protobuf(signal, request.SerializeToString()), expected)
        assert_same_shape(decode_json(signal, json.dumps(otlp_json(request)).encode()), expected)
    assert_same_shape(decode_protobuf(signal, b""), reference_shape(REQUEST_TYPES[signal]()))


def test_json_ids_in_upper_case_hex_decode_to_lower_case() -> None:
    request = trace_service_pb2.ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(name="s")
    span.trace_id = bytes.fromhex("5b8efff798038103d269b633813fc60c")
    span.span_id = bytes.fromhex("fafbfcfdfeff0001")
    span.links.add(trace_id=span.trace_id, span_id=bytes.fromhex("abcdef0123456789"))
    document = otlp_json(request, upper_case_ids=True)
    sent = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert (sent["traceId"], sent["spanId"]) == ("5B8EFFF798038103D269B633813FC60C", "FAFBFCFDFEFF0001")
    decoded = decode_json("traces", json.dumps(document).encode())
    assert_same_shape(decoded, reference_shape(request))
    span_shape = decoded["resource_spans"][0]["scope_spans"][0]["spans"][0]
    assert span_shape["span_id"] == "fafbfcfdfeff0001"
    assert span_shape["links"][0]["span_id"] == "abcdef0123456789"


def set_doubles(message: Any, value: float) -> Any:
    """Set every double field in `message` and the sub-messages it has to `value`."""
    for field in message.DESCRIPTOR.fields:
        if field.type == FD.TYPE_DOUBLE:
            if is_repeated(field):
                getattr(message, field.name).extend([value, value])
            else:
                setattr(message, field.name, value)
    for field, child in message.ListFields():
        if is_message(field):
            for item in child if is_repeated(field) else [child]:
                set_doubles(item, value)
    return message


def metrics_of_every_type() -> Any:
    """A metrics request with a metric of each data type, each with a data point and an exemplar."""
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    metrics = request.resource_metrics.add().scope_metrics.add().metrics
    for data_type in metrics_pb2.Metric.DESCRIPTOR.oneofs_by_name["data"].fields:
        skeleton(getattr(metrics.add(), data_type.name))
    return request


@pytest.mark.parametrize("value", [-0.0, math.nan, math.inf, -math.inf, 5e-324, -1.7976931348623157e308])
def test_special_doubles_in_every_double_field(value: float) -> None:
    request = set_doubles(metrics_of_every_type(), value)
    expected = reference_shape(request)
    assert_same_shape(decode_protobuf("metrics", request.SerializeToString()), expected)
    assert_same_shape(decode_json("metrics", json.dumps(otlp_json(request)).encode()), expected)
    assert_same_shape(decode_protobuf("metrics", encode_protobuf("metrics", expected)), expected)


def nested_any_values(kind: str, levels: int) -> Any:
    """A logs request whose record body is `levels` arrays or kvlists, one inside the other."""
    value = common_pb2.AnyValue(string_value="x")
    for level in range(levels):
        outer = common_pb2.AnyValue()
        if kind == "array":
            outer.array_value.values.add().CopyFrom(value)
        else:
            outer.kvlist_value.values.add(key=f"k{level}").value.CopyFrom(value)
        value = outer
    request = logs_service_pb2.ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.add().body.CopyFrom(value)
    return request


@pytest.mark.parametrize("kind", sorted(DEEPEST))
def test_the_deepest_nesting_allowed_decodes_as_the_reference(kind: str) -> None:
    request = nested_any_values(kind, DEEPEST[kind])
    expected = reference_shape(request)
    assert_same_shape(decode_protobuf("logs", request.SerializeToString()), expected)
    assert_same_shape(decode_json("logs", json.dumps(otlp_json(request)).encode()), expected)


@pytest.mark.parametrize("kind", sorted(DEEPEST))
def test_one_level_deeper_is_a_nesting_error(kind: str) -> None:
    request = nested_any_values(kind, DEEPEST[kind] + 1)
    body = request.SerializeToString()
    assert logs_service_pb2.ExportLogsServiceRequest.FromString(body) == request  # the reference goes deeper
    with pytest.raises(NestingError, match=f"^nesting deeper than {MAX_DEPTH} levels$"):
        decode_protobuf("logs", body)
    with pytest.raises(NestingError, match=f"^nesting deeper than {MAX_DEPTH} levels$"):
        decode_json("logs", json.dumps(otlp_json(request)).encode())


# A stray byte, a truncated sequence, an overlong form, an encoded surrogate, past U+10FFFF.
BAD_UTF8 = [b"\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]
INVALID_UTF8 = (
    st.tuples(st.text(max_size=3), st.sampled_from(BAD_UTF8), st.binary(max_size=4))
    .map(lambda parts: parts[0].encode() + parts[1] + parts[2])
    .filter(lambda raw: not is_utf8(raw))
)


def is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def logs_with_text(raw: bytes) -> bytes:
    """A logs request carrying `raw` as a schema URL, severity text, attribute key and value, and body."""
    string_value = len_field(1, raw)
    key_value = len_field(1, raw) + len_field(2, string_value)
    record = len_field(3, raw) + len_field(5, string_value) + len_field(6, key_value)
    return len_field(1, len_field(3, raw) + len_field(2, len_field(2, record)))


def logs_json_with_text(text: bytes) -> bytes:
    """logs_with_text's request as OTLP/JSON, with `text` spliced into its strings as it is."""
    value = {"stringValue": "@"}
    record = {"severityText": "@", "body": value, "attributes": [{"key": "@", "value": value}]}
    document = {"resourceLogs": [{"schemaUrl": "@", "scopeLogs": [{"logRecords": [record]}]}]}
    return json.dumps(document).encode("ascii").replace(b"@", text)


@SETTINGS
@given(raw=INVALID_UTF8)
def test_invalid_utf8_becomes_replacement_characters(raw: bytes) -> None:
    with pytest.raises(ReferenceDecodeError):  # the reference rejects the whole request
        logs_service_pb2.ExportLogsServiceRequest.FromString(logs_with_text(raw))
    text = raw.decode("utf-8", "replace")
    assert "\ufffd" in text
    expected = logs_service_pb2.ExportLogsServiceRequest.FromString(logs_with_text(text.encode("utf-8")))
    record = expected.resource_logs[0].scope_logs[0].log_records[0]
    assert expected.resource_logs[0].schema_url == record.severity_text == record.body.string_value == text
    assert_same_shape(decode_protobuf("logs", logs_with_text(raw)), reference_shape(expected))


@pytest.mark.parametrize("bad", BAD_UTF8, ids=lambda bad: bad.hex())
def test_invalid_utf8_in_json_decodes_as_it_does_in_protobuf(bad: bytes) -> None:
    raw = b"a" + bad + b"z"
    body = logs_json_with_text(raw)
    with pytest.raises(UnicodeDecodeError):  # the reference rejects the whole request
        json_format.Parse(body, logs_service_pb2.ExportLogsServiceRequest())
    decoded = decode_json("logs", body)
    assert decoded["resource_logs"][0]["schema_url"] == raw.decode("utf-8", "replace")
    assert_same_shape(decoded, decode_protobuf("logs", logs_with_text(raw)))


@pytest.mark.parametrize(
    "escaped, text",
    [
        ("\\ud800", "\ufffd"),
        ("a\\uDC00z", "a\ufffdz"),
        ("\\ud83dz", "\ufffdz"),
        ("\\ude01\\ud83d", "\ufffd\ufffd"),  # a pair in the wrong order
        ("\\\\\\ud800\\\\", "\\\ufffd\\"),  # between escaped backslashes
    ],
)
def test_unpaired_surrogate_escapes_in_json_become_replacement_characters(escaped: str, text: str) -> None:
    body = logs_json_with_text(escaped.encode("ascii"))
    with pytest.raises(json_format.ParseError):  # the reference rejects the whole request
        json_format.Parse(body, logs_service_pb2.ExportLogsServiceRequest())
    expected = decode_protobuf("logs", logs_with_text(text.encode("utf-8")))
    assert expected["resource_logs"][0]["schema_url"] == text
    assert_same_shape(decode_json("logs", body), expected)


ANY_CODE_POINTS = st.lists(st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr)), max_size=8)


@SETTINGS
@given(code_points=ANY_CODE_POINTS)
def test_json_strings_decode_as_utf16_reads_their_escapes(code_points: List[str]) -> None:
    """json.dumps escapes every code point outside ASCII, surrogates included: an escaped pair
    is one character, and an unpaired surrogate becomes U+FFFD, as a UTF-16 decoder reads them."""
    text = "".join(code_points)
    expected = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    body = json.dumps({"resourceLogs": [{"schemaUrl": text}]}).encode("ascii")
    assert decode_json("logs", body)["resource_logs"][0]["schema_url"] == expected


@pytest.mark.parametrize(
    "escaped, text",
    [
        ("\\ud83d\\ude01", "\U0001f601"),  # a surrogate pair: one character
        ("\\\\ud800", "\\ud800"),  # an escaped backslash, then text
        ("\\\\\\ud83d\\ude01\\\\", "\\\U0001f601\\"),
    ],
)
def test_other_escapes_in_json_decode_as_the_reference(escaped: str, text: str) -> None:
    body = logs_json_with_text(escaped.encode("ascii"))
    expected = json_format.Parse(body, logs_service_pb2.ExportLogsServiceRequest())
    assert expected.resource_logs[0].schema_url == text
    assert_same_shape(decode_json("logs", body), reference_shape(expected))


@pytest.mark.skipif(
    not SAME_PROTO,
    reason=f"tables come from opentelemetry-proto {tables.PROTO_PACKAGE_VERSION}, "
    f"the installed reference is {REFERENCE_VERSION}",
)
def test_generated_tables_match_the_installed_proto_package() -> None:
    spec = importlib.util.spec_from_file_location("gen_otlp_tables", ROOT / "tools" / "gen_otlp_tables.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.render() == pathlib.Path(tables.__file__).read_text(encoding="utf-8")
