"""A deterministic fuzzer for beacon_otlp's OTLP/HTTP receiver (a module, not a test file).

case(seed, index) builds one raw request (or a few, pipelined) from random.Random(seed, index),
so any single case can be rebuilt from its two numbers. The families: valid requests of every
signal and content type; mutated protobuf and OTLP/JSON bodies (bit flips, truncation, inserted
and deleted bytes, huge varints, wrong wire types, deep nesting, duplicated fields); content
types; gzip and deflate streams (valid, corrupt, truncated, bombs); framing (Content-Length and
chunked, both right and wrong); request lines; header fields; the token; pipelines; mutated and
truncated heads; garbage.

send_case() sends one case on a fresh loopback connection, half-closes it (so a short body ends
at once) and reads every answer until the receiver closes; check() says what, if anything, in
the answers breaks the receiver's contract (ARCHITECTURE.md, "receiver contract"):

- every answer is well-formed HTTP/1.1 (status line, header fields, a body as long as its
  Content-Length) with a status in ALLOWED: never >= 500, never 429;
- a case that is complete (the client sent the whole first request as HTTP/1.1 frames it, or
  framing so broken that an answer is possible at once) gets an answer; only an incomplete
  one (a head never ended, a body cut short) may be closed unanswered;
- where the case knows the status (`expect`), the first answer has it;
- where the request's framing is ambiguous (`must_close`), nothing follows its answer.

run() sends many cases to one receiver and tallies them (with a valid "canary" request on a new
connection every so often, which must be answered 200 and reach the consumer).
tests/test_receiver_fuzz.py runs a few thousand cases; tools/fuzz_receiver.py runs as many as
asked for.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import re
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, NamedTuple, Optional, Tuple

from protobuf_by_hand import len_field, tag, varint

from beacon_otlp import MAX_DEPTH, MAX_ELEMENTS, TOKEN_HEADER, Batch, Receiver, encode_json, encode_protobuf

TOKEN = "fuzz-token_0123456789abcdef"
# Limits of the receiver under fuzz: small, so that 413s and decompression bombs are cheap.
MAX_BODY = 256 * 1024
MAX_DECODED = 1024 * 1024
ALLOWED = frozenset({200, 400, 401, 404, 405, 413, 414, 415, 431})
PROTOBUF, JSON = "application/x-protobuf", "application/json"
PATHS = {"logs": "/v1/logs", "traces": "/v1/traces", "metrics": "/v1/metrics"}
SIGNALS = tuple(PATHS)
MAX_LINE = 65536  # http11.MAX_LINE_BYTES: what the receiver reads of one head line
MAX_FIELDS = 100  # http11.MAX_HEADERS


class Case(NamedTuple):
    index: int
    kind: str  # family/variant, e.g. "framing/cl-too-long"
    data: bytes
    complete: bool  # the receiver has what it needs to answer the first request: it must
    expect: FrozenSet[int] = frozenset()  # the first answer's status must be one of these (if any)
    head: bool = False  # a request is HEAD: the last answer may come without its body
    must_close: bool = False  # nothing may follow the first answer (ambiguous framing)


class Answer(NamedTuple):
    status: int
    headers: Dict[str, str]  # lower-case names; a repeated field keeps its first value
    body: bytes


class Outcome(NamedTuple):
    answers: Tuple[Answer, ...]  # final answers, in order (interim 1xx ones are skipped)
    status_line: bool  # the reply began with a well-formed HTTP/1.1 status line
    problem: str  # what is malformed in the reply ("" when nothing is)
    unanswered: bool  # the receiver closed without sending a byte
    reset: bool  # the connection was reset (after whatever was read)
    timed_out: bool  # no close within the client's timeout: the receiver hung
    seconds: float

    @property
    def statuses(self) -> Tuple[int, ...]:
        return tuple(a.status for a in self.answers)


# --- valid bodies ------------------------------------------------------------------------------

_WORDS = (
    "claude_code.user_prompt",
    "claude_code.api_request",
    "tool_result",
    "session.id",
    "x",
    "",
    "ünïcødé",
    "\U0001f600 emoji",
    "nul\x00inside",
    "line\nbreak",
    'quote"back\\slash',
    "\ud800 lone surrogate",
    "\u202e bidi",
    "a" * 300,
)
_KEYS = ("service.name", "user.id", "model", "tokens", "cost_usd", "tool", "ok", "i", "nested", "k")


def _bytes(rng: random.Random, n: int) -> bytes:
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n > 0 else b""


def _int64(rng: random.Random) -> int:
    return rng.choice((0, 1, -1, 2**31, -(2**31), 2**63 - 1, -(2**63), rng.randrange(-(2**40), 2**40)))


def _any(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.randrange(10 if depth < 3 else 7)
    if roll <= 2:
        return rng.choice(_WORDS)
    if roll == 3:
        return _int64(rng)
    if roll == 4:
        return rng.choice((0.0, -0.0, 1.5, 1e308, -1e-308, float("inf"), float("nan"), rng.random()))
    if roll == 5:
        return rng.choice((True, False, None))
    if roll == 6:
        return _bytes(rng, rng.randrange(8))
    if roll <= 8:
        return [_any(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(_KEYS): _any(rng, depth + 1) for _ in range(rng.randrange(4))}


def _attrs(rng: random.Random) -> Dict[str, Any]:
    return {rng.choice(_KEYS): _any(rng) for _ in range(rng.randrange(5))}


def _hex(rng: random.Random, n: int) -> str:
    return _bytes(rng, n).hex()


def _scope(rng: random.Random) -> Dict[str, Any]:
    return {"name": rng.choice(_WORDS), "version": "1.0", "attributes": _attrs(rng)}


def _log_record(rng: random.Random) -> Dict[str, Any]:
    record: Dict[str, Any] = {
        "time_unix_nano": rng.randrange(2**64),
        "severity_number": rng.randrange(25),
        "body": _any(rng),
        "attributes": _attrs(rng),
        "event_name": rng.choice(_WORDS),
    }
    if rng.random() < 0.5:
        record.update(trace_id=_hex(rng, 16), span_id=_hex(rng, 8), flags=rng.randrange(2**32))
    return record


def _span(rng: random.Random) -> Dict[str, Any]:
    start = rng.randrange(2**63)
    return {
        "trace_id": _hex(rng, 16),
        "span_id": _hex(rng, 8),
        "parent_span_id": _hex(rng, rng.choice((0, 8))),
        "name": rng.choice(_WORDS),
        "kind": rng.randrange(6),
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + rng.randrange(10**9),
        "attributes": _attrs(rng),
        "events": [{"name": "e", "time_unix_nano": start, "attributes": _attrs(rng)}],
        "status": {"code": rng.randrange(3), "message": rng.choice(_WORDS)},
    }


def _number_point(rng: random.Random) -> Dict[str, Any]:
    point: Dict[str, Any] = {"time_unix_nano": rng.randrange(2**64), "attributes": _attrs(rng)}
    if rng.random() < 0.5:
        point["as_int"] = _int64(rng)
    else:
        point["as_double"] = rng.choice((0.5, -1.0, 1e300, float("nan")))
    return point


def _metric(rng: random.Random) -> Dict[str, Any]:
    metric: Dict[str, Any] = {"name": rng.choice(_WORDS), "unit": "1", "description": "d"}
    points = rng.randrange(4)
    kind = rng.choice(("gauge", "sum", "histogram", "summary", "exponential_histogram"))
    if kind in ("gauge", "sum"):
        metric[kind] = {"data_points": [_number_point(rng) for _ in range(points)]}
        if kind == "sum":
            metric[kind].update(aggregation_temporality=rng.randrange(3), is_monotonic=True)
    elif kind == "histogram":
        metric[kind] = {
            "data_points": [
                {"count": 3, "sum": 1.5, "bucket_counts": [1, 2], "explicit_bounds": [0.5]}
                for _ in range(points)
            ],
            "aggregation_temporality": 2,
        }
    elif kind == "summary":
        metric[kind] = {
            "data_points": [
                {"count": 2, "sum": 3.0, "quantile_values": [{"quantile": 0.5, "value": 1.0}]}
                for _ in range(points)
            ]
        }
    else:
        metric[kind] = {
            "data_points": [
                {"count": 4, "scale": -3, "positive": {"offset": -2, "bucket_counts": [1, 3]}}
                for _ in range(points)
            ]
        }
    return metric


def random_request(rng: random.Random, signal: str) -> Dict[str, Any]:
    """A valid export request of `signal` in beacon_otlp's plain shape."""
    resource = {"attributes": dict(_attrs(rng), **{"service.name": "claude-code"})}
    if signal == "logs":
        return {
            "resource_logs": [
                {
                    "resource": resource,
                    "scope_logs": [
                        {
                            "scope": _scope(rng),
                            "log_records": [_log_record(rng) for _ in range(rng.randrange(5))],
                        }
                        for _ in range(rng.randrange(1, 3))
                    ],
                }
                for _ in range(rng.randrange(1, 3))
            ]
        }
    if signal == "traces":
        return {
            "resource_spans": [
                {
                    "resource": resource,
                    "scope_spans": [
                        {"scope": _scope(rng), "spans": [_span(rng) for _ in range(rng.randrange(4))]}
                    ],
                }
            ]
        }
    return {
        "resource_metrics": [
            {
                "resource": resource,
                "scope_metrics": [
                    {"scope": _scope(rng), "metrics": [_metric(rng) for _ in range(rng.randrange(4))]}
                ],
            }
        ]
    }


