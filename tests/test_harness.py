"""Harness setup: what the agent's environment and CODEX_HOME look like, and CI run metadata."""

from __future__ import annotations

import json
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, Tuple

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extra installs tomli, tomllib's origin, before 3.11
    import tomli as tomllib

from beacon_ci.agents import claude_settings
from beacon_ci.agents.codex import codex_args, user_codex_home, write_codex_home
from beacon_ci.agents.setup import child_environment
from beacon_ci.context import (
    capture_traceparent,
    detect_run,
    harnesses_for_command,
    parse_harnesses,
    resolve_paths,
)
from beacon_ci.errors import UsageError

URL, TOKEN = "http://127.0.0.1:4000", "tok_en-123"


def child(parent, harnesses=("claude", "codex", "gemini"), run=None, codex_home="/x/codex"):
    return child_environment(parent, list(harnesses), URL, TOKEN, "cap1", run or {}, codex_home)


def test_claude_settings_and_the_token_header() -> None:
    env = child({"PATH": "/bin"}, ["claude"])
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert env["OTEL_LOGS_EXPORTER"] == env["OTEL_METRICS_EXPORTER"] == "otlp"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == URL
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == f"x-beacon-token={TOKEN}"
    assert env["OTEL_LOG_TOOL_DETAILS"] == env["OTEL_LOG_USER_PROMPTS"] == "1"
    assert env["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"] == "delta"
    assert "GEMINI_TELEMETRY_ENABLED" not in env and "CODEX_HOME" not in env
    assert env["PATH"] == "/bin"


INHERITED_OVERRIDES = {
    **{
        f"OTEL_EXPORTER_OTLP_{signal}_{setting}": value
        for signal in ("LOGS", "METRICS", "TRACES")
        for setting, value in (
            ("ENDPOINT", "https://elsewhere/v1/x"),
            ("PROTOCOL", "grpc"),
            ("HEADERS", "a=b"),
            ("COMPRESSION", "gzip"),  # Codex exports nothing when compression is set
        )
    },
    "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
    "OTEL_SDK_DISABLED": "true",
    # TLS material for an https collector: Copilot CLI exports nothing over http:// with any set
    **{
        f"OTEL_EXPORTER_OTLP_{signal}{setting}": "/etc/ssl/their.pem"
        for signal in ("", "LOGS_", "METRICS_", "TRACES_")
        for setting in ("CERTIFICATE", "CLIENT_KEY", "CLIENT_CERTIFICATE")
    },
}


def test_inherited_overrides_are_cleared_and_user_intervals_kept() -> None:
    parent = {
        **INHERITED_OVERRIDES,
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer theirs",
        "OTEL_METRIC_EXPORT_INTERVAL": "30000",
        "OTEL_LOG_TOOL_DETAILS": "0",
    }
    env = child(parent)
    assert not set(INHERITED_OVERRIDES) & set(env)
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == f"x-beacon-token={TOKEN}"  # their credentials stay home
    assert env["OTEL_METRIC_EXPORT_INTERVAL"] == "30000"  # the user's choice
    assert env["OTEL_LOGS_EXPORT_INTERVAL"] == "1000" and env["OTEL_BLRP_SCHEDULE_DELAY"] == "1000"
    assert env["OTEL_LOG_TOOL_DETAILS"] == "1"  # auditability is not optional


def test_copilot_settings() -> None:
    env = child({}, ["copilot"])
    assert env["COPILOT_OTEL_ENABLED"] == "true"
    assert env["COPILOT_OTEL_EXPORTER_TYPE"] == "otlp-http"
    assert env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] == "true"  # commands and paths
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == URL
    assert "CLAUDE_CODE_ENABLE_TELEMETRY" not in env and "GEMINI_TELEMETRY_ENABLED" not in env


