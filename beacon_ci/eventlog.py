"""The log: write events as JSON Lines (0600, O_APPEND, one write per line, fsync at the end),
read a log back, and validate it in the four stages of EVENTS.md.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from collections import Counter
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from beacon_ci.context import HARNESS_EVENT_NAMES
from beacon_ci.errors import BeaconError

# The fields every event has (validation checks them), and those a minimal stand-in for an
# oversized event keeps: the required ones and who, where and which capture.
REQUIRED_FIELDS = (
    "timestamp",
    "vendor",
    "product",
    "schema_version",
    "event",
    "severity",
    "endpoint",
    "harness",
)


# One encoder for every line: json.dumps with these options would build a new one each call.
# check_circular off: every event is a tree the protector built (it cuts anything deeper than 64)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False)


def event_line(event: Mapping[str, Any]) -> bytes:
    return (_ENCODER.encode(event) + "\n").encode("utf-8")


class EventWriter:
    """Appends events to the log. Each line is written whole by one os.write on an O_APPEND
    descriptor (alone, or with the other lines of its batch), so several captures (or
    processes) appending to one log never interleave within a line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.written = 0
        self.failed = 0
        self.last_error: Optional[str] = None
        # RDWR: see _discard_torn_line. NONBLOCK: opening a FIFO must not wait for a reader
        # (it is refused below); a regular file ignores it.
        flags = (
            os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        )
        try:
            self._fd: Optional[int] = os.open(path, flags, 0o600)
        except OSError as exc:
            raise BeaconError(f"cannot write the log {path}: {exc.strerror}") from None
        try:
            regular = stat.S_ISREG(os.fstat(self._fd).st_mode)  # what was opened, not what was checked
            if regular:
                os.fchmod(self._fd, 0o600)  # an existing log may have been created wider
        except OSError as exc:
            os.close(self._fd)
            raise BeaconError(f"cannot write the log {path}: {exc.strerror}") from None
        if not regular:
            os.close(self._fd)
            raise BeaconError(f"the log {path} is not a regular file; choose a file path for --log-path")

    def write_all(self, events: Sequence[Mapping[str, Any]]) -> int:
        """Append a batch of events with one os.write: how many were written, from the first (a
        full disk can stop it part way: the lines after are counted failed, never raised, and
        a torn line is removed)."""
        lines = [event_line(event) for event in events]
        data = b"".join(lines)
        error: Optional[OSError] = None
        try:
            assert self._fd is not None, "write after close"
            written = os.write(self._fd, data) if data else 0
        except OSError as exc:
            written, error = 0, exc
        else:
            error = None if written == len(data) else OSError(errno.ENOSPC, "short write: is the disk full?")
        complete, offset = 0, 0
        for line in lines:
            if offset + len(line) > written:
                break
            offset += len(line)
            complete += 1
        if error is not None:
            self._discard_torn_line(data[offset:written])
            self.failed += len(lines) - complete
            self.last_error = self.last_error or error.strerror or str(error)
        self.written += complete
        return complete

    def _discard_torn_line(self, fragment: bytes) -> None:
        """Remove the start of a line a full disk cut short, so no torn line stays in the log.
        Only when the file still ends with it: another writer may have appended since."""
        if not fragment or self._fd is None:
            return
        try:
            size = os.fstat(self._fd).st_size
            if os.pread(self._fd, len(fragment), size - len(fragment)) == fragment:
                os.ftruncate(self._fd, size - len(fragment))
        except OSError:
            pass

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self.last_error = exc.strerror or str(exc)
        finally:
            os.close(self._fd)
            self._fd = None


class Stage(NamedTuple):
    name: str
    passed: bool
    detail: str
    numbers: Dict[str, Any]

    def as_json(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "status": "pass" if self.passed else "fail",
            "detail": self.detail,
            **self.numbers,
        }


class Validation(NamedTuple):
    log_path: str
    stages: List[Stage]
    event_count: int
    by_harness: Dict[str, int]
    trace_ids: Sequence[str] = ()  # the trace each capture ran its agent in (one per capture)

    @property
    def passed(self) -> bool:
        return all(stage.passed for stage in self.stages)

    def as_json(self) -> Dict[str, Any]:
        return {
            "status": "passed" if self.passed else "failed",
            "log_path": self.log_path,
            "event_count": self.event_count,
            "by_harness": self.by_harness,
            "trace_ids": list(self.trace_ids),
            "stages": [stage.as_json() for stage in self.stages],
        }


# Schema 1.0's enumerations. Origin and retention may be absent or empty (1.0 omits an empty
# one, so a reader cannot tell the two apart); a severity is always one of its five.
SEVERITIES = ("info", "low", "medium", "high", "critical")
ORIGINS = ("local", "cloud", "ci")
RETENTIONS = ("metadata", "redacted", "full")
# Any 1.x: a minor version only adds fields, which a 1.0 reader ignores.
_SCHEMA_VERSION_RE = re.compile(r"1\.[0-9]+")


