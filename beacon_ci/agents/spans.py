"""Spans that enrich log records (EVENTS.md, "Spans (traces) are events too"): a harness that
logs each tool call and also sends a span for it (Claude Code) must not report the call twice.
The span adds what the record lacks (how long the call waited on a person, its place in the
agent's trace) to the record's event; a span whose record never comes becomes the event.

The two arrive in either order, in different requests, usually within a second or two of each
other (both exporters flush every second). So each waits for the other, in bounded memory:
an event EVENT_WAIT seconds (then it is written unchanged: the agent may send no spans), a span
SPAN_WAIT seconds (then it becomes the event: its record was lost). Whatever still waits when
the capture ends is written then. Only the events a span can enrich wait (a call's result, or
its denial). A record that comes after its span was written alone is still written: beacon
never drops a record, so a record over SPAN_WAIT late is the one case of a call reported twice.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

EVENT_WAIT = 5.0  # seconds an event waits for its call's span
SPAN_WAIT = 60.0  # seconds a span waits for its call's event
HELD_MAX = 2000  # events, and spans, waiting at once; past it the oldest is written as it is
SETTLED_MAX = 50000  # calls already written, remembered so a late span is not a second event
CHILDREN_MAX = 10000  # child spans waiting for their call's span

CallKey = Tuple[str, str]  # (harness, tool call id)


class CallSpan(NamedTuple):
    """What a tool call's span says: the fields it adds to the call's event (`enrich`, dotted
    paths) and the event it is when no record reports the call (`alone`)."""

    key: CallKey
    enrich: Dict[str, Any]
    alone: Dict[str, Any]


class CallJoin:
    """Joins the log event and the span of each tool call. log_event() and span() return the
    events ready to write; expired() those whose partner did not come in time; flush() the rest."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._events: OrderedDict[CallKey, Tuple[float, Dict[str, Any]]] = OrderedDict()
        self._spans: OrderedDict[CallKey, Tuple[float, CallSpan]] = OrderedDict()
        self._settled: OrderedDict[CallKey, None] = OrderedDict()
        self.late_spans = 0  # spans of calls already written or already spanned: not written

    def log_event(self, key: CallKey, event: Dict[str, Any]) -> List[Dict[str, Any]]:
        waiting = self._spans.pop(key, None)
        if waiting is not None:
            enrich(event, waiting[1].enrich)
            self.settle(key)
            return [event]
        if key in self._settled:  # its span came long ago and was written alone
            return [event]
        ready = [self._release(self._events, key)] if key in self._events else []  # never lose one
        self._events[key] = (self.clock() + EVENT_WAIT, event)
        return ready + self._overflow(self._events)

    def span(self, span: CallSpan) -> List[Dict[str, Any]]:
        waiting = self._events.pop(span.key, None)
        if waiting is not None:
            enrich(waiting[1], span.enrich)
            self.settle(span.key)
            return [waiting[1]]
        if span.key in self._settled or span.key in self._spans:  # the call has its span already
            self.late_spans += 1
            return []
        self._spans[span.key] = (self.clock() + SPAN_WAIT, span)
        return self._overflow(self._spans)

    def expired(self) -> List[Dict[str, Any]]:
        now = self.clock()
        ready: List[Dict[str, Any]] = []
        for held in (self._events, self._spans):
            while held and next(iter(held.values()))[0] <= now:
                ready.append(self._release(held, next(iter(held))))
        return ready

    def flush(self) -> List[Dict[str, Any]]:
        """Everything still waiting: the capture is ending and no partner will come."""
        return [self._release(held, key) for held in (self._events, self._spans) for key in list(held)]

    def _overflow(self, held: OrderedDict[CallKey, Any]) -> List[Dict[str, Any]]:
        return [self._release(held, next(iter(held)))] if len(held) > HELD_MAX else []

    def _release(self, held: OrderedDict[CallKey, Any], key: CallKey) -> Dict[str, Any]:
        _, item = held.pop(key)
        self.settle(key)
        return item.alone if isinstance(item, CallSpan) else item

    def settle(self, key: CallKey) -> None:
        """The call's event is written: a span that comes for it later is not a second one."""
        self._settled[key] = None
        if len(self._settled) > SETTLED_MAX:
            self._settled.popitem(last=False)


def enrich(event: Dict[str, Any], fields: Dict[str, Any]) -> None:
    """Set each dotted path of `fields` the event does not already have: a record's own value
    (Claude's tool_result duration) wins over the span's."""
    for dotted, value in fields.items():
        *parents, leaf = dotted.split(".")
        target = event
        for parent in parents:
            target = target.setdefault(parent, {})
        target.setdefault(leaf, value)


class SpanChildren:
    """Facts of child spans (a tool call's wait for approval, its execution) kept until their
    parent span comes. A child span ends, and is exported, before its parent."""

    def __init__(self) -> None:
        self._by_parent: OrderedDict[str, Dict[str, Any]] = OrderedDict()

    def add(self, parent_span_id: str, facts: Dict[str, Any]) -> None:
        self._by_parent.setdefault(parent_span_id, {}).update(facts)
        if len(self._by_parent) > CHILDREN_MAX:
            self._by_parent.popitem(last=False)

    def pop(self, span_id: str) -> Dict[str, Any]:
        return self._by_parent.pop(span_id, {})


# What a call's span adds to the call's record: the fields its own event has that a record lacks
# (a record that waits for its span is in the trace already: its own trace fields stay).
SPAN_ENRICHES = ("approval.wait_ms", "event.duration_ms", "agent.id", "agent.parent_id")


def call_span(key: CallKey, alone: Dict[str, Any]) -> CallSpan:
    """A call's span, from the event it would be on its own."""
    fields: Dict[str, Any] = {}
    for dotted in SPAN_ENRICHES:
        section, leaf = dotted.split(".")
        value = alone.get(section, {}).get(leaf)
        if value is not None:
            fields[dotted] = value
    return CallSpan(key, fields, alone)


def held_call_key(event: Dict[str, Any]) -> Optional[CallKey]:
    """The call whose span may enrich this event: a call's result or its denial, never its
    allowing decision (the result follows it, and gets the span)."""
    call_id = event.get("gen_ai", {}).get("tool", {}).get("call", {}).get("id")
    if not call_id or event["event"]["action"] in ("approval.allowed", "approval.requested"):
        return None
    return event["harness"]["name"], call_id
