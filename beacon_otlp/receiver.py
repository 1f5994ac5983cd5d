"""A loopback OTLP/HTTP receiver: socketserver threads and the HTTP/1.1 reader of http11.

Each connection has its own thread that reads, authenticates, decompresses and decodes a
request and answers at once; decoded batches go through a queue to one consumer thread, so a
slow consumer (a disk) does not slow an exporter. The queue is bounded by the decoded bytes it
holds: past max_queued_bytes an answer waits for room, at most backpressure_timeout (1 s, well
within Claude Code's 2 s exit flush); past hard_queued_bytes it waits as long as it takes, so a
flood cannot grow memory without limit. Answers follow the OTLP/HTTP specification and never
use the retryable codes 429/502/503/504, which would stall an agent's exit flush.
"""

from __future__ import annotations

import hmac
import io
import json
import queue
import select
import selectors
import socket
import socketserver
import threading
import time
from collections import Counter
from typing import Any, Callable, Collection, Dict, NamedTuple, Optional, Set, Tuple, Type

from .http11 import (
    WBITS,
    BadRequest,
    Drop,
    Headers,
    MiB,
    Reject,
    RequestReader,
    declared_length,
    inflate,
    read_body,
    read_head,
    send,
)
from .limits import DecodeError, LimitError, NestingError
from .peers import peer_uid
from .threads import background_thread

TOKEN_HEADER = "x-beacon-token"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
PATHS = {"/v1/logs": "logs", "/v1/traces": "traces", "/v1/metrics": "metrics"}
DECODED_TYPES = (PROTOBUF, JSON)
# google.rpc.Code values carried in error bodies, by HTTP status.
_RPC_CODES = {400: 3, 401: 16, 404: 5, 405: 12, 413: 8, 415: 3}


class Batch(NamedTuple):
    """One accepted export request, decoded."""

    signal: str  # logs | traces | metrics
    request: Dict[str, Any]  # the plain shape (see beacon_otlp.shape)
    content_type: str
    records: int  # log records, spans or metric data points
    received_at: float  # wall clock, seconds
    size: int = 0  # decoded body bytes: what it counts for in the receiver's queue


