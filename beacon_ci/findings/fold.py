"""The fold: events in, one at a time, as the writer writes them or as a log is read back;
findings out, in memory that does not grow with the log (FINDINGS_KEPT findings of
EVIDENCE_KEPT event ids each, past which events are counted by rule).

Only what the agent did or was allowed to do fires a rule: a command it ran or that was approved
(command.executed, approval.allowed), a file it read or wrote, a tool or MCP call it made. What
was refused is a denial (BCN182), and trying it again is BCN183. The text a finding quotes is the
event's own, already redacted."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Optional, Tuple

from beacon_ci.findings.commands import SUBJECT_CHARS, Hit, command_hits
from beacon_ci.findings.hosts import DEFAULT_ALLOWED_HOSTS, is_allowed, is_metadata, is_own, url_hosts
from beacon_ci.findings.paths import path_rule

FINDINGS_KEPT = 1000  # distinct findings kept; past that, their events are counted by rule
EVIDENCE_KEPT = 20  # event ids kept per finding; the count stays exact
REFUSALS_TRACKED = 1000  # refused targets remembered to see them tried again
HARNESSES_KEPT = 20  # agents whose redactions are counted apart; a capture has one to three

ATTEMPTS = frozenset({"command.executed", "approval.allowed"})
FILE_WRITES = {"file.read": False, "file.created": True, "file.modified": True}
TOOL_CALLS = frozenset({"tool.invoked", "mcp.tool_invoked"})
# Where each agent says it runs without approvals: Claude Code's permission mode, Gemini CLI's
# approval mode (on its config event and on every event); Codex says approval_policy and
# sandbox_policy on conversation_starts. A mode the job configured must bypass every check to
# be a finding; a switch during the session (Claude's permission_mode_changed, Gemini's
# approval_mode_switch: to_mode) is one as soon as it approves anything by itself.
MODE_KEYS = ("permission_mode", "approval_mode", "active_approval_mode")
SWITCH_KEYS = ("to_mode", "new_mode")
BYPASS_MODES = frozenset({"bypasspermissions", "yolo"})
AUTO_APPROVING_MODES = BYPASS_MODES | {"acceptedits", "autoedit", "auto_edit", "auto"}
MCP_ARGUMENTS = ("tool_input", "tool_parameters", "arguments", "function_args")
URL_KEYS = frozenset({"url", "uri", "href", "endpoint", "link", "base_url", "target_url"})


class FindingsFold:
    """add() each event, then result() once: the findings, not yet judged by a configuration
    (judge.py), so that a session's receiver can fold before finish knows the user's."""

    def __init__(self) -> None:
        self._findings: Dict[Tuple[str, str, str], Dict[str, Any]] = {}
        self._omitted: Dict[str, int] = {}
        self._secrets: Dict[str, Dict[str, Any]] = {}  # by harness: events by category, ids
        self._pending_denials: Dict[str, Tuple[str, str, str]] = {}  # call id: harness, event id, tool
        self._refused: Dict[Tuple[str, str], str] = {}  # (harness, target): the first refusal's event id
        self._usage_events: List[str] = []
        self._workflow_ref = ""

    def add(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        inner = _dict(event.get("event"))
        action, event_id = _str(inner.get("action")), _str(inner.get("id"))
        harness = _str(_dict(event.get("harness")).get("name")) or "unknown"
        if not self._workflow_ref:
            self._workflow_ref = _str(_dict(event.get("run")).get("workflow_ref"))
        if _dict(event.get("content")).get("redacted") is True:
            self._note_secret(harness, _str(inner.get("category")) or action or "event", event_id)
        if len(self._usage_events) < EVIDENCE_KEPT and _dict(_dict(event.get("gen_ai")).get("usage")):
            self._usage_events.append(event_id)
        for hit, quote in _hits(event, action):
            self._record(hit, harness, [event_id], quote)
        self._follow_refusals(event, action, harness, event_id)

    def result(self) -> Dict[str, Any]:
        """Every finding (JSON-ready), what was past the bound, and what judging needs."""
        while self._pending_denials:  # denials whose call never said what it was
            self._refuse_unnamed(next(iter(self._pending_denials)))
        findings = list(self._findings.values()) + [
            _secrets_finding(harness, seen) for harness, seen in self._secrets.items()
        ]
        return {
            "findings": findings,
            "omitted": dict(self._omitted),
            "usage_events": list(self._usage_events),
            "workflow_ref": self._workflow_ref,
        }

    def _record(self, hit: Hit, harness: str, event_ids: List[str], quote: str) -> None:
        key = (hit.rule, harness, hit.subject)
        finding = self._findings.get(key)
        if finding is None:
            if len(self._findings) >= FINDINGS_KEPT:
                self._omitted[hit.rule] = self._omitted.get(hit.rule, 0) + 1
                return
            finding = self._findings[key] = new_finding(hit, harness, quote)
        for event_id in event_ids:
            if event_id not in finding["events"]:
                finding["event_count"] += 1
                if len(finding["events"]) < EVIDENCE_KEPT:
                    finding["events"].append(event_id)

    def _note_secret(self, harness: str, category: str, event_id: str) -> None:
        if harness not in self._secrets and len(self._secrets) >= HARNESSES_KEPT:
            harness = "(other)"  # a log naming more harnesses than any capture has
        seen = self._secrets.setdefault(harness, {"categories": {}, "events": [], "count": 0})
        seen["count"] += 1
        if category in seen["categories"] or len(seen["categories"]) < EVIDENCE_KEPT:
            seen["categories"][category] = seen["categories"].get(category, 0) + 1
        if len(seen["events"]) < EVIDENCE_KEPT:
            seen["events"].append(event_id)

    def _follow_refusals(self, event: Dict[str, Any], action: str, harness: str, event_id: str) -> None:
        """Denials (BCN182), and a refused target asked for or run again (BCN183). Codex names
        the command of a denial only in the call's result: the denial waits for it."""
        target, call_id = target_of(event), _call_id(event)
        if action == "approval.denied":
            if not target and call_id:
                self._wait_for_target(call_id, harness, event_id, tool_name(event))
            else:
                self._refusal(harness, target or tool_name(event) or "(unknown)", [event_id])
            return
        pending = self._pending_denials.pop(call_id, None) if call_id else None
        if pending is not None:
            self._refusal(pending[0], target or pending[2] or "(unknown)", [pending[1], event_id])
        elif action in ATTEMPTS and target and (harness, target) in self._refused:
            self._record(Hit("BCN183", target), harness, [self._refused[(harness, target)], event_id], target)

    def _wait_for_target(self, call_id: str, harness: str, event_id: str, tool: str) -> None:
        if len(self._pending_denials) >= REFUSALS_TRACKED:
            self._refuse_unnamed(next(iter(self._pending_denials)))  # the oldest waits no longer
        self._pending_denials[call_id] = (harness, event_id, tool)

    def _refuse_unnamed(self, call_id: str) -> None:
        """A denial that waited for its target in vain: known by its tool's name."""
        harness, event_id, tool = self._pending_denials.pop(call_id)
        self._refusal(harness, tool or "(unknown)", [event_id])

    def _refusal(self, harness: str, target: str, event_ids: List[str]) -> None:
        self._record(Hit("BCN182", target), harness, event_ids, target)
        first = self._refused.get((harness, target))
        if first is not None:
            self._record(Hit("BCN183", target), harness, [first, *event_ids], target)
        elif len(self._refused) < REFUSALS_TRACKED:
            self._refused[(harness, target)] = event_ids[0]


