"""beacon ci exec and ci validate: in-process through main(argv, env) with a real child
process (tests/fake_agent.py exports like Claude Code), plus beacon in processes of its own for
real signals, a real terminal (under tests/job_shell.py) and captures running side by side."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import select
import signal
import stat
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
from conftest import ROOT

from beacon_ci.cli import main
from beacon_ci.environment import Environment
from beacon_ci.errors import EXIT_ERROR, EXIT_USAGE, EXIT_VALIDATION
from beacon_ci.eventlog import EventWriter, event_line
from beacon_ci.selftest import SYNTHETIC_EVENTS, SYNTHETIC_SECRET

FAKE_AGENT = str(ROOT / "tests" / "fake_agent.py")
EVENTS_PER_SESSION = SYNTHETIC_EVENTS


class Run:
    def __init__(self, code: int, stdout: str, stderr: str, log: Path) -> None:
        self.code, self.stdout, self.stderr, self.log = code, stdout, stderr, log

    @property
    def events(self) -> List[Dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    @property
    def result(self) -> Dict[str, Any]:
        return json.loads(self.stdout.strip().splitlines()[-1])


def environ(tmp_path: Path, **extra: str) -> Dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "RUNNER_TEMP": str(tmp_path / "runner")}
    env.update(extra)
    return env


def beacon_run(tmp_path: Path, *argv: str, env: Optional[Dict[str, str]] = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Environment(environ=env or environ(tmp_path), stdout=out, stderr=err))
    return Run(code, out.getvalue(), err.getvalue(), tmp_path / "runner" / "beacon" / "runtime.jsonl")


def exec_claude(tmp_path: Path, *argv: str, env: Optional[Dict[str, str]] = None) -> Run:
    """`beacon ci exec --json --harness claude` with more options, then `-- COMMAND...`."""
    return beacon_run(tmp_path, "ci", "exec", "--json", "--harness", "claude", *argv, env=env)


def agent(*args: str) -> Tuple[str, ...]:
    return ("--", sys.executable, FAKE_AGENT, *args)


def test_exec_captures_validates_and_exits_zero(tmp_path: Path) -> None:
    run = exec_claude(tmp_path, *agent())
    assert run.code == 0, run.stderr
    result = run.result
    assert result["validation"]["status"] == "passed"
    assert result["events"] == {"claude_code": EVENTS_PER_SESSION}
    events = run.events
    assert len(events) == EVENTS_PER_SESSION
    assert {e["capture"]["id"] for e in events} == {result["capture_id"]}
    assert {e["trace"]["id"] for e in events} == {result["trace_id"]}  # one trace per capture
    assert result["validation"]["trace_ids"] == [result["trace_id"]]
    assert [e["event"]["action"] for e in events] == [
        "prompt.submitted",
        "approval.allowed",
        "command.executed",
        "session.activity",
        "token.usage",
        "token.usage",
    ]
    assert SYNTHETIC_SECRET not in run.log.read_text()
    assert stat.S_IMODE(run.log.stat().st_mode) == 0o600
    assert stat.S_IMODE(run.log.parent.stat().st_mode) == 0o700
    assert "validation passed: 6 events" in run.stderr


def write_traceparent(path: Path) -> Tuple[str, ...]:
    """A command that writes the TRACEPARENT it was given to `path`."""
    script = "import os, sys; open(sys.argv[1], 'w').write(os.environ['TRACEPARENT'])"
    return ("--", sys.executable, "-c", script, str(path))


def test_the_child_runs_in_the_jobs_trace_or_a_new_one(tmp_path: Path) -> None:
    given = tmp_path / "traceparent"
    own = beacon_run(tmp_path, "ci", "exec", "--json", "--min-events", "0", *write_traceparent(given))
    trace_id = own.result["trace_id"]
    assert re.fullmatch(f"00-{trace_id}-[0-9a-f]{{16}}-01", given.read_text())
    jobs = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"  # an instrumented runner's
    joined = beacon_run(
        tmp_path,
        "ci",
        "exec",
        "--json",
        "--min-events",
        "0",
        *write_traceparent(given),
        env=environ(tmp_path, TRACEPARENT=jobs),
    )
    assert given.read_text() == jobs[:-2] + "01"  # its spans join the job's trace, sampled
    assert joined.result["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_json_protocol_is_captured_too(tmp_path: Path) -> None:
    run = beacon_run(
        tmp_path, "ci", "exec", "--json", "--otlp-protocol", "json", "--", "env", sys.executable, FAKE_AGENT
    )
    assert run.code == 0, run.stderr
    assert run.result["harnesses"] == ["claude", "codex", "gemini", "copilot"]  # `env` runs any agent
    assert run.result["receiver"]["requests"][0]["content_type"] == "application/json"


def test_child_exit_code_wins(tmp_path: Path) -> None:
    run = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *agent("--exit", "7"))
    assert run.code == 7
    assert len(run.events) == EVENTS_PER_SESSION


def test_no_telemetry_fails_required_validation_with_a_diagnosis(tmp_path: Path) -> None:
    run = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *agent("--no-telemetry"))
    assert run.code == EXIT_VALIDATION
    assert (
        "event_count: 0 events, want at least 1; the receiver got no requests: did the agent run, "
        "and is its telemetry on? (managed settings can override CLAUDE_CODE_ENABLE_TELEMETRY; "
        "Codex ignores OTEL_* variables and reads CODEX_HOME)\n"
    ) in run.stderr


def test_requests_with_a_wrong_token_are_diagnosed_as_rejected(tmp_path: Path) -> None:
    run = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *agent("--token", "not-the-token"))
    assert run.code == EXIT_VALIDATION
    assert (
        "event_count: 0 events, want at least 1; the receiver rejected 2 of 2 requests (unauthorized 2)\n"
        in (run.stderr)
    )


def test_telemetry_without_log_records_is_diagnosed(tmp_path: Path) -> None:
    run = beacon_run(
        tmp_path, "ci", "exec", "--min-events", "3", "--harness", "claude", *agent("--signals", "metrics")
    )
    assert run.code == EXIT_VALIDATION
    # the metrics alone give the two token.usage events
    assert (
        "event_count: 2 events, want at least 3; "
        "the receiver got 1 request but no log records or spans (metrics 2)\n" in (run.stderr)
    )


def test_no_telemetry_is_a_warning_when_not_required(tmp_path: Path) -> None:
    run = beacon_run(
        tmp_path,
        "ci",
        "exec",
        "--require-telemetry",
        "false",
        "--harness",
        "claude",
        *agent("--no-telemetry"),
    )
    assert run.code == 0
    assert "validation failed (continuing: --require-telemetry=false)" in run.stderr


def test_min_events_is_enforced(tmp_path: Path) -> None:
    run = beacon_run(tmp_path, "ci", "exec", "--min-events", "7", "--harness", "claude", *agent())
    assert run.code == EXIT_VALIDATION
    assert "6 events, want at least 7" in run.stderr


def test_wrong_harness_fails_the_harness_stage(tmp_path: Path) -> None:
    run = beacon_run(tmp_path, "ci", "exec", "--harness", "codex", *agent())
    assert run.code == EXIT_VALIDATION
    assert "0 events from codex_cli, want at least 1; events came from claude_code (6)" in run.stderr


def test_two_captures_append_to_one_log_and_both_validate(tmp_path: Path) -> None:
    first = exec_claude(tmp_path, *agent())
    second = exec_claude(tmp_path, *agent())
    assert first.code == second.code == 0
    assert first.result["capture_id"] != second.result["capture_id"]
    assert len(second.events) == 2 * EVENTS_PER_SESSION
    for run in (first, second):
        check = beacon_run(
            tmp_path,
            "ci",
            "validate",
            "--json",
            "--capture-id",
            run.result["capture_id"],
            "--min-events",
            str(EVENTS_PER_SESSION),
            "--harness",
            "claude",
        )
        assert check.code == 0
        assert check.result["validation"]["event_count"] == EVENTS_PER_SESSION


@pytest.mark.parametrize(
    "argv, message",
    [
        (("ci", "exec", "--harness", "bogus", "--", "true"), "beacon: unknown harness 'bogus'"),
        (
            ("ci", "exec", "--min-events", "many", "--", "true"),
            "beacon: argument --min-events: expected a whole number",
        ),
        (
            ("ci", "exec", "--require-telemetry", "maybe", "--", "true"),
            "beacon: argument --require-telemetry",
        ),
        (
            ("ci", "exec", "--", "no-such-command-beacon"),
            "beacon: command not found or not executable: no-such-command",
        ),
        (("ci", "exec"), "beacon: ci exec needs a command"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2_before_anything_runs(tmp_path: Path, argv, message) -> None:
    run = beacon_run(tmp_path, *argv)
    assert run.code == EXIT_USAGE
    assert run.stderr.startswith(message)
    assert run.stderr.count("\n") == 1
    assert not run.log.exists()


def test_unwritable_log_path_fails_before_the_child_starts(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a directory should be")
    marker = tmp_path / "child-ran"
    run = beacon_run(
        tmp_path, "ci", "exec", "--log-path", str(blocked / "runtime.jsonl"), *agent("--marker", str(marker))
    )
    assert run.code == EXIT_ERROR
    assert run.stderr.startswith("beacon: cannot create directory")
    assert not marker.exists()


@contextlib.contextmanager
def detached_grandchild(pid_path: Path) -> Iterator[Path]:
    """Kill the agent's detached grandchild afterwards, even when the test fails, by the pid it
    left in pid_path. It ends by itself once the receiver closes its connection, so it is
    usually gone already. Not our child: init reaps it."""
    try:
        yield pid_path
    finally:
        if pid_path.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_path.read_text()), signal.SIGKILL)


def test_a_grandchild_holding_an_idle_connection_is_waited_for_in_words_then_cut_off(tmp_path: Path) -> None:
    drain_timeout = 3.0
    with detached_grandchild(tmp_path / "grandchild.pid") as pid_path:
        started = time.monotonic()
        run = exec_claude(
            tmp_path, "--drain-timeout", str(drain_timeout), *agent("--grandchild", str(pid_path))
        )
        elapsed = time.monotonic() - started
    assert run.code == 0, run.stderr
    assert len(run.events) == EVENTS_PER_SESSION
    # The drain waited for the grandchild's connection until its timeout, not longer
    assert drain_timeout <= elapsed < drain_timeout + 4
    assert (
        "beacon: waiting up to 1 s more for 1 open connection from the agent's processes "
        "(a background process still exporting?)\n"
    ) in run.stderr
    assert (
        "beacon: stopped waiting after 3 s with 1 open connection from the agent's processes: "
        "events sent on it from now on are not captured\n"
    ) in run.stderr
    assert run.result["late"] == {"requests": 0, "connections_open_at_close": 1}
    assert run.result["validation"]["status"] == "passed"  # what was captured is judged as ever


def test_a_request_still_arriving_at_close_is_counted_late_and_reported(tmp_path: Path) -> None:
    summary = tmp_path / "step-summary.md"
    env = environ(tmp_path, GITHUB_STEP_SUMMARY=str(summary))
    drain_timeout = 3.0
    with detached_grandchild(tmp_path / "grandchild.pid") as pid_path:
        started = time.monotonic()
        # The grandchild's body stops halfway until the receiver closes: in flight at the timeout.
        run = exec_claude(
            tmp_path, "--drain-timeout", str(drain_timeout), *agent("--late-request", str(pid_path)), env=env
        )
        elapsed = time.monotonic() - started
    assert run.code == 0, run.stderr
    # Closing adds no wait of its own for the request in flight: the drain has waited for it.
    assert drain_timeout <= elapsed < drain_timeout + 4
    assert run.result["late"] == {"requests": 1, "connections_open_at_close": 1}
    assert (
        "beacon: waiting up to 1 s more for 1 open connection from the agent's processes, "
        "1 request in flight (a background process still exporting?)\n"
    ) in run.stderr
    warning = (
        "the capture closed with 1 request still arriving and 1 connection open: events arriving "
        "after it closed are not captured (a background process of the agent still exporting?)"
    )
    assert f"beacon: warning: {warning}\n" in run.stderr
    assert f"- ⚠️ {warning}\n" in summary.read_text()
    assert run.result["validation"]["status"] == "passed"  # the child's own events all arrived
    assert run.result["events"] == {"claude_code": EVENTS_PER_SESSION}


# --- signals: a real beacon process ---------------------------------------------------------


def interrupt_beacon(tmp_path: Path, signum: int, *command: str, timeout: float = 60) -> Tuple[int, str]:
    """Run `beacon ci exec -- COMMAND` in a process of its own, send it `signum` once the command
    has printed "ready", and return beacon's exit code and stderr (beacon must exit within
    `timeout` seconds of the signal)."""
    env = {**environ(tmp_path), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "beacon.py"), "ci", "exec", "--harness", "claude", "--", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"  # the agent is up and waiting
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_are_forwarded_then_drained_and_validated(tmp_path: Path, signum: int) -> None:
    code, stderr = interrupt_beacon(tmp_path, signum, sys.executable, FAKE_AGENT, "--on-signal")
    assert code == 128 + signum, stderr
    log = tmp_path / "runner" / "beacon" / "runtime.jsonl"
    assert len(log.read_text().splitlines()) == EVENTS_PER_SESSION
    assert "validation passed" in stderr


def test_a_forwarded_signal_reaches_a_grandchild_in_the_childs_group(tmp_path: Path) -> None:
    ids = tmp_path / "grandchild.json"
    # The shell survives SIGTERM (trapped) and waits for the agent, whose status it exits with.
    script = 'trap : TERM; "$@" & agent=$!; wait $agent; wait $agent'
    command = ("sh", "-c", script, "sh", sys.executable, FAKE_AGENT, "--on-signal", "--process", str(ids))
    code, stderr = interrupt_beacon(tmp_path, signal.SIGTERM, *command)
    assert code == 128 + signal.SIGTERM, stderr
    grandchild = json.loads(ids.read_text())
    assert grandchild["pgid"] != grandchild["pid"]  # in the group the shell leads, not its own
    assert grandchild["pgid"] != os.getpgrp()
    log = tmp_path / "runner" / "beacon" / "runtime.jsonl"  # it exports only once signalled
    assert len(log.read_text().splitlines()) == EVENTS_PER_SESSION


def test_the_child_leads_its_own_process_group_in_beacons_session(tmp_path: Path) -> None:
    ids = tmp_path / "child.json"
    run = exec_claude(tmp_path, *agent("--process", str(ids)))
    assert run.code == 0, run.stderr
    child = json.loads(ids.read_text())
    assert child["pgid"] == child["pid"] != os.getpgrp()
    assert child["sid"] == os.getsid(0)  # the same session: it can still use beacon's terminal


def test_stdin_stdout_and_stderr_pass_through_untouched(tmp_path: Path) -> None:
    data = bytes(range(256)) * 64 + b"\r\n\x1b[31mno newline at the end"
    proc = run_beacon_process(tmp_path, "ci", "exec", "--harness", "claude", *agent("--echo"), input=data)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == data  # beacon itself writes nothing to stdout without --json
    assert proc.stderr.startswith(data)  # then beacon's own report
    assert proc.stderr[len(data) :].startswith(b"beacon: ")


def read_until(fd: int, timeout: float, end: Optional[bytes] = None, size: int = 65536) -> bytes:
    """What fd gives, `size` bytes at most at a time, until `end` has come, or with no `end`
    until every writer has closed it."""
    output, deadline = b"", time.monotonic() + timeout
    while end is None or end not in output:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            raise TimeoutError(f"still waiting for {end!r}; so far: {output!r}")
        try:
            chunk = os.read(fd, size)
        except OSError:  # EIO: no process has the terminal open any more
            chunk = b""
        if not chunk:
            if end is None:
                return output
            raise EOFError(f"closed before {end!r}; so far: {output!r}")
        output += chunk
    return output


def report_line(shell: subprocess.Popen) -> bytes:
    """The next line job_shell.py reports (read a byte at a time: no further)."""
    return read_until(shell.stdout.fileno(), timeout=60, end=b"\n", size=1)


def open_terminal() -> Tuple[int, int]:
    """A pseudo-terminal (master, terminal) that does not echo input, and stops a background
    process writing to it (TOSTOP): beacon must hold the terminal whenever it writes."""
    master, terminal = os.openpty()
    modes = termios.tcgetattr(terminal)
    modes[3] = (modes[3] & ~termios.ECHO) | termios.TOSTOP  # lflag: only the agent echoes
    termios.tcsetattr(terminal, termios.TCSANOW, modes)
    return master, terminal


@contextlib.contextmanager
def terminal_job(
    tmp_path: Path, *argv: str, shell_options: Sequence[str] = ()
) -> Iterator[Tuple[int, subprocess.Popen]]:
    """`beacon ARGV...` as the foreground job of a job-control shell (tests/job_shell.py) on a
    new pseudo-terminal. Yields the terminal's master side and the shell, whose stdout is
    its report after the `started` line; on failure, kills the job and the shell."""
    master, terminal = open_terminal()
    shell_command = [sys.executable, str(ROOT / "tests" / "job_shell.py"), *shell_options]
    shell = subprocess.Popen(
        [*shell_command, sys.executable, str(ROOT / "beacon.py"), *argv],
        env=environ(tmp_path),
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    job = None
    try:
        job = int(report_line(shell).split()[1])
        yield master, shell
    finally:
        if shell.poll() is None:
            # The agent's group becomes orphaned with beacon gone: the kernel hangs it up.
            for group in [shell.pid] if job is None else [job, shell.pid]:
                with contextlib.suppress(ProcessLookupError):  # it was just ending
                    os.killpg(group, signal.SIGKILL)
        shell.wait()
        os.close(master)


def test_the_child_reads_beacons_terminal(tmp_path: Path) -> None:
    # In a background process group the child would be stopped (SIGTTIN) on its first read.
    with terminal_job(tmp_path, "ci", "exec", "--harness", "claude", *agent("--echo")) as (master, shell):
        os.write(master, b"typed at the terminal\n\x04")  # a line, then end of file (Ctrl-D)
        output = read_until(master, timeout=60)
        assert shell.stdout.read() == b"exited 0\n", output
    assert output.count(b"typed at the terminal\r\n") == 2, output  # stdout and stderr
    assert b"validation passed: 6 events" in output


def test_ctrl_z_suspends_the_agent_and_beacon_and_fg_resumes_both(tmp_path: Path) -> None:
    with terminal_job(tmp_path, "ci", "exec", "--harness", "claude", *agent("--echo")) as (master, shell):
        os.write(master, b"before\n")
        read_until(master, timeout=60, end=b"before")  # the agent is reading the terminal
        os.write(master, b"\x1a")  # Ctrl-Z
        assert report_line(shell) == b"stopped SIGTSTP\n"
        os.write(master, b"after\n\x04")  # the shell has run fg: the agent reads on, to the end
        output = read_until(master, timeout=60)
        assert shell.stdout.read() == b"exited 0\n", output
    assert output.count(b"after\r\n") == 2, output  # stdout and stderr
    assert b"validation passed: 6 events" in output


def test_after_bg_the_agent_runs_in_the_background_until_it_reads_the_terminal(tmp_path: Path) -> None:
    exec_argv = ("ci", "exec", "--harness", "claude", *agent("--echo"))
    with terminal_job(tmp_path, *exec_argv, shell_options=["--bg-first"]) as (master, shell):
        os.write(master, b"before\n")
        read_until(master, timeout=60, end=b"before")
        os.write(master, b"\x1a")  # Ctrl-Z, then the shell runs bg: the terminal stays the shell's
        assert report_line(shell) == b"stopped SIGTSTP\n"
        # The agent, reading on in the background, is stopped as it would be without beacon.
        assert report_line(shell) == b"stopped SIGTTIN\n"
        os.write(master, b"after\n\x04")  # the shell has run fg
        output = read_until(master, timeout=60)
        assert shell.stdout.read() == b"exited 0\n", output
    assert output.count(b"after\r\n") == 2, output
    assert b"validation passed: 6 events" in output


# --- writing ---------------------------------------------------------------------------------


def test_the_log_is_appended_to_even_past_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "runtime.jsonl"
    first, second = EventWriter(str(path)), EventWriter(str(path))
    try:
        assert fcntl.fcntl(first._fd, fcntl.F_GETFL) & os.O_APPEND
        for writer, n in ((first, 1), (second, 2), (first, 3)):  # each at the end, not at its offset
            assert writer.write_all([{"n": n}]) == 1
    finally:
        first.close()
        second.close()
    assert path.read_text() == '{"n":1}\n{"n":2}\n{"n":3}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_each_batch_is_one_write_and_close_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = EventWriter(str(tmp_path / "runtime.jsonl"))
    writes: List[bytes] = []
    synced: List[int] = []
    real_write, real_fsync = os.write, os.fsync

    def write(fd: int, data: bytes) -> int:
        if fd == writer._fd:
            writes.append(bytes(data))
        return real_write(fd, data)

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)
    events = [{"n": n, "text": "x" * 10_000 * n} for n in range(5)]
    assert writer.write_all(events[:2]) == 2 and writer.write_all(events[2:]) == 3
    fd = writer._fd
    assert not synced  # not per batch: once, at the end
    writer.close()
    lines = [event_line(event) for event in events]
    assert writes == [b"".join(lines[:2]), b"".join(lines[2:])]  # whole lines, never split
    assert synced == [fd] and writer.written == 5


def test_two_captures_appending_at_once_both_validate(tmp_path: Path) -> None:
    log, sessions = tmp_path / "shared.jsonl", 100
    argv = ("ci", "exec", "--json", "--harness", "claude", "--log-path", str(log))
    command = agent("--on-signal", "--repeat", str(sessions))  # exports once signalled
    runs: List[subprocess.Popen] = []
    try:
        for _ in range(2):
            runs.append(
                subprocess.Popen(
                    [sys.executable, str(ROOT / "beacon.py"), *argv, *command],
                    env={**environ(tmp_path), "PYTHONUNBUFFERED": "1"},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for proc in runs:
            assert proc.stdout.readline() == "ready\n"  # both agents are up and waiting
        for proc in runs:
            proc.send_signal(signal.SIGTERM)  # beacon forwards it: both start exporting at once
        outputs = [proc.communicate(timeout=120) for proc in runs]
    finally:
        for proc in runs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [proc.returncode for proc in runs] == [128 + signal.SIGTERM] * 2, outputs
    captures = [json.loads(out.splitlines()[-1])["capture_id"] for out, _ in outputs]
    for capture in captures:
        check = beacon_run(
            tmp_path, "ci", "validate", "--json", "--log-path", str(log), "--capture-id", capture
        )
        assert check.code == 0, check.stderr
        assert check.result["validation"]["event_count"] == sessions * EVENTS_PER_SESSION
    whole = beacon_run(tmp_path, "ci", "validate", "--json", "--log-path", str(log))
    assert whole.code == 0  # every line parses: none was torn
    order = [json.loads(line)["capture"]["id"] for line in log.read_text().splitlines()]
    assert len(order) == 2 * sessions * EVENTS_PER_SESSION
    assert sum(a != b for a, b in zip(order, order[1:])) > 1  # the captures' lines interleave


# --- ci validate ---------------------------------------------------------------------------


def test_validate_reports_a_malformed_line(tmp_path: Path) -> None:
    run = beacon_run(tmp_path, "ci", "exec", "--harness", "claude", *agent())
    with run.log.open("a") as log:
        log.write("{not json\n")
    check = beacon_run(tmp_path, "ci", "validate", "--json")
    assert check.code == EXIT_VALIDATION
    stages = {s["name"]: s for s in check.result["validation"]["stages"]}
    assert stages["runtime_log_parseable"]["status"] == "fail"
    assert stages["runtime_log_parseable"]["detail"].startswith(f"line {EVENTS_PER_SESSION + 1}: not JSON")


@pytest.mark.parametrize("command", ["validate", "summary", "findings", "report"])
def test_a_line_nested_past_the_parsers_depth_is_a_bad_line_not_a_crash(
    tmp_path: Path, captured_lines: List[str], command: str
) -> None:
    log = tmp_path / "runtime.jsonl"
    log.write_text("\n".join([*captured_lines, "[" * 200_000 + "]" * 200_000]) + "\n")
    extra = ("--html", str(tmp_path / "report.html")) if command == "report" else ()
    run = beacon_run(tmp_path, "ci", command, "--log-path", str(log), *extra)
    assert "Traceback" not in run.stderr and "RecursionError" not in run.stderr
    if command == "validate":
        assert run.code == EXIT_VALIDATION
        assert f"line {len(captured_lines) + 1}: not JSON (maximum recursion depth" in run.stderr


@pytest.fixture(scope="module")
def captured_lines(tmp_path_factory: pytest.TempPathFactory) -> List[str]:
    """The lines one real capture wrote, for tests that change a line and validate the log."""
    run = beacon_run(tmp_path_factory.mktemp("capture"), "ci", "exec", "--harness", "claude", *agent())
    assert run.code == 0, run.stderr
    return run.log.read_text().splitlines()


def validate_changed(tmp_path: Path, lines: List[str], field: str, value: Any) -> Run:
    """`ci validate --json` of the captured log with line 2's `field` set to `value`."""
    changed = {**json.loads(lines[1]), field: value}
    log = tmp_path / "runtime.jsonl"
    log.write_text("\n".join([lines[0], json.dumps(changed), *lines[2:]]) + "\n")
    return beacon_run(tmp_path, "ci", "validate", "--json", "--log-path", str(log))


