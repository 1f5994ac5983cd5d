"""Normalize: decoded OTLP batches -> Beacon 1.0 events (EVENTS.md). The envelope every event
gets (who, where, which capture), the mapper for each harness's log records, and usage metrics
turned into token.usage / cost.usage events without double counting.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from beacon_ci import __version__
from beacon_ci.agents.claude import CLAUDE_CHILD_SPANS, claude_child_facts, map_claude_log, map_claude_span
from beacon_ci.agents.codex import codex_keeps, map_codex_log
from beacon_ci.agents.copilot import map_copilot_span
from beacon_ci.agents.fields import (
    category_of,
    first,
    integer,
    put_dotted,
    set_action,
    set_duration,
    set_error,
    span_duration_ms,
    text,
)
from beacon_ci.agents.gemini import map_gemini_log
from beacon_ci.agents.spans import CallJoin, SpanChildren, call_span, held_call_key
from beacon_ci.context import HARNESS_EVENT_NAMES, CaptureContext, rfc3339_ms
from beacon_otlp import Batch

# The service.name each agent sends (Codex sends its originator: codex_exec for `codex exec`,
# codex_cli_rs and codex-tui interactive, codex_github_action in openai/codex-action), and the
# canonical names. Only these are the agent: another product whose name merely contains
# "claude" (claude-cowork, claude.ai, the Agent SDK) is another harness, kept verbatim, and its
# records get the generic mapping, never Claude Code's rules.
_HARNESS_SERVICES = {
    "claude-code": "claude_code",
    "claude_code": "claude_code",
    "codex_exec": "codex_cli",
    "codex_cli_rs": "codex_cli",
    "codex-tui": "codex_cli",
    "codex_github_action": "codex_cli",
    "codex_cli": "codex_cli",
    "gemini-cli": "gemini_cli",
    "gemini_cli": "gemini_cli",
    "github-copilot": "copilot_cli",
    "copilot-cli": "copilot_cli",
    "copilot_cli": "copilot_cli",
}
# Resource attributes kept in raw: enough to identify the source, not every host detail.
_IDENTIFYING = ("service.name", "service.version", "service.instance.id")
# Span attributes left out of raw: the conversation itself, which a GenAI span with content
# capture repeats in full on every model call (the events keep the prompt and the tool calls).
_CONVERSATION = frozenset(
    (
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
    )
)


def harness_name(service_name: str) -> str:
    """The harness of a service.name: an agent's canonical name, else the name as sent."""
    return _HARNESS_SERVICES.get(service_name.strip().lower(), service_name or "otel")


