"""The summary of what the agent did: summarize(), its text and Markdown forms, `beacon ci
summary`, and what `ci exec` does with it (stderr, $GITHUB_STEP_SUMMARY, annotations).

Counts come from the golden fixtures of the three agents' scripted sessions (tests/agents/),
normalized as test_normalize.py does, and from real logs written by `ci exec` around
tests/fake_agent.py."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
from conftest import ROOT
from test_exec import Run, agent, beacon_run, environ, exec_claude
from test_normalize import CONTEXT, codex_token_usage, normalized

from beacon_ci.agents.normalizer import Normalizer
from beacon_ci.cli import main
from beacon_ci.environment import Environment
from beacon_ci.errors import EXIT_USAGE, EXIT_VALIDATION
from beacon_ci.eventlog import Stage, Validation, validate_log
from beacon_ci.github import workflow_escape
from beacon_ci.report.markdown import render_markdown
from beacon_ci.report.summary import SUMMARY_KEEP, SUMMARY_SHOWN, TEXT_ITEM_CHARS, parse_time, summarize
from beacon_ci.report.text import render_text
from beacon_ci.selftest import SYNTHETIC_SECRET

FAKE_AGENT = str(ROOT / "tests" / "fake_agent.py")
HOSTILE = (
    "</details><script>alert(1)</script> `rm -rf /` | col | [x](http://evil) *b* <img src=x>\n### pwned &amp;"
)


def only(summary: Dict[str, Any]) -> Dict[str, Any]:
    assert len(summary["harnesses"]) == 1, summary["harnesses"]
    return summary["harnesses"][0]


def event(action: str, **fields: Any) -> Dict[str, Any]:
    """A minimal Beacon event of one harness, as the log holds it."""
    base: Dict[str, Any] = {
        "timestamp": "2026-11-25T10:00:00.000Z",
        "vendor": "beacon",
        "product": "endpoint-agent",
        "schema_version": "1.0",
        "event": {"kind": "agent_runtime", "action": action, "category": "x"},
        "severity": "info",
        "endpoint": {"os": "linux"},
        "harness": {"name": "claude_code", "version": "9"},
        "capture": {"id": "cap-a"},
    }
    base.update(fields)
    return base


def write_log(path: Path, events: List[Dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def summary_cli(tmp_path: Path, *argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(["ci", "summary", *argv], Environment(environ=environ(tmp_path), stdout=out, stderr=err))
    return Run(code, out.getvalue(), err.getvalue(), tmp_path / "unused")


# --- summarize() on the golden fixtures --------------------------------------------------


def test_claude_session_counts() -> None:
    h = only(summarize(normalized("claude", "http/json")))
    assert (h["name"], h["version"], h["events"]) == ("claude_code", "2.1.197", 23)
    assert h["prompts"] == ["Run the beacon end-to-end session."]
    assert [(c["command"], c["outcome"]) for c in h["commands"]] == [
        ("echo BEACON_E2E_MARKER", "success"),
        ("ls /nonexistent-beacon-dir", "failure"),
        (
            "echo 'Authorization: Bearer sk-ant-api03-BEACONe2eFAKEKEY0123456789' "
            "ghp_BEACONe2eSECRET0123456789abcdefABCDEF",
            "success",
        ),
    ]
    assert h["counts"]["commands"] == 3 and h["counts"]["commands_failed"] == 1
    assert [len(h["files"][op]) for op in ("read", "created", "modified")] == [1, 0, 1]
    assert h["files"]["read"] == h["files"]["modified"] and h["files"]["read"][0].endswith("/beacon_e2e.txt")
    assert h["tools"] == {"Bash": 3, "Read": 1, "Write": 1} and h["mcp"] == {}
    assert len(h["approvals_denied"]) == 1
    assert h["approvals_denied"][0]["tool"] == "Bash"
    assert h["approvals_denied"][0]["target"].startswith("rm -rf ") and h["approvals_denied"][0][
        "target"
    ].endswith("/beacon_denied")
    assert h["errors"] == [{"type": "ShellError", "message": "Shell command failed"}]
    # per-request usage only: the token/cost metrics say the same again and must not be added
    assert h["usage_source"] == "requests"
    assert h["models"] == {
        "claude-opus-4-8": {
            "input_tokens": 840,
            "output_tokens": 175,
            "cache_read_tokens": 0,
            "cache_creation_tokens": 0,
            "cost_usd": 0.008575,
        }
    }
    assert h["duration_seconds"] == pytest.approx(0.252)
    assert h["redacted"] == 0


def test_both_claude_encodings_summarize_alike() -> None:
    def shape(events: List[Dict[str, Any]]) -> Dict[str, Any]:
        h = only(summarize(events))
        return {k: h[k] for k in ("counts", "tools", "models", "errors", "events")}

    assert shape(normalized("claude", "http/json")) == shape(normalized("claude", "http/protobuf"))


def test_codex_session_counts_with_usage_from_metrics() -> None:
    h = only(summarize(normalized("codex", "binary")))
    assert (h["name"], h["version"], h["events"]) == ("codex_cli", "0.169.0", 28)
    assert h["counts"]["prompts"] == 1
    assert [(c["command"], c["outcome"], c["exit_code"]) for c in h["commands"]][:3] == [
        ("echo BEACON_E2E_MARKER", "success", 0),
        (h["commands"][1]["command"], "success", 0),
        ("ls /nonexistent-beacon-dir", "failure", 2),
    ]  # the denied command never ran
    assert h["counts"]["commands"] == 4 and h["counts"]["commands_failed"] == 1
    assert [len(h["files"][op]) for op in ("read", "created", "modified")] == [0, 1, 0]
    assert h["tools"] == {"exec_command": 5, "apply_patch": 1}
    # Codex's denial names no command: it is taken from the result of the same tool call
    assert h["approvals_denied"] == [{"tool": "exec_command", "target": "git push --force origin main"}]
    assert [e["type"] for e in h["errors"]] == ["rejected", "tool_error"]
    assert h["usage_source"] == "metrics"
    assert h["models"]["gpt-5.5"]["input_tokens"] == 840 and h["models"]["gpt-5.5"]["output_tokens"] == 175
    # Codex's metrics arrive first but are stamped last: duration spans min to max
    assert h["duration_seconds"] is not None and h["duration_seconds"] > 0


def test_codex_usage_counts_its_cached_input_once() -> None:
    """Codex's input counts its cached input too: the totals say it once, as cache read."""
    batch = codex_token_usage(
        ("gpt-5.5", "input", 120), ("gpt-5.5", "cached_input", 90), ("gpt-5.5", "output", 25)
    )
    h = only(summarize(Normalizer(CONTEXT).events(batch)))
    assert h["usage_source"] == "metrics"
    assert h["models"]["gpt-5.5"] == {
        "input_tokens": 30,
        "output_tokens": 25,
        "cache_read_tokens": 90,
        "cache_creation_tokens": 0,
        "cost_usd": 0,
    }


