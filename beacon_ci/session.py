"""Session mode: `ci start` leaves a detached receiver running (`ci _serve`) and exports the agent
settings for the steps that follow; `ci finish` stops it, then validates and reports like exec."""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import shlex
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from beacon_ci.agents import claude_settings
from beacon_ci.agents.codex import codex_args
from beacon_ci.agents.setup import child_environment
from beacon_ci.context import (
    DRAIN_TIMEOUT,
    HARNESSES,
    OTLP_PROTOCOLS,
    CapturePaths,
    capture_traceparent,
    claude_settings_prefix,
    codex_home_prefix,
    detect_run,
    new_capture_id,
    parse_harnesses,
    private_dir,
    redaction_rules,
    redaction_rules_path,
    remove_private_temp_dir,
    resolve_paths,
    rfc3339_ms,
    write_private,
)
from beacon_ci.environment import Environment
from beacon_ci.errors import EXIT_OK, BeaconError, UsageError
from beacon_ci.eventlog import (
    EventWriter,
    Tally,
    Validation,
    diagnose_receiver,
    reasons,
    validate_written,
)
from beacon_ci.export import parse_exports, plan_uploads
from beacon_ci.findings.config import NO_FINDINGS_CONFIG, FindingsConfig
from beacon_ci.github import append_github_file, mask, publish_outputs
from beacon_ci.process import StopSignals
from beacon_ci.sink import read_back
from beacon_ci.verdict import Outcome, conclude, exit_code_for, report_findings, say_result

SESSION_READY_TIMEOUT = 10.0
SESSION_STOP_TIMEOUT = DRAIN_TIMEOUT + 10.0
# A receiver nobody finishes (the job's later steps were cancelled, finish was forgotten) ends
# itself after this long: GitHub's limit for a job on its own runners (ci start --max-lifetime).
MAX_LIFETIME = 6 * 3600.0


