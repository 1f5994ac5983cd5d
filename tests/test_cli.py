"""The beacon command line: in-process through main(argv, env), plus one real subprocess."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from signal import SIGPIPE
from typing import List, Set

import pytest
from conftest import ROOT
from test_summary import event, write_log

from beacon_ci import __version__
from beacon_ci.cli import main
from beacon_ci.environment import Environment
from beacon_ci.selftest import synthetic_claude_session


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Environment(environ={}, stdout=out, stderr=err, clock=lambda: 1_764_000_000.0))
    return code, out.getvalue(), err.getvalue()


def test_selftest_passes_and_leaves_a_log_to_open(tmp_path: Path) -> None:
    log = tmp_path / "selftest" / "runtime.jsonl"
    code, out, err = run("ci", "selftest", "--json", "--log-path", str(log))
    assert code == 0, err
    result = json.loads(out)
    assert result["passed"] is True and result["secret_leaked"] is False
    assert result["records_sent"] == 18
    assert result["validation"]["status"] == "passed" and result["validation"]["event_count"] == 18
    assert result["events"] == {"claude_code": 18}
    assert result["receiver"]["rejected"] == {}
    assert {r["content_type"] for r in result["receiver"]["requests"]} == {
        "application/x-protobuf",
        "application/json",
    }
    # What a newcomer sees: the summary exec shows, the verdict, and where the log is.
    assert re.match(
        r"beacon: summary: 18 events, validation passed, trace [0-9a-f]{32}\n"
        r"beacon:   claude_code 2\.1\.197:\n",
        err,
    )
    assert "beacon: selftest passed: 18 of 18 events written from 18 OTLP records" in err
    assert "secret redacted" in err
    said = f"beacon: the events are in {log} (capture {result['capture_id']}): one JSON object a line\n"
    assert err.endswith(said)
    assert result["log_path"] == str(log) and len(log.read_text().splitlines()) == 18


def test_selftest_writes_to_the_default_log(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    environ = {"RUNNER_TEMP": str(tmp_path)}
    assert main(["ci", "selftest"], Environment(environ=environ, stdout=out, stderr=err)) == 0
    assert (tmp_path / "beacon" / "runtime.jsonl").is_file()
    assert f"the events are in {tmp_path / 'beacon' / 'runtime.jsonl'}" in err.getvalue()


def test_synthetic_session_decodes_the_same_from_both_encodings() -> None:
    from beacon_otlp import decode_json, decode_protobuf, encode_json, encode_protobuf

    for signal, request in synthetic_claude_session("s-1", 1_764_000_000_000_000_000):
        from_pb = decode_protobuf(signal, encode_protobuf(signal, request))
        assert decode_json(signal, encode_json(signal, request)) == from_pb


def test_missing_subcommand_is_a_usage_error() -> None:
    code, _, _ = run("ci")
    assert code == 2


def test_version_in_an_isolated_subprocess(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-I", str(ROOT / "beacon.py"), "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"beacon {__version__}"


# --- start-up: a command imports only what it needs ---------------------------------------------

IMPORTED = """
import json, sys
sys.path.insert(0, sys.argv[1])
import beacon
beacon.main(sys.argv[2:])
print(json.dumps(sorted(sys.modules)), file=sys.__stdout__)
"""
NEVER_FOR_EXEC = {
    "ssl",  # only an https forward needs it
    "http.client",
    "http.server",
    "email",
    "beacon_ci.export.upload",
    "beacon_ci.export.forward",
    "beacon_ci.export.endpoint",
    "beacon_ci.session",
    "beacon_ci.selftest",
}


def imported_by(tmp_path: Path, *argv: str, **environ: str) -> Set[str]:
    """The modules loaded when `beacon ARGV` has run, in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", IMPORTED, str(ROOT), *argv],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "RUNNER_TEMP": str(tmp_path), **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_exec_of_a_plain_command_loads_no_export_session_or_tls_code(tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "ci", "exec", "--", "true")
    assert {"beacon_ci.exec", "beacon_ci.capture", "beacon_otlp.receiver"} <= modules
    assert modules & NEVER_FOR_EXEC == set()
    # Nothing arrived: the normalizer, protection and the findings' tables were never needed, nor
    # the job summary.
    assert {m for m in modules if m.startswith(("beacon_protect", "beacon_ci.agents.normalizer"))} == set()
    assert {
        "beacon_ci.findings.fold",
        "beacon_ci.findings.commands",
        "beacon_ci.findings.shell",
    } & modules == set()
    assert "beacon_ci.report.markdown" not in modules
    assert "beacon_ci.report.html" not in modules  # no page was asked for


def test_exec_loads_the_job_summary_form_for_a_job_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    modules = imported_by(tmp_path, "ci", "exec", "--", "true", GITHUB_STEP_SUMMARY=str(summary))
    assert "beacon_ci.report.markdown" in modules and summary.read_text().startswith("### beacon")