def test_claude_sends_its_spans() -> None:
    env = child({}, ["claude"])
    assert env["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"] == "1" and env["OTEL_TRACES_EXPORTER"] == "otlp"


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_the_child_runs_in_the_captures_trace() -> None:
    env = child_environment(
        {"TRACEPARENT": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"},
        ["claude"],
        URL,
        TOKEN,
        "cap1",
        {},
        None,
        "protobuf",
        TRACEPARENT,
    )
    assert env["TRACEPARENT"] == TRACEPARENT


@pytest.mark.parametrize(
    "inherited, kept",
    [
        (TRACEPARENT, TRACEPARENT),  # an instrumented CI run: the agent joins its trace
        (TRACEPARENT[:-2] + "00", TRACEPARENT),  # sampled: beacon needs the agent's spans
        (" " + TRACEPARENT + "\n", TRACEPARENT),
        ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", None),  # all-zero ids are invalid
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01", None),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),  # a version we do not know
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", None),  # W3C ids are lowercase
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", None),
        ("", None),
    ],
)
def test_capture_traceparent(inherited: str, kept) -> None:
    made = capture_traceparent({"TRACEPARENT": inherited} if inherited else {})
    if kept:
        assert made == kept
    else:
        assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", made) and made != capture_traceparent({})
        assert made.split("-")[1] not in inherited  # a new trace, not a repaired one


def test_gemini_settings() -> None:
    env = child({}, ["gemini"])
    assert env["GEMINI_TELEMETRY_ENABLED"] == "true"
    assert env["GEMINI_TELEMETRY_TARGET"] == "local"
    assert env["GEMINI_TELEMETRY_OTLP_ENDPOINT"] == URL
    assert env["GEMINI_TELEMETRY_OTLP_PROTOCOL"] == "http"
    assert env["GEMINI_TELEMETRY_LOG_PROMPTS"] == "true"
    # Set, and empty: no outfile, whatever a settings file says (one turns the OTLP export off).
    assert env["GEMINI_TELEMETRY_OUTFILE"] == ""
    assert env["GEMINI_TELEMETRY_USE_CLI_AUTH"] == "false"


def test_resource_attributes_keep_the_users_and_replace_earlier_beacon_keys() -> None:
    run = {"provider": "github_actions", "workflow": "CI / build, smoke", "branch": "feature/ci telemetry"}
    parent = {"OTEL_RESOURCE_ATTRIBUTES": "service.namespace=team,beacon.origin=ci,beacon.capture.id=old"}
    attrs = child(parent, run=run)["OTEL_RESOURCE_ATTRIBUTES"].split(",")
    assert attrs == [
        "service.namespace=team",
        "beacon.origin=ci",
        "beacon.capture.id=cap1",
        "beacon.run.provider=github_actions",
        "beacon.run.workflow=CI%20%2F%20build%2C%20smoke",
        "beacon.run.branch=feature%2Fci%20telemetry",
        "beacon.run.ephemeral=true",
    ]


@pytest.mark.parametrize("run", [{"provider": "github_actions", "run_id": "7"}, {"provider": "gitlab"}])
def test_a_ci_runs_resource_attributes_end_with_ephemeral(run: Dict[str, str]) -> None:
    env = child({"OTEL_RESOURCE_ATTRIBUTES": "beacon.run.ephemeral=false"}, run=run)
    attrs = env["OTEL_RESOURCE_ATTRIBUTES"]
    assert attrs.split(",")[-1] == "beacon.run.ephemeral=true"
    assert attrs.count("ephemeral") == 1


def test_outside_ci_no_run_attributes_and_no_ephemeral() -> None:
    attrs = child({}, run={})["OTEL_RESOURCE_ATTRIBUTES"].split(",")
    assert attrs == ["beacon.origin=ci", "beacon.capture.id=cap1"]


def test_codex_args_configure_the_exporters_without_the_token() -> None:
    line = codex_args(URL, "json")
    words = shlex.split(line)  # as a shell splits them, and codex-action's string-argv
    assert words[::2] == ["-c"] * 5
    overrides = {}
    for word in words[1::2]:
        key, _, value = word.partition("=")
        overrides[key] = tomllib.loads(f"v = {value}")["v"]  # each value is TOML, as Codex reads it
    exporters = (("exporter", "logs"), ("trace_exporter", "traces"), ("metrics_exporter", "metrics"))
    assert overrides == {
        "otel.environment": "ci",
        "otel.log_user_prompt": True,
        **{
            f"otel.{key}": {"otlp-http": {"endpoint": f"{URL}/v1/{signal}", "protocol": "json"}}
            for key, signal in exporters
        },
    }
    assert TOKEN not in line and shlex.split(f"{line} --full-auto")[-1] == "--full-auto"


def test_codex_home_keeps_the_users_config_and_auth(tmp_path: Path) -> None:
    user = tmp_path / "user-codex"
    user.mkdir()
    (user / "config.toml").write_text(
        'model = "gpt-5"\n\n[otel]\nenvironment = "dev"\n\n'
        '[otel.exporter."otlp-grpc"]\nendpoint = "http://old"\n\n'
        '[model_providers.fake]\nbase_url = "http://127.0.0.1:9/v1"\n'
    )
    (user / "auth.json").write_text('{"OPENAI_API_KEY": "sk-test"}')
    (user / "rules").mkdir()
    (user / "rules" / "ci.rules").write_text('prefix_rule(pattern=["git", "push"], decision="forbidden")')
    home = write_codex_home(str(tmp_path / "gen"), str(user), URL, TOKEN)
    config = (Path(home) / "config.toml").read_text()
    assert config.startswith(
        'model = "gpt-5"\n\n[model_providers.fake]\nbase_url = "http://127.0.0.1:9/v1"\n\n[otel]\n'
    )
    assert "http://old" not in config and 'environment = "dev"' not in config
    for signal_name in ("logs", "traces", "metrics"):
        assert f'endpoint = "{URL}/v1/{signal_name}", protocol = "binary"' in config
    assert config.count(f'headers = {{ "x-beacon-token" = "{TOKEN}" }}') == 3
    for name in ("auth.json", "rules"):  # the user's own, linked: a refreshed login stays theirs
        assert (Path(home) / name).resolve() == (user / name).resolve()
    assert (Path(home) / "rules" / "ci.rules").read_text().startswith("prefix_rule")
    assert stat.S_IMODE((Path(home) / "config.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(home).stat().st_mode) == 0o700


def test_codex_home_without_a_user_config(tmp_path: Path) -> None:
    home = write_codex_home(str(tmp_path / "gen"), str(tmp_path / "none"), URL, TOKEN)
    assert (Path(home) / "config.toml").read_text().startswith("[otel]\n")
    assert not (Path(home) / "auth.json").exists()


USER_SETTINGS = (
    'model = "gpt-5"\nnotes = """\n[otel]\nnot a table: a line of a string\n"""\nshell = ["bash", "-lc"]\n'
)
PROFILES = '\n[profiles.ci]\notel = { environment = "profile" }\n\n[profiles.other.otel]\nx = 1\n'


@pytest.mark.parametrize(
    "user_config",
    [
        '[otel]\nenvironment = "dev"\n\n[otel.exporter."otlp-grpc"]\nendpoint = "http://old"\n',
        '[[otel.hooks]]\nname = "a"\n\n[ "otel" . trace_exporter ]\nendpoint = "http://old"\n',
        'otel.environment = "dev"\notel.exporter = { otlp-http = { endpoint = "http://old" } }\n',
        '"otel".environment = "dev" # a comment\notel . log_user_prompt = false\n',
        'otel = { environment = "dev", exporter = "none" }\n',
        "otel.resource = [\n  'a = [b]',\n  \"c\",\n]\notel.note = '''\nmore = 1\n'''\n",
        "",
    ],
    ids=[
        "tables",
        "array-and-quoted-tables",
        "dotted-keys",
        "quoted-keys",
        "inline-table",
        "multi-line",
        "none",
    ],
)
def test_codex_config_replaces_the_root_otel_settings_in_every_form(tmp_path: Path, user_config: str) -> None:
    user = tmp_path / "user-codex"
    user.mkdir()
    (user / "config.toml").write_text(USER_SETTINGS + user_config + PROFILES)
    home = write_codex_home(str(tmp_path / "gen"), str(user), URL, TOKEN)
    config = tomllib.loads((Path(home) / "config.toml").read_text())
    expected = tomllib.loads(USER_SETTINGS + PROFILES)
    assert {name: value for name, value in config.items() if name != "otel"} == expected
    assert config["profiles"]["ci"]["otel"] == {"environment": "profile"}  # not the root otel
    assert config["profiles"]["other"]["otel"] == {"x": 1}
    assert set(config["otel"]) == {
        "environment",
        "log_user_prompt",
        "exporter",
        "trace_exporter",
        "metrics_exporter",
    }
    assert config["otel"]["environment"] == "ci"
    assert config["otel"]["exporter"] == {
        "otlp-http": {
            "endpoint": f"{URL}/v1/logs",
            "protocol": "binary",
            "headers": {"x-beacon-token": TOKEN},
        }
    }


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"CODEX_HOME": "/opt/codex", "HOME": "/home/u"}, "/opt/codex"),
        ({"HOME": "/home/u"}, "/home/u/.codex"),
        ({"CODEX_HOME": "", "HOME": "/home/u"}, "/home/u/.codex"),
    ],
)
def test_the_users_codex_home(environ, expected) -> None:
    assert user_codex_home(environ) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("claude", ["claude"]),
        ("claude_code,codex_cli,claude", ["claude", "codex"]),
        (" Gemini , CODEX ", ["gemini", "codex"]),
        ("auto", []),
        ("copilot_cli,copilot", ["copilot"]),
    ],
)
def test_parse_harnesses(text, expected) -> None:
    assert parse_harnesses(text) == expected


