"""The OTLP/HTTP receiver: framing, answers per the OTLP spec, limits, faults and shutdown."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from typing import Any, Callable, List, Optional

import pytest
from conftest import (
    DEEPEST,
    TOKEN,
    Collector,
    RawResponse,
    raw_connect,
    raw_exchange,
    read_response,
    request_bytes,
)
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from beacon_otlp import (
    JSON,
    MAX_DEPTH,
    PROTOBUF,
    Batch,
    Receiver,
    encode_json,
    encode_protobuf,
    http11,
    peers,
)
from beacon_otlp import receiver as receiver_module

MiB = 1024 * 1024


def log_request(n: int, start: int = 0, text: str = "x") -> dict:
    records = [
        {"body": "claude_code.user_prompt", "attributes": {"i": i, "text": text}}
        for i in range(start, start + n)
    ]
    return {
        "resource_logs": [
            {
                "resource": {"attributes": {"service.name": "claude-code"}},
                "scope_logs": [{"log_records": records}],
            }
        ]
    }


def pb_logs(n: int, start: int = 0, text: str = "x") -> bytes:
    return encode_protobuf("logs", log_request(n, start, text))


def pb_logs_of_size(size: int) -> bytes:
    """One log record padded so the encoded request is exactly `size` bytes."""
    pad = size
    while True:
        body = pb_logs(1, text="y" * pad)
        if len(body) == size:
            return body
        pad -= len(body) - size


def json_logs(n: int, start: int = 0) -> bytes:
    records = [
        {
            "body": {"stringValue": "claude_code.user_prompt"},
            "attributes": [{"key": "i", "value": {"intValue": str(i)}}],
        }
        for i in range(start, start + n)
    ]
    return json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}).encode()


def rpc_status(response: RawResponse) -> Any:
    """The google.rpc.Status an error answer carries, decoded as its content type says."""
    if response.headers["content-type"] == JSON:
        return json_format.Parse(response.body, status_pb2.Status())
    assert response.headers["content-type"] == PROTOBUF
    return status_pb2.Status.FromString(response.body)


def indexes(collector: Collector) -> List[int]:
    return sorted(
        r["attributes"]["i"]
        for b in collector.batches
        for rl in b.request["resource_logs"]
        for sl in rl["scope_logs"]
        for r in sl["log_records"]
    )


# --- framing and successful answers ----------------------------------------------------


def test_binds_loopback_on_a_kernel_chosen_port(receiver: Receiver) -> None:
    assert receiver.url == f"http://127.0.0.1:{receiver.port}"
    assert receiver.port > 0


def test_chunked_protobuf_like_claude_code(receiver: Receiver, collector: Collector) -> None:
    body = pb_logs(20)
    chunks = [body[i : i + 7] for i in range(0, len(body), 7)]
    (response,) = raw_exchange(receiver, request_bytes(chunks=chunks))
    assert response.status == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert response.body == b""  # an empty ExportLogsServiceResponse
    assert collector.wait_for_records(20) == 20
    assert indexes(collector) == list(range(20))


def test_chunk_extensions_and_trailers_are_accepted(receiver: Receiver, collector: Collector) -> None:
    body = pb_logs(3)
    head = request_bytes(chunks=[])[: -len(b"0\r\n\r\n")]
    data = head + b"%x;name=value\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (len(body), body)
    (response,) = raw_exchange(receiver, data)
    assert response.status == 200
    assert collector.wait_for_records(3) == 3


def test_json_answer_is_an_empty_json_object(receiver: Receiver, collector: Collector) -> None:
    data = request_bytes(body=json_logs(5), content_type="application/json; charset=utf-8")
    (response,) = raw_exchange(receiver, data)
    assert (response.status, response.body) == (200, b"{}")
    assert response.headers["content-type"] == "application/json"
    assert collector.wait_for_records(5) == 5


@pytest.mark.parametrize(
    "path, response_type",
    [
        ("/v1/traces", trace_service_pb2.ExportTraceServiceResponse),
        ("/v1/metrics", metrics_service_pb2.ExportMetricsServiceResponse),
    ],
)
def test_json_answers_on_every_signal_are_empty_json_objects(
    receiver: Receiver, path: str, response_type: Any
) -> None:
    (response,) = raw_exchange(receiver, request_bytes(path, b"{}", content_type=JSON))
    assert (response.status, response.headers["content-type"], response.body) == (200, JSON, b"{}")
    assert json_format.Parse(response.body, response_type()) == response_type()  # partial_success unset


def test_pipelined_keep_alive_requests_on_one_connection(receiver: Receiver, collector: Collector) -> None:
    data = b"".join(request_bytes(body=pb_logs(10, start=10 * i)) for i in range(3))
    data += request_bytes(chunks=[json_logs(10, start=30)], content_type="application/json")
    responses = raw_exchange(receiver, data, responses=4)
    assert [r.status for r in responses] == [200, 200, 200, 200]
    assert collector.wait_for_records(40) == 40
    assert indexes(collector) == list(range(40))


@pytest.mark.parametrize(
    "encoding,compress",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("identity", lambda b: b),
    ],
)
def test_content_encodings(
    receiver: Receiver, collector: Collector, encoding: str, compress: Callable
) -> None:
    data = request_bytes(body=compress(pb_logs(8)), extra=(f"Content-Encoding: {encoding}",))
    (response,) = raw_exchange(receiver, data)
    assert response.status == 200
    assert collector.wait_for_records(8) == 8


def test_multi_member_gzip(receiver: Receiver, collector: Collector) -> None:
    body = pb_logs(4)
    half = len(body) // 2
    data = request_bytes(
        body=gzip.compress(body[:half]) + gzip.compress(body[half:]), extra=("Content-Encoding: gzip",)
    )
    assert raw_exchange(receiver, data)[0].status == 200
    assert collector.wait_for_records(4) == 4


def test_all_three_signals_and_stats(receiver: Receiver, collector: Collector) -> None:
    traces = encode_protobuf(
        "traces", {"resource_spans": [{"scope_spans": [{"spans": [{"name": "a"}, {"name": "b"}]}]}]}
    )
    metrics = encode_protobuf(
        "metrics",
        {
            "resource_metrics": [
                {
                    "scope_metrics": [
                        {
                            "metrics": [
                                {
                                    "name": "m",
                                    "gauge": {
                                        "data_points": [{"as_int": 1}, {"as_double": 2.0}, {"as_int": 3}]
                                    },
                                }
                            ]
                        }
                    ]
                }
            ]
        },
    )
    data = request_bytes("/v1/logs", pb_logs(1)) + request_bytes("/v1/traces", traces)
    data += request_bytes("/v1/metrics", metrics)
    assert [r.status for r in raw_exchange(receiver, data, 3)] == [200, 200, 200]
    assert collector.wait_for_records(6) == 6
    receiver.wait_idle(quiet=0.01)
    stats = receiver.stats.snapshot()
    assert stats["records"] == {"logs": 1, "traces": 2, "metrics": 3}
    assert stats["rejected"] == {}
    assert stats["bytes_received"] == stats["bytes_decoded"] == len(pb_logs(1)) + len(traces) + len(metrics)
    assert stats["requests"] == [
        {"signal": signal, "content_type": PROTOBUF, "status": 200, "count": 1}
        for signal in ("logs", "metrics", "traces")
    ]


def test_stats_count_json_and_every_rejection_by_reason(receiver: Receiver) -> None:
    chunked_head = request_bytes(chunks=[])[: -len(b"0\r\n\r\n")]
    gzipped = gzip.compress(json_logs(3))
    exchanges = [
        (request_bytes(body=json_logs(3), content_type=JSON), 200),
        (request_bytes(body=gzipped, content_type=JSON, extra=("Content-Encoding: gzip",)), 200),
        (request_bytes("/v1/profiles", pb_logs(1)), 404),
        (request_bytes("/v1/traces", method="PUT"), 405),
        (request_bytes("/v1/metrics", b"{}", content_type="text/plain"), 415),
        (request_bytes(body=pb_logs(1), extra=("Content-Encoding: br",)), 415),
        (chunked_head + b"zz\r\nabc\r\n0\r\n\r\n", 400),
        (request_bytes(body=b"not gzip", extra=("Content-Encoding: gzip",)), 400),
    ]
    assert [raw_exchange(receiver, data)[0].status for data, _ in exchanges] == [s for _, s in exchanges]
    stats = receiver.stats.snapshot()
    assert stats["rejected"] == {
        "not_found": 1,
        "method_not_allowed": 1,
        "unsupported_media_type": 1,
        "unsupported_encoding": 1,
        "bad_framing": 1,
        "bad_compression": 1,
    }
    assert {(r["signal"], r["content_type"], r["status"]): r["count"] for r in stats["requests"]} == {
        ("logs", JSON, 200): 2,
        ("unknown", PROTOBUF, 404): 1,
        ("traces", PROTOBUF, 405): 1,
        ("metrics", "other", 415): 1,
        ("logs", PROTOBUF, 415): 1,
        ("logs", PROTOBUF, 400): 2,
    }
    assert stats["records"] == {"logs": 6}
    # Bytes as sent: every body read, accepted or not; decoded: the accepted ones, inflated.
    assert stats["bytes_received"] == len(json_logs(3)) + len(gzipped) + len(b"not gzip")
    assert stats["bytes_decoded"] == 2 * len(json_logs(3))


def test_empty_request_is_a_success(receiver: Receiver, collector: Collector) -> None:
    (response,) = raw_exchange(receiver, request_bytes(body=b""))
    assert response.status == 200
    receiver.wait_idle(quiet=0.01)
    assert receiver.stats.snapshot()["records"] == {}


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong-token", TOKEN + "x", TOKEN[:-1]])
def test_missing_or_wrong_token_is_401_and_records_nothing(
    receiver: Receiver, collector: Collector, token
) -> None:
    (response,) = raw_exchange(receiver, request_bytes(body=pb_logs(3), token=token))
    assert response.status == 401
    receiver.wait_idle(quiet=0.01)
    assert collector.batches == []
    assert receiver.stats.snapshot()["rejected"] == {"unauthorized": 1}


# --- users trusted without the token (an agent run as another user, see peers.py) ---------

NOBODY = 65534
# An export from bash, which every user can run (the test's Python may sit in root's home).
EXPORT_FROM_BASH = r"""exec 3<>"/dev/tcp/127.0.0.1/$1"
printf '%s\r\n' 'POST /v1/logs HTTP/1.1' 'Host: 127.0.0.1' 'Content-Type: application/x-protobuf' \
  'Content-Length: 0' 'Connection: close' '' >&3
