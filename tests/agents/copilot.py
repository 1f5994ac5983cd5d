"""GitHub Copilot CLI (npm `@github/copilot`) driven offline through the scripted session.

Install. `@github/copilot` is a small Node loader (`npm-loader.js`, the `copilot` bin) that
runs the self-contained native binary of its platform package (`@github/copilot-linux-x64`,
189 MB). On its first run that binary unpacks its JavaScript bundle and native addons (235 MB)
into `$COPILOT_PKG_CACHE_HOME/pkg/<platform>/<version>`. install() does that unpack once into
.cache/agents/copilot/pkg (through the binary's own unpack-only switch, so it opens no socket),
and agent_env() points every run there: no run unpacks again, and the suite, which runs
without network, never needs the registry.

Offline. `COPILOT_OFFLINE=true` ("skips all network access: GitHub authentication, telemetry,
web tools, GitHub MCP server, and auto-update", `copilot help environment`) with a bring-your-own
provider (`COPILOT_PROVIDER_TYPE=anthropic`, `COPILOT_PROVIDER_BASE_URL`,
`COPILOT_PROVIDER_API_KEY`, `COPILOT_MODEL`), no GitHub token, `--no-auto-update`. Traced with
strace, a run connects to nothing but 127.0.0.1 (the model API and the OTLP receiver) and the
local nscd socket. Copilot masks the provider key wherever it appears in its own output and
logs, so the key is a long string that appears nowhere else (a key "x" masked every letter x).

The model API (tests/agents/_anthropic.py plays it): `POST /v1/messages` (no `?beta=true`),
`x-api-key`, `anthropic-version: 2023-06-01`, `stream: true`, 17 tools, among them
`bash` {command, description: both required; shellId, mode, detach, initial_wait},
`create` {path, file_text}, `view` {path; view_range, forceReadLargeFiles} and
`edit` {path; old_str, new_str} (paths absolute). The first request enables thinking
(`budget_tokens` 1024); the later ones leave it off, because our answers carry no thinking
block, as the API requires of a tool loop. The system prompt announces the working directory
as `* Current working directory: <dir>`.

The scripted session (the strings of tests/agents/claude.py), each step chosen by counting the
tool results in the conversation:

1. bash   `echo BEACON_E2E_MARKER`
2. create `<workdir>/beacon_e2e.txt` with `BEACON_FILE_MARKER`
3. view   the same file
4. bash   `rm -rf <workdir>/beacon_denied`: refused by `--deny-tool='shell(rm)'` (deny rules
   beat `--allow-all-tools`); the model is told "Permission to run this tool was denied due to
   the following rules: `shell(rm)`"
5. bash   `ls /nonexistent-beacon-dir` (exit code 2)
6. bash   `echo 'Authorization: Bearer sk-ant-api03-…' ghp_…` (secrets in the arguments)
7. a final text answer.

Copilot never sets `is_error` on a tool result: a refusal or a failed command shows only in
the text (`<shellId: N completed with exit code 2>`).

Telemetry is not part of `agent_env`: beacon adds it. `telemetry_env` sets it the way beacon
will (traces and metrics over OTLP/HTTP; Copilot sends no logs).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from . import CACHE, base_env, install_lock, npm_install, otel_resource_attributes
from ._anthropic import ScriptedMessagesServer, Step, request_problems
from .claude import (
    DENIED_DIR,
    FAILING_COMMAND,
    FILE_CONTENT,
    FILE_NAME,
    FINAL_TEXT,
    MARKER_COMMAND,
    PROMPT,
    SECRET_COMMAND,
)

NAME = "copilot"
PACKAGE = "@github/copilot"
VERSION = "1.0.102"
MODEL = "claude-sonnet-4.5"
API_KEY = "beacon-copilot-e2e-provider-key"
DENY_RULE = "shell(rm)"
PROTOCOLS = ("http/json", "http/protobuf")  # OTEL_EXPORTER_OTLP_PROTOCOL values it accepts
TOOLS_OFFERED = ("bash", "create", "view", "edit")  # the server insists the CLI offers them
WORKDIR_LINE = re.compile(r"^\* Current working directory: *(\S[^\n]*)", re.MULTILINE)
PKG_CACHE = CACHE / NAME  # $COPILOT_PKG_CACHE_HOME: the package unpacks into its pkg/


def install() -> Path:
    """The `copilot` loader, installed once into the shared cache with its package unpacked."""
    executable = npm_install(NAME, PACKAGE, VERSION) / "copilot"
    with install_lock(NAME) as prefix:
        marker = prefix / f".unpacked-{VERSION}"
        if not marker.exists():
            _unpack(executable)
            marker.touch()
    return executable


def _unpack(executable: Path) -> None:
    """Unpack the native binary's bundle into PKG_CACHE/pkg, as its first run would.

    COPILOT_SEA_EXTRACT_ONLY=1 is the switch the binary's own loader sets on the child that
    unpacks: the binary unpacks and exits before anything else, no network involved.
    """
    with tempfile.TemporaryDirectory() as home:
        env = base_env(
            Path(home), {"COPILOT_PKG_CACHE_HOME": str(PKG_CACHE), "COPILOT_SEA_EXTRACT_ONLY": "1"}
        )
        subprocess.run([str(executable)], env=env, check=True, timeout=600, stdin=subprocess.DEVNULL)
    if not any((PKG_CACHE / "pkg").glob(f"*/{VERSION}/cli-main.js")):  # */: the platform
        raise RuntimeError(f"{PACKAGE} {VERSION} did not unpack into {PKG_CACHE / 'pkg'}")


def agent_env(home: Path, workdir: Path, api_url: str) -> Dict[str, str]:
    """Copilot against the fake API, offline, with the unpacked package of the cache; no telemetry.

    `workdir` is where the CLI runs (its cwd); Copilot finds it itself, nothing to set.
    """
    del workdir
    return base_env(
        home,
        {
            "COPILOT_PKG_CACHE_HOME": str(PKG_CACHE),
            "COPILOT_OFFLINE": "true",
            "COPILOT_PROVIDER_TYPE": "anthropic",
            "COPILOT_PROVIDER_BASE_URL": api_url,
            "COPILOT_PROVIDER_API_KEY": API_KEY,
            "COPILOT_MODEL": MODEL,
        },
    )


def command(prompt: str = PROMPT, executable: Optional[Path] = None) -> List[str]:
    """`copilot -p` with every tool allowed but `rm`, JSON Lines on stdout, no update check."""
    return [
        str(executable or install()),
        "-p",
        prompt,
        "--output-format",
        "json",
        "--allow-all-tools",
        f"--deny-tool={DENY_RULE}",
        "--no-auto-update",
    ]


def telemetry_env(
    endpoint: str,
    token: str,
    protocol: str = "http/json",
    resource_attributes: Optional[Dict[str, str]] = None,
) -> Dict[str, str]:
    """Traces and metrics over OTLP/HTTP to `endpoint` (a base URL: /v1/traces, /v1/metrics
    are appended), with the token header and content capture (command text, file paths and
    tool arguments are attributes only with it on).

    Copilot refuses to export to an http:// endpoint, silently, when OTEL_EXPORTER_OTLP_CERTIFICATE
    or client TLS material is set: beacon must clear those for the child.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"Copilot CLI exports OTLP/HTTP as http/json or http/protobuf, not {protocol!r}")
    env = {
        "COPILOT_OTEL_ENABLED": "true",
        "COPILOT_OTEL_EXPORTER_TYPE": "otlp-http",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_HEADERS": f"x-beacon-token={token}",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    }
    if resource_attributes:
        env["OTEL_RESOURCE_ATTRIBUTES"] = otel_resource_attributes(resource_attributes)
    return env


# --- the scripted session ------------------------------------------------------------------


def call_id(step_name: str) -> str:
    return f"toolu_01BEACONcopilot{step_name:0>12}"


def steps(workdir: str) -> List[Step]:
    """The scripted session for a working directory (absolute paths for the file tools)."""
    path = f"{workdir}/{FILE_NAME}"

    def bash(name: str, command: str, description: str, fails: bool = False, denied: bool = False) -> Step:
        return Step(
            name, "bash", {"command": command, "description": description}, call_id(name), fails, denied
        )

    return [
        bash("shell", MARKER_COMMAND, "Print the marker"),
        Step("write", "create", {"path": path, "file_text": FILE_CONTENT}, call_id("write"), False),
        Step("read", "view", {"path": path}, call_id("read"), False),
        bash(
            "denied", f"rm -rf {workdir}/{DENIED_DIR}", "Remove a directory (denied)", fails=True, denied=True
        ),
        bash("failing", FAILING_COMMAND, "List a missing directory", fails=True),
        bash("secret", SECRET_COMMAND, "Print a fake token"),
        Step("final", None, {}, "", False),
    ]


class ScriptedServer(ScriptedMessagesServer):
    """The fake Messages API that plays the scripted session (see the module docstring)."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, API_KEY, "/v1/messages", WORKDIR_LINE, FINAL_TEXT)

    def steps(self) -> List[Step]:
        return steps(self.workdir or self.expected_workdir)

    def request_problems(self, body: Any) -> List[str]:
        problems = request_problems(body)
        if problems:
            return problems
        offered = {tool.get("name") for tool in body.get("tools") or []}
        return [f"tool {name} not offered" for name in TOOLS_OFFERED if name not in offered]


def scripted_server(workdir: Path) -> ScriptedServer:
    return ScriptedServer(workdir)
