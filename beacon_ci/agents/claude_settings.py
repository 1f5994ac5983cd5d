"""Claude Code's settings files: which of them override the telemetry beacon sets, and the
settings file beacon gives `claude --settings`, which outranks all of them but managed settings.

Claude Code 2.1 copies the `env` block of each settings file into its own environment once it
has started, over what it inherited, in this order (later wins): user (~/.claude/settings.json,
where claude-code-action merges its `settings` input), project (.claude/settings.json), local
(.claude/settings.local.json), flag (--settings FILE), managed (/etc/claude-code/
managed-settings.json and managed-settings.d/*.json). So a repository that sets its own OTEL_*
there silently sends Claude's telemetry elsewhere, or nowhere. Read from the installed CLI
(2.1.197, minified: `for (e of sT()) Object.assign(process.env, settings(e).env)`, sT() being
the sources in that order); its only other channel of this rank, --managed-settings, keeps
restrictive settings only, never `env`, and no environment variable names a settings file.
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import sys
from typing import Any, Dict, List, Mapping, NamedTuple, Tuple

from beacon_ci.agents import claude
from beacon_ci.context import write_private

# What beacon pins for Claude Code: its switches, the endpoint, protocol and token, and the
# per-signal settings a file could point elsewhere (empty, as beacon leaves them: Claude takes an
# empty one for unset).
PINNED_KEYS = (
    *claude.TELEMETRY_ENVIRONMENT,
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    *(
        f"OTEL_EXPORTER_OTLP_{signal}_{setting}"
        for signal in ("LOGS", "METRICS", "TRACES")
        for setting in ("ENDPOINT", "PROTOCOL", "HEADERS")
    ),
)
_TRUE = ("1", "true", "yes", "on")  # Claude Code's own reading of a switch
_MANAGED_DIRS = {"darwin": "/Library/Application Support/ClaudeCode"}
_MAX_SETTINGS_BYTES = 2 * 1024 * 1024  # what Claude Code itself reads of a settings file
MANAGED = "managed"
_UNBEATABLE = "managed: beacon cannot override it"


class Override(NamedTuple):
    """A settings file's env entry that replaces a value beacon gives Claude Code."""

    scope: str  # managed, local, project or user
    path: str
    key: str


def pinned_environment(child_env: Mapping[str, str]) -> Dict[str, str]:
    """The telemetry variables of the agent's environment that Claude Code reads."""
    return {key: child_env.get(key, "") for key in PINNED_KEYS}


def settings_files(environ: Mapping[str, str], cwd: str) -> List[Dict[str, str]]:
    """Every settings file Claude Code reads from `cwd`, most powerful first: {scope, path}."""
    managed_dir = _MANAGED_DIRS.get(sys.platform, "/etc/claude-code")
    drop_ins = sorted(glob.glob(os.path.join(glob.escape(managed_dir), "managed-settings.d", "[!.]*.json")))
    home = environ.get("HOME") or os.path.expanduser("~")
    user_dir = environ.get("CLAUDE_CONFIG_DIR") or os.path.join(home, ".claude")
    managed = [os.path.join(managed_dir, "managed-settings.json"), *drop_ins]
    return [
        *({"scope": MANAGED, "path": path} for path in managed),
        {"scope": "local", "path": os.path.join(cwd, ".claude", "settings.local.json")},
        {"scope": "project", "path": os.path.join(cwd, ".claude", "settings.json")},
        {"scope": "user", "path": os.path.join(user_dir, "settings.json")},
    ]


def find_overrides(environ: Mapping[str, str], cwd: str, pinned: Mapping[str, str]) -> List[Override]:
    """The settings files' env entries that would replace what beacon pins."""
    found = []
    for settings in settings_files(environ, cwd):
        block = env_block(settings["path"])
        for key in PINNED_KEYS:
            if key in block and overrides(key, setting_text(block[key]), pinned.get(key, "")):
                found.append(Override(settings["scope"], settings["path"], key))
    return found


