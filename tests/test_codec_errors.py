"""Bad OTLP input never crashes or hangs the decoders.

Every problem surfaces as a DecodeError (a NestingError when the body is too deep, a LimitError
when it decodes to too much)
whose message says what is wrong and where; no other exception escapes, whatever the bytes.
Needs no protobuf package: bodies are built by hand, guided by beacon_otlp's field tables
(which test_codec_conformance checks against the reference).
"""

from __future__ import annotations

import decimal
import json
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from conftest import DEEPEST, I32, I64, LEN, LEVEL_COST, VARINT, len_field, tag, varint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacon_otlp import (
    MAX_DEPTH,
    MAX_ELEMENTS,
    SIGNALS,
    DecodeError,
    LimitError,
    NestingError,
    decode_json,
    decode_protobuf,
    encode_protobuf,
    tables,
)

MiB = 1024 * 1024
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Body = Tuple[str, bytes]  # (signal, request bytes)
Document = Tuple[str, Dict[str, Any]]  # (signal, OTLP/JSON request)


Decoder = Callable[[str, bytes], Any]


def raises_decode_error(decode: Decoder, signal: str, body: bytes, match: str) -> DecodeError:
    """The DecodeError (exactly: not a LimitError or NestingError) that decoding `body` raises."""
    with pytest.raises(DecodeError, match=match) as info:
        decode(signal, body)
    assert type(info.value) is DecodeError, f"{type(info.value).__name__}: {info.value}"
    return info.value


# --- protobuf bytes by hand -------------------------------------------------------------------


def _message_paths() -> Dict[str, Tuple[str, List[int]]]:
    """Every message reachable from a request, by its table name (e.g. 'logs.v1.LogRecord'):
    a signal that reaches it, and the field numbers that lead to it from that request."""
    children = {tables.ANY: "common.v1.AnyValue", tables.ATTRS: "common.v1.KeyValue"}
    paths: Dict[str, Tuple[str, List[int]]] = {}
    queue: List[Tuple[str, str, List[int]]] = [(signal, tables.ROOTS[signal], []) for signal in SIGNALS]
    while queue:  # breadth first: the shortest path to each message
        signal, name, path = queue.pop(0)
        if name in paths:
            continue
        paths[name] = (signal, path)
        for number, _, _, kind, _, ref in tables.MESSAGES[name]:
            child = ref if kind == tables.MESSAGE else children.get(kind)
            if child is not None:
                queue.append((signal, child, [*path, number]))
    return paths


MESSAGE_PATHS = _message_paths()


def inside(message: str, payload: bytes) -> Body:
    """A request whose first `message` (e.g. 'logs.v1.LogRecord') holds `payload`."""
    signal, path = MESSAGE_PATHS[message]
    for number in reversed(path):
        payload = len_field(number, payload)
    return signal, payload


def at_root(payload: bytes) -> Body:
    return "logs", payload


def log_body(any_value: bytes) -> Body:
    return inside("logs.v1.LogRecord", len_field(5, any_value))


def first_log_body(request: Dict[str, Any]) -> Any:
    return request["resource_logs"][0]["scope_logs"][0]["log_records"][0]["body"]


# --- valid sample requests, as OTLP/JSON and as protobuf ---------------------------------------

