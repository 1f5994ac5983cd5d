"""The composite action (action.yml), run step by step as the GitHub runner runs it
(tests/action_runner.py): exec, start/finish around later steps, the artifact, the job
summary, outputs, annotations, and inputs that try to become shell code."""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import yaml
from action_runner import ActionResult, Artifacts, Job, action_copy, evaluate, without_python_path
from conftest import ROOT
from test_exec import EVENTS_PER_SESSION, FAKE_AGENT

from beacon_ci.errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_VALIDATION
from beacon_ci.session import read_state, session_receiver_alive

# What the action needs from its checkout: itself and the runtime (beacon.py and its packages).
PACKAGES = sorted(path.parent.name for path in ROOT.glob("beacon_*/__init__.py"))
ACTION_FILES = ("action.yml", "beacon.py", *PACKAGES)
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
FAKE = f"{shlex.quote(sys.executable)} {shlex.quote(FAKE_AGENT)}"


@pytest.fixture
def action(tmp_path: Path) -> Path:
    return action_copy(ROOT, tmp_path / "actions" / "beacon", ACTION_FILES)


@pytest.fixture
def artifacts(tmp_path: Path) -> Artifacts:
    return Artifacts(tmp_path / "artifacts")


@pytest.fixture(autouse=True)
def stop_receivers(tmp_path: Path) -> Iterator[None]:
    """A test that fails between start and finish must not leave a receiver running."""
    yield
    for state_file in tmp_path.rglob("session.json"):
        state = json.loads(state_file.read_text())
        if session_receiver_alive(state):
            os.kill(state["pid"], signal.SIGKILL)


def new_job(tmp_path: Path, artifacts: Artifacts, name: str = "job", **options: object) -> Job:
    home = tmp_path / name / "home"
    home.mkdir(parents=True)
    environ = {**without_python_path(os.environ), "HOME": str(home)}
    for key in [k for k in environ if k.startswith(("GITHUB_", "RUNNER_", "OTEL_", "BEACON_"))]:
        del environ[key]
    options.setdefault("job_id", name)
    return Job(tmp_path / name, environ, artifacts, **options)  # type: ignore[arg-type]


def events_of(path: str) -> List[Dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


# --- the action file itself ------------------------------------------------------------


def test_no_input_is_interpolated_into_a_script() -> None:
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]


def test_inputs_compatible_with_the_original_action_plus_ours() -> None:
    assert set(ACTION["inputs"]) == {
        "mode",
        "command",
        "harnesses",
        "min-events",
        "require-telemetry",
        "forward",
        "forward-endpoint",
        "upload",
        "upload-artifact",
        "artifact-name",
        "python",
        "summary",
        "redact-rules",
        "fail-on",
        "max-cost",
        "max-tokens",
        "agent-user",
        "html-report",
    }
    assert ACTION["inputs"]["python"]["default"] == "python3"
    assert ACTION["inputs"]["summary"]["default"] == "true"
    assert set(ACTION["outputs"]) == {
        "log-path",
        "state-path",
        "codex-home",
        "codex-args",
        "claude-args",
        "event-count",
        "validation",
        "findings-count",
        "sarif-path",
        "cost-usd",
        "input-tokens",
        "output-tokens",
        "html-path",
    }


def test_upload_artifact_is_pinned_to_a_full_commit() -> None:
    uses = [step["uses"] for step in ACTION["runs"]["steps"] if "uses" in step]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses


def test_expressions_follow_githubs_rules() -> None:
    context = {"inputs": {"mode": "Exec"}, "steps": {}}
    assert evaluate("inputs.mode == 'exec'", context, False) is True  # strings compare ignoring case
    assert evaluate("steps.nope.outputs.x == ''", context, False) is True  # missing is null, null == ''
    assert evaluate("always() && !(inputs.mode != 'EXEC')", context, True) is True
    assert evaluate("success() || 'fallback'", context, True) == "fallback"