@pytest.mark.parametrize("text", ["claude-code", "github-copilot", ","])
def test_parse_harnesses_rejects(text) -> None:
    with pytest.raises(UsageError):
        parse_harnesses(text)


ALL = ["claude", "codex", "gemini", "copilot"]


@pytest.mark.parametrize(
    "command, expected",
    [
        (["claude", "-p", "x"], ["claude"]),
        (["/usr/local/bin/codex", "exec"], ["codex"]),
        (["gemini"], ["gemini"]),
        (["/usr/bin/copilot", "-p", "x", "--allow-all-tools"], ["copilot"]),
        (["npx", "claude"], ALL),
        (["bash", "-c", "claude -p 'Review this; then stop' --allowedTools Read"], ["claude"]),
        (["/bin/sh", "-c", "CI=1 DEBUG=0 /opt/bin/codex exec 'x'"], ["codex"]),
        (["bash", "-c", "claude -p x && codex exec y"], ALL),
        (["bash", "-c", "claude -p x | tee out"], ALL),
        (["bash", "-c", "claude -p x\ncodex exec y"], ALL),
        (["bash", "-c", "npx --yes @google/gemini-cli -p x"], ALL),
        (["bash", "-c", "claude -p 'unbalanced"], ALL),
        (["bash", "-lc", "claude -p x"], ALL),
    ],
)
def test_harness_from_the_program_name(command, expected) -> None:
    assert harnesses_for_command(command) == expected