TRACE_ID, SPAN_ID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
IDS = {"traceId": TRACE_ID, "spanId": SPAN_ID}
ATTRIBUTES = [
    {"key": "string", "value": {"stringValue": "héllo ✓"}},
    {"key": "bool", "value": {"boolValue": True}},
    {"key": "int", "value": {"intValue": "-9223372036854775808"}},
    {"key": "double", "value": {"doubleValue": "-Infinity"}},
    {"key": "bytes", "value": {"bytesValue": "AAECAw=="}},
    {"key": "array", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"arrayValue": {}}]}}},
    {"key": "kvlist", "value": {"kvlistValue": {"values": [{"key": "in", "value": {"doubleValue": -1.5}}]}}},
    {"key": "empty"},
]
RESOURCE = {"attributes": ATTRIBUTES, "droppedAttributesCount": 1}
SCOPE = {"name": "scope", "version": "1.0", "attributes": ATTRIBUTES[:2]}
SAMPLES: Dict[str, Dict[str, Any]] = {
    "logs": {
        "resourceLogs": [
            {
                "resource": RESOURCE,
                "schemaUrl": "https://schema",
                "scopeLogs": [
                    {
                        "scope": SCOPE,
                        "logRecords": [
                            {
                                "timeUnixNano": "18446744073709551615",
                                "observedTimeUnixNano": "1",
                                "severityNumber": 9,
                                "severityText": "INFO",
                                "body": {"kvlistValue": {"values": ATTRIBUTES}},
                                "attributes": ATTRIBUTES,
                                "droppedAttributesCount": 2,
                                "flags": 1,
                                "eventName": "event",
                                **IDS,
                            }
                        ],
                    }
                ],
            }
        ]
    },
    "traces": {
        "resourceSpans": [
            {
                "resource": RESOURCE,
                "scopeSpans": [
                    {
                        "scope": SCOPE,
                        "spans": [
                            {
                                **IDS,
                                "parentSpanId": SPAN_ID,
                                "traceState": "a=b",
                                "name": "span",
                                "kind": 2,
                                "startTimeUnixNano": "1",
                                "endTimeUnixNano": "2",
                                "attributes": ATTRIBUTES,
                                "events": [
                                    {"timeUnixNano": "3", "name": "event", "attributes": ATTRIBUTES[:3]}
                                ],
                                "links": [{**IDS, "attributes": ATTRIBUTES[3:], "flags": 256}],
                                "status": {"code": 2, "message": "boom"},
                                "flags": 1,
                            }
                        ],
                    }
                ],
            }
        ]
    },
    "metrics": {
        "resourceMetrics": [
            {
                "resource": RESOURCE,
                "scopeMetrics": [
                    {
                        "scope": SCOPE,
                        "metrics": [
                            {
                                "name": "g",
                                "unit": "1",
                                "metadata": ATTRIBUTES[:1],
                                "gauge": {
                                    "dataPoints": [
                                        {
                                            "asDouble": -0.5,
                                            "timeUnixNano": "5",
                                            "attributes": ATTRIBUTES[4:],
                                            "exemplars": [
                                                {"asInt": "-3", "filteredAttributes": ATTRIBUTES[:2], **IDS}
                                            ],
                                        }
                                    ]
                                },
                            },
                            {
                                "name": "s",
                                "sum": {
                                    "dataPoints": [{"asInt": "-9223372036854775808"}],
                                    "aggregationTemporality": 2,
                                    "isMonotonic": True,
                                },
                            },
                            {
                                "name": "h",
                                "histogram": {
                                    "aggregationTemporality": 1,
                                    "dataPoints": [
                                        {
                                            "count": "3",
                                            "sum": 1.5,
                                            "min": -1,
                                            "max": 2,
                                            "bucketCounts": ["1", "2"],
                                            "explicitBounds": [0.5],
                                            "exemplars": [{"asDouble": 0.25}],
                                        }
                                    ],
                                },
                            },
                            {
                                "name": "e",
                                "exponentialHistogram": {
                                    "dataPoints": [
                                        {
                                            "scale": -3,
                                            "zeroCount": "1",
                                            "zeroThreshold": 1e-9,
                                            "sum": 10,
                                            "min": 0,
                                            "max": 9,
                                            "positive": {
                                                "offset": -2,
                                                "bucketCounts": ["1", "18446744073709551615"],
                                            },
                                            "negative": {"offset": 1, "bucketCounts": ["4"]},
                                        }
                                    ]
                                },
                            },
                            {
                                "name": "q",
                                "summary": {
                                    "dataPoints": [
                                        {
                                            "count": "2",
                                            "sum": 3,
                                            "quantileValues": [
                                                {"quantile": 0.5, "value": 1},
                                                {"quantile": 1, "value": 2},
                                            ],
                                        }
                                    ]
                                },
                            },
                        ],
                    }
                ],
            }
        ]
    },
}


def sample_json(signal: str) -> bytes:
    return json.dumps(SAMPLES[signal], ensure_ascii=False).encode("utf-8")


def sample_protobuf(signal: str) -> bytes:
    return encode_protobuf(signal, decode_json(signal, sample_json(signal)))


@pytest.mark.parametrize("signal", SIGNALS)
def test_the_samples_decode_the_same_from_protobuf_and_json(signal: str) -> None:
    assert decode_protobuf(signal, sample_protobuf(signal)) == decode_json(signal, sample_json(signal))


# --- truncation -------------------------------------------------------------------------------


@pytest.mark.parametrize("signal", SIGNALS)
def test_every_prefix_of_a_protobuf_request_is_rejected(signal: str) -> None:
    body = sample_protobuf(signal)
    assert decode_protobuf(signal, b"") == decode_json(signal, b"{}")  # no field: an empty request
    # The sample's only top-level field is one resource entry: every other prefix cuts a field short.
    for end in range(1, len(body)):
        raises_decode_error(decode_protobuf, signal, body[:end], match="past the end|past their length")


