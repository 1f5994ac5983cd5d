"""beacon ci start / ci finish: a detached receiver that outlives its step, agents in later
steps, and the faults a CI job brings (finish twice, without start, a killed receiver, a
cancelled job)."""

from __future__ import annotations

import json
import os
import pwd
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest
from test_exec import EVENTS_PER_SESSION, FAKE_AGENT, beacon_run, environ

from beacon_ci.agents.codex import codex_args
from beacon_ci.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_USAGE
from beacon_ci.github import append_github_file
from beacon_ci.session import process_start_time, receiver_arguments, session_receiver_alive


def state_of(tmp_path: Path) -> Dict:
    return json.loads((tmp_path / "runner" / "beacon" / "session.json").read_text())


@pytest.fixture(autouse=True)
def stop_receivers(tmp_path: Path) -> Iterator[None]:
    """A test that fails between start and finish must not leave its receiver running."""
    yield
    state_file = tmp_path / "runner" / "beacon" / "session.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        if session_receiver_alive(state):
            os.kill(state["pid"], signal.SIGKILL)


def read_github_file(path: Path) -> Dict[str, str]:
    values, lines = {}, path.read_text().splitlines()
    while lines:
        line = lines.pop(0)
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            key, delimiter = line.split("<<", 1)
            body = []
            while lines[0] != delimiter:
                body.append(lines.pop(0))
            lines.pop(0)
            values[key] = "\n".join(body)
        else:
            key, _, value = line.partition("=")
            values[key] = value
    return values


