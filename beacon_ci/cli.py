"""The command line: one argparse tree, built here and only here. Each command is an
`_add_<command>` that declares its options and a `_cmd_<command>` that turns them into keyword
arguments for the module that does the work (imported then: a command loads only what it needs)
and prints its result document for --json. Usage errors exit 2; every beacon error is one
`beacon:` line and its exit code; a closed stdout ends quietly with 141, as SIGPIPE would.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Dict, List, NoReturn, Optional, Sequence

from beacon_ci import __version__
from beacon_ci.context import HARNESSES, OTLP_PROTOCOLS, parse_harnesses, resolve_paths
from beacon_ci.environment import Environment
from beacon_ci.errors import (
    EXIT_BROKEN_PIPE,
    BeaconError,
    UsageError,
)

if TYPE_CHECKING:  # the commands' modules are imported when a command runs
    from beacon_ci.findings.config import FindingsConfig
    from beacon_ci.verdict import Outcome

LOG_PATH_HELP = "the JSONL log (default: $BEACON_CI_LOG_PATH, else <base dir>/runtime.jsonl)"
BASE_DIR_HELP = (
    "beacon's own folder, for what you do not name: the log, the session state, receiver logs "
    "(default: $RUNNER_TEMP/beacon on GitHub Actions, else <system temp>/beacon-<uid>)"
)
STATE_PATH_HELP = "the session state file (default: $BEACON_CI_STATE_PATH, else <base dir>/session.json)"
DESCRIPTION = "beacon: record what AI coding agents (Claude Code, Codex CLI, Gemini CLI) do in a CI job."


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one `beacon:` line and exit code 2 (main reports it)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


def _duration(text: str) -> float:
    """Seconds from `90`, `90s`, `45m` or `6h`."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in _DURATION_UNITS else (text, "s")
    try:
        seconds = float(number) * _DURATION_UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 90s, 45m or 6h, got {text!r}"
        ) from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a duration above zero, got {text!r}")
    return seconds


def _epilog(examples: Sequence[str], exit_codes: Sequence[str]) -> Dict[str, Any]:
    """add_parser options for a subcommand's help: examples, then its exit codes."""
    text = "examples:\n" + "".join(f"  {example}\n" for example in examples)
    text += "\nexit codes:\n" + "".join(f"  {line}\n" for line in exit_codes)
    return {"epilog": text, "formatter_class": argparse.RawDescriptionHelpFormatter}


CAPTURE_EXITS = (
    "N    the command failed with N (128+N for signal N; exec only)",
    "3    validation failed",
    "4    an upload or forward failed",
    "5    a finding at or above --fail-on, or over a budget",
    "2    usage error: nothing was run",
    "1    any other error",
    "0    success",
)


def _usd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an amount in US dollars, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected 0 or more US dollars, got {text!r}")
    return value


def _severity(text: str) -> str:
    from beacon_ci.findings.rules import SEVERITIES

    if text.lower() not in SEVERITIES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(SEVERITIES)}, got {text!r}")
    return text.lower()


def _add_findings_options(p: argparse.ArgumentParser, failing: str = "exit 5") -> None:
    """How exec, finish and findings judge the findings (and what failing does: report's page
    says so in its verdict)."""
    p.add_argument(
        "--fail-on",
        type=_severity,
        metavar="SEVERITY",
        help=f"{failing} when a finding is this severe or more: low, medium, high, critical",
    )
    p.add_argument(
        "--findings-config",
        metavar="FILE",
        help="rules to turn off and hosts to allow, JSON (or BEACON_CI_FINDINGS_CONFIG)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a host the agent may reach without a finding (repeatable; *.example.com for a domain)",
    )
    p.add_argument(
        "--max-cost",
        type=_usd,
        metavar="USD",
        help=f"a finding, and {failing}, when model cost goes over this",
    )
    p.add_argument(
        "--max-tokens",
        type=_count,
        metavar="N",
        help=f"a finding, and {failing}, when input plus output tokens go over this",
    )


def _findings_config(args: argparse.Namespace, env: Environment) -> FindingsConfig:
    """Read and checked before anything runs: a file that cannot be used is a usage error."""
    from beacon_ci.findings.config import findings_config

    return findings_config(env.environ, args.findings_config, args.allow_host, args.max_cost, args.max_tokens)


