"""The forwarder: sends events to one destination as they arrive, from a background thread,
with a bounded queue, gzip, retries with backoff, and a close that keeps its deadline.
"""

from __future__ import annotations

import email.utils
import gzip
import http.client
import random
import threading
import time
from collections import deque
from typing import Any, Deque, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from beacon_ci.export.bodies import chunk
from beacon_ci.export.common import describe, one_line
from beacon_ci.export.endpoint import ForwardPlan, plan_forward
from beacon_otlp.threads import background_thread

FORWARD_CLOSE_TIMEOUT = 10.0  # what close() gets by default to flush what is queued


class RetryPolicy(NamedTuple):
    attempts: int = 5  # per request, the first included
    initial: float = 0.5  # seconds before the first retry; doubles each time
    maximum: float = 8.0  # the longest backoff
    retry_after_cap: float = 30.0  # the longest Retry-After honoured
    request_timeout: float = 10.0  # connect and each read


DEFAULT_RETRY = RetryPolicy()
MAX_QUEUED_EVENTS = 10_000  # events waiting to be sent; past it, submit counts them failed
MAX_BATCH_EVENTS = 500  # events per request
MAX_BATCH_BYTES = 1_000_000  # uncompressed body per request (Splunk's classic HEC limit is 1 MB)
MAX_ANSWER_BYTES = 65536  # of a response body: HEC and OTLP answers are short


class ForwardResult(NamedTuple):
    target: str
    endpoint: str  # without query string; never the token
    sent: int
    failed: int  # submitted but not confirmed delivered: dropped at a full queue, rejected, or given up
    message: str = ""  # the first failure, one line, no secret

    def to_json(self) -> Dict[str, Any]:
        result: Dict[str, Any] = {
            "target": self.target,
            "endpoint": self.endpoint,
            "sent": self.sent,
            "failed": self.failed,
        }
        if self.message:
            result["message"] = self.message
        return result