@pytest.mark.parametrize("signal", SIGNALS)
def test_every_prefix_of_a_json_request_is_rejected(signal: str) -> None:
    body = sample_json(signal)
    for end in range(len(body)):
        raises_decode_error(decode_json, signal, body[:end], match="^invalid JSON: ")


# --- malformed protobuf -----------------------------------------------------------------------

WIRE_OF_KIND = {
    tables.DOUBLE: I64,
    tables.FIXED64: I64,
    tables.SFIXED64: I64,
    tables.FLOAT: I32,
    tables.FIXED32: I32,
    tables.SFIXED32: I32,
    tables.STRING: LEN,
    tables.BYTES: LEN,
    tables.HEXID: LEN,
    tables.MESSAGE: LEN,
    tables.ANY: LEN,
    tables.ATTRS: LEN,
}  # every other kind is a varint
PAYLOAD_OF_WIRE = {VARINT: b"\x01", I64: bytes(8), LEN: b"\x00", I32: bytes(4)}


@pytest.mark.parametrize("message", sorted(MESSAGE_PATHS))
def test_a_known_field_with_a_wrong_wire_type_is_rejected(message: str) -> None:
    for number, name, _, kind, flags, _ in tables.MESSAGES[message]:
        right = WIRE_OF_KIND.get(kind, VARINT)
        decode_protobuf(*inside(message, tag(number, right) + PAYLOAD_OF_WIRE[right]))  # the field is fine
        allowed = {right, LEN} if flags & tables.REPEATED else {right}  # repeated scalars may come packed
        for wire in sorted(set(range(8)) - allowed):  # groups (3, 4) and the undefined 6, 7 too
            signal, body = inside(message, tag(number, wire) + PAYLOAD_OF_WIRE.get(wire, b""))
            expected = f"{message}.{name}: wire type {wire} is wrong for this field"
            raises_decode_error(decode_protobuf, signal, body, match=re.escape(expected))


MALFORMED_PROTOBUF = [
    (
        "field number 0",
        at_root(tag(0, VARINT) + b"\x01"),
        "collector.logs.v1.ExportLogsServiceRequest: field number 0 is invalid",
    ),
    (
        "field number 0 deep down",
        inside("logs.v1.LogRecord", b"\x00"),
        "logs.v1.LogRecord: field number 0 is invalid",
    ),
    ("start group", at_root(tag(99, 3)), "field 99 has unsupported wire type 3"),
    ("end group", inside("common.v1.AnyValue", tag(99, 4)), "field 99 has unsupported wire type 4"),
    ("wire type 6", inside("common.v1.KeyValue", tag(99, 6)), "field 99 has unsupported wire type 6"),
    ("wire type 7", inside("trace.v1.Span", tag(99, 7)), "field 99 has unsupported wire type 7"),
    ("a tag and nothing else", at_root(tag(1, LEN)), "truncated message"),
    ("length past the body", at_root(tag(1, LEN) + varint(10) + b"abc"), "length 10 runs past the end"),
    (
        "length past the enclosing message",
        at_root(len_field(1, tag(3, LEN) + varint(5) + b"ab") + b"cde"),
        "length 5 runs past the end of the enclosing message",
    ),
    ("gigantic length 2**62", at_root(tag(1, LEN) + varint(2**62)), f"length {2**62} runs past the end"),
    (
        "gigantic string length 2**64-1",
        inside("logs.v1.LogRecord", tag(3, LEN) + varint(2**64 - 1)),
        f"length {2**64 - 1} runs past the end",
    ),
    (
        "gigantic unknown field",
        inside("resource.v1.Resource", tag(99, LEN) + varint(2**62)),
        f"length {2**62} runs past the end",
    ),
    (
        "value varint of 11 bytes",
        inside("logs.v1.LogRecord", tag(2, VARINT) + b"\xff" * 10 + b"\x01"),
        "varint longer than 10 bytes",
    ),
    ("tag varint of 11 bytes", at_root(b"\x80" * 10 + b"\x00"), "varint longer than 10 bytes"),
    (
        "length varint of 11 bytes",
        at_root(tag(1, LEN) + b"\x81" * 10 + b"\x00"),
        "varint longer than 10 bytes",
    ),
    (
        "varint past its message",
        inside("logs.v1.ScopeLogs", len_field(2, tag(2, VARINT)) + b"\x01"),
        "severity_number: varint runs past the end of its message",
    ),
    ("unfinished varint", inside("logs.v1.LogRecord", tag(2, VARINT) + b"\x80"), "truncated message"),
    (
        "fixed64 cut short",
        inside("logs.v1.LogRecord", tag(1, I64) + b"\x01\x02\x03"),
        "time_unix_nano: fixed-size value runs past the end",
    ),
    (
        "unknown fixed32 cut short",
        inside("logs.v1.LogRecord", tag(99, I32) + b"\x01"),
        "logs.v1.LogRecord: unknown field 99 runs past the end",
    ),
    (
        "packed fixed64 cut short",
        inside("metrics.v1.HistogramDataPoint", len_field(6, bytes(12))),
        "bucket_counts: fixed-size value runs past the end",
    ),
    (
        "packed varint cut short",  # the varint's last byte is the next field's tag
        inside("metrics.v1.ExponentialHistogramDataPoint.Buckets", len_field(2, b"\x01\x80") + b"\x08\x00"),
        "bucket_counts: varint runs past the end of its message",
    ),
]