def github(**extra: str) -> dict:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_RUN_ID": "123",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_WORKFLOW": "CI",
        "GITHUB_JOB": "review",
        "GITHUB_SHA": "deadbeef",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REF_NAME": "main",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF": "refs/heads/main",
    }
    env.update(extra)
    return env


def test_github_push_run() -> None:
    assert detect_run(github()) == {
        "provider": "github_actions",
        "run_id": "123",
        "run_attempt": "2",
        "workflow": "CI",
        "job": "review",
        "event_name": "push",
        "commit": "deadbeef",
        "repository": "o/r",
        "branch": "main",
        "actor": "octocat",
        "url": "https://github.com/o/r/actions/runs/123",
    }


@pytest.mark.parametrize(
    "event, ref, pr_number",
    [
        ("pull_request", "refs/pull/12/merge", "12"),
        ("pull_request_target", "refs/pull/7/head", "7"),
        ("pull_request", "refs/pull//merge", None),
        ("pull_request", "refs/pull/abc/head", None),
        ("push", "refs/pull/12/merge", None),
    ],
)
def test_github_pull_request_numbers(event, ref, pr_number) -> None:
    run = detect_run(github(GITHUB_EVENT_NAME=event, GITHUB_REF=ref, GITHUB_HEAD_REF="feature/x"))
    assert run["branch"] == "feature/x"
    assert run.get("pr_number") == pr_number
    assert run.get("pr") == (ref if pr_number else None)


