"""Which names label a secret (keys, variables, headers, flags) and which values found under
such a name are worth replacing.
"""

from __future__ import annotations

import re
from typing import Any, Dict

from beacon_protect.text import CACHE_ENTRIES, MIN_SECRET_LENGTH, REDACTED, TRUNCATED_MARKER, sanitize_text

NAME_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# A name is split into words (snake, kebab, dotted, camelCase); it is secret when a word is one of
# these or ends with one (csrftoken, dbpassword) ...
_SECRET_WORDS = frozenset(
    {
        "auth",
        "authorization",
        "pwd",
        "pw",
        "pass",
        "pat",
        "sig",
        "signature",
        "cookie",
        "cookies",
        "dockerconfigjson",
        "dockercfg",
        "psk",
        "oauth",
    }
)
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
    "authkey",
    "appkey",
    "accountkey",
    "pass",  # requirepass, DB_PASS (bypass, compass: see _NOT_PASSWORDS)
    "auth",  # masterauth, oauth (author is no such word)
)
_NOT_PASSWORDS = frozenset({"bypass", "compass", "surpass", "overpass", "underpass", "encompass", "trespass"})
# ... or when one of these words is followed by "key"/"keys" (api_key, AWS_SECRET_ACCESS_KEY) ...
_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "access",
        "private",
        "secret",
        "signing",
        "encryption",
        "decryption",
        "master",
        "app",
        "application",
        "hmac",
        "license",
        "deploy",
        "client",
        "account",
        "storage",
        "admin",
        "service",
        "shared",
        "webhook",
        "session",
        "jwt",
        "ssh",
        "gpg",
        "pgp",
        "rsa",
        "ecdsa",
        "crypto",
        "cipher",
        "aes",
        "fernet",
        "mac",
        "write",
        "ingest",
        "sdk",
        "sas",
        "subscription",
        "auth",
        "insert",
        "functions",
        "host",
    }
)
# ... and "key" followed by words that say how it is written (DEPLOY_KEY_B64, client-key-data).
_ENCODING_WORDS = frozenset(
    {"b64", "base64", "data", "pem", "der", "hex", "json", "value", "material", "raw"}
)
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
        "process",
        "hasher",
        "hashers",
        "algorithm",
        "algorithms",
        "algo",
        "strength",
        "rotation",
        "reset",
        "changed",
        "backend",
        "backends",
        "class",
        "handler",
        "callback",
        "plugin",
        "module",
        "field",
        "fields",
        "validator",
        "validators",
        "pattern",
        "regex",
        "min",
        "max",
        "placeholder",
        "store",
        "days",
        "hours",
        "minutes",
        "seconds",
        "interval",
        "period",
        "age",
        "retries",
        "attempts",
        "header",
        "headers",
        "hash",
        "hashed",
        "encoder",
        "encoders",
        "factory",
        "manager",
        "generator",
        "strategy",
        "re",
        "ref",
        "refs",
        "reference",
    }
)
# --no-password-prompt, Helm's existingSecret (the name of a Kubernetes Secret), use_token: true.
_NOT_SECRET_FIRST_WORDS = frozenset(
    {"no", "existing", "use", "enable", "disable", "has", "is", "show", "require"}
)
_SHELL_DIRECTORY_NAMES = frozenset({"PWD", "OLDPWD"})  # the shell's working directory, not a password
COLLISION_SUFFIX_RE = re.compile(r"~[0-9]+\Z")  # see unique_key
# Every secret name contains one of these words (labels.py looks for them in text); most names
# contain none and are answered at once.
LABEL_WORDS = (
    "token",
    "secret",
    "pass",
    "pw",
    "credential",
    "auth",
    "cookie",
    "key",
    "pat",
    "sig",
    "dockerc",
    "psk",
)
_NAME_HINT_RE = re.compile("|".join(LABEL_WORDS), re.IGNORECASE)
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
    if words[-3:] == ["private", "key", "id"]:  # a service account key's id: found with the key
        return True
    if not words or words[-1] in _NOT_SECRET_LAST_WORDS or words[0] in _NOT_SECRET_FIRST_WORDS:
        return False
    while len(words) > 2 and words[-1] in _ENCODING_WORDS and words[-2] in ("key", "keys"):
        words.pop()
    for index, word in enumerate(words):
        if word in _SECRET_WORDS or (word.endswith(_SECRET_SUFFIXES) and word not in _NOT_PASSWORDS):
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
    r"|(?:env|file|fd):[A-Za-z0-9_/.~\-]+$|stdin$"  # openssl's -pass env:VAR, file:path, fd:3
)
_MARKERS_ONLY_RE = re.compile(r"(?:\[REDACTED\]|\.\.\.\[truncated\]|\s)*")
# Code where a value would be: settings.SECRET_KEY, request.headers.get("Authorization"),
# bcrypt.hashpw(password.encode(), a type annotation (str, Optional[str]).
# Each name as people write them: snake_case, UPPER_CASE or CamelCase, never gbLN or wOtleTVZ5h3V;
# a dotted reference starts with a lowercase module or object name (settings., os., request.).
_IDENTIFIER = r"(?:[a-z_][a-z0-9_]*|[A-Z][A-Z0-9_]*|[A-Z]?[a-z]+(?:[A-Z][a-z0-9]+)*)"
_WORD_IN_CODE_RE = re.compile(r"[a-z]{3}")  # settings, environ, hashpw: not A00000.a
_CODE_RE = re.compile(
    r"[a-z_]+(?:\." + _IDENTIFIER + r")+(?:\(.*)?|" + _IDENTIFIER + r"\(.*"
    r"|(?:Optional|Union|List|Dict|Sequence|Mapping|Iterable|Any|str|bytes|int|bool|SecretStr|string)"
    r"(?:\[[\w\[\], .|]*\]?)?[)\]:,]*"
)