def encode(signal: str, content_type: str, request: Dict[str, Any]) -> bytes:
    return encode_protobuf(signal, request) if content_type == PROTOBUF else encode_json(signal, request)


# --- raw requests ------------------------------------------------------------------------------


class Parts:
    """A request before it is put into bytes: each part may be replaced by a family."""

    def __init__(self, rng: random.Random, signal: Optional[str] = None, content_type: Optional[str] = None):
        self.signal = signal or rng.choice(SIGNALS)
        self.content_type = content_type or rng.choice((PROTOBUF, JSON))
        self.body = encode(self.signal, self.content_type, random_request(rng, self.signal))
        self.method, self.target, self.version = b"POST", PATHS[self.signal].encode(), b"HTTP/1.1"
        self.fields: List[bytes] = [
            b"Content-Type: " + self.content_type.encode(),
            TOKEN_HEADER.encode() + b": " + TOKEN.encode(),
        ]
        if rng.random() < 0.3:
            self.fields.append(b"User-Agent: fuzz/1.0")
        if rng.random() < 0.2:
            self.fields.append(b"Accept: */*")
        rng.shuffle(self.fields)
        self.fields.insert(0, b"Host: 127.0.0.1")
        self.encoding: Optional[bytes] = None
        self.chunked = rng.random() < 0.4  # Claude Code always sends chunked bodies

    def compress(self, rng: random.Random) -> None:
        name = rng.choice((b"gzip", b"deflate", b"x-gzip", b"identity"))
        self.encoding = name
        self.body = compressed(rng, name, self.body)

    def head(self, framing: List[bytes]) -> bytes:
        fields = list(self.fields)
        if self.encoding is not None:
            fields.append(b"Content-Encoding: " + self.encoding)
        fields.extend(framing)
        line = b" ".join((self.method, self.target, self.version))
        return line + b"\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n"

    def render(self, rng: random.Random) -> bytes:
        if self.chunked:
            return self.head([b"Transfer-Encoding: chunked"]) + chunk(rng, self.body)
        return self.head([b"Content-Length: %d" % len(self.body)]) + self.body


def compressed(rng: random.Random, encoding: bytes, data: bytes) -> bytes:
    if encoding in (b"gzip", b"x-gzip"):
        return gzip.compress(data, rng.choice((1, 6, 9)), mtime=0)
    if encoding == b"deflate":
        return zlib.compress(data, rng.choice((0, 1, 9)))
    return data


def chunk(
    rng: random.Random, body: bytes, extensions: bool = False, trailers: bool = False, eol: bytes = b"\r\n"
) -> bytes:
    """A chunked body: random chunk sizes, optionally with extensions and trailer fields, its
    lines ended by `eol`."""
    out, pos = [], 0
    while pos < len(body):
        n = rng.randrange(1, max(2, len(body) - pos + 1)) if rng.random() < 0.7 else len(body) - pos
        size = b"%x" % n if rng.random() < 0.8 else b"%X" % n
        if extensions and rng.random() < 0.5:
            size += rng.choice((b";a=b", b" ;name", b';q="x;y\\"z"', b";" + b"e" * 500))
        out.append(size + eol + body[pos : pos + n] + eol)
        pos += n
    last = b"0"
    if extensions and rng.random() < 0.5:
        last += b";last"
    out.append(last + eol)
    if trailers:
        out.extend(rng.choice((b"X-Trailer: 1", b"X-Checksum: abc", b"X-Empty:")) + eol for _ in range(3))
    out.append(eol)
    return b"".join(out)


# --- whether a request is complete: HTTP/1.1 framing (RFC 9112), independently of beacon's reader


def first_request_complete(data: bytes, max_body: int = MAX_BODY) -> bool:
    """Whether `data` holds the whole first request as RFC 9112 frames it, or a head whose
    framing is so broken that the receiver can answer at once. Conservative: False whenever
    the receiver might fairly still be waiting for bytes."""
    pos = 0
    while True:  # empty lines before the request line
        end = data.find(b"\n", pos)
        if end < 0:
            return False
        line, pos = data[pos : end + 1], end + 1
        if line not in (b"\r\n", b"\n"):
            break
    framing: Dict[bytes, List[bytes]] = {b"content-length": [], b"transfer-encoding": []}
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            return False  # the head never ends
        line, pos = data[pos : end + 1], end + 1
        if line in (b"\r\n", b"\n"):
            break
        name, colon, value = line.partition(b":")
        if colon and name.lower() in framing:
            framing[name.lower()].append(value.strip(b" \t\r\n"))
    lengths, codings = framing[b"content-length"], [v for v in framing[b"transfer-encoding"] if v]
    if len(lengths) > 1 or len(framing[b"transfer-encoding"]) > 1:
        return True  # a repeated framing field: 400 at once
    if codings:
        if codings[0].lower() != b"chunked":
            return True  # a transfer coding beacon does not take: 400 at once
        return _chunked_complete(data, pos, max_body)
    if not lengths:
        return True  # no body
    if not re.fullmatch(rb"[0-9]+", lengths[0]):
        return True  # 400 at once
    digits = lengths[0].lstrip(b"0") or b"0"
    if len(digits) > 15 or int(digits) > max_body:
        return True  # 413 at once
    return len(data) - pos >= int(digits)


def _chunked_complete(data: bytes, pos: int, max_body: int) -> bool:
    total = 0
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            return len(data) - pos > 1024  # a size line over 1 KiB is refused at once, else it may go on
        line, pos = data[pos : end + 1], end + 1
        size = line.split(b";", 1)[0].rstrip(b"\r\n").rstrip(b" \t")
        if not re.fullmatch(rb"[0-9A-Fa-f]+", size) or len(line) > 1024:
            return True  # chunk-size = 1*HEXDIG (RFC 9112 7.1): 400 at once
        n = int(size, 16)
        if n == 0:
            break
        total += n
        if total > max_body:
            return True  # 413 at once
        if len(data) - pos < n + 1:
            return False
        pos += n
        if data[pos : pos + 2] == b"\r\n":
            pos += 2
        elif data[pos : pos + 1] == b"\n":
            pos += 1
        elif len(data) - pos >= 2:
            return True  # data not followed by CRLF: 400 at once
        else:
            return False
    while True:  # trailer fields, until an empty line
        end = data.find(b"\n", pos)
        if end < 0:
            return False
        line, pos = data[pos : end + 1], end + 1
        if line in (b"\r\n", b"\n"):
            return True


# --- mutations ---------------------------------------------------------------------------------