def test_gemini_session_counts_without_doubling_usage() -> None:
    h = only(summarize(normalized("gemini", "http/json")))
    assert (h["name"], h["version"], h["events"]) == ("gemini_cli", "", 44)
    assert h["counts"]["commands"] == 3 and h["counts"]["commands_failed"] == 1
    assert [len(h["files"][op]) for op in ("read", "created", "modified")] == [1, 0, 1]
    assert h["tools"] == {"run_shell_command": 3, "read_file": 1, "write_file": 1}
    assert h["approvals_denied"] == [
        {"tool": "run_shell_command", "target": "curl -sS http://127.0.0.1:9/denied-by-policy"}
    ]
    assert [e["type"] for e in h["errors"]] == ["policy_violation", "tool_error"]
    assert h["usage_source"] == "requests"
    assert h["models"]["gemini-2.5-flash"]["input_tokens"] == 9100  # 1000 + ... + 1600, not 18200
    assert h["models"]["gemini-2.5-flash"]["output_tokens"] == 91


def test_copilot_session_counts_and_where_its_time_went() -> None:
    h = only(summarize(normalized("copilot", "http/json")))
    assert (h["name"], h["version"], h["events"]) == ("copilot_cli", "1.0.102", 14)
    assert h["counts"]["prompts"] == 1
    assert h["counts"]["commands"] == 3 and h["counts"]["commands_failed"] == 1
    assert [len(h["files"][op]) for op in ("read", "created", "modified")] == [1, 1, 0]
    assert h["tools"] == {"bash": 3, "create": 1, "view": 1}
    assert [d["tool"] for d in h["approvals_denied"]] == ["bash"]
    assert h["approvals_denied"][0]["target"].startswith("rm -rf ")
    assert h["models"]["claude-sonnet-4.5"]["input_tokens"] == 840  # 7 chat spans, not the run's sum again
    assert h["models"]["claude-sonnet-4.5"]["output_tokens"] == 175
    time = h["time"]
    assert time["model_ms"] > 0 and set(time["tools_ms"]) == {"bash", "create", "view"}
    assert time["approval_wait_ms"] == 0


