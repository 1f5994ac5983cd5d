"""The writer process (beacon_ci/writer_process.py): a capture's protect, write and count stages
in a process of its own beside the receiver. What it writes is what the capture's own process
would write; a writer that dies costs only what it had not written yet, and the counts come
from the log; a capture process that is killed leaves no writer behind."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

from conftest import ROOT
from test_exec import FAKE_AGENT, beacon_run, environ
from test_spans import CLAUDE, batch, result

from beacon_ci.capture import Capture
from beacon_ci.context import resolve_paths
from beacon_ci.environment import Environment
from beacon_ci.sink import EventSink
from beacon_ci.writer_process import RemoteSink

WAIT = 30.0  # seconds any condition below may take on a loaded machine


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def lines(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def new_capture(tmp_path: Path) -> Capture:
    tmp_path.mkdir(parents=True, exist_ok=True)
    env = Environment(environ=environ(tmp_path), stdout=io.StringIO(), stderr=io.StringIO())
    paths = resolve_paths(env.environ, base_dir=str(tmp_path / "beacon"))
    return Capture(env, ["claude"], paths, "exec")


def calls(count: int, first: int = 0) -> Any:
    """One Claude logs export of `count` tool results in no trace (written at once)."""
    return batch("logs", CLAUDE, [result(f"toolu_{n}", in_trace=False) for n in range(first, first + count)])


def test_the_writer_process_writes_what_this_process_would(tmp_path: Path) -> None:
    remote = new_capture(tmp_path / "remote")
    remote.pipeline(calls(50))
    assert isinstance(remote.pipeline.sink, RemoteSink)  # a capture with events starts one
    remote.finish()
    local = new_capture(tmp_path / "local")
    local.pipeline.env = None  # the same capture, in this process
    local.pipeline(calls(50))
    assert isinstance(local.pipeline.sink, EventSink)
    local.finish()

    def comparable(event: Dict[str, Any]) -> Dict[str, Any]:
        return {k: v for k, v in event.items() if k not in ("event", "capture", "trace", "endpoint", "user")}

    written = lines(Path(remote.paths.log_path))
    assert [comparable(e) for e in written] == [comparable(e) for e in lines(Path(local.paths.log_path))]
    assert remote.pipeline.tally.events == len(written) == 50 and remote.pipeline.writer_lost is None
    assert remote.pipeline.summary.result()["harnesses"][0]["counts"]["commands"] == 50
    assert remote.pipeline.writer_resources and remote.pipeline.writer_resources["peak_rss_mb"] > 0
    assert remote.pipeline.sink.process.returncode == 0


def test_a_writer_that_dies_costs_only_what_it_had_not_written(tmp_path: Path) -> None:
    capture = new_capture(tmp_path)
    log = Path(capture.paths.log_path)
    capture.pipeline(calls(20))
    wait_until(lambda: len(lines(log)) == 20, "the writer to write the first batch")
    writer = capture.pipeline.sink.process
    writer.kill()
    writer.wait()
    capture.pipeline(calls(30, first=20))  # the pipe is broken: this process writes from now on
    capture.finish()
    assert len(lines(log)) == 50
    assert capture.pipeline.tally.events == 50  # counted again from the log
    assert capture.pipeline.writer_lost and "BrokenPipeError" in capture.pipeline.writer_lost
    said = capture.env.stderr.getvalue()  # type: ignore[attr-defined]
    assert "the writer process failed (BrokenPipeError" in said
    assert capture.validate(1).passed


def test_a_killed_capture_leaves_no_writer_behind(tmp_path: Path) -> None:
    """SIGKILL to beacon (the runner giving up on a cancelled job): its writer process writes
    what it was sent, sees the pipe close, and ends."""
    log = tmp_path / "runtime.jsonl"
    agent = f"{sys.executable} {FAKE_AGENT} && exec sleep 120"  # exports, then runs on
    argv = ["ci", "exec", "--harness", "claude", "--log-path", str(log), "--", "sh", "-c", agent]
    beacon = subprocess.Popen(
        [sys.executable, str(ROOT / "beacon.py"), *argv],
        env=environ(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started: List[int] = []
    try:
        wait_until(lambda: len(lines(log)) > 0, "the first events")
        started = children(beacon.pid)  # the agent (a process group of its own) and the writer
        writers = [pid for pid in started if b"_write" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(writers) == 1 and len(started) == 2
        beacon.kill()
        beacon.wait()
        wait_until(lambda: gone(writers[0]), "the writer to end")
    finally:
        beacon.kill()
        for pid in started:
            if not gone(pid):
                os.killpg(pid, signal.SIGKILL) if pid not in writers else os.kill(pid, signal.SIGKILL)


def children(pid: int) -> List[int]:
    """Every child of `pid`, whichever of its threads started it."""
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def gone(pid: int) -> bool:
    """Exited: no process, or a zombie its parent (killed) left for init to reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_exec_reports_what_its_writer_used(tmp_path: Path) -> None:
    run = beacon_run(
        tmp_path, "ci", "exec", "--json", "--harness", "claude", "--", sys.executable, FAKE_AGENT
    )
    assert run.code == 0, run.stderr
    assert set(run.result["writer_process"]) == {"peak_rss_mb", "cpu_seconds"}