def mutate(rng: random.Random, data: bytes, rounds: int = 0) -> bytes:
    """Bit flips, overwritten, inserted, deleted or duplicated bytes, truncation, huge varints."""
    out = bytearray(data)
    for _ in range(rounds or rng.randrange(1, 4)):
        op = rng.randrange(9)
        pos = rng.randrange(len(out) + 1)
        if op == 0 and out:  # bit flips
            for _ in range(rng.randrange(1, 9)):
                i = rng.randrange(len(out))
                out[i] ^= 1 << rng.randrange(8)
        elif op == 1 and out:  # interesting bytes
            out[min(pos, len(out) - 1)] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFF, 0x0A, 0x0D, 0x22, 0x5C))
        elif op == 2:  # truncation
            del out[pos:]
        elif op == 3:  # inserted bytes
            out[pos:pos] = _bytes(rng, rng.randrange(1, 16))
        elif op == 4:  # deleted bytes
            del out[pos : pos + rng.randrange(1, 16)]
        elif op == 5 and out:  # a duplicated slice
            start = rng.randrange(len(out))
            out[pos:pos] = out[start : start + rng.randrange(1, 64)]
        elif op == 6:  # a huge varint
            out[pos:pos] = b"\xff" * rng.randrange(8, 12) + rng.choice((b"\x01", b"\x7f", b""))
        elif op == 7 and out:  # a slice moved elsewhere
            start = rng.randrange(len(out))
            piece = out[start : start + rng.randrange(1, 32)]
            del out[start : start + len(piece)]
            pos = rng.randrange(len(out) + 1)
            out[pos:pos] = piece
        else:  # appended garbage
            out += _bytes(rng, rng.randrange(1, 32))
    return bytes(out)


# --- protobuf by hand (what no encoder writes) -------------------------------------------------


def _random_protobuf(rng: random.Random, depth: int = 0) -> bytes:
    """Fields of random numbers and wire types (0-7), nested LEN fields of the same."""
    out = bytearray()
    for _ in range(rng.randrange(1, 6)):
        number = rng.choice((0, 1, 2, 3, 5, 6, 7, 9, 15, 16, 100, 2**29 - 1, rng.randrange(1, 40)))
        wire = rng.choice((0, 1, 2, 2, 2, 3, 4, 5, 6, 7))
        out += tag(number, wire)
        if wire == 0:
            out += varint(rng.choice((0, 1, 2**63, 2**64 - 1, rng.randrange(2**70))))
        elif wire == 1:
            out += _bytes(rng, rng.choice((8, 8, 3)))
        elif wire == 5:
            out += _bytes(rng, rng.choice((4, 4, 2)))
        elif wire == 2:
            inner = _random_protobuf(rng, depth + 1) if depth < 4 and rng.random() < 0.6 else _bytes(rng, 5)
            length = len(inner) + rng.choice((0, 0, 0, 0, 1, -1, 2**32))
            out += varint(max(length, 0)) + inner
    return bytes(out)


def _nested_any(depth: int, kvlist: bool, leaf: bytes) -> bytes:
    """An AnyValue nesting `depth` arrays (or kvlists) around a string."""
    value = len_field(1, leaf)
    for _ in range(depth):
        if kvlist:
            value = len_field(6, len_field(1, len_field(1, b"k") + len_field(2, value)))
        else:
            value = len_field(5, len_field(1, value))
    return value


def _log_root(record: bytes) -> bytes:
    """An ExportLogsServiceRequest holding one LogRecord of these bytes."""
    return len_field(1, len_field(2, len_field(2, record)))


def pb_crafted(rng: random.Random, signal: str) -> Tuple[str, bytes]:
    variant = rng.choice(
        (
            "huge-varint",
            "long-varint",
            "huge-length",
            "wrong-wire",
            "field-zero",
            "group",
            "deep",
            "deep-unknown",
            "duplicated",
            "merged",
            "packed",
            "fixed-short",
            "elements",
            "random",
            "invalid-utf8",
            "ids",
        )
    )
    if variant == "huge-varint":  # ten bytes, the most a varint has
        body = _log_root(tag(1, 1) + b"\x00" * 8 + tag(2, 0) + b"\xff" * 9 + rng.choice((b"\x01", b"\x7f")))
    elif variant == "long-varint":  # eleven bytes or more
        body = tag(1, 2) + b"\xff" * rng.randrange(10, 40) + b"\x01"
    elif variant == "huge-length":
        body = (
            tag(rng.choice((1, 7, 99)), 2) + varint(rng.choice((2**31, 2**32 + 1, 2**63, 2**64 - 1))) + b"x"
        )
    elif variant == "wrong-wire":  # a known field with another wire type
        wire = rng.choice((0, 1, 3, 4, 5, 6, 7))
        body = tag(1, wire) + _bytes(rng, rng.randrange(12))
        if rng.random() < 0.5:
            body = _log_root(tag(rng.choice((1, 2, 3, 5, 6, 9)), wire) + _bytes(rng, 10))
    elif variant == "field-zero":
        body = tag(0, rng.randrange(8)) + _bytes(rng, 8)
    elif variant == "group":  # start/end group, unsupported
        body = _log_root(tag(99, 3) + tag(98, 0) + b"\x01" + tag(99, 4))
    elif variant == "deep":  # around MAX_DEPTH: accepted just below, refused above
        kvlist = rng.random() < 0.5
        depth = (
            rng.randrange(MAX_DEPTH // 3 - 3, MAX_DEPTH + 3)
            if rng.random() < 0.8
            else rng.randrange(200, 2000)
        )
        body = _log_root(len_field(5, _nested_any(depth, kvlist, b"leaf")))
    elif variant == "deep-unknown":  # unknown fields are skipped, however they nest
        inner = b"x"
        for _ in range(rng.randrange(100, 2000)):
            inner = len_field(15, inner)
        body = _log_root(inner)
    elif variant == "duplicated":  # a scalar twice (the last wins), a message twice (merged)
        record = (
            tag(2, 0)
            + b"\x09"
            + len_field(3, b"INFO")
            + tag(2, 0)
            + b"\x11"
            + len_field(5, len_field(1, b"a"))
        )
        body = _log_root(record + len_field(5, len_field(1, b"b")) + len_field(5, len_field(3, b"")))
    elif variant == "merged":  # two encodings of one message type, concatenated: a merge
        body = encode_protobuf(signal, random_request(rng, signal)) * rng.randrange(2, 4)
    elif variant == "packed":  # packed fixed64 bucket counts whose length is not a multiple of 8
        counts = len_field(6, _bytes(rng, rng.choice((7, 8, 9, 16, 0))))
        metric = len_field(1, b"h") + len_field(9, len_field(1, counts))
        body = len_field(1, len_field(2, len_field(2, metric)))
    elif variant == "fixed-short":  # a fixed64 with fewer than 8 bytes left
        body = _log_root(tag(1, 1) + _bytes(rng, rng.randrange(8)))
    elif variant == "elements":  # empty ResourceLogs around MAX_ELEMENTS (sent gzipped: see below)
        body = b"\x0a\x00" * (MAX_ELEMENTS + rng.randrange(-2, 3))
    elif variant == "random":
        body = _random_protobuf(rng)
    elif variant == "invalid-utf8":
        body = _log_root(
            len_field(3, b"\xff\xfe\xc0\x80\xed\xa0\x80") + len_field(5, len_field(1, b"\x80abc\xf4\x90"))
        )
    else:  # ids of the wrong length
        body = _log_root(
            len_field(9, _bytes(rng, rng.randrange(40))) + len_field(10, _bytes(rng, rng.randrange(20)))
        )
    return variant, body


# --- OTLP/JSON by hand -------------------------------------------------------------------------


def _json_nodes(node: Any, path: Tuple[Any, ...] = ()) -> Iterator[Tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _json_nodes(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _json_nodes(value, (*path, i))


def _json_replace(node: Any, path: Tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node[path[0]] = _json_replace(node[path[0]], path[1:], value)
    return node


_JSON_ODD_VALUES: Tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    1.5,
    1e308,
    "",
    "x",
    "12",
    "1e3",
    "1e999999999",
    "-0",
    "0x10",
    " 12",
    "NaN",
    "Infinity",
    "SEVERITY_NUMBER_INFO",
    "SEVERITY_NUMBER_NOPE",
    "zz",
    "é",
    "abc",
    "!!!!",
    "AAAA====",
    [],
    {},
    [None],
    {"stringValue": 5},
    {"intValue": "9" * 70},
    {"arrayValue": {"values": [{}]}},
    {"kvlistValue": {"values": [{"key": None, "value": None}]}},
    10**30,
)


def json_crafted(rng: random.Random, signal: str) -> Tuple[str, bytes]:
    variant = rng.choice(("replace", "text", "deep", "deep-body", "numbers", "strings", "top", "keys"))
    document = json.loads(encode_json(signal, random_request(rng, signal)))
    if variant == "replace":  # a random node becomes a value of another type
        for _ in range(rng.randrange(1, 4)):
            path = rng.choice(list(_json_nodes(document)))
            document = _json_replace(document, path, rng.choice(_JSON_ODD_VALUES))
        return variant, json.dumps(document).encode()
    if variant == "text":  # JSON text with characters deleted, inserted or repeated
        text = bytearray(json.dumps(document).encode())
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(text) + 1)
            op = rng.randrange(3)
            if op == 0:
                del text[pos : pos + rng.randrange(1, 4)]
            elif op == 1:
                text[pos:pos] = rng.choice(
                    (b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\", b"\\u", b"e9", b"-")
                )
            else:
                text[pos:pos] = text[pos : pos + rng.randrange(1, 40)]
        return variant, bytes(text)
    if variant == "deep":  # nesting far past any limit, in JSON itself
        n = rng.choice((100, 1000, 20000, 100000))
        return variant, (b"[" * n + b"]" * n) if rng.random() < 0.5 else (b'{"a":' * n + b"1" + b"}" * n)
    if variant == "deep-body":  # AnyValue arrays around MAX_DEPTH
        body: Any = {"stringValue": "leaf"}
        for _ in range(rng.randrange(MAX_DEPTH // 2 - 3, MAX_DEPTH // 2 + 3)):
            body = {"arrayValue": {"values": [body]}}
        return variant, json.dumps(
            {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": body}]}]}]}
        ).encode()
    if variant == "numbers":
        number = rng.choice(
            (b"1e999", b"-1e999", b"9" * 5000, b"1" * 400, b"0.0000001", b"-0", b"1E+2", b'"1e400"', b'"9.5"')
        )
        field = rng.choice((b"timeUnixNano", b"severityNumber", b"flags", b"droppedAttributesCount"))
        return variant, b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"%s":%s}]}]}]}' % (field, number)
    if variant == "strings":  # invalid UTF-8, a BOM, unpaired surrogates, escaped backslashes
        value = rng.choice(
            (
                b'"\xff\xfe"',
                b'"\\ud800"',
                b'"\\udc00\\ud800"',
                b'"\\\\ud800"',
                b'"\\ud83d\\ude00"',
                b'"\\u0000"',
            )
        )
        prefix = rng.choice((b"", b"\xef\xbb\xbf", b" \n\t"))
        record = b'{"body":{"stringValue":%s},"traceId":%s}' % (value, rng.choice((b'"zz"', b'"0a"', value)))
        return variant, prefix + b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[%s]}]}]}' % record
    if variant == "top":
        return variant, rng.choice((b"", b"[]", b"null", b"1", b'"x"', b"{", b"{}{}", b"{} x", b"\x00"))
    # duplicated keys, snake_case keys, nulls
    text = json.dumps(document)
    return variant, (
        text[:-1]
        + rng.choice((', "resourceLogs": null', ', "resource_logs": []', ', "resourceSpans": 5', ', "": {}'))
        + "}"
    ).encode()