@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("schema_version", "2.0", "vendor/product/schema_version are not beacon/endpoint-agent/1.x"),
        ("schema_version", 1.0, "vendor/product/schema_version are not beacon/endpoint-agent/1.x"),
        ("schema_version", "1", "vendor/product/schema_version are not beacon/endpoint-agent/1.x"),
        ("vendor", "other", "vendor/product/schema_version are not beacon/endpoint-agent/1.x"),
        ("product", "other", "vendor/product/schema_version are not beacon/endpoint-agent/1.x"),
        ("severity", "", "severity is not one of info, low, medium, high, critical"),
        ("severity", "urgent", "severity is not one of info, low, medium, high, critical"),
        ("origin", "elsewhere", "origin is not one of local, cloud, ci"),
        ("origin", 7, "origin is not one of local, cloud, ci"),
        ("content", {"retention": "forever"}, "content.retention is not one of metadata, redacted, full"),
        ("content", "redacted", "content is not an object"),
    ],
)
def test_validate_holds_events_to_the_schemas_values(
    tmp_path: Path, captured_lines: List[str], field: str, value: Any, problem: str
) -> None:
    check = validate_changed(tmp_path, captured_lines, field, value)
    assert check.code == EXIT_VALIDATION
    stages = {s["name"]: s for s in check.result["validation"]["stages"]}
    assert stages["runtime_log_parseable"] == {
        "name": "runtime_log_parseable",
        "status": "fail",
        "detail": f"line 2: {problem}",
        "bad_lines": 1,
        "lines": EVENTS_PER_SESSION,
    }


