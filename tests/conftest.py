from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agents import RawExport, record_exports  # noqa: E402

# The export stores and the strict HEC endpoint, as fixtures for every test module.
from export_servers import aws_env, gcs_emulator, hec, moto_url, s3  # noqa: E402, F401
from protobuf_by_hand import I32, I64, LEN, VARINT, len_field, tag, varint  # noqa: E402, F401

from beacon_otlp import MAX_DEPTH, Batch, Receiver  # noqa: E402

TOKEN = "test-token_0123456789abcdef"


class Collector:
    """A receiver consumer that keeps every batch and lets a test wait for a record count."""

    def __init__(self) -> None:
        self.batches: List[Batch] = []
        self._changed = threading.Condition()

    def __call__(self, batch: Batch) -> None:
        with self._changed:
            self.batches.append(batch)
            self._changed.notify_all()

    @property
    def records(self) -> int:
        with self._changed:
            return sum(b.records for b in self.batches)

    def wait_for_records(self, n: int, timeout: float = 10.0) -> int:
        with self._changed:
            self._changed.wait_for(lambda: sum(b.records for b in self.batches) >= n, timeout)
            return sum(b.records for b in self.batches)


@pytest.fixture
def collector() -> Collector:
    return Collector()


# The containers of a decoded request, outermost first, per signal.
CONTAINERS = {
    "logs": ("resource_logs", "scope_logs", "log_records"),
    "traces": ("resource_spans", "scope_spans", "spans"),
    "metrics": ("resource_metrics", "scope_metrics", "metrics"),
}


def scoped(
    batches: Iterable[Batch], signal: str
) -> Iterator[Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Any]]]:
    """(resource, scope, item) for every log record, span or metric of that signal, in arrival order."""
    resources, scopes, items = CONTAINERS[signal]
    for batch in batches:
        if batch.signal == signal:
            for resource in batch.request[resources]:
                for scope in resource[scopes]:
                    for item in scope[items]:
                        yield resource["resource"], scope["scope"], item


@pytest.fixture
def make_receiver(collector: Collector) -> Iterator[Callable[..., Receiver]]:
    """Start receivers with the collector as consumer; every one is stopped after the test, and
    must never have answered 429 or 5xx (exporters retry those and stall an agent's exit)."""
    started: List[Receiver] = []

    def make(**options: object) -> Receiver:
        options.setdefault("token", TOKEN)
        receiver = Receiver(options.pop("consumer", collector), **options)  # type: ignore[arg-type]
        started.append(receiver)
        return receiver.start()

    yield make
    for receiver in started:
        receiver.stop()
    for receiver in started:
        retryable = [
            r for r in receiver.stats.snapshot()["requests"] if r["status"] == 429 or r["status"] >= 500
        ]
        assert retryable == [], "the receiver answered 429 or 5xx"


@pytest.fixture
def receiver(make_receiver: Callable[..., Receiver]) -> Receiver:
    return make_receiver()


# --- a raw HTTP/1.1 client, for what http.client will not send -------------------------


class RawResponse:
    def __init__(self, status: int, headers: Dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body


def raw_connect(receiver: Receiver, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", receiver.port), timeout=timeout)


def read_response(stream) -> Optional[RawResponse]:  # type: ignore[no-untyped-def]
    """Read one response from a socket file; None when the server closed the connection."""
    line = stream.readline()
    if not line:
        return None
    status = int(line.split()[1])
    headers: Dict[str, str] = {}
    while True:
        line = stream.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return RawResponse(status, headers, body)


def request_bytes(
    path: str = "/v1/logs",
    body: bytes = b"",
    content_type: str = "application/x-protobuf",
    token: Optional[str] = TOKEN,
    chunks: Optional[List[bytes]] = None,
    extra: Tuple[str, ...] = (),
    method: str = "POST",
) -> bytes:
    """One HTTP/1.1 request as bytes: Content-Length framing, or chunked when `chunks` is given."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}"]
    if token is not None:
        lines.append(f"x-beacon-token: {token}")
    lines.extend(extra)
    if chunks is None:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    else:
        lines.append("Transfer-Encoding: chunked")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def raw_exchange(receiver: Receiver, data: bytes, responses: int = 1) -> List[Optional[RawResponse]]:
    with raw_connect(receiver) as sock:
        sock.sendall(data)
        stream = sock.makefile("rb")
        return [read_response(stream) for _ in range(responses)]


@pytest.fixture
def raw_exports(monkeypatch: pytest.MonkeyPatch) -> List[RawExport]:
    """Every OTLP export the test's receivers read, as sent (the agents' golden fixtures)."""
    return record_exports(monkeypatch)


# --- the deepest nesting the decoders accept -------------------------------------------------

BODY_DEPTH = 4  # the request is level 0, then ResourceLogs, ScopeLogs, LogRecord, and its body
# Levels per nesting: AnyValue > ArrayValue > AnyValue, and AnyValue > KeyValueList > KeyValue > AnyValue.
LEVEL_COST = {"array": 2, "kvlist": 3}
# Arrays or kvlists, one inside the other, that a log record's body may hold.
DEEPEST = {kind: (MAX_DEPTH - BODY_DEPTH) // cost for kind, cost in LEVEL_COST.items()}


@pytest.fixture(scope="session")
def captures(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """Each real agent's recorded session through `beacon ci exec --html`, once for the test run:
    the HTML report's tests and its browser tests read the same pages."""
    from test_html_report import AGENTS, replayed

    runs = {}
    for agent in AGENTS:
        run = replayed(tmp_path_factory.mktemp(agent), agent)
        assert run.code == 0, run.stderr
        runs[agent] = run
    return runs