@pytest.mark.parametrize(
    "body, expected", [pytest.param(body, expected, id=name) for name, body, expected in MALFORMED_PROTOBUF]
)
def test_malformed_protobuf_is_rejected(body: Body, expected: str) -> None:
    signal, data = body
    raises_decode_error(decode_protobuf, signal, data, match=re.escape(expected))


def test_a_ten_byte_varint_is_fine() -> None:
    assert len(varint(2**64 - 1)) == 10
    body = log_body(tag(3, VARINT) + varint(2**64 - 1))  # AnyValue.int_value
    assert first_log_body(decode_protobuf(*body)) == -1


# --- nesting and size limits ------------------------------------------------------------------


def nested_protobuf(kind: str, levels: int) -> bytes:
    """A logs request whose body is `levels` arrays or kvlists, one inside the other, around "x"."""
    value = len_field(1, b"x")
    for _ in range(levels):
        if kind == "array":
            value = len_field(5, len_field(1, value))
        else:
            value = len_field(6, len_field(1, len_field(1, b"k") + len_field(2, value)))
    return log_body(value)[1]


def log_body_json(any_value: str) -> bytes:
    return ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":' + any_value + "}]}]}]}").encode()


def nested_json(kind: str, levels: int) -> bytes:
    if kind == "array":
        opening, closing = '{"arrayValue":{"values":[', "]}}"
    else:
        opening, closing = '{"kvlistValue":{"values":[{"key":"k","value":', "}]}}"
    return log_body_json(opening * levels + '{"stringValue":"x"}' + closing * levels)


BOTH_NESTED = pytest.mark.parametrize(
    "decode, nested",
    [(decode_protobuf, nested_protobuf), (decode_json, nested_json)],
    ids=["protobuf", "json"],
)


@pytest.mark.parametrize("kind", sorted(LEVEL_COST))
def test_both_decoders_accept_nesting_up_to_the_depth_limit(kind: str) -> None:
    levels = DEEPEST[kind]
    decoded = decode_protobuf("logs", nested_protobuf(kind, levels))
    assert decoded == decode_json("logs", nested_json(kind, levels))
    body = first_log_body(decoded)
    for _ in range(levels):
        body = body[0] if kind == "array" else body["k"]
    assert body == "x"


@pytest.mark.parametrize("levels", [1, 2, 1000], ids=lambda n: f"{n} past")
@pytest.mark.parametrize("kind", sorted(LEVEL_COST))
@BOTH_NESTED
def test_nesting_past_the_depth_limit_is_a_nesting_error(
    decode: Decoder, nested: Any, kind: str, levels: int
) -> None:
    with pytest.raises(NestingError, match=f"deeper than {MAX_DEPTH} levels"):
        decode("logs", nested(kind, DEEPEST[kind] + levels))


def test_json_too_deep_for_the_json_parser_is_a_nesting_error() -> None:
    with pytest.raises(NestingError, match=f"JSON nested deeper than {MAX_DEPTH} levels"):
        decode_json("logs", nested_json("array", 200_000))


# Elements both decoders count before a log body's items: the request, ResourceLogs, ScopeLogs,
# LogRecord, the body AnyValue and its ArrayValue or KeyValueList.
BODY_ELEMENTS = 6


def many_items_protobuf(kind: str, count: int) -> bytes:
    """A logs request whose body is an array of `count` empty values, or a kvlist of `count` empty entries."""
    member = 5 if kind == "array" else 6
    return log_body(len_field(member, b"\x0a\x00" * count))[1]


def many_items_json(kind: str, count: int) -> bytes:
    member = "arrayValue" if kind == "array" else "kvlistValue"
    return log_body_json('{"' + member + '":{"values":[' + ",".join(["{}"] * count) + "]}}")