def test_validate_loads_neither_the_receiver_nor_protection(tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "ci", "validate", "--log-path", str(tmp_path / "none.jsonl"))
    assert "beacon_ci.eventlog" in modules
    assert {
        m for m in modules if m.startswith(("beacon_otlp", "beacon_protect", "beacon_ci.agents"))
    } == set()
    assert modules & NEVER_FOR_EXEC == set()


def test_version_loads_the_cli_alone(tmp_path: Path) -> None:
    ours = {m for m in imported_by(tmp_path, "--version") if m.startswith("beacon")}
    assert ours == {
        "beacon",
        "beacon_ci",
        "beacon_ci.cli",
        "beacon_ci.context",
        "beacon_ci.environment",
        "beacon_ci.errors",
    }


# --- a closed stdout: quiet, with the status of a program killed by SIGPIPE -----------------

KILLED_BY_SIGPIPE = 128 + SIGPIPE  # 141, what a shell reports
# stdout buffered, as in a job: what a failed write leaves in the buffer, the interpreter's
# exit would flush again.
BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def big_log(tmp_path: Path) -> Path:
    """A log whose text summary (a dozen lines per harness, 220 KB) is far bigger than a pipe's
    buffer (64 KiB)."""
    events = [event("prompt.submitted", harness={"name": f"agent{n}", "version": "1"}) for n in range(1000)]
    return write_log(tmp_path / "runtime.jsonl", events)


def test_summary_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    log, stderr = big_log(tmp_path), tmp_path / "stderr"
    # head exits after its first line; beacon, blocked on a full pipe, then writes into a closed one.
    script = '"$0" "$1" ci summary --log-path "$2" 2>"$3" | head -1; exit "${PIPESTATUS[0]}"'
    proc = subprocess.run(
        ["bash", "-c", script, sys.executable, str(ROOT / "beacon.py"), str(log), str(stderr)],
        env=BUFFERED,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout == "summary: 1000 events, validation passed\n"
    assert (proc.returncode, stderr.read_text()) == (KILLED_BY_SIGPIPE, "")


# --help: argparse's own output, which waits in stdout's buffer for the interpreter's exit.
@pytest.mark.parametrize(
    "argv", [["ci", "validate", "--json"], ["ci", "summary"], ["ci", "summary", "--help"]]
)
def test_a_closed_stdout_ends_quietly(tmp_path: Path, argv: List[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before beacon starts: its first write fails
    try:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "beacon.py"), *argv, "--log-path", str(big_log(tmp_path))],
            env=BUFFERED,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.returncode == KILLED_BY_SIGPIPE, proc.stderr


class ClosedPipe(io.StringIO):
    """A stdout whose reader has gone."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


@pytest.mark.parametrize("argv", [["ci", "summary"], ["ci", "validate", "--json"]])
def test_a_closed_stdout_in_process_is_141_and_the_real_stdout_is_left_alone(
    tmp_path: Path, argv: List[str]
) -> None:
    before = os.fstat(1)
    env = Environment(environ={}, stdout=ClosedPipe(), stderr=io.StringIO())
    assert main([*argv, "--log-path", str(tmp_path / "none.jsonl")], env) == KILLED_BY_SIGPIPE
    assert os.path.samestat(os.fstat(1), before)  # no dup2 onto a descriptor beacon was not writing to


def test_an_unknown_command_lists_only_the_commands_for_people() -> None:
    code, _, err = run("ci", "bogus")
    assert code == 2
    assert err == (
        "beacon: argument COMMAND: invalid choice: 'bogus' (choose from 'exec', 'start', 'finish', "
        "'validate', 'selftest', 'summary', 'findings', 'report') (see beacon ci --help)\n"
    )


def test_an_unknown_option_names_its_subcommand() -> None:
    code, _, err = run("ci", "exec", "--bogus", "--", "true")
    assert (code, err) == (2, "beacon: unrecognized arguments: --bogus (see beacon ci exec --help)\n")


@pytest.mark.parametrize(
    "command", ["exec", "start", "finish", "validate", "summary", "findings", "report", "selftest"]
)
def test_each_commands_help_ends_with_examples_and_exit_codes(
    command: str, capsys: pytest.CaptureFixture
) -> None:
    assert run("ci", command, "--help")[0] == 0
    out = capsys.readouterr().out  # argparse prints help to sys.stdout
    assert "(default: )" not in out
    examples, _, exit_codes = out.partition("\nexamples:\n")[2].partition("\nexit codes:\n")
    assert 2 <= len(examples.splitlines()) <= 3 and all(
        line.startswith("  beacon ") or line.startswith('  eval "$(beacon') for line in examples.splitlines()
    )
    assert exit_codes.splitlines() and all(
        line[2:3].isdigit() or line[2:3] == "N" for line in exit_codes.splitlines()
    )
    if command != "selftest" and command != "finish":
        assert (
            "<base dir>" in out
            and "--base-dir BASE_DIR" in out
            and "$RUNNER_TEMP/beacon on GitHub Actions" in out
        )
