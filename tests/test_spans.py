"""Spans as events (EVENTS.md, "Spans (traces) are events too"), with spans shaped as the real
agents send them (tests/test_agent_*_raw.py): a Claude tool call reported by a log record and
a span is one event, whichever arrives first; a span with no record is the event; a call that
never executed is a denial, never a command that ran. Every case goes through the protobuf
codec, as a receiver hands batches over."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from beacon_ci.agents import spans as spans_module
from beacon_ci.agents.normalizer import Normalizer
from beacon_ci.context import CaptureContext
from beacon_otlp import Batch, decode_protobuf, encode_protobuf

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CONTEXT = CaptureContext("cap-spans", "exec", {}, "host", "linux", "ci", f"00-{TRACE_ID}-00f067aa0ba902b7-01")
CLAUDE = {"service.name": "claude-code", "service.version": "2.1.197"}
START = 1_764_000_000_000_000_000  # ns
MS = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_764_000_000.0

    def __call__(self) -> float:
        return self.now


def batch(signal: str, resource: Dict[str, Any], items: List[Dict[str, Any]]) -> Batch:
    """One export of `items` (log records or spans) from `resource`, through the codec."""
    if signal == "logs":
        request = {
            "resource_logs": [{"resource": {"attributes": resource}, "scope_logs": [{"log_records": items}]}]
        }
    else:
        request = {
            "resource_spans": [{"resource": {"attributes": resource}, "scope_spans": [{"spans": items}]}]
        }
    decoded = decode_protobuf(signal, encode_protobuf(signal, request))
    return Batch(signal, decoded, "application/x-protobuf", len(items), 0.0)


def span(
    name: str, span_id: str, parent: str, start_ms: int, end_ms: int, **attributes: Any
) -> Dict[str, Any]:
    return {
        "trace_id": TRACE_ID,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "kind": 1,
        "start_time_unix_nano": START + start_ms * MS,
        "end_time_unix_nano": START + end_ms * MS,
        "attributes": attributes,
    }


def claude_tool_spans(
    call_id: str, command: str, executed: bool = True, tool_id: str = "a1"
) -> List[Dict[str, Any]]:
    """A Claude tool call's spans in export order: the children end (and go) before the parent."""
    tool_span = tool_id * 8
    children = [
        span(
            "claude_code.tool.blocked_on_user",
            tool_id * 4 + "b" * 8,
            tool_span,
            0,
            1500,
            decision="unknown" if executed else "reject",
        ),
    ]
    if executed:
        children.append(span("claude_code.tool.execution", tool_id * 4 + "e" * 8, tool_span, 1500, 1742))
    parent = span(
        "claude_code.tool",
        tool_span,
        "c0" * 8,
        0,
        1750,
        tool_name="Bash",
        tool_use_id=call_id,
        full_command=command,
    )
    return [*children, parent]


def claude_record(
    name: str, call_id: str, command: str, in_trace: bool = True, **attributes: Any
) -> Dict[str, Any]:
    record: Dict[str, Any] = {
        "time_unix_nano": START + 1760 * MS,
        "body": f"claude_code.{name}",
        "attributes": {
            "event.name": name,
            "tool_name": "Bash",
            "tool_use_id": call_id,
            "tool_input": json.dumps({"command": command}),
            **attributes,
        },
    }
    if in_trace:
        record.update(trace_id=TRACE_ID, span_id="c0" * 8)
    return record


def result(call_id: str, command: str = "echo hi", in_trace: bool = True) -> Dict[str, Any]:
    return claude_record("tool_result", call_id, command, in_trace, success="true", duration_ms="240")


def run(normalizer: Normalizer, *batches: Batch) -> List[Dict[str, Any]]:
    return [event for b in batches for event in normalizer.events(b)]


@pytest.mark.parametrize("span_first", [False, True], ids=["record-first", "span-first"])
def test_a_claude_call_reported_twice_is_one_event_with_the_spans_facts(span_first: bool) -> None:
    normalizer = Normalizer(CONTEXT, Clock())
    record = batch("logs", CLAUDE, [result("toolu_1")])
    spans = batch("traces", CLAUDE, claude_tool_spans("toolu_1", "echo hi"))
    events = run(normalizer, *((spans, record) if span_first else (record, spans)))
    assert normalizer.flush() == []
    (event,) = events
    assert event["event"]["action"] == "command.executed"
    assert event["event"]["duration_ms"] == 240  # the record's own duration wins
    assert event["approval"] == {"wait_ms": 1500}  # what only the span knew
    assert event["trace"] == {"id": TRACE_ID, "span_id": "c0" * 8}  # the record's own place
    assert event["raw"]["otel_signal"] == "logs"


def test_a_subagents_call_says_which_subagent_made_it() -> None:
    normalizer = Normalizer(CONTEXT, Clock())
    spans = claude_tool_spans("toolu_9", "make lint")
    spans[-1]["attributes"].update(agent_id="agent-7", parent_agent_id="agent-1")
    (event,) = run(
        normalizer, batch("logs", CLAUDE, [result("toolu_9", "make lint")]), batch("traces", CLAUDE, spans)
    )
    assert event["agent"] == {"id": "agent-7", "parent_id": "agent-1"}