def _add_verdict_options(p: argparse.ArgumentParser) -> None:
    """How exec and finish judge and report a capture."""
    p.add_argument("--min-events", type=_count, default=1, help="events required (default: %(default)s)")
    p.add_argument(
        "--require-telemetry",
        type=_bool,
        default=True,
        metavar="true|false",
        help="fail (exit 3) when validation fails (default: true)",
    )
    p.add_argument(
        "--summary",
        type=_bool,
        default=True,
        metavar="true|false",
        help="append what the agent did to $GITHUB_STEP_SUMMARY when set (default: true)",
    )


def _add_otlp_protocol(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--otlp-protocol",
        choices=OTLP_PROTOCOLS,
        default="protobuf",
        help="how agents encode their export (default: %(default)s; Gemini always sends JSON)",
    )


def _add_capture_options(p: argparse.ArgumentParser, harness_default: str) -> None:
    p.add_argument(
        "--harness",
        default=harness_default,
        help=f"comma list of {', '.join(HARNESSES)}, or auto (default: {harness_default or 'any harness'})",
    )
    p.add_argument("--log-path", help=LOG_PATH_HELP)
    p.add_argument("--base-dir", help=BASE_DIR_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON result document on stdout")


def _add_upload(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--upload",
        action="append",
        metavar="s3|gcs",
        help="upload the log after validation (repeatable or comma list; buckets from "
        "BEACON_CI_S3_BUCKET, BEACON_CI_GCS_BUCKET)",
    )


def _add_forward(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--forward",
        metavar="splunk|falcon|otlp",
        help="forward events as they arrive (tokens only from BEACON_CI_SPLUNK_HEC_TOKEN, "
        "BEACON_CI_FALCON_HEC_TOKEN; OTLP headers from BEACON_CI_OTLP_HEADERS)",
    )
    p.add_argument("--forward-endpoint", metavar="URL", help="where to forward (or BEACON_CI_*_ENDPOINT)")


def _add_redact_rules(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--redact-rules",
        metavar="FILE",
        help="your own redaction patterns and allow-list, JSON (or BEACON_CI_REDACT_RULES)",
    )


def _add_html(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--html",
        nargs="?",
        const="",
        metavar="PATH",
        help="write the capture's HTML report to PATH (alone: report-<capture id>.html beside the log)",
    )


def _add_exec(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "exec",
        help="run an agent command with its telemetry captured",
        usage="beacon ci exec [options] -- COMMAND [ARG...]",
        **_epilog(
            (
                'beacon ci exec -- claude -p "Review this PR"',
                'beacon ci exec --harness codex --upload s3 -- codex exec "fix the failing test"',
                "beacon ci exec --json --require-telemetry false -- ./run-agent.sh",
            ),
            CAPTURE_EXITS,
        ),
    )
    _add_capture_options(p, "auto")
    _add_verdict_options(p)
    _add_findings_options(p)
    _add_upload(p)
    _add_forward(p)
    _add_otlp_protocol(p)
    _add_redact_rules(p)
    _add_html(p)
    p.add_argument("--drain-timeout", type=float, help=argparse.SUPPRESS)
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    p.set_defaults(func=_cmd_exec, prog=p.prog)


def _cmd_exec(args: argparse.Namespace, env: Environment) -> int:
    from beacon_ci.exec import run_exec

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    options = {"drain_timeout": args.drain_timeout} if args.drain_timeout is not None else {}
    findings_config = _findings_config(args, env)  # checked before anything runs
    outcome = run_exec(
        env,
        command,
        harness=args.harness,
        log_path=args.log_path,
        base_dir=args.base_dir,
        min_events=args.min_events,
        require_telemetry=args.require_telemetry,
        job_summary=args.summary,
        upload=args.upload,
        forward=args.forward,
        forward_endpoint=args.forward_endpoint,
        otlp_protocol=args.otlp_protocol,
        redact_rules=args.redact_rules,
        findings_config=findings_config,
        fail_on=args.fail_on,
        html=args.html,
        **options,
    )
    return _emit(env, outcome, args.json)


def _add_validate(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check an existing runtime.jsonl",
        **_epilog(
            (
                "beacon ci validate",
                "beacon ci validate --log-path runtime.jsonl --harness claude --min-events 5",
                "beacon ci validate --capture-id 3f2a9c1e0b7d4a65 --json",
            ),
            ("0    passed", "3    failed", "2    usage error", "1    any other error"),
        ),
    )
    _add_capture_options(p, "")
    p.add_argument("--min-events", type=_count, default=1, help="events required (default: %(default)s)")
    p.add_argument("--capture-id", help="count only this capture's events")
    p.set_defaults(func=_cmd_validate, prog=p.prog)


def _cmd_validate(args: argparse.Namespace, env: Environment) -> int:
    from beacon_ci.review import validate_command

    harnesses = parse_harnesses(args.harness) if args.harness else []
    log_path = resolve_paths(env.environ, args.base_dir, args.log_path).log_path
    return _emit(env, validate_command(env, log_path, harnesses, args.min_events, args.capture_id), args.json)


def _add_start(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "start",
        help="start a detached capture for the steps that follow",
        **_epilog(
            (
                'eval "$(beacon ci start)"        # a shell, GitLab CI, Jenkins: exports the settings',
                "beacon ci start --harness claude  # GitHub Actions: settings go to $GITHUB_ENV",
                "beacon ci start --log-path beacon/runtime.jsonl --agent-user guest  # sudo -u guest codex",
            ),
            (
                "0    started, or already running",
                "2    usage error",
                "1    any other error (a receiver it began is stopped)",
            ),
        ),
    )
    p.add_argument("--harness", default=",".join(HARNESSES), help="comma list (default: %(default)s)")
    p.add_argument("--log-path", help=LOG_PATH_HELP)
    p.add_argument("--base-dir", help=BASE_DIR_HELP)
    p.add_argument("--state-path", help=STATE_PATH_HELP)
    p.add_argument("--github-env", help="the file to export settings to (default: $GITHUB_ENV)")
    _add_otlp_protocol(p)
    _add_forward(p)
    _add_redact_rules(p)
    p.add_argument(
        "--max-lifetime",
        type=_duration,
        default="6h",
        metavar="DURATION",
        help="a receiver nobody finishes stops itself after this long: 90s, 45m, 6h (default: %(default)s)",
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="stop a capture already running with other settings and start this one",
    )
    p.add_argument(
        "--agent-user",
        metavar="USER",
        help="an agent runs as this user (sudo -u; codex-action's unprivileged-user): its exports "
        "need no token (Linux), and CODEX_HOME is not exported (it gets codex-args)",
    )
    p.add_argument(
        "--json", action="store_true", help="print one JSON result document on stdout (no export lines)"
    )
    p.set_defaults(func=_cmd_start, prog=p.prog)


def _cmd_start(args: argparse.Namespace, env: Environment) -> int:
    from beacon_ci.session import start_capture

    outcome = start_capture(
        env,
        harness=args.harness,
        log_path=args.log_path,
        base_dir=args.base_dir,
        state_path=args.state_path,
        github_env=args.github_env,
        otlp_protocol=args.otlp_protocol,
        forward=args.forward,
        forward_endpoint=args.forward_endpoint,
        redact_rules=args.redact_rules,
        max_lifetime=args.max_lifetime,
        replace=args.replace,
        agent_user=args.agent_user,
        as_json=args.json,
    )
    return _emit(env, outcome, args.json)


def _add_finish(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "finish",
        help="stop the capture ci start began, validate it, report",
        **_epilog(("beacon ci finish", "beacon ci finish --upload s3 --json"), CAPTURE_EXITS),
    )
    p.add_argument(
        "--state-path",
        help=STATE_PATH_HELP,
    )
    p.add_argument("--base-dir", help=BASE_DIR_HELP)
    _add_verdict_options(p)
    _add_findings_options(p)
    _add_upload(p)
    _add_html(p)
    p.add_argument("--json", action="store_true", help="print one JSON result document on stdout")
    p.set_defaults(func=_cmd_finish, prog=p.prog)


def _cmd_finish(args: argparse.Namespace, env: Environment) -> int:
    from beacon_ci.session import finish_capture

    outcome = finish_capture(
        env,
        state_path=args.state_path,
        base_dir=args.base_dir,
        min_events=args.min_events,
        require_telemetry=args.require_telemetry,
        job_summary=args.summary,
        upload=args.upload,
        findings_config=_findings_config(args, env),
        fail_on=args.fail_on,
        html=args.html,
    )
    return _emit(env, outcome, args.json)


SERVE = ["ci", "_serve"]  # the detached receiver ci start spawns: not a command for people


def _serve_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="beacon ci _serve")
    p.add_argument("--state-path", required=True)
    p.add_argument("--capture-id", required=True)  # in the command line so finish can tell it is ours
    p.add_argument("--ready-fd", type=int, required=True)
    p.set_defaults(func=_cmd_serve, prog=p.prog)
    return p