# --- exec --------------------------------------------------------------------------------


def test_exec_runs_the_command_and_sets_every_output(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    job = new_job(tmp_path, artifacts)
    run = job.use(action, {"command": FAKE, "harnesses": "claude"})
    assert run.outcome == "success", run.stderr
    log_path = run.outputs["log-path"]
    assert log_path == str(job.temp / "beacon" / "runtime.jsonl")
    assert run.outputs["event-count"] == str(EVENTS_PER_SESSION)
    assert run.outputs["validation"] == "passed"
    page = run.outputs["html-path"]
    assert page == str(Path(log_path).parent / f"report-{events_of(log_path)[0]['capture']['id']}.html")
    assert artifacts.stored == {
        "beacon-runtime-log-job": {
            "runtime.jsonl": Path(log_path).read_bytes(),
            Path(page).name: Path(page).read_bytes(),
        }
    }
    assert job.summary.startswith("### ")  # the job summary: status first
    assert "### beacon: findings" in job.summary
    # Validation passed, so no annotation of its own; the synthetic session's token is a finding.
    assert run.commands("error") == []
    assert run.commands("warning") == [
        "Secrets reached the agent (1 event needed redaction: command 1) [claude_code]"
    ]
    assert "beacon: validation passed: 6 events" in run.stderr
    assert run.outputs["findings-count"] == "1"
    assert (run.outputs["cost-usd"], run.outputs["input-tokens"], run.outputs["output-tokens"]) == (
        "0.001225",
        "120",
        "25",
    )
    sarif = json.loads(Path(run.outputs["sarif-path"]).read_text())
    assert [result["ruleId"] for result in sarif["runs"][0]["results"]] == ["BCN181"]


def test_fail_on_and_the_budgets_fail_the_step_with_exit_5(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    job = new_job(tmp_path, artifacts)
    # The synthetic session: one medium finding, $0.001225 and 145 tokens.
    for inputs in ({"fail-on": "medium"}, {"max-cost": "0.001"}, {"max-tokens": "100"}):
        run = job.use(action, {"command": FAKE, "harnesses": "claude", **inputs})
        assert (run.outcome, run.steps[1].code) == ("failure", EXIT_FINDINGS), inputs
        assert run.outputs["validation"] == "passed" and "beacon-runtime-log-job" in artifacts.stored
    assert run.commands("error") == ["Token budget exceeded (145 tokens, budget 100)"]
    run = job.use(action, {"command": FAKE, "harnesses": "claude", "fail-on": "high", "max-cost": "0.01"})
    assert run.outcome == "success", run.stderr


def test_exec_exit_code_is_the_commands(tmp_path: Path, action: Path, artifacts: Artifacts) -> None:
    run = new_job(tmp_path, artifacts).use(action, {"command": f"{FAKE} --exit 7", "harnesses": "claude"})
    beacon_step = run.steps[1]
    assert (run.outcome, beacon_step.code) == ("failure", 7)
    assert run.outputs["validation"] == "passed"
    assert "beacon-runtime-log-job" in artifacts.stored  # kept even though the step failed


def test_exec_without_telemetry_errors_once_when_required(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    run = new_job(tmp_path, artifacts).use(
        action, {"command": f"{FAKE} --no-telemetry", "harnesses": "claude"}
    )
    assert (run.outcome, run.steps[1].code) == ("failure", EXIT_VALIDATION)
    assert len(run.commands("error")) == 1 and run.commands("error")[0].startswith(
        "beacon: telemetry validation failed"
    )
    assert run.outputs["validation"] == "failed" and run.outputs["event-count"] == "0"


def test_exec_without_telemetry_warns_once_when_optional(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    run = new_job(tmp_path, artifacts).use(
        action, {"command": f"{FAKE} --no-telemetry", "harnesses": "claude", "require-telemetry": "false"}
    )
    assert run.outcome == "success"
    assert len(run.commands("warning")) == 1 and run.commands("error") == []


def test_summary_false_leaves_the_job_summary_alone(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    job = new_job(tmp_path, artifacts)
    run = job.use(
        action, {"command": FAKE, "harnesses": "claude", "summary": "false", "upload-artifact": "false"}
    )
    assert run.outcome == "success" and job.summary == ""
    assert artifacts.stored == {}
    assert "beacon: summary:" in run.stderr  # the CI log still gets the text table


def test_no_input_becomes_shell_code(tmp_path: Path, action: Path, artifacts: Artifacts) -> None:
    marker = tmp_path / "pwned"
    hostile = f'$(touch {marker})`touch {marker}`"; touch {marker}; echo "'
    job = new_job(tmp_path, artifacts)
    for name in (
        "harnesses",
        "min-events",
        "require-telemetry",
        "forward",
        "upload",
        "redact-rules",
        "python",
        "summary",
        "mode",
        "fail-on",
        "max-cost",
        "max-tokens",
        "agent-user",
        "html-report",
    ):
        run = job.use(action, {"command": f"echo '$(touch {marker})'", name: hostile})
        assert run.outcome == "failure", name
    run = job.use(
        action,
        {"command": f"echo '$(touch {marker})' && {FAKE}", "harnesses": "claude", "artifact-name": hostile},
    )
    assert not marker.exists()
    assert run.commands("error") == ['artifact-name must not contain " : < > | * ? \\ / or a line break']


def test_html_report_false_keeps_the_log_alone(tmp_path: Path, action: Path, artifacts: Artifacts) -> None:
    run = new_job(tmp_path, artifacts).use(
        action, {"command": FAKE, "harnesses": "claude", "html-report": "false"}
    )
    assert run.outcome == "success", run.stderr
    assert (
        run.outputs["html-path"] == "" and list(Path(run.outputs["log-path"]).parent.glob("report-*")) == []
    )
    assert list(artifacts.stored["beacon-runtime-log-job"]) == ["runtime.jsonl"]
    run = new_job(tmp_path, artifacts, "other").use(action, {"command": FAKE, "html-report": "yes"})
    assert (run.outcome, run.steps[1].code) == ("failure", 2)
    assert run.commands("error") == ["the html-report input must be true or false"]


def test_a_matrix_gets_one_artifact_per_job(tmp_path: Path, action: Path, artifacts: Artifacts) -> None:
    for index in range(2):
        job = new_job(tmp_path, artifacts, f"leg{index}", job_id="review", job_index=index, job_total=2)
        assert job.use(action, {"command": FAKE, "harnesses": "claude"}).outcome == "success"
    assert sorted(artifacts.stored) == ["beacon-runtime-log-review-0", "beacon-runtime-log-review-1"]


def test_two_execs_in_one_job_keep_one_artifact_with_both(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    job = new_job(tmp_path, artifacts)
    for _ in range(2):
        assert job.use(action, {"command": FAKE, "harnesses": "claude"}).outcome == "success"
    assert list(artifacts.stored) == ["beacon-runtime-log-job"]
    lines = artifacts.stored["beacon-runtime-log-job"]["runtime.jsonl"].decode().splitlines()
    assert len(lines) == 2 * EVENTS_PER_SESSION and len({json.loads(x)["capture"]["id"] for x in lines}) == 2


def test_a_missing_python_is_one_clear_annotation(tmp_path: Path, action: Path, artifacts: Artifacts) -> None:
    old = tmp_path / "python3.7"
    old.write_text("#!/bin/sh\nexit 1\n")  # answers the version check as Python 3.7 does
    old.chmod(0o755)
    job = new_job(tmp_path, artifacts)
    for python in ("no-such-python", str(old)):
        run = job.use(action, {"command": FAKE, "python": python})
        assert run.outcome == "failure"
        assert [s.outcome for s in run.steps] == ["failure", "skipped", "skipped", "skipped"]
        assert run.commands("error") == [
            "no Python 3.8 or newer found as the action's python input; install one "
            "(actions/setup-python) or set python: to its path"
        ]


def test_exec_needs_a_command_and_mode_must_be_known(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    job = new_job(tmp_path, artifacts)
    run = job.use(action, {})
    assert (run.outcome, run.steps[1].code) == ("failure", 2)
    assert run.commands("error") == ["mode exec needs the command input"]
    run = job.use(action, {"mode": "stop", "command": FAKE})
    assert run.commands("error") == ["the mode input must be exec, start or finish"]


# --- start and finish around later steps -------------------------------------------------


def start_agents_finish(
    job: Job, action: Path, agent_steps: List[str], harnesses: str = "claude"
) -> ActionResult:
    start = job.use(action, {"mode": "start", "harnesses": harnesses})
    assert start.outcome == "success", start.stderr
    assert start.outputs["state-path"] == str(job.temp / "beacon" / "session.json")
    token = read_state(start.outputs["state-path"])["token"]
    assert start.commands("add-mask") == [token] and start.stdout.index(token) == len("::add-mask::")
    for script in agent_steps:
        step = job.run(script)
        assert step.code == 0, step.stderr
        assert token not in step.stdout + step.stderr
    return job.use(action, {"mode": "finish"})


def test_start_and_finish_around_agent_steps(tmp_path: Path, action: Path, artifacts: Artifacts) -> None:
    job = new_job(tmp_path, artifacts)
    finish = start_agents_finish(job, action, [FAKE, FAKE])
    assert finish.outcome == "success", finish.stderr
    assert finish.outputs["event-count"] == str(2 * EVENTS_PER_SESSION)
    assert finish.outputs["validation"] == "passed"
    events = events_of(finish.outputs["log-path"])
    assert len(events) == 2 * EVENTS_PER_SESSION and {e["capture"]["mode"] for e in events} == {"session"}
    assert list(artifacts.stored) == ["beacon-runtime-log-job"]  # from finish; start uploads nothing
    page = Path(finish.outputs["html-path"])
    assert sorted(artifacts.stored["beacon-runtime-log-job"]) == sorted(["runtime.jsonl", page.name])
    assert page.name == f"report-{events[0]['capture']['id']}.html"
    assert job.summary.count("### ") >= 1


def test_finish_skipped_start_reports_no_capture(tmp_path: Path, action: Path, artifacts: Artifacts) -> None:
    run = new_job(tmp_path, artifacts).use(action, {"mode": "finish"})
    assert (run.outcome, run.steps[1].code) == ("failure", EXIT_ERROR)
    assert "no capture to finish" in run.stderr
    assert artifacts.stored == {}


# --- with a real agent CLI ---------------------------------------------------------------


@pytest.mark.agents
def test_real_claude_code_and_codex_in_steps_between_start_and_finish(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    from agents import claude, codex, install_or_skip

    claude_cli, codex_cli = install_or_skip(claude), install_or_skip(codex)
    work = tmp_path / "work"
    work.mkdir()
    job = new_job(tmp_path, artifacts, workspace=work)
    home = Path(job.env["HOME"])
    with claude.scripted_server(work) as claude_api, codex.scripted_server(work) as codex_api:
        # Each agent reads only its own settings; the user's ~/.codex (written here) is what
        # the CODEX_HOME that start exports keeps.
        job.env.update(
            {**claude.agent_env(home, work, claude_api.url), **codex.agent_env(home, work, codex_api.url)}
        )
        finish = start_agents_finish(
            job,
            action,
            [
                shlex.join(claude.command(executable=claude_cli)),
                shlex.join(codex.command(executable=codex_cli)),
            ],
            harnesses="claude,codex",
        )
    assert claude_api.errors == [] and codex_api.errors == []
    assert finish.outcome == "success", finish.stderr
    events = events_of(finish.outputs["log-path"])
    assert int(finish.outputs["event-count"]) == len(events)
    assert {e["harness"]["name"] for e in events} == {"claude_code", "codex_cli"}
    assert len({e["capture"]["id"] for e in events}) == 1
    markers = [
        e
        for e in events
        if e.get("command", {}).get("command") == claude.MARKER_COMMAND
        and e["event"]["action"] == "command.executed"
    ]
    assert {e["harness"]["name"] for e in markers} == {"claude_code", "codex_cli"}
    assert claude.SECRET_TOKEN not in json.dumps(events)


@pytest.mark.agents
def test_real_claude_code_through_exec(tmp_path: Path, action: Path, artifacts: Artifacts) -> None:
    from agents import claude, install_or_skip

    executable = install_or_skip(claude)
    work = tmp_path / "work"
    work.mkdir()
    job = new_job(tmp_path, artifacts, workspace=work)
    with claude.scripted_server(work) as server:
        job.env.update(claude.agent_env(Path(job.env["HOME"]), work, server.url))
        run = job.use(action, {"command": shlex.join(claude.command(executable=executable))})
    assert server.errors == []
    assert run.outcome == "success", run.stderr
    assert run.outputs["validation"] == "passed" and int(run.outputs["event-count"]) > 0
    assert f"### claude\\_code {claude.VERSION}" in job.summary


# --- around the official agent actions, with the settings they write ----------------------

VENDOR_ACTIONS = ROOT / "tests" / "vendor_actions"  # stand-ins: see its README.md
# The telemetry block of every example workflow of run-gemini-cli (target gcp, as its docs give
# for Google Cloud): the outfile alone would turn Gemini CLI's OTLP export off.
GEMINI_EXAMPLE_SETTINGS = {
    "model": {"maxSessionTurns": 25},
    "telemetry": {"enabled": True, "target": "gcp", "outfile": ".gemini/telemetry.log"},
}
# A repository that keeps Claude Code's telemetry off, or sends it to its own collector.
CLAUDE_PROJECT_TELEMETRY_OFF = {"env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "0", "OTEL_LOGS_EXPORTER": "none"}}
CLAUDE_OWN_COLLECTOR = {
    "env": {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
}
AGENT_USER = "beacon-agent"  # tools/test.sh creates it


def harness_events(log_path: str, harness: str) -> List[Dict]:
    events = events_of(log_path)
    assert events and {e["harness"]["name"] for e in events} == {harness}
    return events


def commands_run(events: List[Dict]) -> List[str]:
    return [e["command"]["command"] for e in events if e["event"]["action"] == "command.executed"]


@pytest.mark.agents
def test_gemini_through_run_gemini_cli_with_its_example_settings(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    from agents import gemini, install_or_skip

    cli = install_or_skip(gemini)
    work = tmp_path / "work"
    job = new_job(tmp_path, artifacts, workspace=work)
    with gemini.scripted_server(work) as api:
        job.env.update(gemini.agent_env(Path(job.env["HOME"]), work, api.url))
        assert job.use(action, {"mode": "start", "harnesses": "gemini"}).outcome == "success"
        inputs = {"settings": json.dumps(GEMINI_EXAMPLE_SETTINGS), "prompt": gemini.PROMPT}
        run = job.use(
            VENDOR_ACTIONS / "run-gemini-cli",
            {**inputs, "gemini_model": gemini.MODEL, "gemini_cli": str(cli)},
        )
        finish = job.use(action, {"mode": "finish"})
    assert api.errors == [] and run.outcome == "success", run.stderr
    assert json.loads((work / ".gemini" / "settings.json").read_text()) == GEMINI_EXAMPLE_SETTINGS
    assert not (work / ".gemini" / "telemetry.log").exists()  # the outfile never took the export
    assert finish.outcome == "success", finish.stderr
    events = harness_events(finish.outputs["log-path"], "gemini_cli")
    assert f"echo {gemini.SHELL_MARKER}" in commands_run(events)


def claude_in_workspace(tmp_path: Path, artifacts: Artifacts, project_settings: Dict) -> Tuple[Job, Path]:
    """A job whose checkout holds .claude/settings.json; and the claude executable."""
    from agents import claude, install_or_skip

    cli = install_or_skip(claude)
    work = tmp_path / "work"
    (work / ".claude").mkdir(parents=True)
    (work / ".claude" / "settings.json").write_text(json.dumps(project_settings))
    return new_job(tmp_path, artifacts, workspace=work), cli


def claude_on_path(job: Job, cli: Path, api_url: str) -> None:
    """The job's environment for Claude against the fake API, with claude found by its name."""
    from agents import claude

    job.env.update(claude.agent_env(Path(job.env["HOME"]), job.workspace, api_url))
    job.env["PATH"] = f"{cli.parent}{os.pathsep}{job.env['PATH']}"


@pytest.mark.agents
def test_claude_through_exec_outranks_a_project_settings_file_that_turns_telemetry_off(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    from agents import claude

    job, cli = claude_in_workspace(tmp_path, artifacts, CLAUDE_PROJECT_TELEMETRY_OFF)
    with claude.scripted_server(job.workspace) as server:
        claude_on_path(job, cli, server.url)
        run = job.use(action, {"command": shlex.join(["claude", *claude.command()[1:]])})
    assert server.errors == [] and run.outcome == "success", run.stderr
    events = harness_events(run.outputs["log-path"], "claude_code")
    assert claude.MARKER_COMMAND in commands_run(events)
    assert " sets env." not in run.stderr  # nothing to say: beacon's --settings outrank the project's


@pytest.mark.agents
def test_claude_by_its_path_misses_beacons_settings_and_the_diagnosis_names_the_file(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    from agents import claude

    job, cli = claude_in_workspace(tmp_path, artifacts, CLAUDE_PROJECT_TELEMETRY_OFF)
    with claude.scripted_server(job.workspace) as server:
        job.env.update(claude.agent_env(Path(job.env["HOME"]), job.workspace, server.url))
        run = job.use(action, {"command": shlex.join(claude.command(executable=cli))})
    assert server.errors == [] and server.turns, "claude did not run"
    assert (run.outcome, run.steps[1].code) == ("failure", EXIT_VALIDATION)
    (error,) = run.commands("error")
    project = job.workspace / ".claude" / "settings.json"
    assert (
        f"Claude Code's settings replace beacon's: {project} sets env.CLAUDE_CODE_ENABLE_TELEMETRY, "
        "env.OTEL_LOGS_EXPORTER (project); the receiver got no requests"
    ) in error


@pytest.mark.agents
@pytest.mark.parametrize("with_claude_args", [True, False])
def test_claude_through_claude_code_action_whose_settings_send_telemetry_elsewhere(
    tmp_path: Path, action: Path, artifacts: Artifacts, with_claude_args: bool
) -> None:
    from agents import claude, install_or_skip

    cli = install_or_skip(claude)
    work = tmp_path / "work"
    job = new_job(tmp_path, artifacts, workspace=work)
    with claude.scripted_server(work) as server:
        job.env.update(claude.agent_env(Path(job.env["HOME"]), work, server.url))
        start = job.use(action, {"mode": "start", "harnesses": "claude"})
        inputs = {
            "settings": json.dumps(CLAUDE_OWN_COLLECTOR),
            "prompt": claude.PROMPT,
            "allowed_tools": claude.TOOLS,
            "disallowed_tools": claude.DENY_RULE,
            "claude_args": start.outputs["claude-args"] if with_claude_args else "",
            "claude_cli": str(cli),
        }
        run = job.use(VENDOR_ACTIONS / "claude-code-action", inputs)
        finish = job.use(action, {"mode": "finish"})
    assert server.errors == [] and run.outcome == "success", run.stderr
    user_settings = Path(job.env["HOME"]) / ".claude" / "settings.json"
    assert json.loads(user_settings.read_text())["env"] == CLAUDE_OWN_COLLECTOR["env"]  # merged in
    if with_claude_args:
        assert finish.outcome == "success", finish.stderr
        events = harness_events(finish.outputs["log-path"], "claude_code")
        assert claude.MARKER_COMMAND in commands_run(events)
        return
    assert finish.outputs["validation"] == "failed"
    (error,) = finish.commands("error")
    assert (
        f"Claude Code's settings replace beacon's: {user_settings} sets env.OTEL_EXPORTER_OTLP_ENDPOINT, "
        "env.OTEL_EXPORTER_OTLP_PROTOCOL (user)"
    ) in error


@pytest.mark.agents
def test_claudes_managed_settings_outrank_beacon_and_are_named_at_start_and_in_the_diagnosis(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    from agents import claude

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("managed settings live in /etc/claude-code: only root can stage them (mount namespace)")
    job, cli = claude_in_workspace(tmp_path, artifacts, {})
    managed = tmp_path / "managed-settings.json"
    managed.write_text(json.dumps({"env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "0"}}))
    overlay = tmp_path / "etc-overlay"
    (overlay / "upper").mkdir(parents=True)
    (overlay / "work").mkdir()
    # /etc as it is, plus /etc/claude-code/managed-settings.json, for this step alone.
    stage = (
        f"mount -t overlay overlay -o lowerdir=/etc,upperdir={overlay}/upper,workdir={overlay}/work /etc"
        f" && mkdir /etc/claude-code && cp {managed} /etc/claude-code/managed-settings.json"
        ' && exec "$@"'
    )
    beacon = [sys.executable, str(action / "beacon.py"), "ci", "exec", "--", "claude", *claude.command()[1:]]
    with claude.scripted_server(job.workspace) as server:
        claude_on_path(job, cli, server.url)
        step = job.run(
            f"exec unshare -m --propagation private sh -c {shlex.quote(stage)} sh {shlex.join(beacon)}"
        )
    assert server.errors == [] and server.turns, "claude did not run"
    assert step.code == EXIT_VALIDATION
    assert (
        "beacon: /etc/claude-code/managed-settings.json sets env.CLAUDE_CODE_ENABLE_TELEMETRY for Claude "
        "Code: managed settings outrank all beacon can set (telemetry may not arrive)"
    ) in step.stderr.splitlines()
    assert (
        "Claude Code's settings replace beacon's: /etc/claude-code/managed-settings.json sets "
        "env.CLAUDE_CODE_ENABLE_TELEMETRY (managed: beacon cannot override it)"
    ) in step.stderr
    assert not Path("/etc/claude-code/managed-settings.json").exists()  # the host's /etc is untouched


@pytest.fixture
def agent_user_dirs() -> Iterator[Tuple[Path, Path]]:
    """A home and a working folder that AGENT_USER owns, outside pytest's (root's, 0700)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("running an agent as another user needs root on Linux (runuser)")
    try:
        user = pwd.getpwnam(AGENT_USER)
    except KeyError:
        pytest.skip(f"no user {AGENT_USER}: tools/test.sh creates it as root (useradd --system)")
    folder = Path(tempfile.mkdtemp(prefix="beacon-agent-"))
    home, work = folder / "home", folder / "work"
    try:
        for path in (folder, home, work, home / ".codex", home / ".codex" / "rules"):
            path.mkdir(exist_ok=True)
            os.chown(path, user.pw_uid, user.pw_gid)
        yield home, work
    finally:
        shutil.rmtree(folder)


@pytest.mark.agents
def test_codex_through_codex_action_as_an_unprivileged_user(
    tmp_path: Path, action: Path, artifacts: Artifacts, agent_user_dirs: Tuple[Path, Path]
) -> None:
    from agents import codex, install_or_skip

    cli = install_or_skip(codex)
    home, work = agent_user_dirs
    (home / ".codex" / "rules" / "beacon-e2e.rules").write_text(codex.rules_file(codex.DENIAL_RULE))
    job = new_job(tmp_path, artifacts, workspace=work)
    with codex.scripted_server(work) as server:
        start = job.use(action, {"mode": "start", "harnesses": "codex", "agent-user": AGENT_USER})
        assert start.outcome == "success", start.stderr
        assert "CODEX_HOME" not in job.env  # codex-action would put its provider there
        codex_args = start.outputs["codex-args"]
        assert read_state(start.outputs["state-path"])["token"] not in codex_args
        inputs = {
            "codex-user": AGENT_USER,
            "codex-user-home": str(home),
            "provider-config": codex.proxied_config(server.url),
            "codex-args": f"{codex_args} -c analytics.enabled=false",  # arguments of the user's can follow
            "prompt": codex.PROMPT,
            "working-directory": str(work),
            "codex": str(cli),
        }
        run = job.use(VENDOR_ACTIONS / "codex-action", inputs)
        finish = job.use(action, {"mode": "finish"})
    assert server.errors == [] and run.outcome == "success", run.stderr
    assert (work / codex.FILE_NAME).stat().st_uid == pwd.getpwnam(AGENT_USER).pw_uid  # Codex ran as the user
    assert finish.outcome == "success", finish.stderr
    events = harness_events(finish.outputs["log-path"], "codex_cli")
    assert codex.MARKER_COMMAND in commands_run(events)


# --- the README's copy-paste workflows ---------------------------------------------------


def readme_workflows() -> List[Dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [document for document in map(yaml.safe_load, blocks) if "jobs" in document]


def test_readme_workflows_use_only_inputs_the_action_has() -> None:
    workflows = readme_workflows()
    assert len(workflows) >= 6
    modes = []
    for workflow in workflows:
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if step.get("uses", "").startswith("OWNER/beacon@"):
                    inputs = step.get("with", {})
                    assert set(inputs) <= set(ACTION["inputs"]), inputs
                    mode = inputs.get("mode", "exec")
                    assert mode != "exec" or inputs.get("command"), step
                    assert mode != "finish" or step.get("if") == "always()", step
                    modes.append(mode)
    assert {"exec", "start", "finish"} <= set(modes)


def test_readme_workflows_use_only_outputs_the_action_has() -> None:
    used = []
    for workflow in readme_workflows():
        for job in workflow["jobs"].values():
            ours = {s.get("id") for s in job["steps"] if s.get("uses", "").startswith("OWNER/beacon@")}
            text = yaml.safe_dump(job["steps"])
            used += [
                name
                for step_id, name in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text)
                if step_id in ours
            ]
    assert used and set(used) <= set(ACTION["outputs"]), set(used) - set(ACTION["outputs"])
    assert {"claude-args", "codex-args", "codex-home", "sarif-path"} <= set(used)  # the vendors' recipes


def test_the_redact_rules_input_reaches_the_capture(
    tmp_path: Path, action: Path, artifacts: Artifacts
) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"patterns": [{"regex": "acme/app"}]}))
    job = new_job(tmp_path, artifacts)
    run = job.use(action, {"command": FAKE, "harnesses": "claude", "redact-rules": str(rules)})
    assert run.outcome == "success", run.stderr
    log = artifacts.stored["beacon-runtime-log-job"]["runtime.jsonl"].decode()
    assert "git push https://x-access-token:" in log and "acme/app" not in log
    rules.write_text('{"patterns": [{"regex": "("}]}')
    run = job.use(action, {"command": FAKE, "harnesses": "claude", "redact-rules": str(rules)})
    assert (run.outcome, run.steps[1].code) == ("failure", 2)
    assert "patterns[0].regex is not a valid regular expression" in run.stderr