def read_state(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        raise BeaconError(
            f"no capture to finish: {path} does not exist (run beacon ci start first)"
        ) from None
    except (OSError, ValueError) as exc:
        raise BeaconError(f"cannot read the session state {path}: {exc}") from None
    if not isinstance(state, dict) or not state.get("capture_id"):
        raise BeaconError(f"{path} is not a beacon session state file")
    problem = state_problem(state)
    if problem:
        raise BeaconError(f"{path} is not a usable beacon session state: {problem}")
    return state


_CAPTURE_ID_RE = re.compile(r"[0-9a-f]{8,64}")
_STATE_TEXT_FIELDS = ("token", "log_path", "base_dir", "state_path", "protocol", "status", "traceparent")


def state_problem(state: Mapping[str, Any]) -> str:
    """What makes a state file unusable, field by field (one was edited, truncated or written by
    another version); empty when nothing does."""
    capture_id = state.get("capture_id")
    if not isinstance(capture_id, str) or not _CAPTURE_ID_RE.fullmatch(capture_id):
        return "capture_id is not a capture id"
    for field in _STATE_TEXT_FIELDS:
        if not isinstance(state.get(field), str) or not state[field]:
            return f"{field} is missing or not text"
    for field in ("log_path", "base_dir", "state_path"):
        if not os.path.isabs(state[field]):
            return f"{field} is not an absolute path"
    harnesses = state.get("harnesses")
    if not isinstance(harnesses, list) or not harnesses or not set(harnesses) <= set(HARNESSES):
        return f"harnesses is not a list of {', '.join(HARNESSES)}"
    if state["protocol"] not in OTLP_PROTOCOLS:
        return f"protocol is not one of {', '.join(OTLP_PROTOCOLS)}"
    if capture_traceparent({"TRACEPARENT": state["traceparent"]}) != state["traceparent"]:
        return "traceparent is not a W3C trace context"
    pid = state.get("pid")
    if pid is not None and (type(pid) is not int or pid <= 0):
        return "pid is not a process id"
    uids = state.get("trusted_uids") or []
    if not isinstance(uids, list) or any(type(uid) is not int or uid < 0 for uid in uids):
        return "trusted_uids is not a list of user ids"
    return ""


def write_state(path: str, state: Mapping[str, Any]) -> None:
    """Replace the state file atomically, 0600: it holds the receiver's token."""
    temporary = f"{path}.{os.getpid()}.tmp"
    write_private(temporary, json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def session_receiver_alive(state: Mapping[str, Any]) -> bool:
    """Is the state's receiver process still running, and still the one ci start began? A pid
    alone may have been reused, and anything can carry the capture id in its arguments: the
    process must have started when the receiver recorded (a pid and its start time name one
    process for good) and run exactly the receiver's command for this state file."""
    pid, started = state.get("pid"), state.get("pid_started")
    if type(pid) is not int or pid <= 0 or not started:
        return False
    if process_start_time(pid) != started:
        return False
    expected = receiver_arguments(state["state_path"], state["capture_id"])
    arguments = process_arguments(pid)
    return arguments is not None and arguments[2 : 2 + len(expected)] == expected


def receiver_arguments(state_path: str, capture_id: str) -> List[str]:
    """The receiver's command after `python3 PROGRAM` (see start_session and cli._add_serve)."""
    return ["ci", "_serve", "--state-path", state_path, "--capture-id", capture_id]


def process_start_time(pid: int) -> Optional[str]:
    """When process `pid` started, as the system counts it (clock ticks since boot on Linux);
    None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            line = handle.read()
    except OSError:
        return None if os.path.isdir("/proc") else _ps_field(pid, "lstart=")
    # The command name (field 2) may hold spaces and parentheses: count fields after its last ")".
    fields = line[line.rfind(b")") + 2 :].split()
    return fields[19].decode("ascii", "replace") if len(fields) > 19 else None  # field 22


def process_arguments(pid: int) -> Optional[List[str]]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode("utf-8", "surrogateescape").split("\0")[:-1]
    except OSError:
        if os.path.isdir("/proc"):
            return None
    command = _ps_field(pid, "command=")  # macOS: arguments joined by spaces (paths are ours)
    return command.split(" ") if command else None


def _ps_field(pid: int, field: str) -> Optional[str]:
    try:
        listing = subprocess.run(["ps", "-p", str(pid), "-o", field], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return listing.stdout.decode("utf-8", "replace").strip() or None


def start_session(
    env: Environment,
    harnesses: Sequence[str],
    paths: CapturePaths,
    protocol: str,
    forward: Optional[Dict[str, Optional[str]]] = None,
    redact_rules: Optional[str] = None,
    max_lifetime: float = MAX_LIFETIME,
    trusted_uids: Sequence[int] = (),
) -> Dict[str, Any]:
    """Spawn the detached receiver (its own session, stdio detached) and wait until it listens.
    `forward` ({"target", "endpoint", "display"}, checked already) is what the receiver forwards to; it
    takes the token from the environment it inherits, never from the state file."""
    private_dir(paths.base_dir, adopt=True)
    for folder in (os.path.dirname(paths.state_path), os.path.dirname(paths.log_path)):
        private_dir(folder, adopt=folder == paths.base_dir)
    EventWriter(paths.log_path).close()  # a log that cannot be written fails here, not in the receiver
    state: Dict[str, Any] = {
        "capture_id": new_capture_id(),
        "token": secrets.token_urlsafe(32),
        "traceparent": capture_traceparent(env.environ),
        "log_path": paths.log_path,
        "base_dir": paths.base_dir,
        "state_path": paths.state_path,
        "harnesses": list(harnesses),
        "protocol": protocol,
        "status": "starting",
        "started_at": rfc3339_ms(int(env.clock() * 1e9)),
        "started_unix": env.clock(),
        "max_lifetime": max_lifetime,
        "forward": forward,
        "redact_rules": redact_rules,
        "trusted_uids": list(trusted_uids),
    }
    write_state(paths.state_path, state)
    receiver_log = os.path.join(paths.base_dir, f"receiver-{state['capture_id']}.log")
    read_end, write_end = os.pipe()
    with open(os.open(receiver_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
        receiver = subprocess.Popen(
            [
                sys.executable,
                env.program,
                *receiver_arguments(paths.state_path, state["capture_id"]),
                "--ready-fd",
                str(write_end),
            ],
            env=dict(env.environ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=(write_end,),
            start_new_session=True,
            close_fds=True,
        )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as ready:
        readable, _, _ = select.select([ready], [], [], SESSION_READY_TIMEOUT)
        line = ready.readline() if readable else b""
    if not line.startswith(b"ready"):
        receiver.kill()  # ours until it is ready: a receiver nobody will finish must not run on
        receiver.wait()
        raise BeaconError(f"the receiver did not start; its log is {receiver_log}")
    return read_state(paths.state_path)


def serve_session(env: Environment, state_path: str, ready_fd: int) -> int:
    """The detached receiver: capture until SIGTERM/SIGINT/SIGHUP or its maximum lifetime (a
    capture nobody finishes must not run for ever), then drain and record it."""
    from beacon_ci.capture import Capture  # the receiver: only this process runs one

    state = read_state(state_path)
    paths = CapturePaths(state["base_dir"], state["log_path"], state_path)
    forward = state.get("forward") or {}
    plan = parse_exports(None, forward.get("target"), forward.get("endpoint"), env.environ).forward
    capture = Capture(
        env,
        state["harnesses"],
        paths,
        "session",
        state["protocol"],
        state["capture_id"],
        state["token"],
        plan,
        redaction_rules(state.get("redact_rules")),
        state["traceparent"],
        state.get("trusted_uids") or (),
    )
    stop = StopSignals()
    capture.start()
    state.update(
        status="running",
        pid=os.getpid(),
        pid_started=process_start_time(os.getpid()),
        url=capture.receiver.url,
        codex_home=capture.codex_home,
        claude_settings=capture.claude_settings,
    )
    write_state(state_path, state)
    os.write(ready_fd, f"ready {capture.receiver.port}\n".encode())
    os.close(ready_fd)
    if not stop.wait(state.get("max_lifetime") or MAX_LIFETIME):
        state["ended"] = "max_lifetime"
    capture.finish()
    state.update(
        status="finished",
        events=dict(capture.pipeline.tally.by_harness),
        trace_ids=list(capture.pipeline.tally.trace_ids),
        bad_lines=capture.pipeline.tally.bad_lines,
        first_bad=capture.pipeline.tally.first_bad,
        summary=capture.pipeline.summary.result(),
        findings=capture.pipeline.folded_findings(),  # judged by finish, with its configuration
        write_failures=capture.pipeline.write_failures,
        receiver=capture.receiver.stats.snapshot(),
        forwarded=capture.forwarded.to_json() if capture.forwarded else None,
    )
    write_state(state_path, state)
    return EXIT_OK


def judge_session(
    env: Environment, state: Mapping[str, Any], min_events: int
) -> Tuple[Validation, Dict[str, Any], Dict[str, Any]]:
    """The validation, summary and folded findings of a session: from what its receiver counted
    as it wrote, or, when the receiver did not finish (killed, crashed), from the log read back
    line by line."""
    log_path, capture_id = state["log_path"], state["capture_id"]
    if state.get("status") == "finished" and isinstance(state.get("summary"), dict):
        tally = Tally()
        tally.by_harness.update(state.get("events") or {})
        tally.bad_lines = state.get("bad_lines", 0)
        first_bad = state.get("first_bad")
        tally.first_bad = (first_bad[0], first_bad[1]) if first_bad else None
        tally.trace_ids.update(dict.fromkeys(state.get("trace_ids") or []))
        summary, folded = state["summary"], state.get("findings") or {}
    else:
        tally, fold, findings = read_back(log_path, capture_id)
        summary, folded = fold.result(), findings.result()
    write_failures = state.get("write_failures", 0)
    validation = validate_written(
        log_path,
        tally,
        min_events,
        state["harnesses"],
        capture_id,
        diagnose=lambda count: reasons(
            claude_settings.diagnosis(session_claude_overrides(env, state)),
            diagnose_receiver(state.get("receiver")),
        ),
        write_failures=write_failures,
    )
    return validation, summary, folded


def stop_session(env: Environment, state: Dict[str, Any]) -> str:
    """Ask the receiver to drain and stop; wait (bounded) until it has, then stop it for good.
    Only a process that proves to be the receiver is signalled. Returns what happened."""
    if state.get("status") == "finished":
        if state.get("ended") == "max_lifetime":
            return f"the receiver had ended itself after its maximum lifetime ({state['max_lifetime']:g} s)"
        return "the capture was already finished"
    if not session_receiver_alive(state):
        return "the receiver had stopped before finish (killed?): validating what it wrote"
    # A stopped receiver (SIGSTOP, a debugger) would hold SIGTERM until continued: continue it.
    for sig in (signal.SIGCONT, signal.SIGTERM):
        _signal_receiver(state, sig)
    if _wait_receiver_gone(state, SESSION_STOP_TIMEOUT):
        if read_state(state["state_path"]).get("status") == "finished":
            return "the receiver drained and stopped"
        return "the receiver stopped without draining: validating what it wrote"
    _signal_receiver(state, signal.SIGKILL)
    _wait_receiver_gone(state, SESSION_STOP_TIMEOUT)
    return (
        f"the receiver did not stop within {SESSION_STOP_TIMEOUT:g} s and was killed: "
        "validating what it wrote"
    )


def _signal_receiver(state: Mapping[str, Any], sig: int) -> None:
    if session_receiver_alive(state):  # proven again right before each signal
        try:
            os.kill(state["pid"], sig)
        except ProcessLookupError:
            pass


def _wait_receiver_gone(state: Mapping[str, Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while session_receiver_alive(state):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)  # not our child: there is no wait() to block on
    return True


def session_child_environment(env: Environment, state: Mapping[str, Any]) -> Dict[str, str]:
    """The environment exec would give its child, for the session's capture."""
    return child_environment(
        env.environ,
        state["harnesses"],
        state["url"],
        state["token"],
        state["capture_id"],
        detect_run(env.environ),
        state.get("codex_home"),
        state["protocol"],
        state["traceparent"],
    )


def session_claude_overrides(env: Environment, state: Mapping[str, Any]) -> List[claude_settings.Override]:
    """The settings files (seen from here) that replace what the session gives Claude Code."""
    if "claude" not in state["harnesses"] or not state.get("url"):
        return []
    pinned = claude_settings.pinned_environment(session_child_environment(env, state))
    return claude_settings.find_overrides(env.environ, os.getcwd(), pinned)


def session_exports(env: Environment, state: Mapping[str, Any]) -> Dict[str, str]:
    """What later steps need: the agent settings (as exec gives its child) and beacon's paths.
    A variable exec would remove is exported empty, which the OpenTelemetry SDKs treat as unset."""
    child = session_child_environment(env, state)
    exports = {k: v for k, v in child.items() if env.environ.get(k) != v}
    exports.update({k: "" for k in env.environ if k not in child})
    if state.get("trusted_uids"):
        # The agent runs as another user, who cannot read this CODEX_HOME (0700, ours); and
        # codex-action puts its proxy configuration in $CODEX_HOME when it is set, while the
        # agent reads its own: that user gets codex-args instead.
        exports.pop("CODEX_HOME", None)
    exports.update(BEACON_CI_LOG_PATH=state["log_path"], BEACON_CI_STATE_PATH=state["state_path"])
    return exports


def publish_exports(
    env: Environment,
    exports: Mapping[str, str],
    state: Mapping[str, Any],
    github_env: Optional[str],
    print_exports: bool = True,
) -> None:
    """$GITHUB_ENV (heredoc with a random delimiter) and $GITHUB_OUTPUT when set, else `export`
    lines on stdout (unless stdout is --json's)."""
    mask(env, state["token"])
    publish_outputs(
        env,
        {
            "log-path": state["log_path"],
            "state-path": state["state_path"],
            "codex-home": state.get("codex_home") or "",
            "claude-args": claude_args(state),
            "codex-args": codex_args(state["url"], state["protocol"]),
        },
    )
    if github_env:
        append_github_file(github_env, exports)
    elif print_exports:
        for key, value in sorted(exports.items()):
            print(f"export {key}={shlex.quote(value)}", file=env.stdout)
    else:
        env.say("--json: the agent settings were not printed; run ci start without --json to eval them")


def claude_args(state: Mapping[str, Any]) -> str:
    """For claude-code-action's claude_args: beacon's settings, which outrank the project's and
    the user's (the action merges its own settings input into the user's)."""
    path = state.get("claude_settings")
    return f"--settings {shlex.quote(path)}" if path else ""


def running_session(state_path: str) -> Optional[Dict[str, Any]]:
    try:
        state = read_state(state_path)
    except BeaconError:
        return None
    return state if state.get("status") == "running" and session_receiver_alive(state) else None


def session_forwarded(state: Mapping[str, Any], validation: Validation) -> Optional[Dict[str, Any]]:
    """What the session's receiver says it forwarded. One that died before saying (SIGKILL)
    confirmed nothing: every event of the capture counts failed, as a forwarder counts them."""
    if not state.get("forward") or state.get("forwarded"):
        return state.get("forwarded")
    return {
        "target": state["forward"]["target"],
        "endpoint": state["forward"]["display"],
        "sent": 0,
        "failed": validation.event_count,
        "message": "the receiver stopped before it could say what it delivered (killed?)",
    }


def start_capture(
    env: Environment,
    *,
    harness: str = ",".join(HARNESSES),
    log_path: Optional[str] = None,
    base_dir: Optional[str] = None,
    state_path: Optional[str] = None,
    github_env: Optional[str] = None,
    otlp_protocol: str = "protobuf",
    forward: Optional[str] = None,
    forward_endpoint: Optional[str] = None,
    redact_rules: Optional[str] = None,
    max_lifetime: float = MAX_LIFETIME,
    replace: bool = False,
    agent_user: Optional[str] = None,
    as_json: bool = False,
) -> Outcome:
    """`ci start`: a detached capture for the steps that follow (or the running one's settings
    again); the document is the session state without its token."""
    harnesses = parse_harnesses(harness) or list(HARNESSES)
    paths = resolve_paths(env.environ, base_dir, log_path, state_path)
    plan = parse_exports(None, forward, forward_endpoint, env.environ).forward  # checked first
    rules_path = redaction_rules_path(env.environ, redact_rules)
    redaction_rules(rules_path)  # checked first; the receiver reads it again
    trusted_uids = [user_id(agent_user)] if agent_user else []
    # The receiver plans the forward again from its own environment (the token is never stored).
    planned = (
        {"target": plan.target, "endpoint": forward_endpoint, "display": plan.endpoint.display}
        if plan
        else None
    )
    state = running_session(paths.state_path)
    if state is not None and _differs(state, paths, harnesses, otlp_protocol, trusted_uids):
        if not replace:
            raise BeaconError(
                f"capture {state['capture_id']} is already running with log {state['log_path']} "
                f"({', '.join(state['harnesses'])}, state {state['state_path']}); finish it first "
                "(beacon ci finish) or pass --replace"
            )
        env.say(f"replacing capture {state['capture_id']}: {stop_session(env, state)}")
        state = None
    started = state is None
    if state is not None:
        env.say(f"capture {state['capture_id']} is already running: its settings again")
    else:
        rules_path = os.path.abspath(rules_path) if rules_path else None
        state = start_session(
            env, harnesses, paths, otlp_protocol, planned, rules_path, max_lifetime, trusted_uids
        )
    try:
        exports = session_exports(env, state)
        publish_exports(env, exports, state, github_env or env.environ.get("GITHUB_ENV"), not as_json)
    except BaseException:
        if started:  # a capture whose settings reached no one must not run on with a live token
            env.say(f"ci start failed: stopping capture {state['capture_id']}: {stop_session(env, state)}")
        raise
    if started:
        notices = claude_settings.start_notices(
            session_claude_overrides(env, state), state.get("claude_settings") or "", session=True
        )
        for notice in notices:
            env.say(notice)
        if trusted_uids:
            env.say(
                f"exports from user {agent_user} need no token; codex-args configures a Codex run as "
                "that user (CODEX_HOME is not exported: that user could not read it)"
            )
        env.say(
            f"capture {state['capture_id']} started ({', '.join(state['harnesses'])}): "
            f"log {state['log_path']}; end it with beacon ci finish"
        )
    return Outcome(EXIT_OK, {k: v for k, v in state.items() if k != "token"})


def _differs(
    state: Mapping[str, Any],
    paths: CapturePaths,
    harnesses: Sequence[str],
    protocol: str,
    trusted_uids: Sequence[int],
) -> bool:
    """Whether a start asks for another capture than the running one."""
    return (
        state["log_path"] != paths.log_path
        or set(state["harnesses"]) != set(harnesses)
        or state["protocol"] != protocol
        or list(state.get("trusted_uids") or []) != list(trusted_uids)
    )


def user_id(name: str) -> int:
    """The uid of --agent-user (a name or a number), whose exports the receiver takes without
    the token; only Linux says who owns a loopback connection (beacon_otlp.peers)."""
    if not os.path.isfile("/proc/net/tcp"):
        raise UsageError("--agent-user needs Linux, whose /proc/net/tcp says who owns a connection")
    if name.isdigit():
        return int(name)
    import pwd  # POSIX only, like --agent-user

    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise UsageError(f"--agent-user: no user named {name}") from None


def finish_capture(
    env: Environment,
    *,
    state_path: Optional[str] = None,
    base_dir: Optional[str] = None,
    min_events: int = 1,
    require_telemetry: bool = True,
    job_summary: bool = True,
    upload: Optional[Sequence[str]] = None,
    findings_config: FindingsConfig = NO_FINDINGS_CONFIG,
    fail_on: Optional[str] = None,
    html: Optional[str] = None,
) -> Outcome:
    """`ci finish`: stop the capture `ci start` began, validate what it wrote, judge its
    findings, report (with the HTML page when `html` asks, as for exec), export. A capture is
    reported once: finishing it again says its result again and changes nothing (no second job
    summary, step outputs, page or upload)."""
    state = read_state(resolve_paths(env.environ, base_dir, state_path=state_path).state_path)
    reported = state.get("reported")
    if isinstance(reported, dict):
        env.say(f"capture {state['capture_id']} was already finished and reported: its result again")
        validation, _, _ = judge_session(env, state, reported.get("min_events", min_events))
        say_result(env, reported["result"], validation, require_telemetry)
        return Outcome(int(reported["exit_code"]), reported["result"])
    targets = parse_exports(upload, None, None, env.environ).uploads
    uploads = plan_uploads(
        targets,
        env.environ,
        state["log_path"],
        detect_run(env.environ),
        state["capture_id"],
        state.get("started_unix", env.clock()),
    )
    env.say(stop_session(env, state))
    state = read_state(state["state_path"])
    remove_private_temp_dir(
        state.get("codex_home"), codex_home_prefix(state["capture_id"])
    )  # a killed receiver's
    remove_private_temp_dir(
        os.path.dirname(state.get("claude_settings") or ""), claude_settings_prefix(state["capture_id"])
    )
    validation, summary, folded = judge_session(env, state, min_events)
    findings = report_findings(
        env,
        folded,
        findings_config,
        fail_on,
        summary,
        state["base_dir"],
        state["capture_id"],
        state["log_path"],
    )
    result = {
        "capture_id": state["capture_id"],
        "trace_id": state["traceparent"].split("-")[1],
        "mode": "session",
        "log_path": state["log_path"],
        "harnesses": state["harnesses"],
        "events": validation.by_harness,  # what the log holds, also after a receiver was killed
        "receiver": state.get("receiver"),
        "validation": validation.as_json(),
    }
    outputs = {"log-path": state["log_path"], "state-path": state["state_path"]}
    forwarded = session_forwarded(state, validation)
    export_failed = conclude(
        env,
        validation,
        summary,
        result,
        uploads,
        forwarded,
        outputs,
        findings,
        require_telemetry=require_telemetry,
        job_summary=job_summary,
        html=html,
    )
    exit_code = exit_code_for(0, None, validation, require_telemetry, export_failed, findings.failing > 0)
    write_state(
        state["state_path"],
        {**state, "reported": {"exit_code": exit_code, "result": result, "min_events": min_events}},
    )
    return Outcome(exit_code, result)