def wait_until_gone(state: Dict, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while session_receiver_alive(state):
        assert time.monotonic() < deadline, "the receiver outlived SIGKILL"
        time.sleep(0.01)  # not our child: there is nothing to wait() on


def wait_for_lines(path: Path, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or path.read_bytes().count(b"\n") < count:
        assert time.monotonic() < deadline, f"{path} did not reach {count} lines"
        time.sleep(0.01)  # another process writes it: there is nothing to wait() on


def run_agent(exports: Dict[str, str], *args: str) -> int:
    env = {**os.environ, **exports}
    for key in [k for k, v in exports.items() if v == ""]:
        env.pop(key, None)
    return subprocess.run([sys.executable, FAKE_AGENT, *args], env=env, timeout=60).returncode


def test_start_exports_to_github_then_finish_validates(tmp_path: Path) -> None:
    github_env, outputs = tmp_path / "github_env", tmp_path / "github_output"
    env = environ(
        tmp_path,
        GITHUB_ENV=str(github_env),
        GITHUB_OUTPUT=str(outputs),
        GITHUB_ACTIONS="true",
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="https://elsewhere.invalid/v1/logs",
    )
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude", env=env)
    assert start.code == 0, start.stderr
    state = state_of(tmp_path)
    assert start.stdout == f"::add-mask::{state['token']}\n"  # masked before anything could print it
    assert state["token"] not in start.stderr
    assert stat.S_IMODE((tmp_path / "runner" / "beacon" / "session.json").stat().st_mode) == 0o600
    exports = read_github_file(github_env)
    assert exports["OTEL_EXPORTER_OTLP_ENDPOINT"] == state["url"]
    assert exports["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] == ""  # would bypass the receiver: cleared
    assert exports["BEACON_CI_STATE_PATH"] == str(tmp_path / "runner" / "beacon" / "session.json")
    assert read_github_file(outputs) == {
        "log-path": state["log_path"],
        "state-path": state["state_path"],
        "codex-home": "",
        "claude-args": f"--settings {state['claude_settings']}",  # for claude-code-action
        "codex-args": codex_args(state["url"]),
    }
    claude_settings = Path(state["claude_settings"])
    assert json.loads(claude_settings.read_text())["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == state["url"]
    assert stat.S_IMODE(claude_settings.stat().st_mode) == 0o600  # it holds the token

    assert run_agent(exports) == 0
    assert run_agent(exports) == 0  # a second agent in a later step: the same log
    finish = beacon_run(tmp_path, "ci", "finish", "--json", env=env)
    assert finish.code == 0, finish.stderr
    assert "beacon: the receiver drained and stopped" in finish.stderr
    result = json.loads(finish.stdout.strip().splitlines()[-1])
    assert result["validation"]["event_count"] == 2 * EVENTS_PER_SESSION
    assert not session_receiver_alive(state)
    # later steps run in the capture's trace, and every event of both agents says so
    trace_id = exports["TRACEPARENT"].split("-")[1]
    assert exports["TRACEPARENT"] == state["traceparent"] and result["trace_id"] == trace_id
    assert result["validation"]["trace_ids"] == [trace_id]
    assert not claude_settings.parent.exists()


def test_export_lines_for_other_ci_systems(tmp_path: Path) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    assert start.code == 0
    script = f"eval \"$(cat <<'EOF'\n{start.stdout}EOF\n)\"; exec {sys.executable} {FAKE_AGENT}"
    assert subprocess.run(["sh", "-c", script], env=environ(tmp_path), timeout=60).returncode == 0
    assert beacon_run(tmp_path, "ci", "finish").code == 0


def test_finish_twice_and_start_twice(tmp_path: Path) -> None:
    summary, outputs = tmp_path / "step_summary", tmp_path / "github_output"
    env = environ(tmp_path, GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(outputs))
    first = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    capture_id = state_of(tmp_path)["capture_id"]
    again = beacon_run(tmp_path, "ci", "start", "--json", "--harness", "claude")
    assert again.code == 0 and f"capture {capture_id} is already running" in again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["capture_id"] == capture_id  # one receiver, not two
    assert run_agent(exports_from(first.stdout)) == 0
    finish = beacon_run(tmp_path, "ci", "finish", "--json", env=env)
    assert finish.code == 0
    reported = (summary.read_text(), outputs.read_text())
    assert reported[0].count("validation") >= 1 and "event-count=6" in reported[1]
    second = beacon_run(tmp_path, "ci", "finish", "--json", env=env)
    assert second.code == 0
    assert f"beacon: capture {capture_id} was already finished and reported" in second.stderr
    assert "validation passed: 6 events" in second.stderr
    assert second.result == finish.result  # the first result, said again
    assert (summary.read_text(), outputs.read_text()) == reported  # and nothing appended twice


def exports_from(stdout: str) -> Dict[str, str]:
    """The `export KEY=value` lines ci start prints outside GitHub Actions (values are plain here)."""
    pairs = (
        line[len("export ") :].split("=", 1) for line in stdout.splitlines() if line.startswith("export ")
    )
    return {key: value.strip("'") for key, value in pairs}


def kill_the_receiver_after_one_session(tmp_path: Path) -> Dict:
    """Start, let one agent session through, then SIGKILL the receiver (the runner killed it,
    or it crashed) once all it answered is written; its state."""
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    assert run_agent(exports_from(start.stdout)) == 0
    state = state_of(tmp_path)
    wait_for_lines(Path(state["log_path"]), EVENTS_PER_SESSION)  # answered is not yet written
    os.kill(state["pid"], signal.SIGKILL)
    wait_until_gone(state)  # kill() returns before the process has died
    return state


def test_finish_without_start(tmp_path: Path) -> None:
    finish = beacon_run(tmp_path, "ci", "finish")
    assert finish.code == EXIT_ERROR
    assert (
        finish.stderr.startswith("beacon: no capture to finish:")
        and "run beacon ci start first" in finish.stderr
    )


def test_a_receiver_killed_before_finish_still_validates_what_it_wrote(tmp_path: Path) -> None:
    kill_the_receiver_after_one_session(tmp_path)
    finish = beacon_run(tmp_path, "ci", "finish")
    assert "the receiver had stopped before finish (killed?): validating what it wrote" in finish.stderr
    assert finish.code == 0, finish.stderr
    assert "validation passed: 6 events" in finish.stderr


def test_finish_judges_the_findings_its_receiver_folded(tmp_path: Path) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    assert run_agent(exports_from(start.stdout)) == 0
    finish = beacon_run(tmp_path, "ci", "finish", "--json", "--fail-on", "medium")
    assert finish.code == EXIT_FINDINGS, finish.stderr
    findings = finish.result["findings"]
    assert [f["rule"] for f in findings["findings"]] == ["BCN181"]  # the synthetic session's token
    assert Path(findings["sarif_path"]).name == f"findings-{finish.result['capture_id']}.sarif"
    again = beacon_run(tmp_path, "ci", "finish", "--json")
    assert (again.code, again.result) == (EXIT_FINDINGS, finish.result)  # reported once, said again
    assert "beacon: 1 finding at or above --fail-on medium: the capture fails (exit 5)" in again.stderr


def test_a_killed_receivers_findings_are_read_back_from_its_log(tmp_path: Path) -> None:
    kill_the_receiver_after_one_session(tmp_path)
    finish = beacon_run(tmp_path, "ci", "finish", "--json", "--max-tokens", "100")
    assert finish.code == EXIT_FINDINGS, finish.stderr
    assert [f["rule"] for f in finish.result["findings"]["findings"]] == ["BCN192", "BCN181"]


def test_a_bad_findings_configuration_leaves_the_capture_running(tmp_path: Path) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    assert start.code == 0
    finish = beacon_run(tmp_path, "ci", "finish", "--allow-host", "not a host")
    assert finish.code == EXIT_USAGE
    assert session_receiver_alive(state_of(tmp_path))  # nothing was stopped: it still captures
    assert run_agent(exports_from(start.stdout)) == 0
    assert beacon_run(tmp_path, "ci", "finish").code == 0


def test_a_cancelled_job_leaves_a_complete_log(tmp_path: Path) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    assert run_agent(exports_from(start.stdout)) == 0
    state = state_of(tmp_path)
    os.kill(state["pid"], signal.SIGTERM)  # what a runner sends when the job is cancelled
    finish = beacon_run(tmp_path, "ci", "finish")
    assert finish.code == 0
    log = Path(state["log_path"]).read_text().splitlines()
    assert len(log) == EVENTS_PER_SESSION and all(
        json.loads(line)["capture"]["mode"] == "session" for line in log
    )


def test_multi_line_values_use_a_heredoc(tmp_path: Path) -> None:
    target = tmp_path / "env"
    append_github_file(str(target), {"ONE": "a=b", "MANY": "line 1\nline 2"})
    assert read_github_file(target) == {"ONE": "a=b", "MANY": "line 1\nline 2"}


def test_the_detached_receiver_applies_the_users_redaction_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"patterns": [{"id": "repo", "regex": "acme/app"}]}))
    github_env = tmp_path / "github_env"
    env = environ(tmp_path, GITHUB_ENV=str(github_env))
    start = beacon_run(
        tmp_path, "ci", "start", "--harness", "claude", "--redact-rules", "rules.json", env=env
    )
    assert start.code == 0, start.stderr
    assert state_of(tmp_path)["redact_rules"] == str(rules)  # absolute: the receiver may run elsewhere
    assert run_agent(read_github_file(github_env)) == 0
    finish = beacon_run(tmp_path, "ci", "finish", env=env)
    assert finish.code == 0, finish.stderr
    log = (tmp_path / "runner" / "beacon" / "runtime.jsonl").read_text()
    assert "git push https://x-access-token:" in log and "acme/app" not in log


def forged_state(tmp_path: Path, state: Dict, **fields: object) -> None:
    (tmp_path / "runner" / "beacon" / "session.json").write_text(json.dumps({**state, **fields}))


def test_finish_never_signals_a_process_that_is_not_the_receiver(tmp_path: Path) -> None:
    """A pid in the state file is not proof: a process carrying the capture id, even the
    receiver's whole command line, in its arguments is left alone, and so is one whose start time
    was copied into the state."""
    assert beacon_run(tmp_path, "ci", "start", "--harness", "claude").code == 0
    state = state_of(tmp_path)
    decoy_arguments = [
        "note-" + state["capture_id"],
        *receiver_arguments(state["state_path"], state["capture_id"]),
    ]
    decoy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *decoy_arguments])
    try:
        for forgery in ({"pid": decoy.pid}, {"pid": decoy.pid, "pid_started": process_start_time(decoy.pid)}):
            forged_state(tmp_path, state, **forgery)
            finish = beacon_run(tmp_path, "ci", "finish")
            assert "the receiver had stopped before finish" in finish.stderr
            assert decoy.poll() is None  # never signalled
            forged_state(tmp_path, state)  # running again, for the next forgery
    finally:
        decoy.kill()
        decoy.wait()
        if session_receiver_alive(state):
            os.kill(state["pid"], signal.SIGKILL)