@pytest.mark.parametrize("kind", sorted(LEVEL_COST))
@pytest.mark.parametrize(
    "decode, many_items",
    [(decode_protobuf, many_items_protobuf), (decode_json, many_items_json)],
    ids=["protobuf", "json"],
)
def test_the_element_budget_is_exact(decode: Decoder, many_items: Any, kind: str) -> None:
    count = MAX_ELEMENTS - BODY_ELEMENTS
    body = first_log_body(decode("logs", many_items(kind, count)))
    assert body == ([None] * count if kind == "array" else {"": None})
    with pytest.raises(LimitError, match=f"more than {MAX_ELEMENTS} decoded elements in one request"):
        decode("logs", many_items(kind, count + 1))


# 64 MiB of two-byte empty items: 32 Mi of them if decoded, far past the element budget.
HUGE_REPEATS = {
    "log records": ("logs.v1.ScopeLogs", 2),
    "attributes": ("logs.v1.LogRecord", 6),
    "data point attributes": ("metrics.v1.NumberDataPoint", 7),
    "array values": ("common.v1.ArrayValue", 1),
}


# Repeated scalars: one-byte items would make a 64 Mi-item list without a budget.
HUGE_SCALARS = {
    "packed bucket counts": ("metrics.v1.HistogramDataPoint", len_field(6, b"\x00" * (64 * MiB))),
    "unpacked bucket counts": ("metrics.v1.HistogramDataPoint", (tag(6, 1) + bytes(8)) * (8 * MiB)),
    "entity id keys": ("common.v1.EntityRef", len_field(3, b"") * (32 * MiB)),
}


@pytest.mark.parametrize("name", sorted(HUGE_REPEATS) + sorted(HUGE_SCALARS))
def test_a_64_mib_repeated_structure_is_stopped_by_the_element_budget(name: str) -> None:
    if name in HUGE_REPEATS:
        message, number = HUGE_REPEATS[name]
        signal, body = inside(message, len_field(number, b"") * (32 * MiB))
    else:
        message, payload = HUGE_SCALARS[name]
        signal, body = inside(message, payload)
    assert len(body) >= 64 * MiB
    with pytest.raises(LimitError, match=f"more than {MAX_ELEMENTS} decoded elements in one request"):
        decode_protobuf(signal, body)


# --- malformed JSON ---------------------------------------------------------------------------

NOT_JSON = [
    b"",
    b" ",
    b"{",
    b"}",
    b'{"resourceLogs": [}',
    b"\xff\xfe\x00",
    b"{'resourceLogs': []}",
    b"{} {}",
    b'{"resourceLogs": [] ,}',
    b"nope",
]


@pytest.mark.parametrize("body", NOT_JSON)
def test_invalid_json_is_rejected(body: bytes) -> None:
    raises_decode_error(decode_json, "logs", body, match="^invalid JSON: ")


@pytest.mark.parametrize(
    "body, kind",
    [
        (b"[]", "an array"),
        (b"1", "a number"),
        (b"1.5", "a number"),
        (b'"{}"', "a string"),
        (b"null", "null"),
        (b"true", "a boolean"),
    ],
)
def test_a_json_body_must_be_an_object(body: bytes, kind: str) -> None:
    expected = f"collector.trace.v1.ExportTraceServiceRequest: expected a JSON object, got {kind}"
    raises_decode_error(decode_json, "traces", body, match=f"^{re.escape(expected)}$")


def resource(**fields: Any) -> Document:
    return "logs", {"resourceLogs": [{"resource": fields}]}


def log_record(**fields: Any) -> Document:
    return "logs", {"resourceLogs": [{"scopeLogs": [{"logRecords": [fields]}]}]}


def log_body_value(any_value: Any) -> Document:
    return log_record(body=any_value)


def span(**fields: Any) -> Document:
    return "traces", {"resourceSpans": [{"scopeSpans": [{"spans": [fields]}]}]}


def metric(**fields: Any) -> Document:
    return "metrics", {"resourceMetrics": [{"scopeMetrics": [{"metrics": [fields]}]}]}


def data_point(kind: str, **fields: Any) -> Document:
    return metric(**{kind: {"dataPoints": [fields]}})


