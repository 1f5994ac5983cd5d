"""beacon ci start / ci finish: a detached receiver that outlives its step, agents in later
steps, and the faults a CI job brings (finish twice, without start, a killed receiver, a
cancelled job)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest
from test_exec import EVENTS_PER_SESSION, FAKE_AGENT, beacon_run, environ

from beacon_ci.errors import EXIT_ERROR
from beacon_ci.github import append_github_file
from beacon_ci.session import session_receiver_alive


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
    }

    assert run_agent(exports) == 0
    assert run_agent(exports) == 0  # a second agent in a later step: the same log
    finish = beacon_run(tmp_path, "ci", "finish", "--json", env=env)
    assert finish.code == 0, finish.stderr
    assert "beacon: the receiver drained and stopped" in finish.stderr
    result = json.loads(finish.stdout.strip().splitlines()[-1])
    assert result["validation"]["event_count"] == 2 * EVENTS_PER_SESSION
    assert not session_receiver_alive(state)


def test_export_lines_for_other_ci_systems(tmp_path: Path) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    assert start.code == 0
    script = f"eval \"$(cat <<'EOF'\n{start.stdout}EOF\n)\"; exec {sys.executable} {FAKE_AGENT}"
    assert subprocess.run(["sh", "-c", script], env=environ(tmp_path), timeout=60).returncode == 0
    assert beacon_run(tmp_path, "ci", "finish").code == 0


def test_finish_twice_and_start_twice(tmp_path: Path) -> None:
    first = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    capture_id = state_of(tmp_path)["capture_id"]
    again = beacon_run(tmp_path, "ci", "start", "--json", "--harness", "claude")
    assert again.code == 0 and f"capture {capture_id} is already running" in again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["capture_id"] == capture_id  # one receiver, not two
    assert run_agent(exports_from(first.stdout)) == 0
    assert beacon_run(tmp_path, "ci", "finish").code == 0
    second = beacon_run(tmp_path, "ci", "finish")
    assert second.code == 0
    assert "beacon: the capture was already finished" in second.stderr
    assert "validation passed: 6 events" in second.stderr


def exports_from(stdout: str) -> Dict[str, str]:
    """The `export KEY=value` lines ci start prints outside GitHub Actions (values are plain here)."""
    pairs = (
        line[len("export ") :].split("=", 1) for line in stdout.splitlines() if line.startswith("export ")
    )
    return {key: value.strip("'") for key, value in pairs}


def test_finish_without_start(tmp_path: Path) -> None:
    finish = beacon_run(tmp_path, "ci", "finish")
    assert finish.code == EXIT_ERROR
    assert (
        finish.stderr.startswith("beacon: no capture to finish:")
        and "run beacon ci start first" in finish.stderr
    )


def test_a_receiver_killed_before_finish_still_validates_what_it_wrote(tmp_path: Path) -> None:
    start = beacon_run(tmp_path, "ci", "start", "--harness", "claude")
    assert run_agent(exports_from(start.stdout)) == 0
    state = state_of(tmp_path)
    wait_for_lines(Path(state["log_path"]), EVENTS_PER_SESSION)  # answered is not yet written
    os.kill(state["pid"], signal.SIGKILL)  # the runner killed it, or it crashed
    wait_until_gone(state)  # kill() returns before the process has died
    finish = beacon_run(tmp_path, "ci", "finish")
    assert "the receiver had stopped before finish (killed?): validating what it wrote" in finish.stderr
    assert finish.code == 0, finish.stderr
    assert "validation passed: 6 events" in finish.stderr


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
