"""The pattern rules over one string, in the order they run, and the cheap test that lets a
string no rule could match skip them all."""

from __future__ import annotations

from typing import Sequence

from beacon_protect.commands import redact_command_line
from beacon_protect.labels import redact_labelled
from beacon_protect.patterns import GITLAB_PREFIX_RE, has_hint, redact_auth_schemes, redact_formats

# Every rule needs one of these (or an exact value, or a GitLab token); a string with none is
# returned untouched.
_CASE_HINTS = (
    "sk-",
    "k_live_",
    "k_test_",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "AKIA",
    "ASIA",
    "AIza",
    "xox",
    "xapp-",
    "npm_",
    "pypi-",
    "eyJ",
    "PRIVATE KEY",
    "://",
)
_LOWER_HINTS = (
    "token",
    "secret",
    "pass",
    "pwd",
    "credential",
    "auth",
    "bearer",
    "basic",
    "key",
    "cookie",
    "-u",
    "--user",
    "--proxy-user",
    "-p",
)


def redact_rules(text: str) -> str:
    """Every pattern rule, in order, each only where its hint occurs: known formats first (a
    labelled value may be one), then command-line credentials, labelled values, auth schemes."""
    text = redact_formats(text)
    text = redact_command_line(text)
    text = redact_labelled(text)
    return redact_auth_schemes(text)


def may_hold_secret(text: str, exact_values: Sequence[str] = ()) -> bool:
    """False when no rule can match `text` and none of `exact_values` occurs in it."""
    return (
        has_hint(text, _CASE_HINTS)
        or has_hint(text.lower(), _LOWER_HINTS)
        or has_hint(text, exact_values)
        or ("gl" in text and GITLAB_PREFIX_RE.search(text) is not None)
    )