read -r version status rest <&3
echo "$status"
"""


def status_of_export_as(uid: int, receiver: Receiver) -> int:
    """The status an export without the token gets when a process running as `uid` sends it."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("sending as another user needs root on Linux")
    answer = subprocess.run(
        ["bash", "-c", EXPORT_FROM_BASH, "bash", str(receiver.port)],
        preexec_fn=(lambda: os.setuid(uid)) if uid != os.getuid() else None,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return int(answer.stdout)


def test_a_trusted_users_connections_need_no_token(make_receiver, collector: Collector) -> None:
    receiver = make_receiver(trusted_uids=[NOBODY])
    assert status_of_export_as(NOBODY, receiver) == 200
    assert status_of_export_as(os.getuid(), receiver) == 401  # anyone else still needs it
    assert receiver.stats.snapshot()["rejected"] == {"unauthorized": 1}


def test_without_trusted_users_every_connection_needs_the_token(receiver: Receiver) -> None:
    assert status_of_export_as(NOBODY, receiver) == 401


def test_the_kernel_names_the_owner_of_a_connections_client_end() -> None:
    if sys.platform != "linux":
        pytest.skip("/proc/net/tcp is Linux's")
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname()) as client:
            connection, _ = server.accept()
            assert peers.peer_uid(connection) == os.getuid()
            assert peers.peer_uid(client) == os.getuid()  # the server's end: ours too
    connection.close()
    assert peers.peer_uid(connection) is None  # closed: nothing to look up