RECORD = "ExportLogsServiceRequest.resourceLogs[0].scopeLogs[0].logRecords[0]"
BODY = RECORD + ".body"
SPAN = "ExportTraceServiceRequest.resourceSpans[0].scopeSpans[0].spans[0]"
METRIC = "ExportMetricsServiceRequest.resourceMetrics[0].scopeMetrics[0].metrics[0]"
OUT_OF_RANGE = "is out of range for this field"
WRONG_JSON_TYPES = [
    # structure
    (
        "object for a list",
        ("logs", {"resourceLogs": {}}),
        "Request.resourceLogs: expected a JSON array, got an object",
    ),
    (
        "list for a message",
        ("logs", {"resourceLogs": [[]]}),
        "Request.resourceLogs[0]: expected a JSON object, got an array",
    ),
    (
        "string for a message",
        ("logs", {"resourceLogs": [{"resource": "r"}]}),
        "Request.resourceLogs[0].resource: expected a JSON object, got a string",
    ),
    ("list for a status", span(status=[]), f"{SPAN}.status: expected a JSON object, got an array"),
    ("object for events", span(events={}), f"{SPAN}.events: expected a JSON array, got an object"),
    # strings and bools
    (
        "number for a string",
        log_record(severityText=5),
        f"{RECORD}.severityText: expected a string, got a number",
    ),
    (
        "bool for a string",
        ("logs", {"resourceLogs": [{"schemaUrl": False}]}),
        "Request.resourceLogs[0].schemaUrl: expected a string, got a boolean",
    ),
    (
        "string for a bool",
        metric(sum={"isMonotonic": "yes"}),
        f"{METRIC}.sum.isMonotonic: expected true or false, got a string",
    ),
    (
        "number for a bool",
        metric(sum={"isMonotonic": 1}),
        f"{METRIC}.sum.isMonotonic: expected true or false, got a number",
    ),
    # integers and enums
    (
        "bool for an integer",
        log_record(timeUnixNano=True),
        f"{RECORD}.timeUnixNano: expected an integer, got a boolean",
    ),
    ("fraction for an integer", log_record(flags=1.5), f"{RECORD}.flags: expected an integer, got a number"),
    (
        "word for an integer",
        log_record(droppedAttributesCount="many"),
        f"{RECORD}.droppedAttributesCount: expected an integer, got the string 'many'",
    ),
    (
        "object for an integer",
        log_record(observedTimeUnixNano={}),
        f"{RECORD}.observedTimeUnixNano: expected an integer, got an object",
    ),
    *(
        (
            f"integer string {text!r}",
            log_body_value({"intValue": text}),
            f"{BODY}.intValue: expected an integer, got the string {text!r}",
        )
        # Python's int() takes all but the last three; JSON numbers are none of them.
        for text in (
            "1_000",
            "\u0661\u0662",
            "+12",
            " 12",
            "12\n",
            "012",
            "0x10",
            "1.5",
            "1e-1",
            "12.",
            ".5e1",
            "",
        )
    ),
    (
        "exponent far out of range",
        log_record(timeUnixNano="1e999999999"),
        f"{RECORD}.timeUnixNano: 1E+999999999 {OUT_OF_RANGE}",
    ),
    ("negative fixed64", log_record(timeUnixNano="-1"), f"{RECORD}.timeUnixNano: -1 {OUT_OF_RANGE}"),
    (
        "fixed64 of 2**64",
        log_record(timeUnixNano=str(2**64)),
        f"{RECORD}.timeUnixNano: {2**64} {OUT_OF_RANGE}",
    ),
    (
        "uint32 of 2**32",
        log_record(droppedAttributesCount=2**32),
        f"{RECORD}.droppedAttributesCount: {2**32} {OUT_OF_RANGE}",
    ),
    ("int64 of 2**63", log_body_value({"intValue": str(2**63)}), f"{BODY}.intValue: {2**63} {OUT_OF_RANGE}"),
    (
        "sfixed64 below -2**63",
        data_point("gauge", asInt=-(2**63) - 1),
        f"{METRIC}.gauge.dataPoints[0].asInt: {-(2**63) - 1} {OUT_OF_RANGE}",
    ),
    (
        "sint32 of 2**31",
        data_point("exponentialHistogram", scale=2**31),
        f"{METRIC}.exponentialHistogram.dataPoints[0].scale: {2**31} {OUT_OF_RANGE}",
    ),
    (
        "negative uint64 in a list",
        data_point("histogram", bucketCounts=["1", "-1"]),
        f"{METRIC}.histogram.dataPoints[0].bucketCounts[1]: -1 {OUT_OF_RANGE}",
    ),
    (
        "unknown enum name",
        span(kind="SPAN_KIND_BOGUS"),
        f"{SPAN}.kind: expected an integer, got the string 'SPAN_KIND_BOGUS'",
    ),
    (
        "name from another enum",
        span(status={"code": "SPAN_KIND_SERVER"}),
        f"{SPAN}.status.code: expected an integer, got the string 'SPAN_KIND_SERVER'",
    ),
    ("enum of 2**31", log_record(severityNumber=2**31), f"{RECORD}.severityNumber: {2**31} {OUT_OF_RANGE}"),
    # doubles
    (
        "word for a double",
        log_body_value({"doubleValue": "fast"}),
        f"{BODY}.doubleValue: expected a number, got a string",
    ),
    (
        "bool for a double",
        log_body_value({"doubleValue": True}),
        f"{BODY}.doubleValue: expected a number, got a boolean",
    ),
    (
        "null in a list of doubles",
        data_point("histogram", explicitBounds=[1, None]),
        f"{METRIC}.histogram.dataPoints[0].explicitBounds[1]: expected a number, got null",
    ),
    (
        "integer too large for a double",
        data_point("gauge", asDouble=10**400),
        f"{METRIC}.gauge.dataPoints[0].asDouble: expected a number, got an integer too large for a double",
    ),
    (
        "list for a double",
        data_point("summary", quantileValues=[{"quantile": [0.5]}]),
        f"{METRIC}.summary.dataPoints[0].quantileValues[0].quantile: expected a number, got an array",
    ),
    # ids and bytes
    ("bad hex id", log_record(traceId="not hex"), f"{RECORD}.traceId: expected a hex string, got 'not hex'"),
    ("odd-length hex id", span(parentSpanId="abc"), f"{SPAN}.parentSpanId: expected a hex string, got 'abc'"),
    (
        "number for an id",
        span(links=[{"spanId": 12}]),
        f"{SPAN}.links[0].spanId: expected a hex string, got a number",
    ),
    (
        "base64 id",
        data_point("gauge", exemplars=[{"spanId": "7uGbfsPBsXQ="}]),
        f"{METRIC}.gauge.dataPoints[0].exemplars[0].spanId: expected a hex string, got '7uGbfsPBsXQ='",
    ),
    (
        "bad base64",
        log_body_value({"bytesValue": "!!!!"}),
        f"{BODY}.bytesValue: expected a base64 string, got '!!!!'",
    ),
    (
        "base64 of impossible length",
        log_body_value({"bytesValue": "AAAAA"}),
        f"{BODY}.bytesValue: expected a base64 string, got 'AAAAA'",
    ),
    (
        "non-ASCII base64",
        log_body_value({"bytesValue": "ÅÅÅÅ"}),
        f"{BODY}.bytesValue: expected a base64 string, got 'ÅÅÅÅ'",
    ),
    (
        "number for bytes",
        log_body_value({"bytesValue": 7}),
        f"{BODY}.bytesValue: expected a base64 string, got a number",
    ),
    # AnyValue and attributes
    ("string for an AnyValue", log_body_value("text"), f"{BODY}: expected an AnyValue object, got a string"),
    (
        "object for array values",
        log_body_value({"arrayValue": {"values": {}}}),
        f"{BODY}.arrayValue.values: expected a JSON array, got an object",
    ),
    (
        "string in array values",
        log_body_value({"arrayValue": {"values": [{}, "x"]}}),
        f"{BODY}.arrayValue.values[1]: expected an AnyValue object, got a string",
    ),
    (
        "number for a kvlist key",
        log_body_value({"kvlistValue": {"values": [{"key": 1}]}}),
        f"{BODY}.kvlistValue.values[0].key: expected a string, got a number",
    ),
    (
        "object for attributes",
        log_record(attributes={"k": "v"}),
        f"{RECORD}.attributes: expected a JSON array, got an object",
    ),
    (
        "string for an attribute",
        log_record(attributes=["k=v"]),
        f"{RECORD}.attributes[0]: expected a key/value object, got a string",
    ),
    (
        "list for an attribute value",
        resource(attributes=[{"value": []}]),
        "Request.resourceLogs[0].resource.attributes[0].value: expected an AnyValue object, got an array",
    ),
    (
        "bool for an int AnyValue",
        metric(metadata=[{"key": "k", "value": {"intValue": False}}]),
        f"{METRIC}.metadata[0].value.intValue: expected an integer, got a boolean",
    ),
]


