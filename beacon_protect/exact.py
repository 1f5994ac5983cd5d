"""Exact values: which environment variables hold a secret, and every form (JSON-escaped,
percent-encoded) in which their values are searched for.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Iterable, List, Mapping

from beacon_protect.names import NAME_WORD_RE
from beacon_protect.text import MIN_SECRET_LENGTH, sanitize_text

_ENV_SECRET_NAME_RE = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|AUTH|PRIVATE", re.IGNORECASE)
# Variables that point at a secret rather than hold one (SSH_AUTH_SOCK, GOOGLE_..._KEY_FILE) or
# describe it (GEMINI_AUTH_TYPE).
_ENV_POINTER_WORDS = frozenset(
    {
        "sock",
        "socket",
        "file",
        "files",
        "path",
        "paths",
        "dir",
        "home",
        "type",
        "mode",
        "method",
        "kind",
        "provider",
        "region",
    }
)
# Values that are words, not secrets: erasing them everywhere would wreck the log.
_COMMON_VALUES = frozenset(
    {
        "disabled",
        "enabled",
        "required",
        "optional",
        "undefined",
        "password",
        "passwords",
        "secret",
        "secrets",
        "localhost",
        "anonymous",
        "readonly",
        "read-only",
        "readwrite",
        "default",
        "github-actions",
        "oauth-personal",
        "gemini-api-key",
    }
)
# An absolute path under a well-known top directory (XAUTHORITY=/run/user/1000/gdm/Xauthority):
# a base64 secret may start with '/', but not with '/usr/' or '/home/'.
_SYSTEM_PATH_RE = re.compile(
    r"(?:~|/(?:usr|home|tmp|var|run|etc|opt|bin|sbin|lib|lib64|dev|proc|sys|mnt|media|srv|root|nix|snap"
    r"|Users|Library|Applications|System|private|Volumes|__w|github))(?:/\S*)?"
)


def secret_values_from_env(environ: Mapping[str, str], extra: Iterable[str] = ()) -> List[str]:
    """The values to redact wherever they appear: those (8+ characters) of variables whose name
    looks secret, and `extra` (the receiver token); longest first, so a longer value that
    contains a shorter one is replaced whole."""
    values = {
        value.strip()
        for name, value in environ.items()
        if _ENV_SECRET_NAME_RE.search(name) and not _names_a_pointer(name) and _plausible_secret(value)
    }
    values.update(value.strip() for value in extra if len(value.strip()) >= MIN_SECRET_LENGTH)
    return sorted(values, key=lambda value: (-len(value), value))


def _names_a_pointer(name: str) -> bool:
    words = NAME_WORD_RE.findall(name)
    return bool(words) and words[-1].lower() in _ENV_POINTER_WORDS


def _plausible_secret(value: str) -> bool:
    """Long enough, and not a number, a common word or a system path (see the sets above)."""
    value = value.strip()
    return (
        len(value) >= MIN_SECRET_LENGTH
        and not value.isdigit()
        and value.lower() not in _COMMON_VALUES
        and not _SYSTEM_PATH_RE.fullmatch(value)
    )


_PERCENT_ESCAPE_RE = re.compile(r"%[0-9A-F]{2}")


def exact_forms(value: str) -> List[str]:
    # The value as written, as sanitized text shows it, as it appears in a JSON string, and
    # percent-encoded as URLs and forms carry it: '/' kept or not, '+' or %20 for a space, upper-
    # or lowercase hex (a JSON string's \/ and \u escapes are decoded before matching instead).
    encoded = [
        quote(value, safe=safe)
        for quote in (urllib.parse.quote, urllib.parse.quote_plus)
        for safe in ("", "/")
    ]
    return [
        value,
        sanitize_text(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        *encoded,
        *(_PERCENT_ESCAPE_RE.sub(lambda escape: escape.group().lower(), form) for form in encoded),
    ]