def new_finding(hit: Hit, harness: str, quote: str) -> Dict[str, Any]:
    finding: Dict[str, Any] = {
        "rule": hit.rule,
        "harness": harness,
        "subject": hit.subject,
        "quote": (quote or hit.subject)[:SUBJECT_CHARS],
        "events": [],
        "event_count": 0,
    }
    if hit.path:
        finding["path"] = hit.path
    if hit.host:
        finding["host"] = hit.host
    return finding


def _secrets_finding(harness: str, seen: Dict[str, Any]) -> Dict[str, Any]:
    """BCN181, one per harness: how many events needed redaction, by category, never what."""
    kinds = ", ".join(f"{category} {n}" for category, n in sorted(seen["categories"].items()))
    return {
        "rule": "BCN181",
        "harness": harness,
        "subject": "",
        "quote": "",
        "detail": f"{seen['count']} event{'' if seen['count'] == 1 else 's'} needed redaction: {kinds}",
        "events": seen["events"],
        "event_count": seen["count"],
    }


def _hits(event: Dict[str, Any], action: str) -> Iterator[Tuple[Hit, str]]:
    """(rule hit, the text it quotes) for one event."""
    yield from _mode_hits(event)
    if action in ATTEMPTS:
        command = command_of(event)
        for hit in command_hits(command) if command else ():
            yield hit, command
    elif action in FILE_WRITES:
        for path in paths_of(event):
            rule = path_rule(path, FILE_WRITES[action])
            if rule is not None:
                yield Hit(rule, path, path=path), path
    elif action in TOOL_CALLS:
        for url, host in _tool_urls(event):
            if is_metadata(host):
                yield Hit("BCN114", host, host=host), url
            elif not is_own(host) and not is_allowed(host, DEFAULT_ALLOWED_HOSTS):
                yield Hit("BCN141", host, host=host), url