def schema_problem(event: Any) -> Optional[str]:
    """Why a line is not a Beacon 1.x event, or None."""
    if not isinstance(event, dict):
        return "not a JSON object"
    missing = [name for name in REQUIRED_FIELDS if name not in event]
    if missing:
        return f"missing {', '.join(missing)}"
    inner = event["event"]
    if (event["vendor"], event["product"]) != ("beacon", "endpoint-agent") or not (
        isinstance(event["schema_version"], str) and _SCHEMA_VERSION_RE.fullmatch(event["schema_version"])
    ):
        return "vendor/product/schema_version are not beacon/endpoint-agent/1.x"
    if not isinstance(inner, dict) or not inner.get("kind") or not inner.get("action"):
        return "event.kind or event.action missing"
    if not isinstance(event["harness"], dict) or not event["harness"].get("name"):
        return "harness.name missing"
    if not isinstance(event["endpoint"], dict) or not event["endpoint"].get("os"):
        return "endpoint.os missing"
    return _enum_problem(event)


def _enum_problem(event: Mapping[str, Any]) -> Optional[str]:
    """Why a field with a 1.0 enumeration holds another value, or None."""
    if event["severity"] not in SEVERITIES:
        return f"severity is not one of {', '.join(SEVERITIES)}"
    if event.get("origin", "") not in ("", *ORIGINS):
        return f"origin is not one of {', '.join(ORIGINS)}"
    content = event.get("content", {})
    if not isinstance(content, dict):
        return "content is not an object"
    if content.get("retention", "") not in ("", *RETENTIONS):
        return f"content.retention is not one of {', '.join(RETENTIONS)}"
    return None


TRACE_IDS_KEPT = 16  # a log appended by several captures has one trace id each


class Tally:
    """What a log holds for one capture, counted one event at a time in bounded memory: events
    per harness, lines that are not events (the first one kept), and lines of other writers
    that do not parse. The writer keeps one as it writes; validate_log another as it reads."""

    def __init__(self) -> None:
        self.by_harness: Counter[str] = Counter()
        self.bad_lines = 0
        self.first_bad: Optional[Tuple[int, str]] = None  # (line number, problem)
        self.foreign_unparseable = 0
        self.other_captures = 0  # lines of other captures in the same log, skipped
        self.trace_ids: Dict[str, None] = {}  # the captures' trace ids, first TRACE_IDS_KEPT

    @property
    def events(self) -> int:
        return sum(self.by_harness.values())

    def count(self, event: Mapping[str, Any]) -> None:
        self.by_harness[str(event["harness"]["name"])] += 1
        trace = event.get("trace")
        trace_id = trace.get("id") if isinstance(trace, dict) else None
        if isinstance(trace_id, str) and trace_id not in self.trace_ids:
            if len(self.trace_ids) < TRACE_IDS_KEPT:
                self.trace_ids[trace_id] = None

    def bad(self, line: int, problem: str) -> None:
        self.bad_lines += 1
        if self.first_bad is None:
            self.first_bad = (line, problem)


def validate_log(
    path: str,
    min_events: int = 1,
    harnesses: Sequence[str] = (),
    capture_id: Optional[str] = None,
    on_event: Callable[[Dict[str, Any]], None] = lambda event: None,
) -> Validation:
    """Check the log: exists, parses, has enough events (of this capture), from the harnesses.
    Reads it line by line, keeping nothing but counts: each valid event of this capture goes to
    `on_event` (a summary's fold) and is dropped, whatever the log's size."""
    tally = Tally()
    read_log(path, capture_id, tally, on_event)
    return validate_written(path, tally, min_events, harnesses, capture_id)


def validate_written(
    path: str,
    tally: Tally,
    min_events: int = 1,
    harnesses: Sequence[str] = (),
    capture_id: Optional[str] = None,
    diagnose: Callable[[int], str] = lambda count: "",
    write_failures: int = 0,
    write_error: Optional[str] = None,
) -> Validation:
    """The judgement of a tally, from the writer that counted as it wrote (a capture that wrote
    a million events is judged at once, without reading them back) or from validate_log."""
    if not os.path.isfile(path):
        what = "is a directory" if os.path.isdir(path) else "does not exist"
        return Validation(path, [Stage("runtime_log_exists", False, f"{path} {what}", {})], 0, {})
    stages = [Stage("runtime_log_exists", True, path, {"bytes": os.path.getsize(path)})]
    count = tally.events
    if tally.first_bad is not None:
        line, problem = tally.first_bad
        lines = {"bad_lines": tally.bad_lines, "lines": count + tally.bad_lines}
        stages.append(Stage("runtime_log_parseable", False, f"line {line}: {problem}", lines))
        return Validation(path, stages, count, {})
    numbers: Dict[str, Any] = {"lines": count}
    if tally.foreign_unparseable:
        numbers["unparseable_lines_of_other_writers"] = tally.foreign_unparseable
    stages.append(Stage("runtime_log_parseable", True, "every line is a Beacon 1.x event", numbers))

    by_harness = dict(tally.by_harness)
    detail = f"{count} events" + (f" of capture {capture_id}" if capture_id else "")
    if count < min_events:
        why = diagnose(count)
        if tally.other_captures:
            why = reasons(why, f"the log holds {tally.other_captures} events of other captures")
        detail = f"{count} events, want at least {min_events}" + (f"; {why}" if why else "")
    if write_failures:  # the log is incomplete: an audit trail with holes must not pass
        detail += f"; {write_failures} events could not be written ({write_error})"
    stages.append(
        Stage(
            "event_count",
            count >= min_events and not write_failures,
            detail,
            {"events": count, "min_events": min_events, "write_failures": write_failures},
        )
    )

    wanted = [HARNESS_EVENT_NAMES[h] for h in harnesses]
    if wanted:  # without a harness to require, event_count alone judges the count
        matching = sum(by_harness.get(name, 0) for name in wanted)
        detail = f"{matching} events from {', '.join(wanted)}"
        if matching < min_events:
            others = ", ".join(f"{n} ({c})" for n, c in sorted(by_harness.items()) if n not in wanted)
            detail += f", want at least {min_events}" + (f"; events came from {others}" if others else "")
        stages.append(
            Stage("harness_events", matching >= min_events, detail, {"events": matching, "harnesses": wanted})
        )
    return Validation(path, stages, count, by_harness, list(tally.trace_ids))