@pytest.mark.parametrize(
    "document, expected", [pytest.param(doc, expected, id=name) for name, doc, expected in WRONG_JSON_TYPES]
)
def test_a_json_value_of_the_wrong_type_is_rejected(document: Document, expected: str) -> None:
    signal, request = document
    error = raises_decode_error(decode_json, signal, json.dumps(request).encode(), match=re.escape(expected))
    assert str(error).startswith(tables.ROOTS[signal] + ".")  # the path starts at the request


@pytest.mark.parametrize(
    "text, number",
    [
        ("0", 0),
        ("-0", 0),
        ("-12", -12),
        ("1e3", 1000),
        ("1E+3", 1000),
        ("1.0", 1),
        ("10e-1", 1),
        ("0e999999", 0),
    ],
)
def test_an_integer_string_may_be_any_json_number_of_integer_value(text: str, number: int) -> None:
    signal, request = log_body_value({"intValue": text})
    assert first_log_body(decode_json(signal, json.dumps(request).encode())) == number


def json_number_value(text: str) -> Optional[decimal.Decimal]:
    """What `text` means as a JSON number, by the json module's own grammar, or None."""
    if text != text.strip():  # json.loads skips the white space around a value
        return None
    try:
        value = json.loads(text, parse_int=decimal.Decimal, parse_float=decimal.Decimal, parse_constant=str)
    except ValueError:
        return None
    return value if isinstance(value, decimal.Decimal) else None