def _mode_hits(event: Dict[str, Any]) -> Iterator[Tuple[Hit, str]]:
    """BCN151 from what an agent reports about itself: a bypass mode, a switch to a mode that
    approves by itself, or Codex with approvals off and no sandbox."""
    attrs = _dict(_dict(event.get("raw")).get("attributes"))
    if not attrs:
        return
    for keys, modes, subject in (
        (MODE_KEYS, BYPASS_MODES, "mode"),
        (SWITCH_KEYS, AUTO_APPROVING_MODES, "switched to"),
    ):
        for key in keys:
            value = attrs.get(key)
            if isinstance(value, str) and value.lower() in modes:
                yield Hit("BCN151", f"{subject} {value}"), f"{key}={value}"
    approvals, sandbox = _str(attrs.get("approval_policy")).lower(), _str(attrs.get("sandbox_policy")).lower()
    if approvals == "never" and "danger-full-access" in sandbox:
        subject = "approval_policy=never, sandbox_policy=danger-full-access"
        yield Hit("BCN151", subject), subject


def _tool_urls(event: Dict[str, Any]) -> Iterator[Tuple[str, str]]:
    """(URL, host) a web or MCP tool call reached: Claude's WebFetch url, Gemini's web_fetch
    prompt, the URL arguments of an MCP call."""
    tool = _dict(event.get("tool"))
    texts = [_str(tool.get("url")), _str(tool.get("prompt"))]
    if _str(_dict(event.get("event")).get("action")) == "mcp.tool_invoked":
        texts += _mcp_urls(_dict(_dict(event.get("raw")).get("attributes")))
    for text in texts:
        for host in url_hosts(text) if text else ():
            yield text[:SUBJECT_CHARS], host


def _mcp_urls(attrs: Dict[str, Any]) -> List[str]:
    """The URL-valued arguments of an MCP call (a fetch server's `url`), not every link in a
    body it posts."""
    found: List[str] = []
    for key in MCP_ARGUMENTS:
        value = attrs.get(key)
        if isinstance(value, str) and value.lstrip().startswith("{"):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if isinstance(value, dict):
            found += [v for k, v in value.items() if k.lower() in URL_KEYS and isinstance(v, str)]
    return found


def command_of(event: Dict[str, Any]) -> str:
    return _str(_dict(event.get("command")).get("command")) or _str(_dict(event.get("tool")).get("command"))


def paths_of(event: Dict[str, Any]) -> List[str]:
    file_ = _dict(event.get("file"))
    paths = (
        [_str(p) for p in file_.get("paths") or () if _str(p)] if isinstance(file_.get("paths"), list) else []
    )
    first = _str(file_.get("path")) or _str(_dict(event.get("tool")).get("path"))
    return paths or ([first] if first else [])


def target_of(event: Dict[str, Any]) -> str:
    """What an action was about: its command, path or URL."""
    tool = _dict(event.get("tool"))
    return (
        command_of(event)
        or _str(_dict(event.get("file")).get("path"))
        or _str(tool.get("path"))
        or _str(tool.get("url"))
    )[:SUBJECT_CHARS]


def tool_name(event: Dict[str, Any]) -> str:
    return _str(_dict(event.get("tool")).get("name"))


def _call_id(event: Dict[str, Any]) -> Optional[str]:
    return _str(_dict(_dict(_dict(event.get("gen_ai")).get("tool")).get("call")).get("id")) or None


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