class ReceiverStats:
    """What the receiver saw. Thread-safe; read a consistent copy with snapshot()."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter = Counter()  # (signal or path, content type, status) -> n
        self.records: Counter = Counter()  # signal -> accepted records
        self.rejected: Counter = Counter()  # reason -> n
        self.bytes_received = 0  # bodies as sent
        self.bytes_decoded = 0  # bodies after decompression, accepted requests only
        self.consumer_errors = 0

    def count(
        self, key: Tuple[str, str, int], reason: str = "", records: int = 0, sent: int = 0, decoded: int = 0
    ) -> None:
        with self._lock:
            self.requests[key] += 1
            if reason:
                self.rejected[reason] += 1
            if records:
                self.records[key[0]] += records
            self.bytes_received += sent
            self.bytes_decoded += decoded

    def count_consumer_error(self) -> None:
        with self._lock:
            self.consumer_errors += 1

    def snapshot(self) -> Dict[str, Any]:
        with self._lock:
            return {
                "requests": [
                    {"signal": s, "content_type": c, "status": st, "count": n}
                    for (s, c, st), n in sorted(self.requests.items())
                ],
                "records": dict(self.records),
                "rejected": dict(self.rejected),
                "bytes_received": self.bytes_received,
                "bytes_decoded": self.bytes_decoded,
                "consumer_errors": self.consumer_errors,
            }


class Cutoff(NamedTuple):
    """What stop() cut off when it closed the receiver."""

    requests: int  # in flight: they get no answer, and their records are lost
    connections: int  # open, those requests' included: what is sent on them later is refused


_STOP = object()


class Receiver:
    """An OTLP/HTTP receiver on loopback that hands decoded batches to `consumer`.

    Use as a context manager, or call start() and stop(). stop() drains completely: every
    request answered 200 has reached the consumer when it returns.
    """

    def __init__(
        self,
        consumer: Callable[[Batch], None],
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body: int = 32 * MiB,
        max_decoded: int = 64 * MiB,
        read_timeout: float = 10.0,
        request_deadline: float = 60.0,
        max_connections: int = 256,
        # A connection that has not yet shown the token gets this long for a whole request head,
        # and only this many such connections are kept (the oldest goes first): local clients
        # without the token cannot hold the slots the agent's exporter needs.
        unauthenticated_deadline: float = 5.0,
        max_unauthenticated: int = 64,
        max_queued_bytes: int = 4 * MiB,  # about 17 MB of decoded batches
        hard_queued_bytes: int = 16 * MiB,
        # Claude Code gives its whole exit flush 2 s: a held answer must leave it time to spare.
        backpressure_timeout: float = 1.0,
        clock: Callable[[], float] = time.time,
        # Users whose connections need no token (Linux; see peers.py): an agent run as another
        # user, whose environment sudo reset, cannot be given the token but on a command line.
        trusted_uids: Collection[int] = (),
    ) -> None:
        if not token:
            raise ValueError("a receiver needs a non-empty token")
        self.consumer = consumer
        self.stats = ReceiverStats()
        self.max_body, self.max_decoded = max_body, max_decoded
        self.request_deadline, self.max_connections = request_deadline, max_connections
        self.unauthenticated_deadline, self.max_unauthenticated = (
            unauthenticated_deadline,
            max_unauthenticated,
        )
        self.max_queued_bytes, self.hard_queued_bytes = (
            max_queued_bytes,
            max(hard_queued_bytes, max_queued_bytes),
        )
        self.backpressure_timeout = backpressure_timeout
        self.clock = clock
        self.consumer_error: Optional[BaseException] = None
        self._token = token.encode("utf-8")
        self.trusted_uids = frozenset(trusted_uids)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._state = threading.Condition()
        self._closed = False
        self._in_flight = 0
        self._queued_bytes = 0
        self._last_activity = time.monotonic()
        self._connections: Set[socket.socket] = set()
        self._unauthenticated: Dict[socket.socket, None] = {}  # oldest first
        self.cut_off = Cutoff(0, 0)  # set by stop()
        self._server = _server_class(host)((host, port), _Handler)
        self._server.receiver = self
        self._server.timeout_seconds = read_timeout
        # stop() wakes the serve loop through this pair at once, where a polling loop would
        # make every capture wait for its next poll.
        self._wake, self._waker = socket.socketpair()
        self._threads = [
            # Connection threads are the serve thread's: they block the process's signals too.
            background_thread(self._serve, "beacon-receiver"),
            background_thread(self._consume, "beacon-consumer"),
        ]
        self._started = self._stopped = False

    # --- lifecycle -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> Receiver:
        if not self._started:
            self._started = True
            for thread in self._threads:
                thread.start()
        return self

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def wait_idle(self, quiet: float = 0.25, timeout: float = 5.0, until_disconnected: bool = False) -> bool:
        """Wait until no request is in flight and none has arrived for `quiet` seconds.

        With until_disconnected, also wait for every client connection to close, and for the
        listen backlog to be empty: when an exporting process has exited, the kernel has closed
        its sockets, a connection is released only after every request it carried has been
        answered and queued, and one it opened just before exiting is either still in the
        backlog or already counted (see _Server.get_request).
        """
        deadline = time.monotonic() + timeout
        with self._state:
            while True:
                now = time.monotonic()
                idle_for = now - self._last_activity
                busy = self._in_flight or (until_disconnected and (self._connections or self._backlogged()))
                if not busy and idle_for >= quiet:
                    return True
                if now >= deadline:
                    return False
                wait = quiet - idle_for if not busy else deadline - now
                self._state.wait(min(max(wait, 0.01), deadline - now))

    @property
    def in_flight(self) -> int:
        """Requests being read, decoded or held by backpressure right now."""
        with self._state:
            return self._in_flight

    @property
    def open_connections(self) -> int:
        """Client connections open right now, idle keep-alive ones included."""
        with self._state:
            return len(self._connections)

    @property
    def accepting(self) -> bool:
        """False once stop() has refused further requests (its queue then holds all it will)."""
        with self._state:
            return not self._closed

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until predicate() holds; it is re-checked whenever a request starts or ends,
        and when stop() stops accepting."""
        with self._state:
            return self._state.wait_for(predicate, timeout)

    def stop(self, in_flight_timeout: float = 5.0) -> None:
        """Stop accepting, let requests in flight finish (bounded), then drain the queue."""
        if self._stopped:
            return
        self._stopped = True
        if self._started:
            self._waker.send(b"stop")
            self._threads[0].join()
        self._server.server_close()
        self._wake.close()
        self._waker.close()
        deadline = time.monotonic() + in_flight_timeout
        with self._state:
            while self._in_flight and time.monotonic() < deadline:
                self._state.wait(deadline - time.monotonic())
            self._closed = True  # a request still in flight now gets no 200: nothing is lost
            self.cut_off = Cutoff(self._in_flight, len(self._connections))
            self._queue.put(_STOP)
            self._state.notify_all()
            idle = list(self._connections)
        for conn in idle:
            _shutdown_socket(conn)
        if self._started:
            self._threads[1].join()

    # --- the serve loop and the consumer ------------------------------------------------

    def _serve(self) -> None:
        """Accept connections until stop() wakes the loop (each gets a thread of its own)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._server.socket, selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake:
                        return
                    self._server.handle_request()  # accepts the connection the socket has ready

    def _consume(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is _STOP:
                return
            try:
                self.consumer(batch)
            except Exception as exc:  # keep consuming: later batches must not be lost
                self.stats.count_consumer_error()
                if self.consumer_error is None:
                    self.consumer_error = exc
            finally:
                with self._state:
                    self._queued_bytes -= batch.size
                    self._state.notify_all()

    # --- connections -----------------------------------------------------------------

    def _admit(self, conn: socket.socket) -> bool:
        with self._state:
            if self._closed or len(self._connections) >= self.max_connections:
                return False
            if len(self._unauthenticated) >= self.max_unauthenticated:
                oldest = next(iter(self._unauthenticated))
                del self._unauthenticated[oldest]
                # Its slot is free now, not when its thread gets round to seeing the end: it
                # never showed the token, so nothing it sent was accepted.
                self._connections.discard(oldest)
                _shutdown_socket(oldest)
            self._connections.add(conn)
            self._unauthenticated[conn] = None
            return True

    def _authenticated(self, handler: _Handler) -> None:
        """The connection showed the token: it keeps its slot, with the usual deadlines."""
        if handler.reader.head_deadline is None:  # already: a later request on the connection
            return
        handler.reader.head_deadline = None
        with self._state:
            self._unauthenticated.pop(handler.request, None)

    def _backlogged(self) -> bool:
        """Whether a connection waits in the listen backlog (called with the state lock held)."""
        try:
            return bool(select.select([self._server.socket], [], [], 0)[0])
        except (OSError, ValueError):  # closed: stop() has run
            return False

    def _release(self, conn: socket.socket) -> None:
        with self._state:
            self._connections.discard(conn)
            self._unauthenticated.pop(conn, None)
            self._last_activity = time.monotonic()
            self._state.notify_all()

    # --- requests --------------------------------------------------------------------

    def handle(self, handler: _Handler) -> None:
        with self._state:
            self._in_flight += 1
            self._last_activity = time.monotonic()
            self._state.notify_all()
        try:
            self._answer(handler)
        finally:
            with self._state:
                self._in_flight -= 1
                self._last_activity = time.monotonic()
                self._state.notify_all()

    def reject_malformed(self, handler: _Handler, message: str) -> None:
        """A request whose head is not HTTP/1.1: 400 and close (what follows cannot be framed)."""
        self.stats.count(("unknown", "other", 400), "bad_request")
        _send_status(handler, 400, "", message, close=True)

    def _answer(self, handler: _Handler) -> None:
        path = handler.path.split("?", 1)[0]
        signal = PATHS.get(path, "unknown")
        content_type = _media_type(handler.headers.get("Content-Type", ""))
        key_type = content_type if content_type in DECODED_TYPES else "other"
        sent = 0
        try:
            self._check_headers(handler, path, content_type)
            body = read_body(handler, self.max_body)
            sent = len(body)
            data = inflate(body, handler.headers.get("Content-Encoding", ""), self.max_decoded)
            try:
                request = decode_body(signal, content_type, data)
            except LimitError as exc:
                raise Reject(413, "too_large", str(exc), close=False) from None
            except NestingError as exc:  # bad data, not a size: the OTLP spec's 413 is for sizes
                raise Reject(400, "too_deep", str(exc), close=False) from None
            except DecodeError as exc:
                raise Reject(400, "bad_data", str(exc), close=False) from None
            records = count_records(signal, request)
            batch = Batch(signal, request, content_type, records, self.clock(), len(data))
            self._enqueue(batch)
        except Reject as rej:
            self.stats.count((signal, key_type, rej.status), rej.reason, sent=sent)
            _send_status(handler, rej.status, content_type, rej.message, rej.close)
            return
        except Drop as drop:
            self.stats.count((signal, key_type, 0), drop.reason, sent=sent)
            handler.close_connection = True
            return
        except Exception as exc:  # a bug of ours: say so, and answer so the exporter does not retry
            self.stats.count((signal, key_type, 400), "internal_error", sent=sent)
            message = f"internal error: {type(exc).__name__}"
            _send_status(handler, 400, content_type, message, True)
            return
        self.stats.count((signal, key_type, 200), records=records, sent=sent, decoded=len(data))
        send(handler, 200, content_type, b"" if content_type == PROTOBUF else b"{}", False)

    def _enqueue(self, batch: Batch) -> None:
        """Queue a decoded batch for the consumer. Decoded records cost memory, so while the
        consumer is far behind (a flood, a slow disk) the answer waits for room: at most
        backpressure_timeout while the queue would stay under hard_queued_bytes, as long as it
        takes beyond. No wait at all in the usual case; nothing is ever refused. A batch bigger
        than the bound goes in alone, once the queue is empty."""
        deadline = time.monotonic() + self.backpressure_timeout
        with self._state:
            while (
                not self._closed
                and self._queued_bytes
                and self._queued_bytes + batch.size > self.max_queued_bytes
            ):
                left = deadline - time.monotonic()
                if left <= 0 and self._queued_bytes + batch.size <= self.hard_queued_bytes:
                    break
                self._state.wait(left if left > 0 else None)
            if self._closed:
                raise Drop("receiver_stopped")
            self._queued_bytes += batch.size
            self._queue.put(batch)

    @property
    def queued_bytes(self) -> int:
        """Decoded bytes waiting for the consumer."""
        with self._state:
            return self._queued_bytes

    def _trusted_peer(self, handler: _Handler) -> bool:
        """Whether the connection's client runs as a trusted user; looked up once a connection."""
        if not self.trusted_uids:
            return False
        if handler.peer_trusted is None:
            handler.peer_trusted = peer_uid(handler.request) in self.trusted_uids
        return handler.peer_trusted

    def _check_headers(self, handler: _Handler, path: str, content_type: str) -> None:
        token = handler.headers.get(TOKEN_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(token, self._token) and not self._trusted_peer(handler):
            raise Reject(401, "unauthorized", f"missing or wrong {TOKEN_HEADER} header")
        self._authenticated(handler)
        if path not in PATHS:
            raise Reject(404, "not_found", "unknown path; use /v1/logs, /v1/traces or /v1/metrics")
        if handler.command != "POST":
            raise Reject(405, "method_not_allowed", "method not allowed, supported: [POST]")
        if content_type not in DECODED_TYPES:
            raise Reject(
                415, "unsupported_media_type", f"unsupported media type, supported: [{JSON}, {PROTOBUF}]"
            )
        encoding = handler.headers.get("Content-Encoding", "").strip(" \t").lower()  # OWS only (RFC 9110)
        if encoding not in ("", "identity") and encoding not in WBITS:
            raise Reject(
                415, "unsupported_encoding", "unsupported Content-Encoding, supported: [gzip, deflate]"
            )
        length = declared_length(handler.headers)
        if length is not None and length > self.max_body:
            raise Reject(413, "too_large", f"body larger than {self.max_body} bytes")


def count_records(signal: str, request: Dict[str, Any]) -> int:
    """Log records, spans or metric data points in a decoded request."""
    if signal == "logs":
        return sum(len(s["log_records"]) for r in request["resource_logs"] for s in r["scope_logs"])
    if signal == "traces":
        return sum(len(s["spans"]) for r in request["resource_spans"] for s in r["scope_spans"])
    total = 0
    for r in request["resource_metrics"]:
        for s in r["scope_metrics"]:
            for metric in s["metrics"]:
                for kind in ("gauge", "sum", "histogram", "exponential_histogram", "summary"):
                    if metric.get(kind) is not None:
                        total += len(metric[kind]["data_points"])
    return total


# --- connections ---------------------------------------------------------------------


class _Handler(socketserver.BaseRequestHandler):
    """One connection: reads HTTP/1.1 requests (keep-alive, see http11) and hands each to the
    receiver."""

    server: _Server
    request: socket.socket
    command = path = request_version = ""
    headers = Headers()

    def setup(self) -> None:
        timeout = self.server.timeout_seconds
        self.request.settimeout(timeout)
        # An answer is one sendall; without TCP_NODELAY a small one could still wait for the
        # client's delayed ACK of the previous one on a keep-alive connection.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        receiver = self.server.receiver
        self.reader = RequestReader(self.request, timeout, receiver.request_deadline)
        self.reader.head_deadline = time.monotonic() + receiver.unauthenticated_deadline
        self.rfile = io.BufferedReader(self.reader)
        self.close_connection = False
        self.peer_trusted: Optional[bool] = None  # see Receiver._trusted_peer

    def handle(self) -> None:
        while not self.close_connection:
            self.handle_one_request()

    def handle_one_request(self) -> None:
        self.reader.start_request()
        self.close_connection = True  # until a whole request head has been read
        try:
            head = read_head(self.rfile)
            if head is None:
                return  # the client closed the connection between requests
            self.command, self.path, self.request_version, self.headers = head
        except BadRequest as exc:
            self.server.receiver.reject_malformed(self, str(exc))
            return
        except (socket.timeout, OSError):
            if self.reader.timed_out:  # cut off before its headers were read
                self.server.receiver.stats.count(("unknown", "other", 0), "timeout")
            return
        connection = (self.headers.get("Connection") or "").lower()
        self.close_connection = "close" in connection or (
            self.request_version == "HTTP/1.0" and "keep-alive" not in connection
        )
        expect = (self.headers.get("Expect") or "").lower()
        if expect == "100-continue" and self.request_version == "HTTP/1.1":
            self.request.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.server.receiver.handle(self)


def _server_class(host: str) -> Type[_Server]:
    return _Server6 if ":" in host else _Server


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128
    timeout = 0  # handle_request never waits: the serve loop has seen a connection ready
    receiver: Receiver
    timeout_seconds: float = 10.0  # per socket read

    def server_activate(self) -> None:
        super().server_activate()
        # Not blocking: a connection reset between select and accept must not hang the accept,
        # which holds the receiver's lock (get_request); socketserver skips a failed accept.
        self.socket.setblocking(False)

    def get_request(self) -> Tuple[socket.socket, Any]:
        """Accept, and count the connection in the same step: a connection is always either in
        the listen backlog or counted, which is what Receiver.wait_idle relies on."""
        with self.receiver._state:
            request, address = self.socket.accept()
            self.receiver._admit(request)
        return request, address

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return request in self.receiver._connections  # refused ones (stopped, or at the limit) close

    def shutdown_request(self, request: Any) -> None:
        self.receiver._release(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished mid-request is not an error worth a traceback."""


class _Server6(_Server):
    address_family = socket.AF_INET6


def decode_body(signal: str, content_type: str, data: bytes) -> Dict[str, Any]:
    """A request body of one of DECODED_TYPES, decoded. The decoders and their tables are
    imported with the first request, not when the receiver starts: a capture whose command
    runs no agent never loads them, and one that does loads them while the agent starts."""
    if content_type == PROTOBUF:
        from .wire import decode_protobuf

        return decode_protobuf(signal, data)
    from .otlp_json import decode_json

    return decode_json(signal, data)


def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def _send_status(handler: _Handler, status: int, content_type: str, message: str, close: bool) -> None:
    """An error answer: a google.rpc.Status in the request's encoding, or plain text for a
    request of another content type."""
    code = _RPC_CODES.get(status, 2)
    if content_type == JSON:
        body = json.dumps({"code": code, "message": message}).encode("utf-8")
    elif content_type == PROTOBUF:
        from .wire import encode_rpc_status

        body = encode_rpc_status(code, message)
    else:
        content_type, body = "text/plain; charset=utf-8", message.encode("utf-8")
    send(handler, status, content_type, body, close)


def _shutdown_socket(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