def test_a_failed_start_stops_the_receiver_it_began(tmp_path: Path) -> None:
    not_a_file = tmp_path / "github_env_is_a_directory"
    not_a_file.mkdir()
    start = beacon_run(
        tmp_path, "ci", "start", "--harness", "claude", env=environ(tmp_path, GITHUB_ENV=str(not_a_file))
    )
    assert start.code == EXIT_ERROR
    assert f"cannot append to {not_a_file}" in start.stderr
    state = state_of(tmp_path)
    assert "ci start failed: stopping capture" in start.stderr
    assert not session_receiver_alive(state) and state["status"] == "finished"


def test_finish_continues_a_stopped_receiver_before_stopping_it(tmp_path: Path) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    assert run_agent(exports_from(start.stdout)) == 0
    state = state_of(tmp_path)
    os.kill(state["pid"], signal.SIGSTOP)  # a debugger, or a runner that paused it
    finish = beacon_run(tmp_path, "ci", "finish")
    assert "beacon: the receiver drained and stopped" in finish.stderr, finish.stderr
    assert finish.code == 0 and "validation passed: 6 events" in finish.stderr
    assert not session_receiver_alive(state)


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"log_path": None}, "log_path is missing or not text"),
        ({"log_path": "relative/runtime.jsonl"}, "log_path is not an absolute path"),
        ({"harnesses": "claude"}, "harnesses is not a list of claude, codex, gemini, copilot"),
        ({"pid": "123"}, "pid is not a process id"),
        ({"capture_id": "../../etc"}, "capture_id is not a capture id"),
    ],
)
def test_a_damaged_state_file_is_one_clear_line(tmp_path: Path, change: Dict, problem: str) -> None:
    assert beacon_run(tmp_path, "ci", "start", "--harness", "claude").code == 0
    state = state_of(tmp_path)
    try:
        forged_state(
            tmp_path,
            {k: v for k, v in state.items() if k not in change or change[k] is not None},
            **{k: v for k, v in change.items() if v is not None},
        )
        finish = beacon_run(tmp_path, "ci", "finish")
        assert finish.code == EXIT_ERROR
        assert finish.stderr.count("\n") == 1 and finish.stderr.endswith(f"session state: {problem}\n")
    finally:
        if session_receiver_alive(state):
            os.kill(state["pid"], signal.SIGKILL)