# --- the families ------------------------------------------------------------------------------

Built = Tuple[str, bytes, FrozenSet[int]]  # variant, data, expected statuses (empty: any allowed)
OK = frozenset({200})
BAD = frozenset({400})
DATA = frozenset({200, 400, 413})


def fam_valid(rng: random.Random) -> Built:
    parts = Parts(rng)
    if rng.random() < 0.3:
        parts.compress(rng)
    if rng.random() < 0.2:
        parts.version, parts.chunked = b"HTTP/1.0", False  # chunked is HTTP/1.1's (RFC 9112 6.1)
    variant = "chunked" if parts.chunked else "content-length"
    if parts.chunked and rng.random() < 0.5:
        data = parts.head([b"Transfer-Encoding: chunked"]) + chunk(rng, parts.body, True, rng.random() < 0.5)
        return "chunked-extensions", data, OK
    return variant, parts.render(rng), OK


def fam_body(rng: random.Random) -> Built:
    parts = Parts(rng)
    parts.body = mutate(rng, parts.body)
    return parts.content_type, parts.render(rng), DATA


def fam_protobuf(rng: random.Random) -> Built:
    parts = Parts(rng, content_type=PROTOBUF)
    variant, parts.body = pb_crafted(rng, parts.signal)
    if variant == "elements" or len(parts.body) > MAX_BODY or rng.random() < 0.2:
        parts.encoding = b"gzip"
        parts.body = gzip.compress(parts.body, 6, mtime=0)
    if rng.random() < 0.3:
        parts.body = mutate(rng, parts.body)
    return variant, parts.render(rng), DATA


def fam_json(rng: random.Random) -> Built:
    parts = Parts(rng, content_type=JSON)
    variant, parts.body = json_crafted(rng, parts.signal)
    return variant, parts.render(rng), DATA


_GOOD_TYPES = (
    "application/x-protobuf",
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    "APPLICATION/X-PROTOBUF",
    "application/x-protobuf ; proto=opentelemetry",
    "application/json;",
    'application/json;charset="utf-8"',
    " application/x-protobuf ",
)
_BAD_TYPES = (
    b"application/protobuf",
    b"application/octet-stream",
    b"text/plain",
    b"application/grpc",
    b"application/jsonx",
    b"application/json-seq",
    b"*/*",
    b"application/json, application/x-protobuf",
    b"application /json",
    b"json",
    b"\xff\xfe",
    b"application/x-protobuf\x00",
    b"",
)


def fam_content_type(rng: random.Random) -> Built:
    parts = Parts(rng)
    fields = [f for f in parts.fields if not f.lower().startswith(b"content-type:")]
    roll = rng.randrange(4)
    if roll == 0:  # valid, with parameters and odd case
        value = rng.choice(_GOOD_TYPES)
        body_type = PROTOBUF if "protobuf" in value.lower() else JSON
        parts.body = encode(parts.signal, body_type, random_request(rng, parts.signal))
        parts.fields = [*fields, b"Content-Type: " + value.encode()]
        return "valid", parts.render(rng), OK
    if roll == 1:  # unsupported or garbage
        parts.fields = [*fields, b"Content-Type: " + rng.choice(_BAD_TYPES)]
        return "unsupported", parts.render(rng), frozenset({415})
    if roll == 2:  # none at all
        parts.fields = fields
        return "missing", parts.render(rng), frozenset({415})
    # the other decoder's type, or two Content-Type fields (the first counts)
    other = JSON if parts.content_type == PROTOBUF else PROTOBUF
    if rng.random() < 0.5:
        parts.fields = [*fields, b"Content-Type: " + other.encode()]
        return "mismatched", parts.render(rng), frozenset({200, 400})
    parts.fields = [*fields, b"Content-Type: " + rng.choice(_BAD_TYPES), b"Content-Type: " + other.encode()]
    return "repeated", parts.render(rng), frozenset({200, 400, 415})


def fam_encoding(rng: random.Random) -> Built:
    parts = Parts(rng)
    raw = parts.body
    variant = rng.choice(
        (
            "valid",
            "unsupported",
            "corrupt",
            "truncated",
            "trailing",
            "multi",
            "bomb",
            "empty",
            "nested",
            "raw",
        )
    )
    name = rng.choice((b"gzip", b"deflate", b"x-gzip"))
    parts.encoding = rng.choice((name, name.upper(), b" " + name + b" "))
    if variant == "valid":
        parts.encoding = rng.choice((b"gzip", b"deflate", b"x-gzip", b"identity", b"GZIP", b"", b" gzip "))
        parts.body = compressed(rng, parts.encoding.strip().lower(), raw)
        return variant, parts.render(rng), OK
    if variant == "unsupported":
        parts.encoding = rng.choice(
            (b"br", b"zstd", b"compress", b"gzip, deflate", b"gzip;q=1", b"\xffgzip", b"*")
        )
        parts.body = compressed(rng, b"gzip", raw)
        return variant, parts.render(rng), frozenset({415})
    stream = compressed(rng, name, raw)
    if variant == "corrupt":
        parts.body = mutate(rng, stream)
        return variant, parts.render(rng), DATA
    if variant == "truncated":
        parts.body = stream[: rng.randrange(len(stream))]
        return variant, parts.render(rng), BAD
    if variant == "trailing":  # bytes after the stream's end: not another gzip member
        parts.body = stream + rng.choice((b"\x00", b"\x00" * 8, b"garbage", b"\x1f"))
        return variant, parts.render(rng), BAD
    if variant == "multi":  # gzip members one after another: one body
        parts.encoding = b"gzip"
        cut = rng.randrange(len(raw) + 1)
        parts.body = gzip.compress(raw[:cut], mtime=0) + gzip.compress(raw[cut:], mtime=0)
        return variant, parts.render(rng), OK
    if variant == "bomb":  # inflates past MAX_DECODED
        parts.body = compressed(rng, name, b"\x00" * (MAX_DECODED + rng.choice((1, 4096, 8 * MAX_DECODED))))
        return variant, parts.render(rng), frozenset({413})
    if variant == "empty":  # no bytes at all: not a stream
        parts.body = b""
        return variant, parts.render(rng), frozenset({200, 400})
    if variant == "nested":  # compressed twice, declared once
        parts.body = compressed(rng, name, stream)
        return variant, parts.render(rng), DATA
    parts.body = zlib.compress(raw)[2:-4]  # raw deflate: no zlib header, which "deflate" means
    parts.encoding = rng.choice((b"deflate", b"gzip"))
    return variant, parts.render(rng), BAD