def test_events_of_several_harnesses_and_versions_are_kept_apart() -> None:
    events = normalized("claude", "http/json") + normalized("codex", "binary")
    events.append(
        event("prompt.submitted", harness={"name": "claude_code", "version": "3.0"}, prompt={"text": "x"})
    )
    summary = summarize(events)
    keys = [(h["name"], h["version"]) for h in summary["harnesses"]]
    assert keys == [("claude_code", "2.1.197"), ("codex_cli", "0.169.0"), ("claude_code", "3.0")]
    assert summary["event_count"] == 23 + 28 + 1


def test_hostile_values_do_not_break_the_summary() -> None:
    events: List[Any] = [
        "not an object",
        event("token.usage", gen_ai={"usage": {"input_tokens": "lots", "cost_usd": float("nan")}}),
        event("command.executed", command={"command": ["a", "list"], "exit_code": True}, tool="Bash"),
        event("session.activity", harness="claude", timestamp=7, content={"redacted": True}),
        event(
            "mcp.tool_invoked",
            mcp={"server": "github", "tool": "create_issue"},
            tool={"name": "mcp__github__x"},
        ),
    ]
    h, odd = summarize(events)["harnesses"]
    assert h["models"]["unknown"]["input_tokens"] == 0 and h["models"]["unknown"]["cost_usd"] == 0
    assert h["commands"] == [{"command": "", "outcome": "", "exit_code": None}]
    assert h["mcp"] == {"github/create_issue": 1}
    assert (odd["name"], odd["redacted"], odd["duration_seconds"]) == ("unknown", 1, None)
    json.dumps(summarize(events), allow_nan=False)
    render_text(summarize(events))
    render_markdown(summarize(events))


def test_timestamps_parse_like_the_standard_library() -> None:
    import calendar

    for stamp, fields in (
        ("2026-11-25T17:30:21.402Z", (2026, 11, 25, 17, 30, 21)),
        ("2000-02-29T00:00:00Z", (2000, 2, 29, 0, 0, 0)),
        ("1970-01-01T00:00:00.5Z", (1970, 1, 1, 0, 0, 0)),
    ):
        assert parse_time(stamp) == pytest.approx(
            calendar.timegm(fields) + float("0." + (stamp[20:-1] or "0"))
        )
    assert parse_time("yesterday") is None and parse_time("2026-13-01T00:00:00Z") is None


# --- the text form --------------------------------------------------------------------------

CLAUDE_TEXT = """\
summary: 23 events, validation not checked
  claude_code 2.1.197:
    events     23 over 0.3s
    prompts    1
    commands   3 (1 failed)
    files      1 read, 0 created, 1 modified
    tools      Bash 3, Read 1, Write 1
    mcp calls  none
    denied     1 (first: Bash: rm -rf {denied})
    errors     1 (first: ShellError: Shell command failed)
    redacted   0 events
    model      claude-opus-4-8: 840 in, 175 out, 0 cache read, 0 cache write, $0.0086
    time       model 103ms, tools 62ms (Bash 54ms, Write 6ms, Read 2ms), approvals 0ms"""


def test_text_form_of_the_claude_session() -> None:
    events = normalized("claude", "http/json")
    text = render_text(summarize(events))
    denied = only(summarize(events))["approvals_denied"][0]["target"]
    assert text == CLAUDE_TEXT.format(denied=(denied[7:])[: TEXT_ITEM_CHARS - 1 - 13] + "…")