def reasons(*parts: str) -> str:
    """Reasons for too few events in one line; empty ones left out."""
    return "; ".join(part for part in parts if part)


def diagnose_receiver(stats: Optional[Mapping[str, Any]]) -> str:
    """Why a capture has too few events, from what its receiver counted (stats.snapshot()), in
    words a CI user can act on."""
    if not stats:
        return "the receiver stopped before it could say what it received (killed?)"
    requests = sum(r["count"] for r in stats["requests"])
    rejected = stats["rejected"]
    if not requests:
        return (
            "the receiver got no requests: did the agent run, and is its telemetry on? "
            "(managed settings can override CLAUDE_CODE_ENABLE_TELEMETRY; Codex ignores OTEL_* "
            "variables and reads CODEX_HOME)"
        )
    if rejected:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(rejected.items()))
        return f"the receiver rejected {sum(rejected.values())} of {requests} requests ({reasons})"
    records = stats["records"]
    if not records.get("logs") and not records.get("traces"):  # Copilot CLI sends no log records
        return (
            f"the receiver got {requests} request{'s' if requests != 1 else ''} but no log records or spans "
            f"({', '.join(f'{k} {v}' for k, v in sorted(records.items())) or 'all empty'})"
        )
    return f"the receiver got {records.get('logs', 0)} log records and {records.get('traces', 0)} spans"


def to_each(*consumers: Callable[[Dict[str, Any]], None]) -> Callable[[Dict[str, Any]], None]:
    """One on_event callback that hands each event to every consumer (a summary, the findings)."""

    def consume(event: Dict[str, Any]) -> None:
        for consumer in consumers:
            consumer(event)

    return consume


def count_lines(path: str) -> int:
    """The log's line count, an upper bound of its events, counted in blocks without parsing
    (0 when it is not a file)."""
    if not os.path.isfile(path):
        return 0
    lines = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            lines += block.count(b"\n")
    return lines


# Our lines are at most 64 KiB (MAX_LINE_BYTES); another writer's may be anything.
_MAX_READ_LINE = 1024 * 1024


def capture_of(event: Any) -> Optional[str]:
    capture = event.get("capture") if isinstance(event, dict) else None
    return capture.get("id") if isinstance(capture, dict) else None


def read_log(
    path: str, capture_id: Optional[str], tally: Tally, on_event: Callable[[Dict[str, Any]], None]
) -> None:
    """Count the log's events of this capture (all, without one) into `tally`, line by line,
    handing each to `on_event`; a line longer than beacon ever writes is skipped in pieces,
    never held whole. A log that is not a file counts nothing (validation says why)."""
    if not os.path.isfile(path):
        return
    with open(path, "rb") as handle:
        for number, raw in enumerate(iter(lambda: handle.readline(_MAX_READ_LINE), b""), 1):
            if len(raw) == _MAX_READ_LINE and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # the rest of the overlong line
                    raw = handle.readline(_MAX_READ_LINE)
                if capture_id is None:
                    tally.bad(number, f"longer than {_MAX_READ_LINE} bytes")
                else:
                    tally.foreign_unparseable += 1
                continue
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
            except (ValueError, RecursionError) as exc:  # nested past the parser's depth: not ours
                if capture_id is None:
                    tally.bad(number, f"not JSON ({exc})")
                else:
                    tally.foreign_unparseable += 1  # we write whole lines; a torn one is another writer's
                continue
            if capture_id is not None and capture_of(event) != capture_id:
                tally.other_captures += 1
                continue
            problem = schema_problem(event)
            if problem:
                tally.bad(number, problem)
            else:
                tally.count(event)
                on_event(event)