INTEGER_TEXTS = st.one_of(
    st.integers(-(2**64), 2**64).map(str),
    st.builds("{}e{}".format, st.integers(-(10**6), 10**6), st.integers(-8, 25)),
    st.builds(
        "{}.{}".format, st.integers(-(10**6), 10**6), st.sampled_from(["0", "00", "5", "0e2", "50E-1"])
    ),
    st.text(alphabet="0123456789-+.eE_ x\u0661\u0662\uff11", max_size=8),
)


@FUZZ
@given(text=INTEGER_TEXTS)
def test_integer_strings_are_exactly_the_json_numbers_of_integer_value(text: str) -> None:
    """An OTLP/JSON 64-bit integer in a string decodes iff the json module reads the string as a
    number that is an integer in range, and then to that number."""
    value = json_number_value(text)
    low, high = -(2**63), 2**63 - 1
    expected = int(value) if value is not None and low <= value <= high and value == int(value) else None
    signal, request = log_body_value({"intValue": text})
    try:
        decoded = first_log_body(decode_json(signal, json.dumps(request).encode()))
    except DecodeError:
        decoded = None
    assert decoded == expected


# --- fuzzing: bounded random input, only DecodeError may come out -----------------------------


def decodes_or_raises_decode_error(decode: Decoder, signal: str, body: bytes) -> None:
    try:
        decode(signal, body)
    except DecodeError:
        pass  # any other exception escapes and fails the test


@st.composite
def mutated(draw: Callable[..., Any], body: bytes) -> bytes:
    """`body` with a few bytes overwritten, inserted or deleted."""
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["overwrite", "insert", "delete"]))
        if operation == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            data[at : at + (operation == "overwrite")] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)


@FUZZ
@given(signal=st.sampled_from(SIGNALS), body=st.binary(max_size=400))
def test_random_bytes_only_ever_raise_decode_error(signal: str, body: bytes) -> None:
    decodes_or_raises_decode_error(decode_protobuf, signal, body)


@FUZZ
@given(data=st.data(), signal=st.sampled_from(SIGNALS))
def test_mutated_protobuf_only_ever_raises_decode_error(data: st.DataObject, signal: str) -> None:
    decodes_or_raises_decode_error(decode_protobuf, signal, data.draw(mutated(sample_protobuf(signal))))


FIELD_NAMES = sorted({name for rows in tables.MESSAGES.values() for row in rows for name in row[1:3]})
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**400, -(10**400), 0.5, -0.0, 1e308]),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["NaN", "-Infinity", "ffff", "AAAA", "A", "SEVERITY_NUMBER_INFO", "0x10", "1e3", "١٢"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def replaced_somewhere(draw: Callable[..., Any], node: Any) -> Any:
    """`node` with one member or item, at any depth, replaced by a random JSON value."""
    if not isinstance(node, (dict, list)) or not node or draw(st.integers(0, 3)) == 0:
        return draw(JSON_VALUES)
    if isinstance(node, dict):
        key = draw(st.sampled_from(sorted(node)))
        return {**node, key: draw(replaced_somewhere(node[key]))}
    index = draw(st.integers(0, len(node) - 1))
    return [*node[:index], draw(replaced_somewhere(node[index])), *node[index + 1 :]]


@FUZZ
@given(data=st.data(), signal=st.sampled_from(SIGNALS))
def test_json_with_any_value_anywhere_only_ever_raises_decode_error(data: st.DataObject, signal: str) -> None:
    document = data.draw(replaced_somewhere(SAMPLES[signal]))
    decodes_or_raises_decode_error(decode_json, signal, json.dumps(document).encode())


@FUZZ
@given(data=st.data(), signal=st.sampled_from(SIGNALS))
def test_mutated_json_text_only_ever_raises_decode_error(data: st.DataObject, signal: str) -> None:
    decodes_or_raises_decode_error(decode_json, signal, data.draw(mutated(sample_json(signal))))


@FUZZ
@given(signal=st.sampled_from(SIGNALS), document=JSON_VALUES)
def test_random_json_only_ever_raises_decode_error(signal: str, document: Any) -> None:
    decodes_or_raises_decode_error(decode_json, signal, json.dumps(document).encode())