def test_unknown_path_is_404(receiver: Receiver) -> None:
    (response,) = raw_exchange(receiver, request_bytes("/v1/profiles", pb_logs(1)))
    assert response.status == 404


def test_wrong_method_is_405(receiver: Receiver) -> None:
    (response,) = raw_exchange(receiver, request_bytes(method="GET"))
    assert response.status == 405
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize("content_type", ["text/plain", "application/grpc", ""])
def test_unsupported_content_type_is_415(receiver: Receiver, content_type: str) -> None:
    (response,) = raw_exchange(receiver, request_bytes(body=pb_logs(1), content_type=content_type))
    assert response.status == 415
    assert b"application/x-protobuf" in response.body


def test_unsupported_content_encoding_is_415(receiver: Receiver) -> None:
    data = request_bytes(body=pb_logs(1), extra=("Content-Encoding: br",))
    assert raw_exchange(receiver, data)[0].status == 415


def test_undecodable_protobuf_is_400_with_a_status_message(receiver: Receiver, collector: Collector) -> None:
    (response,) = raw_exchange(receiver, request_bytes(body=b"\x0a\xff\xff\xff\x0f"))
    assert response.status == 400
    status = status_pb2.Status()
    status.ParseFromString(response.body)
    assert status.code == 3 and "past the end" in status.message
    receiver.wait_idle(quiet=0.01)
    assert collector.batches == []
    assert receiver.stats.snapshot()["rejected"] == {"bad_data": 1}