@pytest.mark.parametrize(
    "field, value",
    [
        ("schema_version", "1.1"),  # a 1.x minor version only adds fields
        ("schema_version", "1.12"),
        *(("severity", severity) for severity in ("info", "low", "medium", "high", "critical")),
        *(("origin", origin) for origin in ("local", "cloud", "ci", "")),
        *(("content", {"retention": retention}) for retention in ("metadata", "redacted", "full", "")),
    ],
)
def test_validate_accepts_every_value_the_schema_allows(
    tmp_path: Path, captured_lines: List[str], field: str, value: Any
) -> None:
    check = validate_changed(tmp_path, captured_lines, field, value)
    assert check.code == 0, check.stdout
    assert check.result["validation"]["event_count"] == EVENTS_PER_SESSION


def test_validate_a_missing_log(tmp_path: Path) -> None:
    check = beacon_run(tmp_path, "ci", "validate", "--log-path", str(tmp_path / "nope.jsonl"))
    assert check.code == EXIT_VALIDATION
    assert "runtime_log_exists:" in check.stderr and "does not exist" in check.stderr


# --- faults ----------------------------------------------------------------------------------


def run_beacon_process(
    tmp_path: Path, *argv: str, file_size_limit: Optional[int] = None, input: Optional[bytes] = None
) -> subprocess.CompletedProcess:
    """beacon in a process of its own: text output, or bytes when given bytes as its stdin."""

    def limit_file_size() -> None:  # the kernel refuses writes past the limit, as on a full disk
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    # -B: the limit would cut the interpreter's own bytecode cache files short too
    return subprocess.run(
        [sys.executable, "-B", str(ROOT / "beacon.py"), *argv],
        env=environ(tmp_path),
        capture_output=True,
        text=input is None,
        input=input,
        timeout=120,
        preexec_fn=limit_file_size if file_size_limit else None,
    )