# A dependency's version or range ("jsonwebtoken": "^9.0.2", "next-auth": "~4.24", ">=1.2 <2").
_VERSION_RE = re.compile(
    r"(?:[\^~]|[<>]=?|==?)?v?[0-9]+(?:\.(?:[0-9]+|[x*]))*(?:[-+][0-9A-Za-z.\-]+)?|\|\||-"
)


# Names too plain to say a secret on their own ("key", ?code=): their value is one only when it
# reads as random (see looks_random).
_WEAK_NAMES = frozenset({"key", "code", "apikey", "access_key", "accesskey", "secret_id"})


def is_weak_secret_name(name: str) -> bool:
    bare = COLLISION_SUFFIX_RE.sub("", name).strip().strip("\"'").lstrip("-$").lower().replace("-", "_")
    return bare in _WEAK_NAMES or bare.endswith(("_key", ".key"))


_RANDOM_RE = re.compile(r"[A-Za-z0-9+/=_\-.~]{16,}")


def looks_random(value: str) -> bool:
    """A string no person wrote: 16+ token characters mixing letters and digits, not a word, a
    CamelCase name, a path, a number or a version."""
    value = value.strip().strip("\"'")
    if not _RANDOM_RE.fullmatch(value) or is_placeholder(value):
        return False
    letters = sum(char.isalpha() for char in value)
    digits = sum(char.isdigit() for char in value)
    mixed_case = any(char.isupper() for char in value) and any(char.islower() for char in value)
    return letters >= 4 and digits >= 1 and (digits >= 2 or mixed_case) and len(set(value)) >= 10


def is_secret_value(value: str) -> bool:
    """Whether a string found under a secret label is worth replacing: not a word a setting takes
    (true, none, required), a reference to a secret ($TOKEN, ${{ secrets.X }}), a placeholder
    or a dependency's version."""
    stripped = sanitize_text(value).strip()  # judged as it will be written
    return (
        bool(stripped)
        and stripped.lower() not in _PLAIN_VALUES
        and not _REFERENCE_RE.match(stripped)
        and not _MARKERS_ONLY_RE.fullmatch(stripped)
        and not is_placeholder(stripped)
        and not (_CODE_RE.fullmatch(stripped) and _WORD_IN_CODE_RE.search(stripped))
        and not _is_version(stripped)
    )


def _is_version(value: str) -> bool:
    """1.2.3, ^9.0.2, >=1.2 <2 (a bare number, or 1234.5, is no version: it may be a password)."""
    parts = value.split()
    return (
        value[:1] in "^~<>=v0123456789"
        and all(_VERSION_RE.fullmatch(part) for part in parts)
        and (value.count(".") >= 2 or value[:1] in "^~<>=v")  # 1.2.3, ^9.0, v2.1: not 0000.1
    )


