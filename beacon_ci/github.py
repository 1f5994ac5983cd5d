"""GitHub Actions' files and workflow commands: step outputs, the job summary, exported
variables, masks and annotations. Elsewhere (no GITHUB_* variables) they do nothing."""

from __future__ import annotations

import secrets
from typing import Mapping

from beacon_ci.environment import Environment
from beacon_ci.errors import BeaconError


def on_github(env: Environment) -> bool:
    return env.environ.get("GITHUB_ACTIONS") == "true"


def workflow_escape(message: str) -> str:
    """A workflow command's message as GitHub requires: %, CR and LF escaped, so it stays one line."""
    return message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def property_escape(value: str) -> str:
    """A workflow command's property (title=...) as GitHub requires: also `:` and `,` escaped."""
    return workflow_escape(value).replace(":", "%3A").replace(",", "%2C")


def annotate(env: Environment, level: str, message: str, title: str = "") -> None:
    """An ::error:: or ::warning:: annotation on the run, on GitHub only."""
    if on_github(env):
        properties = f" title={property_escape(title)}" if title else ""
        print(f"::{level}{properties}::{workflow_escape(message)}", file=env.stdout, flush=True)


def mask(env: Environment, value: str) -> None:
    """Tell the runner to hide `value` in every later log line, on GitHub only."""
    if on_github(env):
        print(f"::add-mask::{value}", file=env.stdout, flush=True)


def step_summary_path(env: Environment) -> str:
    """$GITHUB_STEP_SUMMARY, or "" outside a GitHub step."""
    return env.environ.get("GITHUB_STEP_SUMMARY", "")


def append_step_summary(env: Environment, markdown: str) -> None:
    """Append to $GITHUB_STEP_SUMMARY when set (earlier steps wrote there too); a failure is said,
    never raised: the summary only reports."""
    path = step_summary_path(env)
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    except OSError as exc:
        env.say(f"cannot append the job summary to {path}: {exc.strerror}")


def publish_outputs(env: Environment, outputs: Mapping[str, str]) -> None:
    """Step outputs ($GITHUB_OUTPUT) when running as a GitHub step, for steps.<id>.outputs.*.
    Only reported when they cannot be written: exec's exit code must stay the agent's."""
    path = env.environ.get("GITHUB_OUTPUT")
    if path:
        try:
            append_github_file(path, outputs)
        except BeaconError as exc:
            env.say(f"step outputs not set: {exc}")


def append_github_file(path: str, values: Mapping[str, str]) -> None:
    """Append name=value lines ($GITHUB_OUTPUT, $GITHUB_ENV); a value with a line break goes in a
    heredoc whose delimiter is random, so no value can end it early."""
    delimiter = f"BEACON_{secrets.token_hex(8)}"
    lines = []
    for key, value in sorted(values.items()):
        lines.append(
            f"{key}<<{delimiter}\n{value}\n{delimiter}\n"
            if "\n" in value or "\r" in value
            else f"{key}={value}\n"
        )
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("".join(lines))
    except OSError as exc:
        raise BeaconError(f"cannot append to {path}: {exc.strerror}") from None