def env_block(path: str) -> Mapping[str, Any]:
    """A settings file's `env` object; empty when the file is missing, too large or not one."""
    try:
        if not os.path.isfile(path):  # a FIFO or a device would block or never end
            return {}
        with open(path, "rb") as handle:
            data = handle.read(_MAX_SETTINGS_BYTES + 1)
        document = json.loads(data) if len(data) <= _MAX_SETTINGS_BYTES else None
    except (OSError, ValueError):
        return {}
    block = document.get("env") if isinstance(document, dict) else None
    return block if isinstance(block, dict) else {}


def setting_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)  # true, 0: as Claude reads them


def overrides(key: str, theirs: str, ours: str) -> bool:
    """Whether a settings file's value changes what beacon set: a switch beacon turned on turned
    off, an exporter list (OTEL_*_EXPORTER) without otlp, any other value that is not beacon's."""
    if ours in _TRUE:
        return theirs.strip().lower() not in _TRUE
    if key.endswith("_EXPORTER"):
        return "otlp" not in [part.strip().lower() for part in theirs.split(",")]
    return theirs != ours


def start_notices(found: List[Override], flag_settings: str, session: bool) -> List[str]:
    """One line per override, for the start of a capture. exec runs claude with beacon's flag
    settings, which only managed settings outrank; a session's agent runs however a later step
    runs it, and flag settings reach it only when that step passes them."""
    lines = []
    for override in found:
        where = f"{override.path} sets env.{override.key} for Claude Code"
        if override.scope == MANAGED:
            lines.append(f"{where}: managed settings outrank all beacon can set (telemetry may not arrive)")
        elif session:
            lines.append(
                f"{where}, which outranks the environment: run claude with --settings {flag_settings} "
                "(claude-code-action: claude_args from the claude-args output)"
            )
    return lines


def diagnosis(found: List[Override]) -> str:
    """Why Claude Code may have sent nothing here, in one line (empty without an override):
    each file with the keys it sets."""
    keys: Dict[Tuple[str, str], List[str]] = {}
    for override in found:
        keys.setdefault((override.path, override.scope), []).append(f"env.{override.key}")
    named = "; ".join(
        f"{path} sets {', '.join(names)} ({_UNBEATABLE if scope == MANAGED else scope})"
        for (path, scope), names in keys.items()
    )
    return f"Claude Code's settings replace beacon's: {named}" if named else ""


def write_flag_settings(directory: str, pinned: Mapping[str, str]) -> str:
    """The settings file for `claude --settings` (0600: it holds the token)."""
    path = os.path.join(directory, "settings.json")
    write_private(path, json.dumps({"env": dict(pinned)}, indent=2) + "\n")
    return path


# Runs the next claude on PATH with beacon's settings. It looks for claude itself rather than
# take one found at the start: the command may install Claude Code first (npm install -g ...).
_SHIM = """#!/bin/sh
# beacon: the next claude on PATH, with beacon's telemetry settings (--settings), which outrank
# the project's and the user's. A command that gives its own --settings keeps it.
settings={settings}
shims={shims}
for arg in "$@"; do
  case $arg in --settings | --settings=*) settings= ;; esac
done
set -f
IFS=:
for dir in $PATH; do
  program="${{dir:-.}}/claude"
  if [ "$dir" != "$shims" ] && [ -f "$program" ] && [ -x "$program" ]; then
    if [ -n "$settings" ]; then exec "$program" --settings "$settings" "$@"; fi
    exec "$program" "$@"
  fi
done
echo "claude: command not found" >&2
exit 127
"""


def write_shim(directory: str, settings_path: str) -> str:
    """A `claude` that runs the real one with --settings, in a folder of its own to put first on
    the child's PATH; returns the folder. A command that names claude by its path bypasses it."""
    shims = os.path.join(directory, "bin")
    os.mkdir(shims, 0o700)
    path = os.path.join(shims, "claude")
    write_private(path, _SHIM.format(settings=shlex.quote(settings_path), shims=shlex.quote(shims)))
    os.chmod(path, 0o700)
    return shims