_FLAG_RE = re.compile(r"--[A-Za-z0-9][A-Za-z0-9_.\-]*|-[a-z][a-z0-9_\-]*")


def is_flag_name(name: str) -> bool:
    """`--token`, `-password`: a flag whose value may follow after a space. Not `-pS3cretPw`,
    a one-letter flag with its value glued to it."""
    return bool(_FLAG_RE.fullmatch(name))


# Templates and examples: <your-token>, ${DB_PASSWORD}, {{ .Values.x }}, {% x %}, %(name)s.
_TEMPLATE_RE = re.compile(r"<[^<>\n]*>|\$\{[^{}\n]*\}|\{\{.*?\}\}|\{%.*?%\}|%\([A-Za-z_]+\)s", re.DOTALL)
_PLACEHOLDER_WORDS = frozenset(
    {
        "your",
        "yours",
        "here",
        "replace",
        "replaceme",
        "changeme",
        "changeit",
        "placeholder",
        "dummy",
        "redacted",
        "todo",
        "tbd",
        "fixme",
        "insert",
        "xxx",
        "xxxx",
    }
)
# ... or the whole value, its separators dropped: change-me, password (a URL's user:password@).
_PLACEHOLDER_VALUES = frozenset(
    {"changeme", "changeit", "replaceme", "password", "passwd", "secret", "token"}
)
# {{ ... spanning quotes }}, sops' ENC[AES256_GCM,...], ERB: a value that only opens a template.
_TEMPLATE_OPENINGS = ("{{", "${", "<%", "ENC[")
_ALNUM_RUN_RE = re.compile(r"[A-Za-z0-9]+")
_SEPARATORS_RE = re.compile(r"[\s\-_.]+")


def stands_in(value: str) -> bool:
    """A value that only stands for a password in a URL or a connection string: a placeholder
    (user:password@localhost in an example) or a reference ($(cat /run/secrets/x), ${PASS}).
    Stricter than is_secret_value: a word such as `undefined` may still be someone's password."""
    stripped = sanitize_text(value).strip()
    return is_placeholder(stripped) or bool(_REFERENCE_RE.match(stripped))


def is_placeholder(value: str) -> bool:
    """Whether a value only stands for a secret: a template, a run of one character
    (xxxx, ********, sk_test_0000..., XXXX-XXXX), a documentation EXAMPLE, or words such as your-api-key-here,
    REPLACE_ME, CHANGEME. A real key is random: none of these fit it."""
    core = value.strip().strip("\"'`")
    if not core:
        return True
    if (
        _TEMPLATE_RE.fullmatch(core)
        or core.startswith(_TEMPLATE_OPENINGS)
        or core.endswith(("...", "\u2026"))
    ):
        return True
    tail = _SEPARATORS_RE.sub("", core[-16:])[-12:]
    if len(set(tail.lower())) <= 1:  # xxxx, ****, or only separators: ----
        return True
    low = core.lower()
    if "example" in low:
        return True
    words = _ALNUM_RUN_RE.findall(low)
    return any(word in _PLACEHOLDER_WORDS for word in words) or "".join(words) in _PLACEHOLDER_VALUES


def is_secret_payload(value: Any) -> bool:
    """Whether the value of a secret-named key (in a dict or decoded JSON) gets replaced: strings
    as above, numbers, non-empty containers; never booleans or null (nothing to hide), nor an
    object whose every field only describes the secret (its fields are protected one by one)."""
    if isinstance(value, str):
        return is_secret_value(value)
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, dict):
        return bool(value) and not all(_describes_a_secret(key) for key in value)
    if isinstance(value, (list, tuple)):
        return bool(value)
    return True


def _describes_a_secret(name: Any) -> bool:
    """A field that says what a secret is rather than holding it, by the last word of its name
    ({"type": "input"}: 1.0's gen_ai.token.type, a kind of token, not one)."""
    words = NAME_WORD_RE.findall(name) if isinstance(name, str) else []
    return bool(words) and words[-1].lower() in _NOT_SECRET_LAST_WORDS


_WORDS_RE = re.compile(r"[A-Za-z][a-z]*(?:[-.'][A-Za-z][a-z]*)*\.?")


def looks_like_credential(value: str) -> bool:
    """Long enough, and not words ("bearer token-based auth")."""
    return len(value) >= MIN_SECRET_LENGTH and not _WORDS_RE.fullmatch(value)