def test_start_json_prints_only_json(tmp_path: Path) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude", "--json")
    assert start.code == 0
    lines = start.stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["capture_id"] == state_of(tmp_path)["capture_id"]
    assert "the agent settings were not printed" in start.stderr
    assert beacon_run(tmp_path, "ci", "finish").code in (0, 3)


def test_a_second_start_with_another_log_is_refused_or_replaces(tmp_path: Path) -> None:
    assert beacon_run(tmp_path, "ci", "start", "--harness", "claude").code == 0
    first = state_of(tmp_path)
    other = str(tmp_path / "elsewhere" / "runtime.jsonl")
    refused = beacon_run(tmp_path, "ci", "start", "--harness", "claude", "--log-path", other)
    assert refused.code == EXIT_ERROR
    assert f"capture {first['capture_id']} is already running with log {first['log_path']}" in refused.stderr
    assert session_receiver_alive(first)
    replaced = beacon_run(tmp_path, "ci", "start", "--harness", "claude", "--log-path", other, "--replace")
    assert replaced.code == 0, replaced.stderr
    assert f"replacing capture {first['capture_id']}: the receiver drained and stopped" in replaced.stderr
    second = state_of(tmp_path)
    assert not session_receiver_alive(first) and session_receiver_alive(second)
    assert second["log_path"] == other and second["capture_id"] != first["capture_id"]
    assert beacon_run(tmp_path, "ci", "finish").code in (0, 3)