_BAD_LENGTHS = (
    b"\xb2",
    "\u0661".encode(),
    "\uff15".encode(),
    b"+5",
    b"-5",
    b"-0",
    b"0x10",
    b"5 5",
    b"5,5",
    b"5, 5",
    b"",
    b"5.0",
    b"1e3",
    b"5\x00",
    b"five",
    b"1_0",
    b"\x0b5",
    b"\xa05",
    b"5\x0c",
    b"\x1c5",
)
_BAD_SIZES = (
    b"zz",
    b"0x10",
    b"1_0",
    b"+a",
    b"-1",
    b"-0",
    b"",
    b"\xb2",
    b"g",
    b"0x",
    b"\xd9\xa1",
    b" 5",
    b"\t5",
)


def fam_framing(rng: random.Random) -> Tuple[str, bytes, FrozenSet[int], bool]:
    """(variant, data, expected statuses, must_close)"""
    parts = Parts(rng)
    body = parts.body
    variant = rng.choice(
        (
            "cl-short",
            "cl-long",
            "cl-bad",
            "cl-spaces",
            "cl-zeros",
            "cl-huge",
            "cl-repeated",
            "cl-over-limit",
            "chunk-over-limit",
            "chunked",
            "chunk-bad-size",
            "chunk-lenient",
            "chunk-lenient-last",
            "chunk-short",
            "chunk-huge",
            "chunk-no-crlf",
            "chunk-no-last",
            "chunk-bare-lf",
            "chunk-trailers",
            "chunk-long-line",
            "te-other",
            "te-repeated",
            "te-and-cl",
            "te-http10",
        )
    )
    cl = b"Content-Length: "
    if variant == "cl-short":
        return variant, parts.head([cl + b"%d" % rng.randrange(len(body) + 1)]) + body, DATA, False
    if variant == "cl-long":
        return variant, parts.head([cl + b"%d" % (len(body) + rng.randrange(1, 5000))]) + body, DATA, False
    if variant == "cl-bad":  # not ASCII digits; some would read as the right length if stripped or parsed
        if rng.random() < 0.5:
            return variant, parts.head([cl + rng.choice(_BAD_LENGTHS)]) + body, BAD, False
        form = rng.choice(
            (b"\x0b%d", b"\x0c%d", b"%d\x0b", b"\xa0%d", b"%d\xa0", b"\x1c%d", b"\x85%d", b"+%d", b"%d.0")
        )
        return variant, parts.head([cl + form % len(body)]) + body, BAD, False
    if variant == "cl-spaces":  # optional whitespace around a field value is no part of it
        value = rng.choice((b"  %d", b"%d  ", b"\t%d\t", b" %d "))
        return variant, parts.head([cl + value % len(body)]) + body, OK, False
    if variant == "cl-zeros":
        zeros = b"0" * rng.choice((1, 10, 5000))
        return variant, parts.head([cl + zeros + b"%d" % len(body)]) + body, OK, False
    if variant == "cl-huge":  # well-formed, far past the limit
        return (
            variant,
            parts.head([cl + b"9" * rng.choice((20, 100, 4300, 4301, 5000, 20000))]) + body,
            frozenset({413}),
            False,
        )
    if variant == "cl-repeated":
        value = b"%d" % len(body)
        second = rng.choice((value, b"%d" % (len(body) + 1), b"0"))
        return variant, parts.head([cl + value, b"content-length: " + second]) + body, BAD, False
    if variant == "cl-over-limit":  # refused before a byte of the body is read (sent or not)
        sent = body[:100] if rng.random() < 0.7 else _bytes(rng, MAX_BODY + 1)
        return (
            variant,
            parts.head([cl + b"%d" % (MAX_BODY + rng.randrange(1, 10**9))]) + sent,
            frozenset({413}),
            False,
        )
    if variant == "chunk-over-limit":  # valid chunks that add up to one byte past the limit
        data = parts.head([b"Transfer-Encoding: chunked"]) + chunk(rng, _bytes(rng, MAX_BODY + 1))
        return variant, data, frozenset({413}), False
    te = b"Transfer-Encoding: chunked"
    if variant == "chunked":
        framing = rng.choice((te, b"transfer-encoding: CHUNKED", b"Transfer-Encoding:  chunked \t"))
        return variant, parts.head([framing]) + chunk(rng, body, True, True), OK, False
    if variant == "chunk-bad-size":
        size = rng.choice(_BAD_SIZES)
        data = parts.head([te]) + size + b"\r\n" + body[:16] + b"\r\n0\r\n\r\n"
        return variant, data, BAD, False
    if variant == "chunk-lenient":  # sizes int(x, 16) takes that chunk-size = 1*HEXDIG does not
        digits = b"%x" % len(body)
        size = rng.choice(
            (b"0x" + digits, b"+" + digits, b" " + digits, b"\t" + digits, digits[:1] + b"_" + digits[1:])
        )
        return variant, parts.head([te]) + size + b"\r\n" + body + b"\r\n0\r\n\r\n", BAD, False
    if variant == "chunk-lenient-last":  # a last chunk whose size is not 1*HEXDIG
        stream = chunk(rng, body)
        last = rng.choice((b"-0", b"+0", b"0x0", b"0_0", b" 0", b"\t0", b"-00"))
        return variant, parts.head([te]) + stream[: stream.rindex(b"0\r\n")] + last + b"\r\n\r\n", BAD, False
    if variant == "chunk-short":  # the size says more than is sent
        return (
            variant,
            parts.head([te]) + b"%x\r\n" % (len(body) + rng.randrange(1, 5000)) + body,
            DATA,
            False,
        )
    if variant == "chunk-huge":
        digits = rng.choice((b"%x" % (MAX_BODY + 1), b"f" * rng.choice((16, 100, 1000, 1100))))
        return variant, parts.head([te]) + digits + b"\r\n" + body[:10], frozenset({400, 413}), False
    if variant == "chunk-no-crlf":  # data not followed by CRLF
        return variant, parts.head([te]) + b"%x\r\n" % len(body) + body + b"XY0\r\n\r\n", BAD, False
    if variant == "chunk-no-last":  # the stream stops after a chunk: incomplete
        return variant, parts.head([te]) + b"%x\r\n" % len(body) + body + b"\r\n", DATA, False
    if variant == "chunk-bare-lf":
        return (
            variant,
            parts.head([te]) + chunk(rng, body, rng.random() < 0.5, rng.random() < 0.5, eol=b"\n"),
            frozenset({200, 400}),
            False,
        )
    if variant == "chunk-trailers":  # too many, or very long, trailer fields
        trailers = rng.choice((b"X-T: 1\r\n" * rng.randrange(60, 70), b"X-T: " + b"t" * 20000 + b"\r\n"))
        data = parts.head([te]) + b"%x\r\n" % len(body) + body + b"\r\n0\r\n" + trailers + b"\r\n"
        return variant, data, frozenset({200, 400, 431}), False
    if variant == "chunk-long-line":  # a chunk size line past any sensible length
        ext = b";" + b"e" * rng.choice((1000, 2000, 70000))
        return (
            variant,
            parts.head([te]) + b"%x" % len(body) + ext + b"\r\n" + body + b"\r\n0\r\n\r\n",
            DATA,
            False,
        )
    if variant == "te-other":
        coding = rng.choice(
            (
                b"gzip",
                b"identity",
                b"gzip, chunked",
                b"chunked, chunked",
                b"chunkedx",
                b"\xffchunked",
                b"\x0bchunked",
                b"chunked\x0c",
                b"\xa0chunked",
                b"\x85chunked",
            )
        )
        data = parts.head([b"Transfer-Encoding: " + coding]) + chunk(rng, body)
        return variant, data, BAD, False
    if variant == "te-repeated":
        return variant, parts.head([te, te]) + chunk(rng, body), BAD, False
    # Framings a body could be read by two ways: answered, then the connection closed, and the
    # valid request that follows never read (RFC 9112 6.1 and 6.3).
    after = Parts(rng).render(rng)
    if variant == "te-and-cl":
        framing = [te, cl + b"%d" % rng.choice((0, 5, len(body)))]
        rng.shuffle(framing)
        return variant, parts.head(framing) + chunk(rng, body) + after, frozenset({200, 400}), True
    parts.version = b"HTTP/1.0"
    parts.fields.append(b"Connection: keep-alive")
    return variant, parts.head([te]) + chunk(rng, body) + after, frozenset({200, 400}), True