def test_a_full_disk_is_reported_and_fails_validation_without_crashing(tmp_path: Path) -> None:
    proc = run_beacon_process(
        tmp_path, "ci", "exec", "--json", "--harness", "claude", *agent(), file_size_limit=4000
    )
    assert proc.returncode == EXIT_VALIDATION, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    written, failed = sum(result["events"].values()), result["write_failures"]
    assert written >= 1 and failed >= 1 and written + failed == EVENTS_PER_SESSION
    log = tmp_path / "runner" / "beacon" / "runtime.jsonl"
    assert len(log.read_text().splitlines()) == written  # whole lines only: no torn line
    assert f"{failed} events could not be written (short write: is the disk full?)" in proc.stderr


def test_a_killed_child_gives_128_plus_the_signal_and_is_still_validated(tmp_path: Path) -> None:
    run = exec_claude(
        tmp_path,
        "--",
        "sh",
        "-c",
        f"{sys.executable} {FAKE_AGENT} && kill -KILL $$",
    )
    assert run.code == 128 + signal.SIGKILL
    assert run.result["validation"]["status"] == "passed"
    assert len(run.events) == EVENTS_PER_SESSION


# --- never harm the runner -------------------------------------------------------------------


def special_files(tmp_path: Path) -> Iterator[Tuple[str, Path]]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    link = tmp_path / "link"
    link.symlink_to(fifo)
    yield "fifo", fifo
    yield "directory", folder
    yield "symlink to a fifo", link
    if os.getuid() == 0:  # a device: only root could have changed its mode
        yield "device", Path("/dev/null")