def test_text_form_keeps_agent_text_on_one_short_line() -> None:
    summary = summarize(
        [event("approval.denied", tool={"name": "Bash", "command": "x\n::error::forged\r" + "y" * 500})]
    )
    text = render_text(summary)
    assert all(not line.startswith("::") for line in text.splitlines())
    assert "\r" not in text and max(len(line) for line in text.splitlines()) < 120


# --- the Markdown form --------------------------------------------------------------------


def test_markdown_status_first_headings_and_folded_details() -> None:
    validation = Validation("log", [Stage("event_count", False, "0 events, want at least 1", {})], 0, {})
    md = render_markdown(summarize(normalized("claude", "http/json"), validation.as_json()))
    lines = md.splitlines()
    assert lines[0] == "### beacon: what the agent did"
    assert lines[2].startswith("**Telemetry validation: ❌ failed**")
    assert "- event\\_count: 0 events, want at least 1" in md
    assert "### claude\\_code 2.1.197" in md
    assert "| commands | 3 (1 failed) |" in md
    assert "| models | claude-opus-4-8: 840 in, 175 out, 0 cache read, 0 cache write, $0.0086 |" in md
    assert md.count("<details>") == md.count("</details>") == 7
    assert "<details><summary>Commands (3)</summary>" in md


def test_markdown_escapes_hostile_agent_text() -> None:
    events = [
        event("prompt.submitted", prompt={"text": HOSTILE}),
        event("command.executed", command={"command": HOSTILE}, tool={"name": "Bash|`x`"}),
        event("approval.denied", tool={"name": "<b>", "command": HOSTILE}),
        event("session.error", error={"type": "</details>", "message": HOSTILE}),
        event("file.read", file={"path": HOSTILE}),
        event("prompt.submitted", harness={"name": "<h1>x", "version": "|"}),
    ]
    md = render_markdown(summarize(events))
    # the only HTML is ours: balanced details/summary tags, nothing from the agent
    tags = [
        line for line in md.replace("<details><summary>", "\n<details><summary>").splitlines() if "<" in line
    ]
    assert all(
        (line.startswith("<details><summary>") and line.endswith("</summary>")) or line == "</details>"
        for line in tags
    ), tags
    assert "<script>" not in md and "<img" not in md and "<b>" not in md and "<h1>" not in md
    assert "&lt;/details&gt;&lt;script&gt;" in md
    assert "\\`rm -rf /\\`" in md and "\\| col \\|" in md and "\\[x\\](http://evil)" in md and "\\*b\\*" in md
    assert "&amp;amp;" in md  # an entity in agent text stays text
    assert "\n### pwned" not in md  # the newline did not start a heading
    for line in md.splitlines():
        if line.startswith("| ") and "|" in line[2:-2]:
            assert line.replace("\\|", "").count("|") == 3, line  # a pipe in agent text never adds a cell


def test_markdown_cuts_long_lists_with_a_count() -> None:
    events = [
        event(
            "command.executed",
            command={"command": f"echo {i}"},
            event={"kind": "agent_runtime", "action": "command.executed", "outcome": "failure"},
        )
        for i in range(1234)
    ]
    summary = summarize(events)
    h = only(summary)
    assert h["counts"]["commands"] == 1234 and h["counts"]["commands_failed"] == 1234
    assert len(h["commands"]) == SUMMARY_KEEP  # the dict is bounded too, the count stays exact
    md = render_markdown(summary)
    assert f"- … and {1234 - SUMMARY_SHOWN} more" in md
    assert md.count("- failure: echo") == SUMMARY_SHOWN


def test_markdown_stays_under_one_mebibyte(tmp_path: Path) -> None:
    # many harnesses with long, escaping-heavy prompts: far more than 1 MiB of Markdown uncapped
    events = [
        event(
            "prompt.submitted", harness={"name": f"agent{n}", "version": "1"}, prompt={"text": "<&|`" * 1000}
        )
        for n in range(300)
        for _ in range(30)
    ]
    log = write_log(tmp_path / "runtime.jsonl", events)
    run = summary_cli(tmp_path, "--log-path", str(log), "--format", "markdown")
    assert run.code == 0, run.stderr
    size = len(run.stdout.encode("utf-8"))
    assert 900 * 1024 < size < 1024 * 1024
    assert "summary cut to stay under 1 MiB" in run.stdout
    assert run.stdout.count("<details>") == run.stdout.count("</details>")