_METHODS = (
    b"GET",
    b"PUT",
    b"DELETE",
    b"PATCH",
    b"OPTIONS",
    b"TRACE",
    b"CONNECT",
    b"PRI",
    b"FOO",
    b"post",
    b"Post",
)


def fam_request_line(rng: random.Random) -> Tuple[str, bytes, FrozenSet[int], bool]:
    """(variant, data, expected statuses, head)"""
    parts = Parts(rng)
    variant = rng.choice(
        (
            "method",
            "head",
            "bad-method",
            "version",
            "bad-version",
            "missing-version",
            "http09",
            "spaces",
            "empty-lines",
            "long-target",
            "target",
            "pri",
            "nothing",
            "line-ending",
        )
    )
    if variant == "method":
        parts.method = rng.choice((*_METHODS, b"M" * rng.choice((20, 1000))))
        return variant, parts.render(rng), frozenset({405}), False
    if variant == "head":
        parts.method = b"HEAD"
        return variant, parts.render(rng), frozenset({405}), True
    if variant == "bad-method":  # not a token
        parts.method = rng.choice((b"PO(ST", b"PO\x00ST", b"POST\xff", b'P"ST', b"\x16\x03\x01", b"@"))
        return variant, parts.render(rng), BAD, False
    if variant == "version":
        parts.version = rng.choice((b"HTTP/1.0", b"HTTP/1.1"))
        parts.chunked = parts.chunked and parts.version == b"HTTP/1.1"
        return variant, parts.render(rng), OK, False
    if variant == "bad-version":
        parts.version = rng.choice(
            (
                b"HTTP/2.0",
                b"HTTP/2",
                b"HTTP/3",
                b"HTTP/3.0",
                b"HTTP/9.9",
                b"HTTP/0.9",
                b"HTTP/1.10",
                b"HTTP/1.",
                b"HTTP/11",
                b"http/1.1",
                b"HTTPS/1.1",
                b"HTTP/1.1x",
                b"HTTP/ 1.1",
                b"HTTP/\xb9.1",
                b"",
            )
        )
        return variant, parts.render(rng), BAD, False
    if variant == "missing-version":  # "POST /v1/logs" and then a head
        data = parts.render(rng).replace(b" HTTP/1.1\r\n", b"\r\n", 1)
        return variant, data, BAD, False
    if variant == "http09":  # a bare HTTP/0.9 request line
        return variant, rng.choice((b"GET /\r\n", b"GET /v1/logs\r\n\r\n", b"POST /v1/logs\n\n")), BAD, False
    if variant == "spaces":
        line = rng.choice(
            (
                b"POST  %s HTTP/1.1",
                b" POST %s HTTP/1.1",
                b"POST %s  HTTP/1.1",
                b"POST %s HTTP/1.1 ",
                b"POST\t%s\tHTTP/1.1",
                b"POST %s\tHTTP/1.1",
                b"POST\x0b%s HTTP/1.1",
            )
        )
        data = parts.render(rng)
        head_line = data.split(b"\r\n", 1)[0]
        return variant, data.replace(head_line, line % parts.target, 1), BAD, False
    if variant == "empty-lines":
        n = rng.choice((1, 2, 8, 9, 20, 1000))
        data = rng.choice((b"\r\n", b"\n")) * n + parts.render(rng)
        return variant, data, OK if n <= 1 else frozenset({200, 400}), False
    if variant == "long-target":
        n = rng.choice((1000, 8000, MAX_LINE - 100, MAX_LINE, MAX_LINE + 1, 200000))
        parts.target += b"?q=" + b"x" * n
        return variant, parts.render(rng), frozenset({200, 400, 414}), False
    if variant == "target":
        parts.target = rng.choice(
            (
                b"*",
                b"http://127.0.0.1" + parts.target,
                b"//v1/logs",
                parts.target + b"#frag",
                parts.target + b"/",
                parts.target.upper(),
                parts.target + b"%00",
                b"/v1/%6Cogs",
                b"/",
                b"/v1/profiles",
                b"127.0.0.1:80",
                parts.target + b"\x00",
                b"/\xff\xfe",
            )
        )
        return variant, parts.render(rng), frozenset({200, 400, 404}), False
    if variant == "pri":  # the HTTP/2 connection preface
        data = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + rng.choice(
            (b"", b"\x00\x00\x12\x04\x00\x00\x00\x00\x00")
        )
        return variant, data, BAD, False
    if variant == "nothing":  # no request at all, or empty lines only: nothing to answer
        return (
            variant,
            rng.choice((b"", b"\r\n", b"\r\n\r\n", b"\n" * 5, b"POST", b"POST /v1/logs HTTP/1.1")),
            frozenset(),
            False,
        )
    # line endings: bare LF (accepted), bare CR (not a line ending at all)
    data = parts.render(rng)
    head, sep, rest = data.partition(b"\r\n\r\n")
    return variant, head.replace(b"\r\n", rng.choice((b"\n", b"\r"))) + sep + rest, frozenset(), False