def test_other_ci_and_no_ci() -> None:
    assert detect_run({"GITLAB_CI": "true", "CI": "true"}) == {"provider": "gitlab"}
    assert detect_run({"CI": "1"}) == {"provider": "ci"}
    assert detect_run({}) == {}


def test_default_paths(tmp_path: Path) -> None:
    paths = resolve_paths({"RUNNER_TEMP": str(tmp_path)})
    assert paths.log_path == str(tmp_path / "beacon" / "runtime.jsonl")
    assert paths.state_path == str(tmp_path / "beacon" / "session.json")
    custom = resolve_paths({"RUNNER_TEMP": str(tmp_path)}, log_path=str(tmp_path / "a" / "log.jsonl"))
    assert custom.base_dir == str(tmp_path / "beacon")  # beacon's own, never the log's folder
    assert custom.state_path == str(tmp_path / "beacon" / "session.json")
    exported = {"BEACON_CI_LOG_PATH": "/x/log.jsonl", "BEACON_CI_STATE_PATH": "/x/state.json"}
    assert resolve_paths(exported)[1:] == ("/x/log.jsonl", "/x/state.json")  # what ci start exported
    assert resolve_paths(exported, log_path="/y/log.jsonl").log_path == "/y/log.jsonl"  # the flag wins


# --- Claude Code's settings files (claude_settings.py) --------------------------------------


def claude_pinned() -> Dict[str, str]:
    return claude_settings.pinned_environment(child({"PATH": "/bin"}, ["claude"]))


def test_beacons_claude_settings_pin_the_telemetry_and_blank_the_per_signal_overrides() -> None:
    pinned = claude_pinned()
    assert pinned["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert pinned["OTEL_EXPORTER_OTLP_ENDPOINT"] == URL
    assert pinned["OTEL_EXPORTER_OTLP_HEADERS"] == f"x-beacon-token={TOKEN}"
    for blank in (
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    ):
        assert pinned[blank] == ""
    assert "PATH" not in pinned and "OTEL_RESOURCE_ATTRIBUTES" not in pinned


def test_claude_settings_files_most_powerful_first() -> None:
    files = claude_settings.settings_files({"HOME": "/home/u"}, "/w")
    assert files[0] == {"scope": "managed", "path": "/etc/claude-code/managed-settings.json"}
    assert {f["scope"] for f in files[1:-3]} <= {"managed"}  # the managed-settings.d/*.json there are
    assert [(f["scope"], f["path"]) for f in files[-3:]] == [
        ("local", "/w/.claude/settings.local.json"),
        ("project", "/w/.claude/settings.json"),
        ("user", "/home/u/.claude/settings.json"),
    ]
    moved = claude_settings.settings_files({"HOME": "/home/u", "CLAUDE_CONFIG_DIR": "/cfg"}, "/w")
    assert moved[-1] == {"scope": "user", "path": "/cfg/settings.json"}


def write_claude_env(folder: Path, name: str, env: object) -> Path:
    path = folder / ".claude" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"env": env, "permissions": {"allow": ["Bash"]}}))
    return path