def test_a_log_path_that_is_not_a_regular_file_is_refused_before_the_child_runs(tmp_path: Path) -> None:
    marker = tmp_path / "child-ran"
    for kind, path in special_files(tmp_path):
        before = os.stat(path)
        run = exec_claude(tmp_path, "--log-path", str(path), "--", "sh", "-c", f"touch {marker}")
        assert run.code == EXIT_ERROR, kind
        assert "is not a regular file" in run.stderr or "Is a directory" in run.stderr, (kind, run.stderr)
        assert not marker.exists(), kind
        after = os.stat(path)
        assert (after.st_mode, after.st_uid, after.st_size) == (
            before.st_mode,
            before.st_uid,
            before.st_size,
        ), kind


def test_exec_keeps_the_codex_home_out_of_the_logs_folder_and_removes_it(tmp_path: Path) -> None:
    log = tmp_path / "project" / "beacon" / "runtime.jsonl"
    seen = tmp_path / "codex_home_seen"
    script = f'test -f "$CODEX_HOME/config.toml" && echo "$CODEX_HOME" > {seen}'
    run = beacon_run(
        tmp_path,
        "ci",
        "exec",
        "--harness",
        "codex",
        "--log-path",
        str(log),
        "--require-telemetry",
        "false",
        "--",
        "sh",
        "-c",
        script,
    )
    assert run.code == 0, run.stderr
    home = Path(seen.read_text().strip())
    assert log.parent not in home.parents
    assert not home.exists()  # it held the receiver's token and a link to the user's credentials
    assert sorted(p.name for p in log.parent.iterdir()) == ["runtime.jsonl"]
    assert not list((tmp_path / "runner").glob("beacon-codex-*"))