def fam_fields(rng: random.Random) -> Built:
    parts = Parts(rng)
    variant = rng.choice(
        (
            "bad-name",
            "obs-fold",
            "nul-value",
            "ctl-value",
            "long-value",
            "over-long-value",
            "many",
            "too-many",
            "no-value",
            "repeated",
            "odd-case",
            "no-host",
            "expect",
            "connection",
            "latin1",
        )
    )
    fields = parts.fields
    if variant == "bad-name":
        fields.insert(
            rng.randrange(1, len(fields) + 1),
            rng.choice(
                (
                    b"Bad Name: x",
                    b"Bad\x00Name: x",
                    b"Bad(Name): x",
                    b"Bad/Name: x",
                    b"N\xe4me: x",
                    b": x",
                    b" Leading: x",
                    b"Trailing : x",
                    b"Content-Length : 5",
                    b"no colon",
                    b"  ",
                    b"\x00",
                    b"X-A\r: x",
                )
            ),
        )
        return variant, parts.render(rng), BAD
    if variant == "obs-fold":
        fields.insert(
            rng.randrange(1, len(fields) + 1), rng.choice((b"X-A: a\r\n b", b"X-A: a\r\n\tb", b"X-A:\r\n  b"))
        )
        return variant, parts.render(rng), BAD
    if variant == "nul-value":
        fields.append(b"X-A: a\x00b")
        return variant, parts.render(rng), frozenset({200, 400})
    if variant == "ctl-value":
        fields.append(rng.choice((b"X-A: a\rb", b"X-A: \x7f", b"X-A: \x1b[31m", b"X-A: a\x0bb")))
        return variant, parts.render(rng), frozenset({200, 400})
    if variant == "long-value":
        fields.append(b"X-Long: " + b"v" * rng.choice((1000, 8000, MAX_LINE - 100)))
        return variant, parts.render(rng), OK
    if variant == "over-long-value":
        fields.append(b"X-Long: " + b"v" * rng.choice((MAX_LINE, MAX_LINE + 10, 300000)))
        return variant, parts.render(rng), frozenset({400, 431})
    if variant == "many":  # up to the limit, framing field included
        room = MAX_FIELDS - len(fields) - 1
        fields.extend(b"X-%d: %d" % (i, i) for i in range(rng.randrange(room // 2, room + 1)))
        return variant, parts.render(rng), OK
    if variant == "too-many":
        fields.extend(b"X-%d: %d" % (i, i) for i in range(rng.choice((MAX_FIELDS, 1000, 5000))))
        return variant, parts.render(rng), frozenset({400, 431})
    if variant == "no-value":
        fields.append(rng.choice((b"X-Empty:", b"X-Empty: ", b"X-Empty:\t\t")))
        return variant, parts.render(rng), OK
    if variant == "repeated":
        fields.extend([b"X-Dup: 1", b"X-Dup: 2", b"Accept: a", b"accept: b"])
        return variant, parts.render(rng), OK
    if variant == "odd-case":
        parts.fields = [f.split(b":")[0].upper() + b":" + f.split(b":", 1)[1] for f in fields]
        return variant, parts.render(rng), OK
    if variant == "no-host":
        parts.fields = fields[1:]
        return variant, parts.render(rng), frozenset({200, 400})
    if variant == "expect":  # 100-continue gets an interim answer first; others are ignored
        fields.append(rng.choice((b"Expect: 100-continue", b"Expect: 100-Continue", b"Expect: nonsense")))
        return variant, parts.render(rng), OK
    if variant == "connection":
        fields.append(
            rng.choice(
                (b"Connection: close", b"Connection: keep-alive", b"Connection: Upgrade\r\nUpgrade: h2c")
            )
        )
        return variant, parts.render(rng), OK
    fields.append(b"X-Latin: caf\xe9 \xff\xfe")
    return variant, parts.render(rng), OK


def fam_token(rng: random.Random) -> Built:
    parts = Parts(rng)
    name = TOKEN_HEADER.encode()
    fields = [f for f in parts.fields if not f.lower().startswith(name + b":")]
    good = name + b": " + TOKEN.encode()
    variant = rng.choice(("missing", "wrong", "empty", "case", "spaces", "repeated", "nul", "latin1", "long"))
    if rng.random() < 0.1:  # a large body, which the receiver refuses unread
        variant = rng.choice(("missing", "wrong", "empty", "nul", "latin1", "long"))
        parts.body = _bytes(rng, rng.choice((100_000, MAX_BODY)))
    if variant == "missing":
        parts.fields = fields
    elif variant == "wrong":
        value = rng.choice((TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "Bearer " + TOKEN, TOKEN[::-1]))
        parts.fields = [*fields, name + b": " + value.encode()]
    elif variant == "empty":
        parts.fields = [*fields, name + b":"]
    elif variant == "case":  # field names are case-insensitive
        parts.fields = [*fields, TOKEN_HEADER.upper().encode() + b": " + TOKEN.encode()]
        return variant, parts.render(rng), OK
    elif variant == "spaces":  # optional whitespace is no part of the value
        parts.fields = [*fields, name + b":  \t" + TOKEN.encode() + b" \t"]
        return variant, parts.render(rng), OK
    elif variant == "repeated":  # the first counts
        wrong = name + b": nope"
        first_good = rng.random() < 0.5
        parts.fields = [*fields, good, wrong] if first_good else [*fields, wrong, good]
        return variant, parts.render(rng), OK if first_good else frozenset({401})
    elif variant == "nul":
        parts.fields = [*fields, good + rng.choice((b"\x00", b"\x00x"))]
    elif variant == "latin1":
        parts.fields = [*fields, good + b"\xe9"]
    else:
        parts.fields = [*fields, name + b": " + b"t" * rng.choice((1000, 60000))]
    return variant, parts.render(rng), frozenset({401})


FAMILIES: Tuple[Tuple[str, int], ...] = (
    ("valid", 8),
    ("body", 14),
    ("protobuf", 12),
    ("json", 10),
    ("content-type", 5),
    ("encoding", 8),
    ("framing", 14),
    ("request-line", 9),
    ("fields", 8),
    ("token", 4),
    ("pipeline", 4),
    ("head-mutation", 6),
    ("truncated", 4),
    ("garbage", 2),
)


def _build(rng: random.Random, index: int, family: str) -> Case:
    head = must_close = False
    expect: FrozenSet[int] = frozenset()
    if family == "valid":
        variant, data, expect = fam_valid(rng)
    elif family == "body":
        variant, data, expect = fam_body(rng)
    elif family == "protobuf":
        variant, data, expect = fam_protobuf(rng)
    elif family == "json":
        variant, data, expect = fam_json(rng)
    elif family == "content-type":
        variant, data, expect = fam_content_type(rng)
    elif family == "encoding":
        variant, data, expect = fam_encoding(rng)
    elif family == "framing":
        variant, data, expect, must_close = fam_framing(rng)
    elif family == "request-line":
        variant, data, expect, head = fam_request_line(rng)
    elif family == "fields":
        variant, data, expect = fam_fields(rng)
    elif family == "token":
        variant, data, expect = fam_token(rng)
    elif family == "pipeline":  # several requests on one connection: the first must be answered
        first = _build(rng, index, rng.choice(("valid", "body", "encoding", "framing", "token", "fields")))
        rest = [
            _build(rng, index, rng.choice(("valid", "body", "request-line")))
            for _ in range(rng.randrange(1, 4))
        ]
        variant, data = first.kind, first.data + b"".join(r.data for r in rest)
        expect, must_close = first.expect, first.must_close
        head = first.head or any(r.head for r in rest)
    elif family == "head-mutation":  # a valid request whose head has random damage
        data = Parts(rng).render(rng)
        cut = data.index(b"\r\n\r\n") + 4
        variant, data = "head", mutate(rng, data[:cut], rng.randrange(1, 3)) + data[cut:]
    elif family == "truncated":  # a valid request cut anywhere
        data = Parts(rng).render(rng)
        variant, data = "valid", data[: rng.randrange(len(data))]
    else:  # random bytes, or random text lines
        if rng.random() < 0.5:
            variant, data = "bytes", _bytes(rng, rng.randrange(1, 2000))
        else:
            lines = [
                bytes(rng.choice(b"ABCGPOST /:-.HTTP1\t ") for _ in range(rng.randrange(30)))
                for _ in range(6)
            ]
            variant, data = "lines", b"\r\n".join(lines) + rng.choice((b"", b"\r\n", b"\r\n\r\n"))
    return Case(index, f"{family}/{variant}", data, first_request_complete(data), expect, head, must_close)


def case(seed: int, index: int) -> Case:
    """Case number `index` of the run `seed`: the same case on every run (compressed bytes as
    the local zlib writes them)."""
    rng = random.Random(f"beacon-fuzz:{seed}:{index}")
    names, weights = zip(*FAMILIES)
    return _build(rng, index, rng.choices(names, weights)[0])


def cases(seed: int, n: int, start: int = 0) -> Iterator[Case]:
    for index in range(start, start + n):
        yield case(seed, index)


def canary(index: int) -> Tuple[bytes, int]:
    """A valid logs request of a few records tagged with fuzz.canary = index, and its record count."""
    rng = random.Random(f"beacon-canary:{index}")
    records = rng.randrange(1, 6)
    request = {
        "resource_logs": [
            {
                "resource": {"attributes": {"fuzz.canary": index}},
                "scope_logs": [
                    {"log_records": [{"body": "canary", "attributes": {"i": i}} for i in range(records)]}
                ],
            }
        ]
    }
    content_type = rng.choice((PROTOBUF, JSON))
    body = encode("logs", content_type, request)
    head = (
        f"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"{TOKEN_HEADER}: {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body, records


# --- sending a case and reading its answers ----------------------------------------------------

_STATUS_LINE = re.compile(rb"HTTP/1\.1 ([1-5][0-9]{2}) ([\t !-~\x80-\xff]*)\r\n")
_FIELD = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\t !-~\x80-\xff]*?)[ \t]*\r\n")
_LINGER_RESET = struct.pack("ii", 1, 0)


def send_case(port: int, data: bytes, head: bool = False, timeout: float = 10.0) -> Outcome:
    """Send `data` on a new connection to 127.0.0.1:port, half-close it, read until the receiver
    closes, and parse what came back."""
    started = time.monotonic()
    received = bytearray()
    reset = timed_out = False
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            sock.sendall(data)
        except socket.timeout:
            timed_out = True
        except OSError:  # the receiver answered and closed before reading it all
            pass
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        while not timed_out:
            try:
                part = sock.recv(65536)
            except socket.timeout:
                timed_out = True
                break
            except OSError:
                reset = True
                break
            if not part:
                break
            received += part
    finally:
        # Closed at once with a reset if the receiver never closed (a hang): its thread goes too.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        sock.close()
    answers, status_line, problem = parse_answers(bytes(received), head)
    if timed_out and not problem:
        problem = f"no close within {timeout} s"
    return Outcome(answers, status_line, problem, not received, reset, timed_out, time.monotonic() - started)


def parse_answers(data: bytes, head: bool = False) -> Tuple[Tuple[Answer, ...], bool, str]:
    """(final answers, whether data began with a status line, what is malformed or "")."""
    answers: List[Answer] = []
    pos = 0
    status_line = bool(_STATUS_LINE.match(data)) if data else False
    while pos < len(data):
        match = _STATUS_LINE.match(data, pos)
        if not match:
            return tuple(answers), status_line, f"no status line at byte {pos}: {data[pos : pos + 40]!r}"
        status = int(match.group(1))
        pos = match.end()
        headers: Dict[str, str] = {}
        lengths = []
        while not data.startswith(b"\r\n", pos):
            field = _FIELD.match(data, pos)
            if not field:
                return (
                    tuple(answers),
                    status_line,
                    f"malformed header field at byte {pos}: {data[pos : pos + 40]!r}",
                )
            name = field.group(1).decode().lower()
            value = field.group(2).decode("latin-1")
            headers.setdefault(name, value)
            if name == "content-length":
                lengths.append(value)
            pos = field.end()
        pos += 2
        if 100 <= status < 200:
            if status != 100 or headers:
                return tuple(answers), status_line, f"unexpected interim answer {status}"
            continue
        if len(lengths) != 1 or not lengths[0].isdigit() or not lengths[0].isascii():
            return tuple(answers), status_line, f"answer {status} without exactly one Content-Length"
        length = int(lengths[0])
        if head and pos == len(data):
            length = 0  # an answer to HEAD (the last: it closes) has the length of the body it leaves out
        if len(data) - pos < length:
            return tuple(answers), status_line, f"answer {status}: body shorter than its Content-Length"
        answers.append(Answer(status, headers, data[pos : pos + length]))
        pos += length
    return tuple(answers), status_line, ""


def check(case: Case, outcome: Outcome) -> List[str]:
    """What in the outcome breaks the receiver's contract (empty: nothing)."""
    problems = []
    if outcome.problem:
        problems.append(outcome.problem)
    if not outcome.unanswered and not outcome.status_line:
        problems.append("the reply did not begin with a status line")
    for status in outcome.statuses:
        if status >= 500 or status not in ALLOWED:
            problems.append(f"status {status} is not one the contract allows")
    if case.complete and not outcome.answers and not outcome.problem:
        problems.append("a complete request was closed unanswered" + (" (reset)" if outcome.reset else ""))
    if case.expect and outcome.answers and outcome.statuses[0] not in case.expect:
        problems.append(f"first answer {outcome.statuses[0]}, expected one of {sorted(case.expect)}")
    if case.must_close and len(outcome.answers) > 1:
        problems.append(f"ambiguous framing, yet the connection went on: answers {list(outcome.statuses)}")
    return problems


# --- a receiver under fuzz, and a run ----------------------------------------------------------


class Tally:
    """A consumer that counts batches and records, and notes which canaries arrived."""

    def __init__(self) -> None:
        self.batches = self.records = 0
        self.canaries: set = set()
        self._changed = threading.Condition()

    def __call__(self, batch: Batch) -> None:
        canaries = []
        if batch.signal == "logs":
            for resource_logs in batch.request["resource_logs"]:
                resource = resource_logs["resource"] or {}
                if "fuzz.canary" in resource.get("attributes", {}):
                    canaries.append(resource["attributes"]["fuzz.canary"])
        with self._changed:
            self.batches += 1
            self.records += batch.records
            self.canaries.update(canaries)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)


@contextlib.contextmanager
def fuzz_receiver(consumer: Callable[[Batch], None]) -> Iterator[Tuple[Receiver, List[str]]]:
    """A started Receiver with the fuzz limits, and the list it appends to whenever an exception
    escapes a connection's handler (socketserver's handle_error, which the receiver silences)."""
    import sys
    import traceback

    receiver = Receiver(
        consumer,
        token=TOKEN,
        max_body=MAX_BODY,
        max_decoded=MAX_DECODED,
        read_timeout=5.0,
        request_deadline=10.0,
    )
    escaped: List[str] = []

    def handle_error(request: Any, client_address: Any) -> None:
        escaped.append("".join(traceback.format_exception(*sys.exc_info())))

    receiver._server.handle_error = handle_error  # type: ignore[method-assign]
    receiver.start()
    try:
        yield receiver, escaped
    finally:
        receiver.stop()


def describe(case: Case, problems: List[str], limit: int = 300) -> str:
    """One offending case: its number, kind, problems and bytes (the middle of long ones left out)."""
    data = (
        repr(case.data)
        if len(case.data) <= limit
        else f"{case.data[: limit - 100]!r} ... {case.data[-100:]!r}"
    )
    found = "; ".join(problems)
    return f"case {case.index} [{case.kind}] complete={case.complete} {len(case.data)} B: {found}\n    {data}"


def run(
    receiver: Receiver,
    tally: Tally,
    seed: int,
    n: int,
    start: int = 0,
    canary_every: int = 500,
    keep: int = 20,
    progress: Optional[Callable[[int], None]] = None,
) -> Dict[str, Any]:
    """Send cases start..start+n-1 of `seed`, one connection each, with a canary (a valid request
    on a new connection, which must be answered 200 and reach the consumer) every canary_every
    cases and after the last. The summary: counts, and the first `keep` offending cases."""
    by_status: Counter = Counter()
    by_family: Counter = Counter()
    by_violation: Counter = Counter()
    unanswered = unanswered_complete = no_status_line = violations = 0
    offending: List[str] = []
    canary_failures: List[str] = []
    canaries = 0
    slowest = 0.0
    started = time.monotonic()

    def send_canary() -> None:
        nonlocal canaries
        data, _ = canary(canaries)
        outcome = send_case(receiver.port, data)
        if outcome.statuses != (200,):
            canary_failures.append(f"canary {canaries}: answers {list(outcome.statuses)} {outcome.problem}")
        elif not tally.wait_for(lambda: canaries in tally.canaries):
            canary_failures.append(f"canary {canaries}: answered 200, never reached the consumer")
        canaries += 1

    for i, one in enumerate(cases(seed, n, start)):
        outcome = send_case(receiver.port, one.data, one.head)
        slowest = max(slowest, outcome.seconds)
        by_family[one.kind.split("/")[0]] += 1
        if outcome.answers:
            by_status[str(outcome.statuses[0])] += 1
        else:
            by_status["unanswered" if outcome.unanswered else "malformed"] += 1
        unanswered += outcome.unanswered
        unanswered_complete += one.complete and outcome.unanswered
        no_status_line += not outcome.unanswered and not outcome.status_line
        problems = check(one, outcome)
        if problems:
            violations += 1
            by_violation[one.kind] += 1
            if len(offending) < keep:
                offending.append(describe(one, problems))
        if canary_every and (i + 1) % canary_every == 0:
            send_canary()
        if progress:
            progress(i + 1)
    send_canary()
    seconds = time.monotonic() - started
    receiver.wait_idle(quiet=0.05, timeout=10, until_disconnected=True)
    stats = receiver.stats.snapshot()
    answered_200 = sum(r["count"] for r in stats["requests"] if r["status"] == 200)
    tally.wait_for(lambda: tally.batches >= answered_200)
    return {
        "seed": seed,
        "cases": n,
        "start": start,
        "seconds": round(seconds, 2),
        "cases_per_second": round(n / seconds, 1) if seconds else None,
        "slowest_case_seconds": round(slowest, 3),
        "by_status": dict(sorted(by_status.items())),
        "by_family": dict(sorted(by_family.items())),
        "unanswered": unanswered,
        "unanswered_complete": unanswered_complete,
        "no_status_line": no_status_line,
        "violations": violations,
        "violations_by_kind": dict(sorted(by_violation.items())),
        "internal_errors": stats["rejected"].get("internal_error", 0),
        "rejected": dict(sorted(stats["rejected"].items())),
        "retryable_statuses": sum(
            r["count"] for r in stats["requests"] if r["status"] == 429 or r["status"] >= 500
        ),
        "answered_200": answered_200,
        "consumed_batches": tally.batches,
        "consumed_records": tally.records,
        "counted_records": sum(stats["records"].values()),
        "canaries": canaries,
        "canary_failures": canary_failures,
        "offending": offending,
    }
