"""Which names label a secret (keys, variables, headers, flags) and which values found under
such a name are worth replacing.
"""

from __future__ import annotations

import re
from typing import Any, Dict

from beacon_protect.text import CACHE_ENTRIES, MIN_SECRET_LENGTH, REDACTED, TRUNCATED_MARKER

NAME_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# A name is split into words (snake, kebab, dotted, camelCase); it is secret when a word is one of
# these or ends with one (csrftoken, dbpassword) ...
_SECRET_WORDS = frozenset({"auth", "authorization", "pwd", "cookie", "cookies"})
_SECRET_SUFFIXES = (
    "token",
    "secret",
    "secrets",
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "credential",
    "credentials",
    "apikey",
    "apikeys",
    "privatekey",
    "secretkey",
    "accesskey",
)
# ... or when one of these words is followed by "key"/"keys" (api_key, AWS_SECRET_ACCESS_KEY) ...
_KEY_QUALIFIERS = frozenset({"api", "access", "private", "secret", "signing", "encryption", "master"})
# ... unless its last word says the value describes the secret rather than being it: token COUNTS
# and types (input_tokens is plural anyway; token_type, auth_mode), where it lives (token_file,
# ACTIONS_ID_TOKEN_REQUEST_URL), or whether it is set. "tokens" is never a label: it counts.
_NOT_SECRET_LAST_WORDS = frozenset(
    {
        "type",
        "types",
        "kind",
        "count",
        "counts",
        "usage",
        "limit",
        "limits",
        "length",
        "len",
        "size",
        "id",
        "ids",
        "name",
        "names",
        "file",
        "files",
        "path",
        "paths",
        "dir",
        "dirs",
        "directory",
        "url",
        "urls",
        "uri",
        "endpoint",
        "host",
        "hostname",
        "port",
        "mode",
        "method",
        "methods",
        "scheme",
        "format",
        "flow",
        "provider",
        "providers",
        "policy",
        "version",
        "source",
        "status",
        "state",
        "enabled",
        "disabled",
        "required",
        "expiry",
        "expires",
        "expiration",
        "expired",
        "ttl",
        "lifetime",
        "timeout",
        "at",
        "in",
        "index",
        "prefix",
        "label",
        "description",
        "help",
        "prompt",
        "stdin",
        "env",
        "var",
        "sock",
        "socket",
        "helper",
        "user",
        "username",
        "login",
        "email",
        "present",
        "set",
        "exists",
    }
)
_SHELL_DIRECTORY_NAMES = frozenset({"PWD", "OLDPWD"})  # the shell's working directory, not a password
COLLISION_SUFFIX_RE = re.compile(r"~[0-9]+\Z")  # see unique_key
# Every secret name contains one of these; most names contain none and are answered at once.
_NAME_HINT_RE = re.compile(
    r"token|secret|passw|pwd|passphrase|credential|auth|cookie"
    r"|(?:api|access|private|signing|encryption|master)[ _.\-]*key",
    re.IGNORECASE,
)
_secret_name_cache: Dict[str, bool] = {}


def is_secret_name(name: str) -> bool:
    """Whether a key, variable, header or flag name says its value is a secret.

    Matches whole words, so `csrf_token`, `db_password`, `X-Api-Key`, `AWS_SECRET_ACCESS_KEY` and
    `--token` are secret while `tokens`, `input_tokens`, `max_tokens`, `token_type`, `tokenizer`,
    `passwordless`, `author`, `keyboard`, `monkey` and `Secretary` are not."""
    known = _secret_name_cache.get(name)
    if known is None:
        known = bool(_NAME_HINT_RE.search(name)) and _names_secret(name)
        if len(_secret_name_cache) >= CACHE_ENTRIES:
            _secret_name_cache.clear()
        _secret_name_cache[name] = known
    return known


def _names_secret(name: str) -> bool:
    # Judged the same before and after protection: markers and a collision suffix are no words.
    bare = COLLISION_SUFFIX_RE.sub("", name).replace(REDACTED, " ").replace(TRUNCATED_MARKER, " ")
    bare = bare.strip().lstrip("-$")
    if bare in _SHELL_DIRECTORY_NAMES:
        return False
    words = [word.lower() for word in NAME_WORD_RE.findall(bare)]
    if not words or words[-1] in _NOT_SECRET_LAST_WORDS or words[0] == "no":  # --no-password-prompt
        return False
    for index, word in enumerate(words):
        if word in _SECRET_WORDS or word.endswith(_SECRET_SUFFIXES):
            return True
        if word in _KEY_QUALIFIERS and words[index + 1 : index + 2] in (["key"], ["keys"]):
            return True
    return False


# Values under a secret label that are not secrets: booleans, nulls, type names, placeholders.
_PLAIN_VALUES = frozenset(
    {
        "true",
        "false",
        "null",
        "none",
        "nil",
        "undefined",
        "yes",
        "no",
        "on",
        "off",
        "required",
        "optional",
        "str",
        "string",
        "int",
        "bool",
        "bytes",
        "<redacted>",
        "redacted",
        "***",
    }
)
# $TOKEN, ${{ secrets.TOKEN }}, $(cat file), %TOKEN%, process.env.TOKEN, os.environ["TOKEN"]: code
# or configuration that refers to a secret names it, it is not it.
_REFERENCE_RE = re.compile(
    r"\$(?:\{|\(|[A-Z_][A-Z0-9_]*$)|%[A-Za-z_][A-Za-z0-9_]*%$"
    r"|(?:process\.env|os\.environ|os\.getenv|System\.getenv|ENV\[|env\.|secrets\.|vars?\.)"
)
_MARKERS_ONLY_RE = re.compile(r"(?:\[REDACTED\]|\.\.\.\[truncated\]|\s)*")


def is_secret_value(value: str) -> bool:
    """Whether a string found under a secret label is worth replacing."""
    stripped = value.strip()
    return (
        bool(stripped)
        and stripped.lower() not in _PLAIN_VALUES
        and not _REFERENCE_RE.match(stripped)
        and not _MARKERS_ONLY_RE.fullmatch(stripped)
    )


def is_secret_payload(value: Any) -> bool:
    """Whether the value of a secret-named key (in a dict or decoded JSON) gets replaced: strings
    as above, numbers, non-empty containers; never booleans or null (nothing to hide)."""
    if isinstance(value, str):
        return is_secret_value(value)
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, (dict, list, tuple)):
        return bool(value)
    return True


_WORDS_RE = re.compile(r"[A-Za-z][a-z]*(?:[-.'][A-Za-z][a-z]*)*\.?")


def looks_like_credential(value: str) -> bool:
    """Long enough, and not words ("bearer token-based auth")."""
    return len(value) >= MIN_SECRET_LENGTH and not _WORDS_RE.fullmatch(value)