def test_validate_and_summary_read_the_log_ci_start_exported(tmp_path: Path) -> None:
    log = tmp_path / "elsewhere" / "runtime.jsonl"
    assert exec_claude(tmp_path, "--log-path", str(log), *agent()).code == 0
    env = environ(tmp_path, BEACON_CI_LOG_PATH=str(log))
    validate = beacon_run(tmp_path, "ci", "validate", "--json", env=env)
    assert validate.code == 0, validate.stderr
    assert validate.result["log_path"] == str(log) and validate.result["validation"]["event_count"] == 6
    summary = beacon_run(tmp_path, "ci", "summary", "--format", "json", env=env)
    assert json.loads(summary.stdout)["validation"]["event_count"] == 6
    flag_wins = beacon_run(tmp_path, "ci", "validate", "--log-path", str(tmp_path / "none.jsonl"), env=env)
    assert flag_wins.code == EXIT_VALIDATION


# A child that starts a grandchild in a session of its own (out of reach of the signals beacon
# forwards), which exports without pause on one keep-alive connection and keeps count of the
# records the receiver acknowledged; the child says "ready" once the first were.
FLOODING_AGENT = r"""
import http.client, os, subprocess, sys, time, urllib.parse
root, acked_path, role = sys.argv[1:4]
if role == "child":
    grandchild = subprocess.Popen(
        [sys.executable, __file__, root, acked_path, "grandchild"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    grandchild.stdout.readline()
    print("ready", flush=True)
    time.sleep(600)  # until beacon forwards its signal
sys.path.insert(0, root)
from beacon_otlp import encode_protobuf
with open(acked_path + ".pid", "w") as handle:
    handle.write(str(os.getpid()))
endpoint = urllib.parse.urlsplit(os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
name, _, token = os.environ["OTEL_EXPORTER_OTLP_HEADERS"].partition("=")
records = [{"body": "claude_code.user_prompt", "attributes": {"i": i}} for i in range(5)]
resource = {"attributes": {"service.name": "claude-code"}}
request = {"resource_logs": [{"resource": resource, "scope_logs": [{"log_records": records}]}]}
body = encode_protobuf("logs", request)
headers = {"Content-Type": "application/x-protobuf", name: token}
conn = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=30)
acked = 0
try:
    while True:
        conn.request("POST", "/v1/logs", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            break
        acked += len(records)
        with open(acked_path + ".tmp", "w") as handle:
            handle.write(str(acked))
        os.replace(acked_path + ".tmp", acked_path)
        if acked == len(records):
            print("acked", flush=True)
except (OSError, http.client.HTTPException):
    pass
"""