def test_a_denied_claude_call_is_one_denial_and_no_command() -> None:
    normalizer = Normalizer(CONTEXT, Clock())
    decision = claude_record("tool_decision", "toolu_2", "rm -rf x", decision="reject", source="config")
    events = run(
        normalizer,
        batch("logs", CLAUDE, [decision]),
        batch("traces", CLAUDE, claude_tool_spans("toolu_2", "rm -rf x", executed=False)),
    )
    events += normalizer.flush()
    (event,) = events
    assert event["event"]["action"] == "approval.denied"
    assert event["approval"] == {"required": True, "decision": "reject", "reason": "config", "wait_ms": 1500}


def test_an_allowing_decision_is_written_at_once_and_its_result_gets_the_span() -> None:
    normalizer = Normalizer(CONTEXT, Clock())
    decision = claude_record("tool_decision", "toolu_3", "echo hi", decision="accept", source="config")
    first = run(normalizer, batch("logs", CLAUDE, [decision]))
    assert [e["event"]["action"] for e in first] == ["approval.allowed"]
    joined = run(
        normalizer,
        batch("logs", CLAUDE, [result("toolu_3")]),
        batch("traces", CLAUDE, claude_tool_spans("toolu_3", "echo hi")),
    )
    assert [(e["event"]["action"], e["approval"]) for e in joined] == [
        ("command.executed", {"wait_ms": 1500})
    ]


@pytest.mark.parametrize("executed, action", [(True, "command.executed"), (False, "approval.denied")])
def test_a_span_whose_record_never_came_is_the_event(executed: bool, action: str) -> None:
    normalizer = Normalizer(CONTEXT, Clock())
    assert run(normalizer, batch("traces", CLAUDE, claude_tool_spans("toolu_4", "make test", executed))) == []
    (event,) = normalizer.flush()  # the capture ends: no record will come
    assert event["event"]["action"] == action
    assert event["command"]["command"] == "make test" and event["gen_ai"]["tool"]["call"]["id"] == "toolu_4"
    assert event["raw"]["otel_signal"] == "traces" and event["raw"]["span_name"] == "claude_code.tool"
    assert event["trace"] == {"id": TRACE_ID, "span_id": "a1" * 8, "parent_span_id": "c0" * 8}
    if executed:
        assert event["event"]["duration_ms"] == 242 and event["approval"] == {"wait_ms": 1500}
    else:
        assert event["event"]["duration_ms"] == 1750  # until it was refused
        assert event["approval"] == {"wait_ms": 1500, "required": True, "decision": "reject"}


def test_each_side_waits_a_bounded_time_then_goes_alone() -> None:
    clock = Clock()
    normalizer = Normalizer(CONTEXT, clock)
    assert run(normalizer, batch("logs", CLAUDE, [result("toolu_5")])) == []
    assert run(normalizer, batch("traces", CLAUDE, claude_tool_spans("toolu_6", "ls", tool_id="b2"))) == []
    clock.now += spans_module.EVENT_WAIT
    released = run(normalizer, batch("logs", CLAUDE, []))  # any later export releases it
    assert [(e["gen_ai"]["tool"]["call"]["id"], "approval" in e) for e in released] == [("toolu_5", False)]
    clock.now += spans_module.SPAN_WAIT
    released = run(normalizer, batch("logs", CLAUDE, []))
    assert [(e["gen_ai"]["tool"]["call"]["id"], e["raw"]["otel_signal"]) for e in released] == [
        ("toolu_6", "traces")
    ]
    # the record that comes after its span was written alone is still written: never dropped
    late = run(normalizer, batch("logs", CLAUDE, [result("toolu_6", "ls")]))
    assert [e["raw"]["otel_signal"] for e in late] == ["logs"]
    assert normalizer.flush() == []


def test_a_record_in_no_trace_is_written_at_once_and_a_late_span_adds_nothing() -> None:
    normalizer = Normalizer(CONTEXT, Clock())
    (event,) = run(normalizer, batch("logs", CLAUDE, [result("toolu_7", in_trace=False)]))
    assert event["trace"] == {"id": TRACE_ID}
    assert run(normalizer, batch("traces", CLAUDE, claude_tool_spans("toolu_7", "echo hi"))) == []
    assert normalizer.flush() == []


def test_two_records_of_one_call_id_are_both_written() -> None:
    normalizer = Normalizer(CONTEXT, Clock())
    events = run(normalizer, batch("logs", CLAUDE, [result("toolu_8"), result("toolu_8")]))
    events += normalizer.flush()
    assert len(events) == 2


def test_what_waits_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spans_module, "HELD_MAX", 3)
    monkeypatch.setattr(spans_module, "SETTLED_MAX", 5)
    normalizer = Normalizer(CONTEXT, Clock())
    written = run(normalizer, batch("logs", CLAUDE, [result(f"toolu_{n}") for n in range(10)]))
    assert [e["gen_ai"]["tool"]["call"]["id"] for e in written] == [f"toolu_{n}" for n in range(7)]
    assert len(normalizer.flush()) == 3
    assert len(normalizer._calls._settled) == 5


def test_codex_and_gemini_spans_are_counted_not_written() -> None:
    normalizer = Normalizer(CONTEXT, Clock())
    for service in ("codex_exec", "gemini-cli"):
        assert (
            run(
                normalizer,
                batch("traces", {"service.name": service}, [span("tool_call", "d4" * 8, "", 0, 5)]),
            )
            == []
        )
    assert normalizer.spans_seen == 2 and normalizer.flush() == []