# --- beacon ci summary ----------------------------------------------------------------------


def test_summary_command_formats_and_capture_filter(tmp_path: Path) -> None:
    events = [
        event("prompt.submitted", prompt={"text": "mine"}),
        event("prompt.submitted", prompt={"text": "theirs"}, capture={"id": "cap-b"}),
    ]
    log = write_log(tmp_path / "runtime.jsonl", events)
    with log.open("a") as handle:
        handle.write("{torn line\n")
    run = summary_cli(tmp_path, "--log-path", str(log), "--format", "json", "--capture-id", "cap-a")
    assert run.code == 0, run.stderr
    summary = json.loads(run.stdout)
    assert only(summary)["prompts"] == ["mine"] and summary["event_count"] == 1
    assert summary["validation"]["status"] == "passed"
    assert json.loads(json.dumps(summary)) == summary

    everything = json.loads(summary_cli(tmp_path, "--log-path", str(log), "--format", "json").stdout)
    assert only(everything)["prompts"] == ["mine", "theirs"]
    assert everything["validation"]["status"] == "failed"  # the torn line, counted by validation

    text = summary_cli(tmp_path, "--log-path", str(log))
    assert text.stdout.startswith("summary: 2 events, validation failed\n") and text.stderr == ""
    md = summary_cli(tmp_path, "--log-path", str(log), "--format", "markdown")
    assert md.stdout.startswith("### beacon: what the agent did")


def test_bidi_controls_in_a_hostile_log_never_reach_the_summary(tmp_path: Path) -> None:
    # Written by anyone but beacon's protection: the command would read as "cat notes" + "hs.txt".
    command = "cat notes\u202etxt.sh\u2066 #\u2069"
    events = [
        event("command.executed", command={"command": command}),
        event("approval.denied", tool={"name": "Bash", "command": command}),
    ]
    log = write_log(tmp_path / "runtime.jsonl", events)
    for form in ("markdown", "text"):
        run = summary_cli(tmp_path, "--log-path", str(log), "--format", form)
        assert run.code == 0, run.stderr
        assert "cat notestxt.sh #" in run.stdout, run.stdout
        assert not {"\u202e", "\u2066", "\u2069"} & set(run.stdout), form


def test_summary_of_a_missing_log_says_so(tmp_path: Path) -> None:
    run = summary_cli(tmp_path, "--log-path", str(tmp_path / "nope.jsonl"))
    assert run.code == 0
    missing = f"runtime_log_exists: {tmp_path / 'nope.jsonl'} does not exist"
    assert run.stdout == f"summary: 0 events, validation failed\n  {missing}\n  no agent events\n"
    markdown = summary_cli(tmp_path, "--log-path", str(tmp_path / "nope.jsonl"), "--format", "markdown")
    assert f"- {missing}".replace("_", "\\_") in markdown.stdout  # the same reason, escaped


def test_summary_rejects_an_unknown_format(tmp_path: Path) -> None:
    assert summary_cli(tmp_path, "--format", "html").code == EXIT_USAGE


def test_summary_json_round_trips_the_summary_of_a_real_exec(tmp_path: Path) -> None:
    run = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *agent())
    assert run.code == 0, run.stderr
    listed = summary_cli(tmp_path, "--log-path", str(run.log), "--format", "json")
    summary = json.loads(listed.stdout)
    events = run.events
    validation = validate_log(str(run.log), 1, (), None)
    assert summary == json.loads(json.dumps(summarize(events, validation.as_json())))


# --- the end of ci exec -----------------------------------------------------------------------