def test_a_receiver_nobody_finishes_ends_itself(tmp_path: Path) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude", "--max-lifetime", "1s")
    assert start.code == 0, start.stderr
    assert run_agent(exports_from(start.stdout)) == 0
    wait_until_gone(state_of(tmp_path), timeout=30)
    finish = beacon_run(tmp_path, "ci", "finish")
    assert "the receiver had ended itself after its maximum lifetime (1 s)" in finish.stderr
    assert finish.code == 0 and "validation passed: 6 events" in finish.stderr


def test_the_base_directory_is_made_private(tmp_path: Path) -> None:
    base = tmp_path / "runner" / "beacon"
    base.mkdir(parents=True)
    base.chmod(0o777)
    users = tmp_path / "project"
    users.mkdir(mode=0o755)
    users.chmod(0o755)
    start = beacon_run(
        tmp_path, "ci", "start", "--harness", "claude", "--log-path", str(users / "runtime.jsonl")
    )
    assert start.code == 0, start.stderr
    assert stat.S_IMODE(base.stat().st_mode) == 0o700  # beacon's own: adopted
    assert stat.S_IMODE(users.stat().st_mode) == 0o755  # the user's: left as it was
    assert sorted(p.name for p in users.iterdir()) == ["runtime.jsonl"]  # no state, no token, no home
    assert beacon_run(tmp_path, "ci", "finish").code in (0, 3)


def test_session_codex_home_is_private_and_removed_by_finish(tmp_path: Path) -> None:
    github_env = tmp_path / "github_env"
    env = environ(tmp_path, GITHUB_ENV=str(github_env))
    log = tmp_path / "project" / "beacon" / "runtime.jsonl"
    assert (
        beacon_run(tmp_path, "ci", "start", "--harness", "codex", "--log-path", str(log), env=env).code == 0
    )
    home = Path(read_github_file(github_env)["CODEX_HOME"])
    assert (home / "config.toml").is_file() and stat.S_IMODE(home.stat().st_mode) == 0o700
    assert log.parent not in home.parents
    assert beacon_run(tmp_path, "ci", "finish", "--require-telemetry", "false", env=env).code == 0
    assert not home.exists()
    assert sorted(p.name for p in log.parent.iterdir()) == ["runtime.jsonl"]


def test_finish_after_a_killed_receiver_counts_what_the_log_holds(tmp_path: Path) -> None:
    kill_the_receiver_after_one_session(tmp_path)
    finish = beacon_run(tmp_path, "ci", "finish", "--json")
    assert f"beacon: captured {EVENTS_PER_SESSION} events (claude_code {EVENTS_PER_SESSION})" in finish.stderr
    assert finish.result["events"] == {"claude_code": EVENTS_PER_SESSION}


RECEIVER_GOT_NOTHING = (
    "the receiver got no requests: did the agent run, and is its telemetry on? (managed settings can "
    "override CLAUDE_CODE_ENABLE_TELEMETRY; Codex ignores OTEL_* variables and reads CODEX_HOME)"
)