class Forwarder:
    """Sends events to one destination as they arrive, from a background thread.

    submit() is called by the capture's single consumer thread and never blocks on the network:
    events go into a bounded queue, and what does not fit is counted failed. The sender thread
    takes what is queued (up to MAX_BATCH_EVENTS), sends it in requests of bounded size (gzip),
    and retries connection errors, 429 and 5xx with exponential backoff and jitter (a 429's or
    503's Retry-After is honoured up to a cap); other 4xx are not retried. Delivery is at least
    once: a request the server processed but whose answer was lost is sent again.
    close() flushes within its timeout and returns the counts."""

    def __init__(
        self,
        plan: ForwardPlan,
        retry: RetryPolicy = DEFAULT_RETRY,
        max_queued: int = MAX_QUEUED_EVENTS,
        max_batch_events: int = MAX_BATCH_EVENTS,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self.target, self.endpoint = plan.target, plan.endpoint
        self._headers = plan.headers
        self._fixed_headers = {"Content-Type": plan.wire.content_type, "Content-Encoding": "gzip"}
        self._wire, self._tls, self._retry = plan.wire, plan.tls, retry
        self._max_queued = max_queued
        self._max_batch_events, self._max_batch_bytes = max_batch_events, max_batch_bytes
        self._state = threading.Condition()
        self._queue: Deque[Mapping[str, Any]] = deque()
        self._submitted = self._sent = 0
        self._first_error = ""
        self._closing = False
        self._deadline: Optional[float] = None  # monotonic; set by close()
        self._result: Optional[ForwardResult] = None
        self._connection: Optional[http.client.HTTPConnection] = None
        self._thread = background_thread(self._run, f"beacon-forward-{plan.target}")
        self._thread.start()

    def __repr__(self) -> str:
        return f"<Forwarder {self.target} to {self.endpoint.display}>"

    # --- the consumer thread's side ----------------------------------------------------

    def submit(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Queue events for sending; never waits for the network. What the queue cannot take
        (or what arrives after close) is counted failed."""
        if not events:
            return
        with self._state:
            room = 0 if self._closing else max(0, self._max_queued - len(self._queue))
            self._queue.extend(events[:room])
            self._submitted += len(events)
            if len(events) > room:
                self._note_error(
                    f"{len(events) - room} events dropped: the forward queue was full "
                    f"({self._max_queued} events waiting)"
                    if not self._closing
                    else "events submitted after close"
                )
            self._state.notify_all()

    def close(self, timeout: float = FORWARD_CLOSE_TIMEOUT) -> ForwardResult:
        """Send what is queued, within `timeout` seconds, stop the sender, count. Idempotent."""
        with self._state:
            if self._result is not None:
                return self._result
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._state.notify_all()
        # The sender gives up at the deadline; a request already on the wire ends by its own
        # socket timeout, which is capped at the deadline too.
        self._thread.join(timeout + 1.0)
        with self._state:
            if self._queue:
                self._note_error(f"{len(self._queue)} events were still queued at the close deadline")
                self._queue.clear()
            failed = self._submitted - self._sent
            self._result = ForwardResult(
                self.target, self.endpoint.display, self._sent, failed, self._first_error if failed else ""
            )
            return self._result

    # --- the sender thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                events = self._take()
                if events is None:
                    return
                self._deliver(events)
        finally:
            self._disconnect()

    def _take(self) -> Optional[List[Mapping[str, Any]]]:
        """Wait for events; None when closing with nothing left, or past the close deadline."""
        with self._state:
            self._state.wait_for(lambda: bool(self._queue) or self._closing)
            if not self._queue or self._past_deadline():
                return None
            count = min(len(self._queue), self._max_batch_events)
            return [self._queue.popleft() for _ in range(count)]

    def _deliver(self, events: List[Mapping[str, Any]]) -> None:
        encoded, good = [], 0
        for event in events:
            try:
                encoded.append(self._wire.encode(event))
                good += 1
            except (TypeError, ValueError) as exc:  # not JSON-serializable: beacon never writes such
                self._note_error(f"an event could not be encoded: {exc}")
        sizes = [self._wire.size(item) for item in encoded]
        for start, end in chunk(sizes, self._max_batch_events, self._max_batch_bytes):
            if self._send(self._wire.body(encoded[start:end])):
                with self._state:
                    self._sent += end - start

    def _send(self, body: bytes) -> bool:
        """POST one body, retrying what may succeed later; True when the server accepted it."""
        payload = gzip.compress(body, compresslevel=5)
        for attempt in range(1, self._retry.attempts + 1):
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                self._note_error("gave up at the close deadline")
                return False
            status, wait, error = self._post(payload, remaining)
            if status is not None and 200 <= status < 300:
                return True
            self._note_error(error)
            if status is not None and status != 429 and status < 500:
                return False  # the request itself is wrong (or the token): sending it again cannot help
            if attempt < self._retry.attempts:
                backoff = min(self._retry.maximum, self._retry.initial * 2 ** (attempt - 1))
                self._sleep(wait if wait is not None else backoff * random.uniform(0.5, 1.0))
        return False

    def _post(self, payload: bytes, remaining: Optional[float]) -> Tuple[Optional[int], Optional[float], str]:
        """One request: (status or None, the Retry-After to honour, what went wrong)."""
        timeout = self._retry.request_timeout
        if remaining is not None:
            timeout = min(timeout, remaining)
        where = self.endpoint.display
        try:
            connection = self._connect(timeout)
            connection.request(
                "POST",
                self.endpoint.path,
                body=payload,
                headers={**self._headers.items(), **self._fixed_headers},
            )
            response = connection.getresponse()
            answer = response.read(MAX_ANSWER_BYTES)
            if response.will_close or not response.isclosed():  # closing, or more than we read
                self._disconnect()
        except (OSError, http.client.HTTPException) as exc:
            self._disconnect()
            return None, None, self._clean(f"cannot send to {where}: {describe(exc)}")
        status = response.status
        wait = (
            _retry_after(response.getheader("Retry-After"), self._retry.retry_after_cap)
            if status in (429, 503)
            else None
        )
        detail = answer[:1024].decode("utf-8", "replace").strip()
        return status, wait, self._clean(f"{where} answered {status}" + (f": {detail}" if detail else ""))

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._connection is None:
            host, port = self.endpoint.host, self.endpoint.port
            if self.endpoint.scheme == "https":
                self._connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
            else:
                self._connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self._connection.timeout = timeout
        if self._connection.sock is not None:
            self._connection.sock.settimeout(timeout)
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _remaining(self) -> Optional[float]:
        with self._state:
            return None if self._deadline is None else self._deadline - time.monotonic()

    def _past_deadline(self) -> bool:  # called with the lock held
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _sleep(self, seconds: float) -> None:
        """Back off, but wake for close() so that the deadline is kept."""
        end = time.monotonic() + seconds
        with self._state:
            while not self._past_deadline():
                left = end if self._deadline is None else min(end, self._deadline)
                left -= time.monotonic()
                if left <= 0:
                    return
                self._state.wait(left)

    def _note_error(self, message: str) -> None:
        with self._state:
            if not self._first_error:
                self._first_error = self._clean(message)

    def _clean(self, message: str) -> str:
        return one_line(message, self._headers.secrets())


def _retry_after(value: Optional[str], cap: float) -> Optional[float]:
    """Retry-After in seconds (a number or an HTTP date), capped; None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, min(cap, seconds))


def make_forwarder(
    target: str, endpoint: Optional[str], environ: Mapping[str, str], retry: RetryPolicy = DEFAULT_RETRY
) -> Forwarder:
    """A running forwarder for `--forward target` (`--forward-endpoint endpoint`); ExportError
    (see plan_forward) before any thread starts or anything is sent."""
    return Forwarder(plan_forward(target, endpoint, environ), retry)
