"""What a forward puts on the wire: Splunk/Falcon HEC event lines and OTLP log records, each
carrying the protected event whole, in requests of bounded size.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re
import time
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Sequence, Tuple

_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


def event_time_ns(event: Mapping[str, Any], now_ns: Callable[[], int] = time.time_ns) -> int:
    """Nanoseconds since the epoch of the event's `timestamp` (beacon writes RFC 3339 UTC with
    milliseconds), exactly; the current time when it has none."""
    match = _RFC3339.fullmatch(str(event.get("timestamp", "")))
    if match:
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        try:
            moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
        except ValueError:
            return now_ns()
        fraction = int((match.group(7) or "0").ljust(9, "0"))
        return calendar.timegm(moment.utctimetuple()) * 1_000_000_000 + fraction
    return now_ns()


def event_time(event: Mapping[str, Any], now_ns: Callable[[], int] = time.time_ns) -> float:
    """HEC's `time`: epoch seconds, with the timestamp's milliseconds."""
    return round(event_time_ns(event, now_ns) / 1e9, 6)


def hec_line(event: Mapping[str, Any]) -> bytes:
    """One HEC event object: the beacon event as given (already redacted), its time as HEC's
    epoch seconds, the endpoint's host name as HEC's host."""
    wrapper: Dict[str, Any] = {"time": event_time(event), "source": "beacon", "sourcetype": "beacon:event"}
    endpoint = event.get("endpoint")
    if isinstance(endpoint, Mapping) and isinstance(endpoint.get("hostname"), str) and endpoint["hostname"]:
        wrapper["host"] = endpoint["hostname"]
    wrapper["event"] = event
    return json.dumps(wrapper, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


# OTLP severity numbers for beacon's severities (INFO, INFO2, WARN, ERROR, FATAL).
_SEVERITY_NUMBERS = {"info": 9, "low": 10, "medium": 13, "high": 17, "critical": 21}


def otlp_record(event: Mapping[str, Any]) -> Dict[str, Any]:
    """One LogRecord in the plain OTLP shape: the body is the event as one JSON string (the
    runtime.jsonl line: every backend can parse it, and no type is lost on the way, as a kvlist
    would lose nulls); attributes carry what a pipeline routes and filters on."""
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    meta = _mapping(event.get("event"))
    attributes = {
        "event.name": str(meta.get("action") or ""),
        "event.category": meta.get("category"),
        "event.outcome": meta.get("outcome"),
        "event.id": meta.get("id"),
        "beacon.harness": _mapping(event.get("harness")).get("name"),
        "beacon.capture.id": _mapping(event.get("capture")).get("id"),
        "session.id": _mapping(event.get("session")).get("id"),
    }
    severity = str(event.get("severity") or "")
    return {
        "time_unix_nano": event_time_ns(event),
        "severity_number": _SEVERITY_NUMBERS.get(severity, 0),
        "severity_text": severity,
        "event_name": attributes["event.name"],
        "body": body,
        "attributes": {k: v for k, v in attributes.items() if isinstance(v, str) and v},
    }


def otlp_request(records: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    return {
        "resource_logs": [
            {
                "resource": {"attributes": {"service.name": "beacon"}},
                "scope_logs": [{"scope": {"name": "beacon"}, "log_records": list(records)}],
            }
        ]
    }


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def chunk(sizes: Sequence[int], max_items: int, max_bytes: int) -> List[Tuple[int, int]]:
    """Split items of the given sizes into consecutive [start, end) runs of at most `max_items`
    items and `max_bytes` bytes; an item larger than `max_bytes` travels alone."""
    runs: List[Tuple[int, int]] = []
    start, total = 0, 0
    for index, size in enumerate(sizes):
        if index > start and (index - start >= max_items or total + size > max_bytes):
            runs.append((start, index))
            start, total = index, 0
        total += size
    if start < len(sizes):
        runs.append((start, len(sizes)))
    return runs


class Wire(NamedTuple):
    """How one target puts events on the wire."""

    encode: Callable[[Mapping[str, Any]], Any]  # one event -> what a body is built from
    size: Callable[[Any], int]  # its size, for the per-request byte limit
    body: Callable[[List[Any]], bytes]  # encoded events -> the (uncompressed) request body
    content_type: str


HEC_WIRE = Wire(
    hec_line,
    lambda line: len(line) + 1,  # its newline included
    lambda lines: b"\n".join(lines) + b"\n",
    "application/json",
)
OTLP_WIRE = Wire(
    otlp_record,
    lambda record: len(record["body"]) + 200,
    lambda records: _encode_logs(otlp_request(records)),
    "application/x-protobuf",
)


def _encode_logs(request: Dict[str, Any]) -> bytes:
    from beacon_otlp import encode_protobuf  # the stdlib OTLP wire layer beside this module

    return encode_protobuf("logs", request)