def test_a_signalled_exec_exits_soon_with_every_acknowledged_record(tmp_path: Path) -> None:
    """A cancelled job: beacon is signalled while a process out of its child's group keeps
    exporting. It drains briefly (not the whole drain timeout), stops, and writes every record
    it acknowledged."""
    script, acked = tmp_path / "flood.py", tmp_path / "acked"
    script.write_text(FLOODING_AGENT)
    try:
        code, stderr = interrupt_beacon(
            tmp_path, signal.SIGTERM, sys.executable, str(script), str(ROOT), str(acked), "child", timeout=6
        )
    finally:
        pid_file = Path(f"{acked}.pid")
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert code == 128 + signal.SIGTERM, stderr
    log = tmp_path / "runner" / "beacon" / "runtime.jsonl"
    written = len(log.read_text().splitlines())
    assert written >= int(acked.read_text()) > 0  # nothing acknowledged is lost


# --- honest messages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, said, document",
    [
        (("sh", "-c", "exit 7"), "beacon: the command exited 7\n", {"exit_code": 7, "killed_by": None}),
        (
            ("sh", "-c", "kill -KILL $$"),
            "beacon: the command was killed by SIGKILL\n",
            {"exit_code": 137, "killed_by": "SIGKILL"},
        ),
    ],
)
def test_the_commands_own_result_is_said_and_in_the_json(
    tmp_path: Path, command: Tuple[str, ...], said: str, document: Dict[str, Any]
) -> None:
    run = exec_claude(tmp_path, "--", *command)
    assert run.code == document["exit_code"]
    assert said in run.stderr
    assert run.result["command"] == {**document, "signal_received": None}