def test_finish_of_a_capture_that_got_nothing_says_why_as_exec_does(tmp_path: Path) -> None:
    assert beacon_run(tmp_path, "ci", "start", "--harness", "claude").code == 0
    finish = beacon_run(tmp_path, "ci", "finish")
    assert finish.code == 3
    assert "the receiver got no requests: did the agent run, and is its telemetry on?" in finish.stderr


def test_starting_again_does_not_say_started(tmp_path: Path) -> None:
    assert beacon_run(tmp_path, "ci", "start", "--harness", "claude").code == 0
    capture_id = state_of(tmp_path)["capture_id"]
    again = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    assert again.stderr == f"beacon: capture {capture_id} is already running: its settings again\n"
    assert beacon_run(tmp_path, "ci", "finish").code in (0, 3)


@pytest.mark.skipif(sys.platform != "linux", reason="--agent-user needs Linux's /proc/net/tcp")
def test_an_agent_user_gets_codex_args_not_codex_home(tmp_path: Path) -> None:
    github_env, outputs = tmp_path / "github_env", tmp_path / "github_output"
    env = environ(tmp_path, GITHUB_ENV=str(github_env), GITHUB_OUTPUT=str(outputs))
    start = beacon_run(tmp_path, "ci", "start", "--harness", "codex", "--agent-user", "nobody", env=env)
    assert start.code == 0, start.stderr
    state = state_of(tmp_path)
    assert state["trusted_uids"] == [pwd.getpwnam("nobody").pw_uid]
    assert "beacon: exports from user nobody need no token;" in start.stderr
    exports = read_github_file(github_env)
    assert "CODEX_HOME" not in exports  # codex-action would write its provider into it
    assert exports["OTEL_EXPORTER_OTLP_HEADERS"] == f"x-beacon-token={state['token']}"
    codex = read_github_file(outputs)["codex-args"]
    assert codex == codex_args(state["url"]) and state["token"] not in codex
    again = beacon_run(tmp_path, "ci", "start", "--harness", "codex", env=env)  # another capture
    assert again.code == 1 and "is already running" in again.stderr
    assert beacon_run(tmp_path, "ci", "finish", "--require-telemetry", "false", env=env).code == 0


@pytest.mark.skipif(sys.platform != "linux", reason="--agent-user needs Linux's /proc/net/tcp")
def test_an_unknown_agent_user_is_a_usage_error(tmp_path: Path) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--agent-user", "no-such-user-beacon")
    assert start.code == EXIT_USAGE
    assert start.stderr == "beacon: --agent-user: no user named no-such-user-beacon\n"
    assert not (tmp_path / "runner" / "beacon" / "session.json").exists()


def test_claude_settings_that_override_beacon_are_named_at_start_and_in_the_diagnosis(tmp_path: Path) -> None:
    user_settings = tmp_path / "home" / ".claude" / "settings.json"
    user_settings.parent.mkdir(parents=True)
    user_settings.write_text(
        json.dumps({"env": {"OTEL_METRICS_EXPORTER": "none", "OTEL_LOG_USER_PROMPTS": "1"}})
    )
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    assert start.code == 0, start.stderr
    flag_settings = state_of(tmp_path)["claude_settings"]
    assert start.stderr.splitlines()[0] == (
        f"beacon: {user_settings} sets env.OTEL_METRICS_EXPORTER for Claude Code, which outranks the "
        f"environment: run claude with --settings {flag_settings} (claude-code-action: claude_args from "
        "the claude-args output)"
    )
    finish = beacon_run(tmp_path, "ci", "finish", "--json")
    assert finish.code == 3
    (event_count,) = [s for s in finish.result["validation"]["stages"] if s["name"] == "event_count"]
    assert event_count["detail"] == (
        f"0 events, want at least 1; Claude Code's settings replace beacon's: {user_settings} sets "
        f"env.OTEL_METRICS_EXPORTER (user); {RECEIVER_GOT_NOTHING}"
    )