def _cmd_serve(args: argparse.Namespace, env: Environment) -> int:
    from beacon_ci.session import serve_session

    return serve_session(env, args.state_path, args.ready_fd)


def _write_parser() -> argparse.ArgumentParser:
    """The writer process a capture starts (writer_process.py): not a command for people."""
    p = _Parser(prog="beacon ci _write")
    p.add_argument("--read-fd", type=int, required=True)
    p.add_argument("--write-fd", type=int, required=True)
    p.set_defaults(func=_cmd_write, prog=p.prog)
    return p


def _cmd_write(args: argparse.Namespace, env: Environment) -> int:
    from beacon_ci.writer_process import serve_writer

    return serve_writer(args.read_fd, args.write_fd)


def _add_selftest(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "selftest",
        help="run the pipeline against a built-in synthetic agent",
        **_epilog(
            ("beacon ci selftest", "beacon ci selftest --log-path /tmp/selftest.jsonl --json"),
            ("0    passed", "1    failed"),
        ),
    )
    p.add_argument("--log-path", help=LOG_PATH_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON result document on stdout")
    p.set_defaults(func=_cmd_selftest, prog=p.prog)


def _cmd_selftest(args: argparse.Namespace, env: Environment) -> int:
    from beacon_ci.selftest import run_selftest

    return _emit(env, run_selftest(env, args.log_path), args.json)


def _emit(env: Environment, outcome: Outcome, as_json: bool) -> int:
    """Print a command's result document for --json (stdout's last line); its exit code."""
    if as_json:
        print(json.dumps(outcome.document, sort_keys=True), file=env.stdout, flush=True)
    return outcome.exit_code


def _add_ci(subparsers: Any) -> None:
    p = subparsers.add_parser("ci", help="capture agent telemetry in a CI job")
    commands = p.add_subparsers(dest="ci_command", metavar="COMMAND")
    commands.required = True
    _add_exec(commands)
    _add_start(commands)
    _add_finish(commands)
    _add_validate(commands)
    _add_selftest(commands)
    _add_summary(commands)
    _add_findings(commands)
    _add_report(commands)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="beacon", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"beacon {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_ci(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None, env: Optional[Environment] = None) -> int:
    """Run the command line; the exit code (EXIT_BROKEN_PIPE when stdout's reader went away)."""
    env = env or Environment()
    try:
        code = _run(argv, env)
        env.stdout.flush()  # what is still buffered (argparse's --help) fails here, not at exit
        return code
    except BrokenPipeError:
        return _stdout_closed(env)


def _run(argv: Optional[Sequence[str]], env: Environment) -> int:
    try:
        args = _parse(list(sys.argv[1:] if argv is None else argv))
        return int(args.func(args, env))
    except SystemExit as exit_:  # --help and --version
        return int(exit_.code or 0)
    except BeaconError as exc:
        env.say(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _parse(argv: List[str]) -> argparse.Namespace:
    if argv[: len(SERVE)] == SERVE:
        return _serve_parser().parse_args(argv[len(SERVE) :])
    if argv[:2] == ["ci", "_write"]:
        return _write_parser().parse_args(argv[2:])
    args, extras = build_parser().parse_known_args(argv)
    if extras:  # named with the subcommand they were given to, not the top-level command
        raise UsageError(f"unrecognized arguments: {' '.join(extras)} (see {args.prog} --help)")
    return args


def _stdout_closed(env: Environment) -> int:
    """stdout's reader went away (`beacon ci summary | head -1`): end quietly, with the status
    of a program SIGPIPE killed (Python ignores SIGPIPE, so a write fails instead)."""
    if env.stdout is sys.stdout:
        # Python's recipe (the signal module's docs): the descriptor onto /dev/null, so that the
        # interpreter's flush at exit of what is still buffered cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def _add_log_reading_options(p: argparse.ArgumentParser) -> None:
    """Which log, and which of its captures, summary and findings read."""
    p.add_argument("--log-path", help=LOG_PATH_HELP)
    p.add_argument("--base-dir", help=BASE_DIR_HELP)
    p.add_argument("--capture-id", help="only this capture's events (default: every event)")


def _add_summary(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "summary",
        help="summarize what the agents in a runtime.jsonl did",
        **_epilog(
            (
                "beacon ci summary",
                'beacon ci summary --format markdown >> "$GITHUB_STEP_SUMMARY"',
                "beacon ci summary --log-path runtime.jsonl --format json",
            ),
            (
                "0    also when validation failed: judging is validate's job",
                "2    usage error",
                "141  stdout was closed before all was written",
            ),
        ),
    )
    _add_log_reading_options(p)
    p.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text for a log, markdown for a job summary, json (default: %(default)s)",
    )
    p.set_defaults(func=_cmd_summary, prog=p.prog)


def _cmd_summary(args: argparse.Namespace, env: Environment) -> int:
    from beacon_ci.review import summary_command

    log_path = resolve_paths(env.environ, args.base_dir, args.log_path).log_path
    return summary_command(env, log_path, args.capture_id, args.format).exit_code


def _add_findings(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "findings",
        help="what a reviewer must look at in a runtime.jsonl: rules fired, with their evidence",
        **_epilog(
            (
                "beacon ci findings",
                "beacon ci findings --format sarif > findings.sarif",
                "beacon ci findings --fail-on high --allow-host api.example.com",
            ),
            (
                "0    no finding at or above --fail-on, no budget gone over",
                "5    a finding at or above --fail-on, or over a budget",
                "2    usage error (a bad --findings-config)",
                "1    any other error",
            ),
        ),
    )
    _add_log_reading_options(p)
    p.add_argument(
        "--format",
        choices=("text", "markdown", "json", "sarif"),
        default="text",
        help="text for a log, markdown for a job summary, json, sarif for code scanning "
        "(default: %(default)s)",
    )
    _add_findings_options(p)
    p.set_defaults(func=_cmd_findings, prog=p.prog)


def _cmd_findings(args: argparse.Namespace, env: Environment) -> int:
    from beacon_ci.review import findings_command

    config = _findings_config(args, env)  # checked before the log is read
    log_path = resolve_paths(env.environ, args.base_dir, args.log_path).log_path
    return findings_command(env, log_path, args.capture_id, args.format, config, args.fail_on).exit_code


def _add_report(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a runtime.jsonl's capture as one HTML page a reviewer opens",
        **_epilog(
            (
                "beacon ci report --html report.html",
                "beacon ci report --log-path runtime.jsonl --capture-id 5eb864fec66b4377 --html report.html",
                "beacon ci report --html report.html --fail-on high --allow-host api.example.com",
            ),
            (
                "0    the page was written, whatever the capture holds",
                "2    usage error (a bad --findings-config)",
                "1    any other error (no log, a page that cannot be written)",
            ),
        ),
    )
    _add_log_reading_options(p)
    p.add_argument(
        "--html",
        required=True,
        metavar="PATH",
        help="where to write the page: one file that loads nothing, to open in any browser",
    )
    _add_findings_options(p, failing="a failed verdict on the page")
    p.set_defaults(func=_cmd_report, prog=p.prog)


def _cmd_report(args: argparse.Namespace, env: Environment) -> int:
    from beacon_ci.review import report_command

    config = _findings_config(args, env)  # checked before the log is read
    log_path = resolve_paths(env.environ, args.base_dir, args.log_path).log_path
    return report_command(env, log_path, args.capture_id, args.html, config, args.fail_on).exit_code