def test_claude_overrides_are_the_values_that_change_what_beacon_set(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    harmless = {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "true",  # on, as Claude Code reads it
        "OTEL_LOGS_EXPORTER": "otlp,console",  # still exports to the endpoint
        "OTEL_EXPORTER_OTLP_ENDPOINT": URL,  # beacon's own value
        "OTEL_METRIC_EXPORT_INTERVAL": "60000",  # not beacon's concern
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "",  # empty is unset
    }
    project = write_claude_env(work, "settings.json", harmless)
    assert claude_settings.find_overrides({"HOME": str(home)}, str(work), claude_pinned()) == []
    project.write_text(
        json.dumps(
            {
                "env": {
                    "CLAUDE_CODE_ENABLE_TELEMETRY": False,  # not a string: read as Claude Code does
                    "OTEL_METRICS_EXPORTER": "none",
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "https://collector.example/v1/metrics",
                }
            }
        )
    )
    user = write_claude_env(home, "settings.json", {"OTEL_EXPORTER_OTLP_HEADERS": "authorization=theirs"})
    (work / ".claude" / "settings.local.json").write_text("{not json")  # ignored, as Claude Code does
    found = claude_settings.find_overrides({"HOME": str(home)}, str(work), claude_pinned())
    assert found == [
        claude_settings.Override("project", str(project), "CLAUDE_CODE_ENABLE_TELEMETRY"),
        claude_settings.Override("project", str(project), "OTEL_METRICS_EXPORTER"),
        claude_settings.Override("project", str(project), "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
        claude_settings.Override("user", str(user), "OTEL_EXPORTER_OTLP_HEADERS"),
    ]


def test_claude_override_messages_name_each_file_and_key() -> None:
    found = [
        claude_settings.Override("managed", "/etc/claude-code/managed-settings.json", "OTEL_LOGS_EXPORTER"),
        claude_settings.Override("project", "/w/.claude/settings.json", "CLAUDE_CODE_ENABLE_TELEMETRY"),
        claude_settings.Override("project", "/w/.claude/settings.json", "OTEL_LOGS_EXPORTER"),
    ]
    assert claude_settings.diagnosis(found) == (
        "Claude Code's settings replace beacon's: /etc/claude-code/managed-settings.json sets "
        "env.OTEL_LOGS_EXPORTER (managed: beacon cannot override it); /w/.claude/settings.json sets "
        "env.CLAUDE_CODE_ENABLE_TELEMETRY, env.OTEL_LOGS_EXPORTER (project)"
    )
    assert claude_settings.diagnosis([]) == ""
    managed = (
        "/etc/claude-code/managed-settings.json sets env.OTEL_LOGS_EXPORTER for Claude Code: managed "
        "settings outrank all beacon can set (telemetry may not arrive)"
    )
    assert claude_settings.start_notices(found, "/t/settings.json", session=False) == [managed]
    assert claude_settings.start_notices(found, "/t/settings.json", session=True) == [
        managed,
        *(
            f"/w/.claude/settings.json sets env.{key} for Claude Code, which outranks the environment: run "
            "claude with --settings /t/settings.json (claude-code-action: claude_args from the claude-args "
            "output)"
            for key in ("CLAUDE_CODE_ENABLE_TELEMETRY", "OTEL_LOGS_EXPORTER")
        ),
    ]


@pytest.fixture
def claude_shim(tmp_path: Path) -> Tuple[Path, Path, Path]:
    """beacon's claude shim, and a real-looking claude after it on PATH that prints its arguments."""
    private = tmp_path / "private"
    private.mkdir()
    settings = Path(claude_settings.write_flag_settings(str(private), claude_pinned()))
    shims = Path(claude_settings.write_shim(str(private), str(settings)))
    real = tmp_path / "real bin"
    real.mkdir()
    (real / "claude").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (real / "claude").chmod(0o755)
    return shims, real, settings


def run_shim(shims: Path, path: str, *args: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run(
        [str(shims / "claude"), *args], env={"PATH": path}, capture_output=True, text=True, timeout=30
    )


def test_the_claude_shim_runs_the_next_claude_with_beacons_settings(
    claude_shim: Tuple[Path, Path, Path],
) -> None:
    shims, real, settings = claude_shim
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600  # it holds the token
    assert json.loads(settings.read_text()) == {"env": claude_pinned()}
    ran = run_shim(shims, f"{shims}:/nonexistent:{real}:/usr/bin:/bin", "-p", "a prompt")
    assert (ran.returncode, ran.stdout.splitlines()) == (0, ["--settings", str(settings), "-p", "a prompt"])
    # The command's own --settings stays the only one.
    ran = run_shim(shims, f"{shims}:{real}", "--settings=mine.json", "-p", "x")
    assert ran.stdout.splitlines() == ["--settings=mine.json", "-p", "x"]
    ran = run_shim(shims, f"{shims}:/nonexistent", "-p", "x")
    assert (ran.returncode, ran.stderr) == (127, "claude: command not found\n")