class Normalizer:
    """Turns decoded OTLP batches into Beacon events for one capture.

    Keeps the state needed across batches: the last value of each cumulative usage series, so
    a cumulative sum becomes the increments it represents (no double counting).
    """

    def __init__(self, context: CaptureContext, clock: Callable[[], float] = time.time) -> None:
        self.context = context
        self.clock = clock
        self.spans_seen = 0
        self.dropped = 0  # records that are pure transport noise (Codex's per-SSE-event records)
        self.unmapped = 0  # records written as fallback events because mapping them failed
        self._cumulative: Dict[Tuple[Any, ...], float] = {}
        self._denied_calls: Dict[Tuple[str, str, str], None] = {}  # insertion-ordered, bounded
        self._calls = CallJoin(clock)  # a tool call's record and span, joined (spans.py)
        self._span_children = SpanChildren()
        self._trace_sessions: Dict[str, str] = {}  # trace id -> session id, insertion-ordered
        # The envelope's parts every event of the capture shares, unchanged: one object each
        # (the protector protects them once, Protector.seal).
        self._endpoint = {"hostname": context.hostname, "os": context.os_name}
        self._user = {"name": context.user} if context.user else {}
        self._capture = {"id": context.capture_id, "mode": context.mode, "beacon_version": __version__}
        # A CI runner is thrown away after the job: 1.0's run.ephemeral
        self._run = {**context.run, "ephemeral": True} if context.run else None

    def shared_parts(self) -> List[Dict[str, Any]]:
        """The objects every event holds as they are: for Protector.seal."""
        return [part for part in (self._endpoint, self._user, self._capture, self._run) if part is not None]

    def events(self, batch: Batch) -> Iterator[Dict[str, Any]]:
        if batch.signal == "logs":
            for resource in batch.request["resource_logs"]:
                res_attrs = (resource["resource"] or {}).get("attributes", {})
                for scope in resource["scope_logs"]:
                    for record in scope["log_records"]:
                        if not self.keeps(res_attrs, record):
                            self.dropped += 1
                            continue
                        event = self.or_fallback(self.log_event, "logs", res_attrs, record)
                        if event is not None:
                            yield from self._joined(event)
        elif batch.signal == "metrics":
            for resource in batch.request["resource_metrics"]:
                res_attrs = (resource["resource"] or {}).get("attributes", {})
                for scope in resource["scope_metrics"]:
                    for metric in scope["metrics"]:
                        yield from self.metric_events(res_attrs, metric)
        else:
            for resource in batch.request["resource_spans"]:
                res_attrs = (resource["resource"] or {}).get("attributes", {})
                self._learn_sessions(resource["scope_spans"])
                for scope in resource["scope_spans"]:
                    for span in scope["spans"]:
                        self.spans_seen += 1
                        event = self.or_fallback(self.span_event, "traces", res_attrs, span)
                        if event is not None:
                            yield from self._joined(event, span=True)
        yield from self._calls.expired()

    def _learn_sessions(self, scopes: Sequence[Mapping[str, Any]]) -> None:
        """The session of each trace, from the span that names it (Copilot's invoke_agent, the
        root, which ends and is exported after the spans it holds): its other spans do not."""
        for scope in scopes:
            for span in scope["spans"]:
                session_id = text(span["attributes"].get("gen_ai.conversation.id"))
                if session_id and span["trace_id"]:
                    self._trace_sessions[span["trace_id"]] = session_id
                    if len(self._trace_sessions) > TRACE_SESSIONS_KEPT:
                        del self._trace_sessions[next(iter(self._trace_sessions))]

    def flush(self) -> List[Dict[str, Any]]:
        """The events still waiting for their call's record or span: the capture is ending."""
        return self._calls.flush()

    def _joined(self, event: Dict[str, Any], span: bool = False) -> List[Dict[str, Any]]:
        """An event, joined with what the other signal says about the same tool call, for the
        harnesses that report a call both ways (SPAN_JOINED)."""
        key = held_call_key(event) if event["harness"]["name"] in SPAN_JOINED else None
        if key is None:
            return [event]
        if span:
            return self._calls.span(call_span(key, event))
        if "span_id" not in event["trace"]:  # a record in no trace: its agent sends no spans
            self._calls.settle(key)
            return [event]
        return self._calls.log_event(key, event)

    def keeps(self, res_attrs: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
        if harness_name(text(res_attrs.get("service.name"))) != "codex_cli":
            return True
        return codex_keeps(record["attributes"], text(record["body"]))

    # --- building blocks ---------------------------------------------------------------

    def base(self, res_attrs: Mapping[str, Any], attrs: Mapping[str, Any], time_ns: int) -> Dict[str, Any]:
        service = text(res_attrs.get("service.name") or attrs.get("service.name"))
        name = harness_name(service)
        harness = {"name": name}
        version = first(res_attrs, "service.version")
        if name == "gemini_cli":  # Gemini's service.version is the Node.js version
            version = first(attrs, "app.version", "cli.version")
        if version:
            harness["version"] = version
        event: Dict[str, Any] = {
            "timestamp": rfc3339_ms(time_ns or int(self.clock() * 1e9)),
            "vendor": "beacon",
            "product": "endpoint-agent",
            "schema_version": "1.0",
            "event": {"kind": "agent_runtime", "action": "", "id": secrets.token_hex(16)},
            "severity": "info",
            "endpoint": self._endpoint,
            "user": self._user,
            "harness": harness,
            "origin": "ci",
            "capture": self._capture,
            "trace": {"id": self.context.trace_id},  # the capture's trace: joins the event to the CI run
        }
        if self._run is not None:
            event["run"] = self._run
        session_id = first(attrs, "session.id", "conversation.id", "gen_ai.conversation.id")
        if session_id:
            event["session"] = {"id": session_id}
        return event

    def or_fallback(
        self,
        mapping: Callable[[Mapping[str, Any], Mapping[str, Any]], Optional[Dict[str, Any]]],
        signal: str,
        res_attrs: Mapping[str, Any],
        record: Mapping[str, Any],
    ) -> Optional[Dict[str, Any]]:
        """A record or span beacon cannot map is still written, as what it is: never lose
        accepted data."""
        try:
            return mapping(res_attrs, record)
        except Exception as exc:  # a mapping bug or a shape no agent was seen sending
            self.unmapped += 1
            event = self.base(res_attrs, {}, 0)
            set_action(event, "session.activity")
            event["event"]["category"] = "session"
            set_error(event, "beacon_normalize_error", f"{type(exc).__name__}: {exc}", severity="medium")
            event["message"] = text(record.get("body") or record.get("name"))
            event["raw"] = {"otel_signal": signal, "attributes": dict(record.get("attributes") or {})}
            return event

    def log_event(self, res_attrs: Mapping[str, Any], record: Mapping[str, Any]) -> Dict[str, Any]:
        attrs = record["attributes"]
        event = self.base(res_attrs, attrs, record["time_unix_nano"] or record["observed_time_unix_nano"])
        body = text(record["body"])
        name = event_name(body, attrs, record.get("event_name", ""))
        event["message"] = body or name
        join_trace(event["trace"], record["trace_id"], record["span_id"])
        sequence = integer(attrs.get("event.sequence"))
        if sequence is not None:
            event["event"]["sequence"] = sequence
        severity = text(record["severity_text"]).lower() or SEVERITY_NAMES.get(
            record["severity_number"] // 4 * 4 + 1, ""
        )
        if "fatal" in severity or "critical" in severity:
            event["severity"] = "critical"
        elif "error" in severity:
            event["severity"] = "high"
        elif "warn" in severity:
            event["severity"] = "medium"
        mapper = LOG_MAPPERS.get(event["harness"]["name"], map_generic_log)
        mapper(event, name, attrs)
        if not event["event"]["action"]:
            map_generic_log(event, name, attrs)
        self._one_denial_per_call(event)
        event["event"]["category"] = category_of(event["event"]["action"])
        event["raw"] = {
            "otel_signal": "logs",
            "event_name": name,
            "attributes": {**{k: res_attrs[k] for k in _IDENTIFYING if k in res_attrs}, **attrs},
        }
        return event

    def span_event(self, res_attrs: Mapping[str, Any], span: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
        """The event a span is, for a harness whose spans report what it did (SPAN_MAPPERS);
        None for a span that repeats what its log records say, or reports nothing of its own."""
        harness = harness_name(text(res_attrs.get("service.name")))
        mapper = SPAN_MAPPERS.get(harness)
        if mapper is None:
            return None
        child_spans, child_facts = CHILD_SPANS.get(harness, ((), None))
        if child_facts is not None and span["name"] in child_spans:  # part of its parent's event
            self._span_children.add(span["parent_span_id"], child_facts(span))
            return None
        attrs = span["attributes"]
        event = self.base(res_attrs, attrs, span["start_time_unix_nano"])
        if not mapper(event, span, self._span_children.pop(span["span_id"])):
            return None
        event["message"] = span["name"]
        if "session" not in event and span["trace_id"] in self._trace_sessions:
            event["session"] = {"id": self._trace_sessions[span["trace_id"]]}
        join_trace(event["trace"], span["trace_id"], span["span_id"], span["parent_span_id"])
        if "duration_ms" not in event["event"]:
            set_duration(event, span_duration_ms(span))
        event["event"]["category"] = category_of(event["event"]["action"])
        status = span.get("status") or {}
        event["raw"] = {
            "otel_signal": "traces",
            "span_name": span["name"],
            "span_kind": SPAN_KINDS.get(span["kind"], "Unspecified"),
            "status": SPAN_STATUSES.get(status.get("code", 0), "Unset"),
            "attributes": {
                **{k: res_attrs[k] for k in _IDENTIFYING if k in res_attrs},
                **{k: v for k, v in attrs.items() if k not in _CONVERSATION},
            },
        }
        return event

    def _one_denial_per_call(self, event: Dict[str, Any]) -> None:
        """Codex logs a denied call twice: its decision (denied), then its result (Rejected). One
        denial: the result becomes the failed tool call it caused. A call refused before any
        decision (an exec-policy rule that forbids it) has only the result, which stays the denial."""
        if event["event"]["action"] != "approval.denied":
            return
        call_id = text(event.get("gen_ai", {}).get("tool", {}).get("call", {}).get("id"))
        if not call_id:
            return
        key = (event["harness"]["name"], text(event.get("session", {}).get("id")), call_id)
        if key in self._denied_calls:
            set_action(event, "tool.failed")
            event.pop("approval", None)
            return
        self._denied_calls[key] = None
        if len(self._denied_calls) > DENIED_CALLS_KEPT:
            del self._denied_calls[next(iter(self._denied_calls))]

    def metric_events(
        self, res_attrs: Mapping[str, Any], metric: Mapping[str, Any]
    ) -> Iterator[Dict[str, Any]]:
        name = metric["name"]
        kind = usage_kind(name)
        if kind is None:
            return
        if (
            name.startswith("gen_ai.")
            and harness_name(text(res_attrs.get("service.name"))) in HARNESS_EVENT_NAMES.values()
        ):
            return  # the agent's own usage metric counts the same tokens; one source only
        shape = metric_shape(metric)
        if shape is None:
            return
        metric_type, data = shape
        cumulative = data.get("aggregation_temporality") == 2
        points = data["data_points"]
        values = [point_value(point) for point in points]
        if name == CODEX_TOKEN_USAGE:
            values = without_cached_input(points, values)
        for point, value in zip(points, values):
            if value is None:
                continue
            if cumulative:
                value = self._increment(name, res_attrs, point, float(value))
            if not value:
                continue
            attrs = point["attributes"]
            event = self.base(res_attrs, attrs, point["time_unix_nano"])
            event["event"]["action"] = f"{kind}.usage"
            event["event"]["category"] = "metric"
            event["message"] = name
            model = first(attrs, "model", "gen_ai.request.model", "gen_ai.response.model")
            if model:
                event["model"] = model
            cost = {"usage": {"cost_usd": float(value)}}
            event["gen_ai"] = token_gen_ai(attrs, value) if kind == "token" else cost
            event["raw"] = metric_raw(metric, metric_type, data, point, value)
            yield event

    def _increment(
        self, name: str, res_attrs: Mapping[str, Any], point: Mapping[str, Any], value: float
    ) -> float:
        """A cumulative point's increase since the last export of the same series."""
        key = (
            name,
            text(res_attrs.get("service.instance.id")),
            text(res_attrs.get("session.id")),
            tuple(sorted((k, text(v)) for k, v in point["attributes"].items())),
            point["start_time_unix_nano"],
        )
        previous = self._cumulative.get(key, 0.0)
        self._cumulative[key] = value
        return value - previous if value >= previous else value  # a reset starts again


SEVERITY_NAMES = {1: "trace", 5: "debug", 9: "info", 13: "warn", 17: "error", 21: "fatal"}
SPAN_KINDS = {0: "Unspecified", 1: "Internal", 2: "Server", 3: "Client", 4: "Producer", 5: "Consumer"}
SPAN_STATUSES = {0: "Unset", 1: "Ok", 2: "Error"}


def join_trace(trace: Dict[str, Any], trace_id: str, span_id: str, parent_span_id: str = "") -> None:
    """Where in the agent's own trace a record or span sits. `trace.id` stays the capture's: an
    agent that ignores TRACEPARENT (Copilot CLI) has a trace of its own, kept as source_id."""
    if not trace_id:
        return
    if span_id:
        trace["span_id"] = span_id
    if parent_span_id:
        trace["parent_span_id"] = parent_span_id
    if trace_id != trace["id"]:
        trace["source_id"] = trace_id


DENIED_CALLS_KEPT = 4096  # a decision and its result arrive within one turn
TRACE_SESSIONS_KEPT = 1024  # traces whose session is known; a capture has a few


def event_name(body: str, attrs: Mapping[str, Any], record_event_name: str) -> str:
    """The harness's own event name: `claude_code.tool_result`, `codex.tool_result`, ..."""
    name = first(attrs, "event.name")
    if body.startswith("claude_code.") and (not name or body.endswith("." + name)):
        return body
    if name.startswith(("codex.", "gemini_cli.", "claude_code.", "gen_ai.")):
        return name
    return name or record_event_name or body


def usage_kind(metric_name: str) -> Optional[str]:
    lowered = metric_name.strip().lower()
    if lowered.endswith("token.usage") or lowered.endswith("token_usage"):
        return "token"
    if lowered.endswith("cost.usage"):
        return "cost"
    return None


_TOKEN_TYPES = {
    "input": "input_tokens",
    "prompt": "input_tokens",
    "output": "output_tokens",
    "completion": "output_tokens",
    "cacheread": "cache_read.input_tokens",
    "cachedinput": "cache_read.input_tokens",
    "cache": "cache_read.input_tokens",
    "cachecreation": "cache_creation.input_tokens",
    "reasoning": "reasoning.output_tokens",
    "reasoningoutput": "reasoning.output_tokens",
    "thought": "reasoning.output_tokens",
    "total": "total_tokens",
}


def token_gen_ai(attrs: Mapping[str, Any], value: float) -> Dict[str, Any]:
    """gen_ai of a token point: 1.0's token.type (the point's own word for it) and the count, in
    the usage slot that type names."""
    token_type = first(attrs, "type", "token_type", "gen_ai.token.type")
    slot = _TOKEN_TYPES.get(token_type.lower().replace("_", ""), "")
    usage: Dict[str, Any] = {}
    put_dotted(usage, slot or "tokens", round(value))  # a type we do not know still keeps its count
    return {"token": {"type": token_type}, "usage": usage} if token_type else {"usage": usage}


_METRIC_TYPES = (("sum", "Sum"), ("gauge", "Gauge"), ("histogram", "Histogram"))
_TEMPORALITIES = {1: "Delta", 2: "Cumulative"}


def metric_shape(metric: Mapping[str, Any]) -> Optional[Tuple[str, Mapping[str, Any]]]:
    """The metric's type as 1.0's raw.metric_type names it, and its data; None for the kinds
    that carry no usage value (exponential histograms, summaries)."""
    for key, metric_type in _METRIC_TYPES:
        if metric.get(key):
            return metric_type, metric[key]
    return None


def point_value(point: Mapping[str, Any]) -> Optional[float]:
    return point.get("as_double", point.get("as_int", point.get("sum")))


def metric_raw(
    metric: Mapping[str, Any],
    metric_type: str,
    data: Mapping[str, Any],
    point: Mapping[str, Any],
    value: float,
) -> Dict[str, Any]:
    """raw of a metric event, as 1.0 has it: how the metric aggregates, so that a consumer can
    tell a delta from a running total, and the point's own attributes."""
    raw: Dict[str, Any] = {
        "otel_signal": "metrics",
        "metric_name": metric["name"],
        "metric_description": metric["description"],
        "metric_unit": metric["unit"],
        "metric_value": value,
        "metric_type": metric_type,
    }
    if metric_type != "Gauge":
        raw["metric_temporality"] = _TEMPORALITIES.get(data.get("aggregation_temporality", 0), "Unspecified")
    if metric_type == "Sum":
        raw["metric_monotonic"] = bool(data.get("is_monotonic"))
    if metric_type == "Histogram":
        raw["metric_count"] = point.get("count", 0)
    raw["attributes"] = dict(point["attributes"])
    return raw


CODEX_TOKEN_USAGE = "codex.turn.token_usage"


def without_cached_input(
    points: Sequence[Mapping[str, Any]], values: Sequence[Optional[float]]
) -> List[Optional[float]]:
    """Codex's usage values with each `input` point less the `cached_input` of its turn and model
    (never below 0). Codex counts cached input in both; 1.0's input_tokens, like Claude's, does
    not (it is cache_read's), so input plus cache read would count it twice."""
    cached: Dict[Tuple[Any, ...], float] = {}
    for point, value in zip(points, values):
        if value is not None and first(point["attributes"], "token_type") == "cached_input":
            turn = _codex_turn(point)
            cached[turn] = cached.get(turn, 0.0) + value
    return [
        max(value - cached.get(_codex_turn(point), 0), 0)
        if value is not None and first(point["attributes"], "token_type") == "input"
        else value
        for point, value in zip(points, values)
    ]


def _codex_turn(point: Mapping[str, Any]) -> Tuple[Any, ...]:
    """Which turn and model a usage point counts: its time and every attribute but its type."""
    attrs = sorted((key, text(value)) for key, value in point["attributes"].items() if key != "token_type")
    return point["time_unix_nano"], tuple(attrs)


def map_generic_log(event: Dict[str, Any], name: str, attrs: Mapping[str, Any]) -> None:
    """Records of unknown agents or names: keep them, as observed activity. An action the
    record names itself (beacon.event.action) is not taken: an agent does not get to label
    what it did as, say, an allowed approval."""
    set_action(event, "session.activity")


LOG_MAPPERS: Dict[str, Callable[[Dict[str, Any], str, Mapping[str, Any]], None]] = {
    "claude_code": map_claude_log,
    "codex_cli": map_codex_log,
    "gemini_cli": map_gemini_log,
}
# Harnesses whose spans report what they did (Copilot: only there; Claude: what its records
# lack). Codex's and Gemini's spans repeat their records, durations included: counted only.
SPAN_MAPPERS: Dict[str, Callable[[Dict[str, Any], Mapping[str, Any], Mapping[str, Any]], bool]] = {
    "claude_code": map_claude_span,
    "copilot_cli": map_copilot_span,
}
# Child spans whose facts belong to their parent's event: their names, and what each says.
CHILD_SPANS: Dict[str, Tuple[Sequence[str], Callable[[Mapping[str, Any]], Dict[str, Any]]]] = {
    "claude_code": (CLAUDE_CHILD_SPANS, claude_child_facts),
}
# Harnesses that report a tool call both as a log record and as a span: joined, never twice.
SPAN_JOINED = frozenset({"claude_code"})