def test_an_internal_error_is_a_counted_400_not_a_silent_drop(
    receiver: Receiver, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug of ours must not look like a dead receiver: a dropped connection makes exporters
    retry and stall the agent's exit, and would leave no trace for validation to report."""

    def broken(signal: str, content_type: str, data: bytes) -> Any:
        raise IndexError("a decoder bug")

    monkeypatch.setattr(receiver_module, "decode_body", broken)
    (response,) = raw_exchange(receiver, request_bytes(body=b""))
    assert response.status == 400
    status = status_pb2.Status()
    status.ParseFromString(response.body)
    assert status.message == "internal error: IndexError"
    assert receiver.stats.snapshot()["rejected"] == {"internal_error": 1}
    assert collector.batches == []


def test_undecodable_json_is_400_with_a_json_status(receiver: Receiver) -> None:
    data = request_bytes(body=b'{"resourceLogs": 5}', content_type="application/json")
    (response,) = raw_exchange(receiver, data)
    assert response.status == 400
    assert response.headers["content-type"] == "application/json"
    status = json.loads(response.body)
    assert status["code"] == 3 and "resourceLogs" in status["message"]


# Requests each error answer is for; google.rpc.Code: NOT_FOUND, UNIMPLEMENTED,
# RESOURCE_EXHAUSTED and INVALID_ARGUMENT.
ERROR_REQUESTS = {
    404: (lambda content_type: request_bytes("/v1/profiles", b"{}", content_type=content_type), 5),
    405: (lambda content_type: request_bytes(method="GET", content_type=content_type), 12),
    413: (lambda content_type: request_bytes(body=b"{}" + bytes(100), content_type=content_type), 8),
    415: (lambda content_type: request_bytes(content_type=content_type, extra=("Content-Encoding: br",)), 3),
}


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
@pytest.mark.parametrize("status", sorted(ERROR_REQUESTS))
def test_error_answers_are_rpc_statuses_in_the_request_content_type(
    make_receiver, content_type: str, status: int
) -> None:
    receiver = make_receiver(max_body=100)
    build, code = ERROR_REQUESTS[status]
    (response,) = raw_exchange(receiver, build(content_type))
    assert (response.status, response.headers["content-type"]) == (status, content_type)
    rpc = rpc_status(response)
    assert rpc.code == code and rpc.message


def test_corrupt_gzip_is_400(receiver: Receiver) -> None:
    data = request_bytes(body=gzip.compress(pb_logs(5))[:-12], extra=("Content-Encoding: gzip",))
    assert raw_exchange(receiver, data)[0].status == 400


def test_bad_data_keeps_the_connection_usable(receiver: Receiver, collector: Collector) -> None:
    data = request_bytes(body=b"\xff") + request_bytes(body=pb_logs(2))
    assert [r.status for r in raw_exchange(receiver, data, 2)] == [400, 200]
    assert collector.wait_for_records(2) == 2


def test_malformed_chunking_is_400(receiver: Receiver) -> None:
    head = request_bytes(chunks=[])[: -len(b"0\r\n\r\n")]
    assert raw_exchange(receiver, head + b"zz\r\nabc\r\n0\r\n\r\n")[0].status == 400


@pytest.mark.parametrize(
    "size, last",
    [
        (b"0x%x", b"0"),
        (b"+%x", b"0"),
        (b"0_%x", b"0"),
        (b" %x", b"0"),
        (b"\t%x", b"0"),
        (b"%x", b"-0"),
        (b"%x", b"+0"),
        (b"%x", b"0x0"),
        (b"%x", b" 0"),
    ],
)
def test_a_chunk_size_that_is_not_hex_digits_is_bad_framing(
    receiver: Receiver, collector: Collector, size: bytes, last: bytes
) -> None:
    """chunk-size is 1*HEXDIG (RFC 9112 7.1). int(x, 16) takes "0x", a sign, "_" and leading
    whitespace too: each of these chunk streams was read, the body's length, and answered 200."""
    body = pb_logs(2)
    head = request_bytes(chunks=[])[: -len(b"0\r\n\r\n")]
    data = head + size % len(body) + b"\r\n" + body + b"\r\n" + last + b"\r\n\r\n"
    (response,) = raw_exchange(receiver, data)
    assert response is not None and response.status == 400
    receiver.wait_idle(quiet=0.01)
    assert receiver.stats.snapshot()["rejected"] == {"bad_framing": 1}
    assert collector.batches == []


@pytest.mark.parametrize(
    "coding", [b"\x0bchunked", b"chunked\x0c", b"\x1cchunked", b"\x85chunked", b"\xa0chunked"]
)
def test_a_transfer_coding_is_read_as_sent(receiver: Receiver, coding: bytes) -> None:
    """str.strip() takes these for whitespace, and took each for "chunked"; a field's optional
    whitespace (space and tab) is gone once the head is read, and nothing else is."""
    data = request_bytes(chunks=[pb_logs(1)])
    data = data.replace(b"Transfer-Encoding: chunked", b"Transfer-Encoding: " + coding)
    (response,) = raw_exchange(receiver, data)
    assert response is not None and response.status == 400
    assert receiver.stats.snapshot()["rejected"] == {"bad_framing": 1}


# --- limits ------------------------------------------------------------------------------


def test_body_one_byte_over_the_limit_is_413(make_receiver, collector: Collector) -> None:
    body = pb_logs(50, text="y" * 100)
    receiver = make_receiver(max_body=len(body))
    assert raw_exchange(receiver, request_bytes(body=body))[0].status == 200
    data = request_bytes(body=body + b"\x00")  # Content-Length one past the limit
    assert raw_exchange(receiver, data)[0].status == 413
    chunks = [body[:100], body[100:], b"\x00"]  # chunked: one past the limit
    assert raw_exchange(receiver, request_bytes(chunks=chunks))[0].status == 413
    assert collector.wait_for_records(50) == 50
    receiver.wait_idle(quiet=0.01)
    assert receiver.stats.snapshot()["rejected"] == {"too_large": 2}


def test_default_body_limit_refuses_before_reading(receiver: Receiver) -> None:
    head = (
        f"POST /v1/logs HTTP/1.1\r\nContent-Type: application/x-protobuf\r\nx-beacon-token: {TOKEN}\r\n"
        f"Content-Length: {32 * MiB + 1}\r\n\r\n"
    ).encode()
    with raw_connect(receiver) as sock:
        sock.sendall(head)  # no body at all: the answer must not wait for it
        response = read_response(sock.makefile("rb"))
    assert response is not None and response.status == 413


def test_gzip_bomb_is_413_without_inflating_it(make_receiver) -> None:
    receiver = make_receiver(max_decoded=1 * MiB)
    bomb = gzip.compress(b"\x00" * (16 * MiB))
    assert len(bomb) < 32 * 1024
    data = request_bytes(body=bomb, extra=("Content-Encoding: gzip",))
    assert raw_exchange(receiver, data)[0].status == 413
    exact = pb_logs_of_size(MiB)  # exactly the limit inflates and decodes
    data = request_bytes(body=gzip.compress(exact), extra=("Content-Encoding: gzip",))
    assert raw_exchange(receiver, data)[0].status == 200


def test_four_gzip_bombs_at_once_cost_a_few_chunks_not_the_limit(receiver: Receiver) -> None:
    """The default 64 MiB limit: inflating each bomb up to it before refusing would hold 256 MiB."""
    bomb = gzip.compress(b"\x00" * (80 * MiB), compresslevel=1)
    data = request_bytes(body=bomb, extra=("Content-Encoding: gzip",))
    statuses: List[int] = []
    tracemalloc.start()
    try:
        threads = [
            threading.Thread(target=lambda: statuses.append(raw_exchange(receiver, data)[0].status))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert statuses == [413] * 4
    assert peak < 8 * MiB, f"{peak / MiB:.1f} MiB"  # four bodies and a chunk each, in every thread
    assert raw_exchange(receiver, request_bytes(body=pb_logs(3)))[0].status == 200


def test_inflate_holds_one_chunk_of_a_bomb() -> None:
    bomb = gzip.compress(b"\x00" * (40 * MiB), compresslevel=1)
    tracemalloc.start()
    try:
        with pytest.raises(http11.Reject) as refused:
            http11.inflate(bomb, "gzip", 16 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert refused.value.status == 413 and peak < 2 * MiB, f"{peak / MiB:.1f} MiB"


@pytest.mark.parametrize(
    "body, inflated",
    [
        (gzip.compress(b"one") + gzip.compress(b"two"), b"onetwo"),  # members follow one another
        (gzip.compress(b"one") + gzip.compress(b""), b"one"),  # an empty member ends at once
        (zlib.compress(b"x" * 300_000), b"x" * 300_000),  # output longer than a chunk
        (b"", None),
        (gzip.compress(b"abc")[:-6], None),  # cut short
        (gzip.compress(b"abc") + b"junk", None),
    ],
)
def test_inflate_streams_and_checks(body: bytes, inflated: Optional[bytes]) -> None:
    encoding = "deflate" if body[:1] == b"x" else "gzip"
    if inflated is None:
        with pytest.raises(http11.Reject) as refused:
            http11.inflate(body, encoding, MiB)
        assert refused.value.status == 400
    else:
        assert http11.inflate(body, encoding, MiB) == inflated


def test_element_limit_is_413(receiver: Receiver) -> None:
    from beacon_otlp import MAX_ELEMENTS

    body = b"\x0a\x00" * (MAX_ELEMENTS + 1)  # that many empty ResourceLogs
    assert raw_exchange(receiver, request_bytes(body=body))[0].status == 413


@pytest.mark.parametrize("content_type, encode", [(PROTOBUF, encode_protobuf), (JSON, encode_json)])
def test_nesting_too_deep_is_bad_data(
    receiver: Receiver, collector: Collector, content_type: str, encode: Callable
) -> None:
    """Too deep is not too large (the spec's 413 is about sizes): 400, as the reference parsers
    reject what nests past their own depth limits."""
    body: Any = "x"
    for _ in range(DEEPEST["array"] + 1):
        body = [body]
    data = encode("logs", {"resource_logs": [{"scope_logs": [{"log_records": [{"body": body}]}]}]})
    (response,) = raw_exchange(receiver, request_bytes(body=data, content_type=content_type))
    assert response.status == 400
    status = rpc_status(response)
    assert (status.code, status.message) == (3, f"nesting deeper than {MAX_DEPTH} levels")
    assert receiver.stats.snapshot()["rejected"] == {"too_deep": 1}
    assert collector.batches == []


# --- faults -------------------------------------------------------------------------------


def test_client_that_disconnects_mid_body(receiver: Receiver, collector: Collector) -> None:
    data = request_bytes(body=pb_logs(10))
    with raw_connect(receiver) as sock:
        sock.sendall(data[: len(data) - 5])
    assert receiver.wait_for(lambda: receiver.stats.snapshot()["rejected"] == {"disconnected": 1}, timeout=10)
    assert raw_exchange(receiver, request_bytes(body=pb_logs(2)))[0].status == 200
    assert collector.wait_for_records(2) == 2


def test_slowloris_does_not_block_other_clients_and_is_cut_off(make_receiver, collector: Collector) -> None:
    receiver = make_receiver(read_timeout=0.5)
    slow = raw_connect(receiver)
    try:
        slow.sendall(request_bytes(body=pb_logs(10))[:-20])  # then silence
        assert raw_exchange(receiver, request_bytes(body=pb_logs(3)))[0].status == 200
        assert collector.wait_for_records(3) == 3
        slow.settimeout(10)
        assert slow.recv(1024) == b""  # the read timeout closed the silent connection
    finally:
        slow.close()
    receiver.wait_idle(quiet=0.01)
    assert receiver.stats.snapshot()["rejected"] == {"timeout": 1}


def trickle(sock: socket.socket, data: bytes, interval: float = 0.05) -> Optional[bytes]:
    """Send `data` a byte per `interval` (each well within the read timeout), watching between
    bytes for the server to close the connection. Returns what it sent before closing, or None
    if it never closed."""
    received = b""
    sock.settimeout(interval)
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
            while True:
                chunk = sock.recv(1024)
                if not chunk:
                    return received
                received += chunk
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return received
    return None


def test_body_trickling_client_meets_the_request_deadline(make_receiver, collector: Collector) -> None:
    receiver = make_receiver(read_timeout=5, request_deadline=0.5)
    data = request_bytes(body=pb_logs(10))
    with raw_connect(receiver) as sock:
        sock.sendall(data[:-40])
        assert trickle(sock, data[-40:]) == b""  # 2 s of bytes: cut off without a 200
    assert collector.batches == []


def test_header_trickling_client_meets_the_request_deadline(make_receiver, collector: Collector) -> None:
    """The deadline covers the request line and headers too: a client that trickles header
    bytes cannot hold a connection thread, nor with 255 others every connection slot."""
    receiver = make_receiver(read_timeout=5, request_deadline=0.5)
    with raw_connect(receiver) as sock:
        sock.sendall(b"POST /v1/logs HTTP/1.1\r\n")
        assert raw_exchange(receiver, request_bytes(body=pb_logs(3)))[0].status == 200
        assert trickle(sock, b"X-Slow: " + b"a" * 400 + b"\r\n") == b""  # 20 s of bytes: cut off
    assert collector.wait_for_records(3) == 3
    assert receiver.stats.snapshot()["rejected"] == {"timeout": 1}


def test_fifty_concurrent_exporters(receiver: Receiver, collector: Collector) -> None:
    errors: List[BaseException] = []

    def exporter(n: int) -> None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=30)
            for k in range(4):
                start = (n * 4 + k) * 10
                conn.request(
                    "POST",
                    "/v1/logs",
                    body=pb_logs(10, start=start),
                    headers={"Content-Type": "application/x-protobuf", "x-beacon-token": TOKEN},
                )
                response = conn.getresponse()
                response.read()
                assert response.status == 200
            conn.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=exporter, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert collector.wait_for_records(2000) == 2000
    assert indexes(collector) == list(range(2000))


# --- shutdown -----------------------------------------------------------------------------


def test_stop_drains_everything_accepted_even_from_a_slow_consumer() -> None:
    release = threading.Event()
    seen: List[Batch] = []

    def slow_consumer(batch: Batch) -> None:
        release.wait(10)
        seen.append(batch)

    receiver = Receiver(slow_consumer, token=TOKEN).start()
    stopper = threading.Thread(target=receiver.stop)
    try:
        data = b"".join(request_bytes(body=pb_logs(5, start=5 * i)) for i in range(20))
        assert [r.status for r in raw_exchange(receiver, data, 20)] == [200] * 20  # answered before consumed
        stopper.start()
        assert receiver.wait_for(lambda: not receiver.accepting, timeout=10)
        assert seen == []  # stop() is under way with the whole backlog still queued
        release.set()
        stopper.join(30)
        assert not stopper.is_alive()
    finally:
        release.set()
        receiver.stop()
    assert sum(b.records for b in seen) == 100


def test_consumer_errors_do_not_lose_later_batches() -> None:
    seen: List[Batch] = []

    def flaky(batch: Batch) -> None:
        if not seen:
            seen.append(batch)
            raise RuntimeError("disk full")
        seen.append(batch)

    with Receiver(flaky, token=TOKEN) as receiver:
        data = b"".join(request_bytes(body=pb_logs(1, start=i)) for i in range(3))
        assert [r.status for r in raw_exchange(receiver, data, 3)] == [200, 200, 200]
    assert len(seen) == 3
    assert receiver.stats.snapshot()["consumer_errors"] == 1
    assert isinstance(receiver.consumer_error, RuntimeError)


def test_request_in_flight_at_stop_is_not_acknowledged(make_receiver, collector: Collector) -> None:
    receiver = make_receiver(read_timeout=30)
    data = request_bytes(body=pb_logs(10))
    with raw_connect(receiver) as sock:
        sock.sendall(data[:-10])
        assert receiver.wait_for(lambda: receiver.in_flight == 1, timeout=10)  # its body is being read
        receiver.stop(in_flight_timeout=0.2)
        try:
            sock.sendall(data[-10:])
            answer = sock.recv(1024)
        except OSError:
            answer = b""
    assert b"200 OK" not in answer
    assert collector.batches == []


def test_after_stop_the_port_refuses_connections(receiver: Receiver) -> None:
    port = receiver.port
    receiver.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_idle_keep_alive_connections_are_closed_at_stop(receiver: Receiver) -> None:
    sock = raw_connect(receiver)
    try:
        sock.sendall(request_bytes(body=pb_logs(1)))
        stream = sock.makefile("rb")
        assert read_response(stream).status == 200
        receiver.stop()
        assert stream.read(1) == b""
    finally:
        sock.close()


def test_ipv6_loopback(collector: Collector) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        receiver = Receiver(collector, token=TOKEN, host="::1").start()
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    try:
        assert receiver.url == f"http://[::1]:{receiver.port}"
        conn = http.client.HTTPConnection("::1", receiver.port, timeout=10)
        conn.request(
            "POST",
            "/v1/logs",
            body=pb_logs(2),
            headers={"Content-Type": "application/x-protobuf", "x-beacon-token": TOKEN},
        )
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        receiver.stop()
    assert collector.records == 2


# Claude Code's whole exit flush has 2 s: an answer held by backpressure must come well within.
EXIT_FLUSH_BUDGET = 2.0


def test_a_flood_waits_for_a_slow_consumer_at_most_the_backpressure_cap() -> None:
    release = threading.Event()
    seen: List[Batch] = []

    def slow_consumer(batch: Batch) -> None:
        release.wait(30)
        seen.append(batch)

    receiver = Receiver(slow_consumer, token=TOKEN, max_queued_bytes=1).start()
    assert receiver.backpressure_timeout == 1.0
    try:
        assert raw_exchange(receiver, request_bytes(body=pb_logs(5)))[0].status == 200  # fills the queue
        started = time.monotonic()
        (response,) = raw_exchange(receiver, request_bytes(body=pb_logs(5, start=5)))
        held = time.monotonic() - started
        assert seen == []  # the consumer never caught up: the cap ended the hold
        assert response.status == 200
        assert receiver.backpressure_timeout <= held < EXIT_FLUSH_BUDGET
    finally:
        release.set()
        receiver.stop()
    assert sum(b.records for b in seen) == 10


def test_backpressure_never_refuses_a_request() -> None:
    release = threading.Event()
    receiver = Receiver(
        lambda batch: release.wait(30), token=TOKEN, max_queued_bytes=1, backpressure_timeout=0.05
    ).start()
    try:
        data = b"".join(request_bytes(body=pb_logs(2, start=2 * i)) for i in range(3))
        assert [r.status for r in raw_exchange(receiver, data, 3)] == [200, 200, 200]
    finally:
        release.set()
        receiver.stop()
    assert receiver.stats.snapshot()["records"] == {"logs": 6}


def test_past_the_hard_bound_an_answer_waits_for_the_consumer_however_long() -> None:
    """A flood cannot grow the queue without limit: past hard_queued_bytes the exporter's answer
    is held until the consumer has made room, then it is 200; nothing is dropped."""
    release = threading.Event()
    seen: List[Batch] = []

    def stuck_consumer(batch: Batch) -> None:
        release.wait(30)
        seen.append(batch)

    receiver = Receiver(
        stuck_consumer, token=TOKEN, max_queued_bytes=1, hard_queued_bytes=1, backpressure_timeout=0.05
    ).start()
    answers: List[Optional[RawResponse]] = []
    try:
        assert raw_exchange(receiver, request_bytes(body=pb_logs(3)))[0].status == 200
        second = threading.Thread(
            target=lambda: answers.extend(raw_exchange(receiver, request_bytes(body=pb_logs(3, start=3))))
        )
        second.start()
        assert receiver.wait_for(lambda: receiver.in_flight == 1 and receiver.queued_bytes > 0, 10)
        second.join(20 * receiver.backpressure_timeout)  # far past the soft cap: still held
        assert second.is_alive() and answers == []
        release.set()
        second.join(10)
        assert [answer.status for answer in answers if answer] == [200]
    finally:
        release.set()
        receiver.stop()
    assert sum(batch.records for batch in seen) == 6
    assert receiver.queued_bytes == 0


# --- the request head: every request gets an HTTP/1.1 answer from the contract ----------------


@pytest.mark.parametrize(
    "head",
    [
        b"POST /v1/logs HTTP/2.0\r\n",
        b"POST /v1/logs HTTP/9.9\r\n",
        b"PRI * HTTP/2.0\r\n",
        b"POST /v1/logs\r\n",
        b"POST /v1/logs HTTP/3\r\n",
        b"POST  /v1/logs HTTP/1.1\r\n",
        b" \r\n",
        b"POST /v1/logs HTTP/1.1\r\nno colon here\r\n",
        b"POST /v1/logs HTTP/1.1\r\nX-Folded: a\r\n  b\r\n",
        b"POST /v1/logs HTTP/1.1\r\nBad Name: x\r\n",
    ],
)
def test_a_malformed_request_head_is_a_counted_400_that_closes(receiver: Receiver, head: bytes) -> None:
    with raw_connect(receiver) as sock:
        sock.sendall(head + b"Content-Length: 0\r\n\r\n")
        stream = sock.makefile("rb")
        response = read_response(stream)
        assert response is not None and response.status == 400
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.headers["connection"] == "close"
        assert stream.read(1) == b""  # what follows a head beacon cannot read cannot be framed
    assert receiver.stats.snapshot()["rejected"] == {"bad_request": 1}


@pytest.mark.parametrize("method", ["FOO", "TRACE", "CONNECT", "post", "PRI"])
def test_any_method_token_gets_the_contract_answer(receiver: Receiver, method: str) -> None:
    (response,) = raw_exchange(receiver, request_bytes(body=pb_logs(1), method=method))
    assert response is not None and response.status == 405
    assert response.headers["allow"] == "POST"


def test_empty_lines_before_a_request_line_are_ignored(receiver: Receiver, collector: Collector) -> None:
    (response,) = raw_exchange(receiver, b"\r\n\r\n" + request_bytes(body=pb_logs(2)))
    assert response is not None and response.status == 200
    assert collector.wait_for_records(2) == 2


def test_a_request_line_over_the_limit_is_400(receiver: Receiver) -> None:
    path = "/v1/logs?" + "x" * http11.MAX_LINE_BYTES
    (response,) = raw_exchange(receiver, request_bytes(path=path, body=pb_logs(1)))
    assert response is not None and response.status == 400


def test_too_many_header_fields_is_400(receiver: Receiver) -> None:
    extra = tuple(f"X-{n}: {n}" for n in range(http11.MAX_HEADERS))
    (response,) = raw_exchange(receiver, request_bytes(body=pb_logs(1), extra=extra))
    assert response is not None and response.status == 400


@pytest.mark.parametrize(
    "length",
    [b"\xb2", b"+1", b"1_0", b"0x10", "\u0661".encode(), b"\x0b0", b"0\x0c", b"\x1c0", b"\x850", b"\xa00"],
)
def test_a_content_length_that_is_not_ascii_digits_is_bad_framing(receiver: Receiver, length: bytes) -> None:
    """Latin-1 b"\\xb2" reads as "²", which str.isdigit() takes for a digit and int() refuses;
    str.strip() takes b"\\x0b", b"\\x85" and b"\\xa0" (latin-1 NBSP) for whitespace, which a field's
    optional whitespace (space and tab) is not."""
    data = request_bytes(body=b"").replace(b"Content-Length: 0", b"Content-Length: " + length)
    (response,) = raw_exchange(receiver, data)
    assert response is not None and response.status == 400
    assert receiver.stats.snapshot()["rejected"] == {"bad_framing": 1}


def test_a_content_length_of_thousands_of_digits_is_read(receiver: Receiver, collector: Collector) -> None:
    """int() refuses a string of over 4300 digits, leading zeros included: such a Content-Length
    was an internal error. Leading zeros change nothing; a length past every limit is 413."""
    body = pb_logs(2)
    length = b"Content-Length: %d" % len(body)
    zeros = request_bytes(body=body).replace(length, b"Content-Length: " + b"0" * 5000 + b"%d" % len(body))
    assert raw_exchange(receiver, zeros)[0].status == 200
    nines = request_bytes(body=b"").replace(b"Content-Length: 0", b"Content-Length: " + b"9" * 5000)
    assert raw_exchange(receiver, nines)[0].status == 413
    assert collector.wait_for_records(2) == 2
    assert receiver.stats.snapshot()["rejected"] == {"too_large": 1}


@pytest.mark.parametrize("chunks", [None, [pb_logs(1)]])
def test_a_repeated_framing_field_is_bad_framing(receiver: Receiver, chunks: Optional[List[bytes]]) -> None:
    """Two framings of one body could be read two ways (request smuggling): neither is guessed."""
    field = "Content-Length: 0" if chunks is None else "Transfer-Encoding: chunked"
    (response,) = raw_exchange(receiver, request_bytes(body=b"", chunks=chunks, extra=(field,)))
    assert response is not None and response.status == 400
    assert receiver.stats.snapshot()["rejected"] == {"bad_framing": 1}


@pytest.mark.parametrize("length", [0, 5, None])  # None: the length of the chunked body
def test_content_length_with_transfer_encoding_is_bad_framing_and_closes(
    receiver: Receiver, collector: Collector, length: Optional[int]
) -> None:
    """A body framed both ways could be read two ways (request smuggling). It was read as chunked
    and the connection went on, to read what follows by that guess; RFC 9112 6.3 says a server
    must close after answering such a request, and lets it refuse one: 400, and closed."""
    body = pb_logs(2)
    declared = len(body) if length is None else length
    first = request_bytes(chunks=[body], extra=(f"Content-Length: {declared}",))
    with raw_connect(receiver) as sock:
        sock.sendall(first + request_bytes(body=pb_logs(3)))
        stream = sock.makefile("rb")
        response = read_response(stream)
        assert response is not None and response.status == 400
        assert response.headers["connection"] == "close"
        assert stream.read(1) == b""  # the second request is never read
    assert receiver.stats.snapshot()["rejected"] == {"bad_framing": 1}
    assert collector.batches == []


def test_transfer_encoding_in_http_1_0_is_bad_framing_and_closes(
    receiver: Receiver, collector: Collector
) -> None:
    """RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing, and the
    connection closes after it. With Connection: keep-alive it was read as chunked and kept."""
    first = request_bytes(chunks=[pb_logs(2)], extra=("Connection: keep-alive",))
    first = first.replace(b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", 1)
    with raw_connect(receiver) as sock:
        sock.sendall(first + request_bytes(body=pb_logs(3)))
        stream = sock.makefile("rb")
        response = read_response(stream)
        assert response is not None and response.status == 400
        assert response.headers["connection"] == "close"
        assert stream.read(1) == b""
    assert receiver.stats.snapshot()["rejected"] == {"bad_framing": 1}
    assert collector.batches == []


def test_answers_carry_a_date_and_the_server_name(receiver: Receiver) -> None:
    (response,) = raw_exchange(receiver, request_bytes(body=pb_logs(1)))
    assert response is not None and response.headers["server"] == "beacon"
    assert time.strptime(response.headers["date"], "%a, %d %b %Y %H:%M:%S GMT")


def test_expect_100_continue_is_answered_before_the_body(receiver: Receiver, collector: Collector) -> None:
    body = pb_logs(3)
    head, _, _ = request_bytes(body=body, extra=("Expect: 100-continue",)).partition(b"\r\n\r\n")
    with raw_connect(receiver) as sock:
        sock.sendall(head + b"\r\n\r\n")
        stream = sock.makefile("rb")
        assert stream.readline() == b"HTTP/1.1 100 Continue\r\n" and stream.readline() == b"\r\n"
        sock.sendall(body)
        response = read_response(stream)
    assert response is not None and response.status == 200
    assert collector.wait_for_records(3) == 3


# --- the drain: exact, with no quiet period ----------------------------------------------------


def test_wait_idle_counts_a_connection_still_in_the_listen_backlog(
    receiver: Receiver, collector: Collector
) -> None:
    """A client that sent its last export and exited before beacon accepted the connection:
    the export is in the backlog, and the drain must wait for it."""
    entered, gate = threading.Event(), threading.Event()
    accept = receiver._server.get_request

    def held_accept() -> Any:
        entered.set()
        gate.wait(10)
        return accept()

    receiver._server.get_request = held_accept  # type: ignore[method-assign]
    try:
        with raw_connect(receiver) as sock:
            sock.sendall(request_bytes(body=pb_logs(4)))
        assert entered.wait(10)  # the serve loop saw the connection and has not accepted it
        assert not receiver.wait_idle(quiet=0, timeout=0.2, until_disconnected=True)
    finally:
        gate.set()
    assert receiver.wait_idle(quiet=0, timeout=10, until_disconnected=True)
    receiver.stop()
    assert sum(b.records for b in collector.batches) == 4


# --- clients without the token cannot take the slots ---------------------------------------


def slow_sockets(receiver: Receiver, count: int) -> List[socket.socket]:
    """Connections that begin a request head and never finish it (each would trickle a byte
    now and then), as a local process without the token could open by the hundred."""
    sockets = []
    for _ in range(count):
        sock = raw_connect(receiver)
        sock.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\n")
        sockets.append(sock)
    return sockets


def test_slow_clients_without_the_token_do_not_keep_out_an_exporter(
    make_receiver, collector: Collector
) -> None:
    receiver = make_receiver(max_connections=32, max_unauthenticated=8, unauthenticated_deadline=60)
    held = slow_sockets(receiver, 100)  # more than every slot the receiver has
    try:
        with raw_connect(receiver, timeout=5) as sock:  # an exporter served at once, not after 60 s
            sock.sendall(request_bytes(body=pb_logs(3)) * 2)  # two requests: it keeps its slot
            stream = sock.makefile("rb")
            assert [read_response(stream).status for _ in range(2)] == [200, 200]  # type: ignore[union-attr]
            held += slow_sockets(receiver, 20)  # newer slow clients push out older ones, not it
            sock.sendall(request_bytes(body=pb_logs(3)))
            assert read_response(stream).status == 200  # type: ignore[union-attr]
    finally:
        for sock in held:
            sock.close()
    assert collector.wait_for_records(9) == 9


def test_a_connection_without_the_token_gets_a_short_deadline(make_receiver) -> None:
    receiver = make_receiver(unauthenticated_deadline=0.5, read_timeout=30)
    with raw_connect(receiver, timeout=10) as silent, raw_connect(receiver, timeout=10) as trickling:
        trickling.sendall(b"POST /v1/logs HTTP/1.1\r\n")
        assert silent.recv(1) == b"" and trickling.recv(1) == b""  # closed long before 30 s
    with raw_connect(receiver, timeout=10) as exporter:  # one with the token keeps the usual ones
        stream = exporter.makefile("rb")
        exporter.sendall(request_bytes(body=pb_logs(1)))
        assert read_response(stream).status == 200  # type: ignore[union-attr]
        exporter.sendall(request_bytes(body=pb_logs(1))[:20])
        exporter.settimeout(1.5)
        with pytest.raises(socket.timeout):  # not cut off at 0.5 s: it showed the token
            exporter.recv(1)


@pytest.mark.parametrize("encoding", ["\x0bgzip", "gzip\x0c", "\xa0gzip"])
def test_a_content_coding_with_odd_whitespace_is_unsupported(receiver: Receiver, encoding: str) -> None:
    data = request_bytes(body=gzip.compress(pb_logs(1)), extra=(f"Content-Encoding: {encoding}",))
    assert (
        raw_exchange(receiver, data.replace(encoding.encode(), encoding.encode("latin-1")))[0].status == 415
    )