def test_a_successful_command_is_in_the_json_and_not_said(tmp_path: Path) -> None:
    run = exec_claude(tmp_path, *agent())
    assert run.result["command"] == {"exit_code": 0, "killed_by": None, "signal_received": None}
    assert "the command exited" not in run.stderr


def test_forward_endpoint_without_forward_is_a_usage_error(tmp_path: Path) -> None:
    run = exec_claude(tmp_path, "--forward-endpoint", "http://127.0.0.1:9/x", *agent())
    assert run.code == EXIT_USAGE
    assert (
        run.stderr
        == "beacon: --forward-endpoint needs --forward splunk|falcon|otlp (where to send, not what)\n"
    )


def test_an_empty_log_gives_only_the_reason_that_holds(tmp_path: Path) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_text("")
    run = beacon_run(tmp_path, "ci", "validate", "--log-path", str(log), "--json")
    stages = {stage["name"]: stage for stage in run.result["validation"]["stages"]}
    assert "harness_events" not in stages  # no harness was asked for: no second, empty reason
    assert stages["event_count"]["detail"] == "0 events, want at least 1"


def test_another_captures_events_are_named_when_none_are_this_ones(tmp_path: Path) -> None:
    assert exec_claude(tmp_path, *agent()).code == 0
    log = str(tmp_path / "runner" / "beacon" / "runtime.jsonl")
    run = beacon_run(tmp_path, "ci", "validate", "--log-path", log, "--capture-id", "nope", "--json")
    stages = {stage["name"]: stage for stage in run.result["validation"]["stages"]}
    assert stages["event_count"]["detail"] == (
        f"0 events, want at least 1; the log holds {EVENTS_PER_SESSION} events of other captures"
    )