def test_exec_prints_the_text_summary_then_the_verdict(tmp_path: Path) -> None:
    run = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *agent())
    assert run.code == 0, run.stderr
    lines = run.stderr.splitlines()
    (trace_id,) = {event["trace"]["id"] for event in run.events}  # one trace per capture
    start = lines.index(f"beacon: summary: 6 events, validation passed, trace {trace_id}")
    verdict = lines.index("beacon: validation passed: 6 events")
    assert start < verdict  # the verdict is the last thing a person reads
    table = lines[start:verdict]
    assert table[1] == "beacon:   claude_code 2.1.197:"
    assert "beacon:     commands   1 (0 failed)" in table
    assert "beacon:     prompts    1" in table
    assert "beacon:     redacted   1 events" in table  # the synthetic session's secret
    assert (
        "beacon:     model      claude-opus-4-8: 120 in, 25 out, 0 cache read, 0 cache write, $0.0012"
        in table
    )
    assert run.stdout == ""  # no GitHub: no annotation
    assert SYNTHETIC_SECRET not in run.stderr


def test_exec_appends_the_markdown_to_the_step_summary(tmp_path: Path) -> None:
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("# earlier step\n")
    env = environ(tmp_path, GITHUB_STEP_SUMMARY=str(step_summary), GITHUB_ACTIONS="true")
    first = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *agent(), env=env)
    second = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *agent(), env=env)
    assert first.code == second.code == 0
    text = step_summary.read_text()
    assert text.startswith("# earlier step\n### beacon: what the agent did")
    assert text.count("### beacon: what the agent did") == 2
    assert text.count("6 events") == 2  # each exec summarizes its own capture, not the whole log
    assert "Review this change" in text
    assert SYNTHETIC_SECRET not in text
    # Validation passed: no annotation for it. The synthetic session's token is a finding.
    assert (
        first.stdout
        == second.stdout
        == (
            "::warning title=beacon BCN181 (medium)::Secrets reached the agent "
            "(1 event needed redaction: command 1) [claude_code]\n"
        )
    )


def test_exec_warns_once_on_github_when_telemetry_is_optional(tmp_path: Path) -> None:
    env = environ(tmp_path, GITHUB_ACTIONS="true")
    run = beacon_run(
        tmp_path,
        "ci",
        "exec",
        "--harness",
        "claude",
        "--require-telemetry",
        "false",
        *agent("--no-telemetry"),
        env=env,
    )
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "::warning::beacon: telemetry validation failed: event_count: 0 events"
    )
    assert "\n" not in lines[0].rstrip("\n") and "::error::" not in run.stdout


def test_exec_errors_once_on_github_when_telemetry_is_required(tmp_path: Path) -> None:
    env = environ(tmp_path, GITHUB_ACTIONS="true")
    run = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *agent("--no-telemetry"), env=env)
    assert run.code == EXIT_VALIDATION
    assert [line.split("::")[1] for line in run.stdout.splitlines()] == ["error"]
    assert "summary: 0 events, validation failed" in run.stderr


def test_no_annotation_outside_github(tmp_path: Path) -> None:
    for value in (None, "false", "1"):
        env = environ(tmp_path) if value is None else environ(tmp_path, GITHUB_ACTIONS=value)
        run = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *agent("--no-telemetry"), env=env)
        assert run.code == EXIT_VALIDATION and run.stdout == ""


def test_workflow_command_messages_are_escaped() -> None:
    assert workflow_escape("100% done\r\nnext::error::x") == "100%25 done%0D%0Anext::error::x"


def test_an_unwritable_step_summary_does_not_fail_exec(tmp_path: Path) -> None:
    env = environ(tmp_path, GITHUB_STEP_SUMMARY=str(tmp_path / "missing-dir" / "summary.md"))
    run = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *agent(), env=env)
    assert run.code == 0
    assert "beacon: cannot append the job summary to" in run.stderr


def test_fake_agent_is_python() -> None:
    assert Path(FAKE_AGENT).exists() and sys.executable


def test_with_json_on_github_the_document_is_stdouts_last_line(tmp_path: Path) -> None:
    env = environ(tmp_path, GITHUB_ACTIONS="true")
    run = exec_claude(tmp_path, *agent("--no-telemetry"), env=env)
    assert run.code == EXIT_VALIDATION
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("::error::beacon: telemetry validation failed")
    assert json.loads(lines[1])["validation"]["status"] == "failed"
