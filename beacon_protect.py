"""beacon_protect: what keeps secrets and hostile bytes out of the log (EVENTS.md "Protection").

Every string of an event, keys included, goes through sanitize -> redact -> truncate, then the
whole line is capped. Redaction runs before truncation so that a cut can never leave part of a
secret behind. Standard library only; knows the event's shape (which fields are long, what the
line cap keeps) but nothing about agents or OTLP.

    protector = Protector(secret_values_from_env(os.environ, [receiver_token]))
    line_ready = protector.protect_event(event)   # a new event; the input is never changed
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import urllib.parse
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

REDACTED = "[REDACTED]"
TRUNCATED_MARKER = "...[truncated]"
MAX_LINE_BYTES = 65536
LONG_FIELD_BYTES = 4096  # commands, prompts, messages, reasons
FIELD_BYTES = 2048  # every other string, keys included
MIN_SECRET_LENGTH = 8  # shorter exact values would erase ordinary words everywhere
# A string field is a "long" one when the last component of its key is one of these: message,
# prompt.text, command.command, tool.command, approval.reason, and the same names anywhere else.
LONG_FIELD_NAMES = frozenset({"message", "text", "command", "reason"})
# What the line cap keeps of `raw` however large the rest is: what identifies the source.
RAW_IDENTITY = frozenset({"otel_signal", "event_name", "metric_name", "metric_unit", "span_name"})
RAW_SHRUNK_BYTES = 256  # raw strings are cut to this when the line is too long
MESSAGE_SHRUNK_BYTES = 1024
# The fields every event has (validation checks them), and those a minimal stand-in for an
# oversized event keeps: the required ones and who, where and which capture.
REQUIRED_FIELDS = (
    "timestamp",
    "vendor",
    "product",
    "schema_version",
    "event",
    "severity",
    "endpoint",
    "harness",
)
MINIMAL_EVENT_FIELDS = (*REQUIRED_FIELDS, "user", "capture", "origin", "run")
_MAX_EVENT_DEPTH = 64  # deeper structures are cut (and a cycle cannot recurse forever)
_MAX_JSON_DEPTH = 100  # JSON decoded out of a string, redacted by key
_MAX_PASSES = 4  # redaction passes over one string (see Protector._redact)
_CACHE_CHARS = 256  # strings this short cannot be truncated, so their result depends on the text only
_CACHE_ENTRIES = 8192

# --- sanitize ---------------------------------------------------------------------------

# CSI (colours, cursor moves), the string controls (OSC titles and hyperlinks, DCS, SOS, PM, APC)
# with their terminator, and the other two-character escapes. A string control's body stops at
# the next escape, so unterminated ones cost linear time and leave their ESC to _CONTROL_RE.
_ANSI_RE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x90-\x9f]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]"
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0, DEL, C1; keeps \t and \n
_UNSAFE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def sanitize_text(text: str) -> str:
    """Valid UTF-8 with no terminal control: drop ANSI escapes and C0/C1 controls except \\t and
    \\n, and turn lone surrogates (not encodable as UTF-8) into U+FFFD."""
    if not _UNSAFE_RE.search(text):
        return text
    if _SURROGATE_RE.search(text):
        # Through UTF-16: a high+low pair becomes its real character, a lone half becomes U+FFFD.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL_RE.sub("", _ANSI_RE.sub("", text))


# --- truncate ---------------------------------------------------------------------------

_MARKER_BYTES = len(TRUNCATED_MARKER.encode("utf-8"))


def truncate_utf8(text: str, limit: int) -> Tuple[str, bool]:
    """(text, False) when it fits in `limit` UTF-8 bytes, else (cut text + marker, True): at most
    `limit` bytes, cut on a character boundary."""
    if len(text) * 4 <= limit:  # no character is longer than 4 bytes: fits without encoding
        return text, False
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text, False
    if limit <= _MARKER_BYTES:
        return data[:limit].decode("utf-8", "ignore"), True
    head = data[: limit - _MARKER_BYTES].decode("utf-8", "ignore")  # drops a split last character
    return _without_partial_marker(head) + TRUNCATED_MARKER, True


def _without_partial_marker(head: str) -> str:
    # A cut through "[REDACTED]" would leave "[REDAC", which a second pass might take for a value.
    for size in range(len(REDACTED) - 1, 0, -1):
        if head.endswith(REDACTED[:size]):
            return head[:-size]
    return head


# --- which names label a secret ---------------------------------------------------------

_NAME_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
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
_COLLISION_SUFFIX_RE = re.compile(r"~[0-9]+\Z")  # see _unique_key
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
        if len(_secret_name_cache) >= _CACHE_ENTRIES:
            _secret_name_cache.clear()
        _secret_name_cache[name] = known
    return known


def _names_secret(name: str) -> bool:
    # Judged the same before and after protection: markers and a collision suffix are no words.
    bare = _COLLISION_SUFFIX_RE.sub("", name).replace(REDACTED, " ").replace(TRUNCATED_MARKER, " ")
    bare = bare.strip().lstrip("-$")
    if bare in _SHELL_DIRECTORY_NAMES:
        return False
    words = [word.lower() for word in _NAME_WORD_RE.findall(bare)]
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


def _is_secret_value(value: str) -> bool:
    """Whether a string found under a secret label is worth replacing."""
    stripped = value.strip()
    return (
        bool(stripped)
        and stripped.lower() not in _PLAIN_VALUES
        and not _REFERENCE_RE.match(stripped)
        and not _MARKERS_ONLY_RE.fullmatch(stripped)
    )


def _is_secret_payload(value: Any) -> bool:
    """Whether the value of a secret-named key (in a dict or decoded JSON) gets replaced: strings
    as above, numbers, non-empty containers; never booleans or null (nothing to hide)."""
    if isinstance(value, str):
        return _is_secret_value(value)
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, (dict, list, tuple)):
        return bool(value)
    return True


# --- redaction patterns -----------------------------------------------------------------
# Python's regex engine tries an alternation at every position, which costs milliseconds on a
# 60 KB tool input. So each rule runs only when a literal hint occurs in the text (a fast
# substring search), patterns start with a literal (the engine then jumps between its
# occurrences), case-insensitive rules search a lowercased copy with lowercase patterns, and no
# pattern can backtrack over a long run ((?=(?P<x>...))(?P=x) is an atomic group): every rule
# stays linear in the length of the text, whatever an agent writes.

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(text: str) -> str:
    """`text` lowercased, each character at its position (lower() may lengthen a few characters;
    then only ASCII letters are lowered: the patterns are ASCII)."""
    low = text.lower()
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


# Known credential formats, replaced whole wherever they appear, each with the hints that must
# occur for it to be tried. Case-sensitive, as the prefixes are. Open-ended lengths, so that two
# keys glued together go in one match (the result is stable when protected again).
_TOKEN_PATTERNS: Tuple[Tuple[Tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (hints, re.compile(source))
    for hints, source in (
        (("sk-",), r"sk-(?<![A-Za-z0-9]sk-)[A-Za-z0-9_\-]{20,}"),  # Anthropic sk-ant-, OpenAI sk-, sk-proj-
        (("k_live_", "k_test_"), r"[sr]k_(?<![A-Za-z0-9][sr]k_)(?:live|test)_[A-Za-z0-9]{10,}"),  # Stripe
        (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{36,}"),  # GitHub
        (("github_pat_",), r"github_pat_[A-Za-z0-9_]{22,}"),
        (("AKIA", "ASIA"), r"A(?<![A-Z0-9]A)(?:KIA|SIA)[A-Z0-9]{16,}"),  # AWS access key ids
        (("AIza",), r"AIza[0-9A-Za-z_\-]{35,}"),  # Google API keys
        (("xox",), r"xox[abposr]-[A-Za-z0-9\-]{10,}"),  # Slack
        (("npm_",), r"npm_[A-Za-z0-9]{36,}"),
        (("pypi-",), r"pypi-AgE[A-Za-z0-9_\-]{16,}"),  # PyPI macaroons: pypi-AgEIcHlwaS5vcmc...
        (
            ("eyJ",),
            r"eyJ(?<![A-Za-z0-9_\-]eyJ)(?=(?P<h>[A-Za-z0-9_\-]{4,}))(?P=h)"  # JWT: header.payload.sig
            r"\.eyJ(?=(?P<p>[A-Za-z0-9_\-]{4,}))(?P=p)\.[A-Za-z0-9_\-]*",
        ),
    )
)
# PEM private keys: the body between the markers (kept) is replaced; unterminated (cut
# upstream), up to the next "-----" or the end.
_PEM_BEGIN_RE = re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END_RE = re.compile(r"-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_BASE64_CHAR_RE = re.compile(r"[A-Za-z0-9+/]")
# scheme://user:PASSWORD@host: the password runs to the last '@' of the authority.
_URL_PASSWORD_RE = re.compile(r"://[^\s:/?#@\"'`<>]*:(?P<value>[^\s/?#\"'`<>]+)@")
# ADO connection strings (Server=...;Password=my pass;): the value runs to ';', spaces included.
# The label must open the string or follow ';' or a quote (checked in _ado_password).
_ADO_PASSWORD_RE = re.compile(
    r"p(?:assword|wd)[ \t]*=[ \t]*(?!\[redacted\])(?=(?P<value>[^;\s\"'=][^;\r\n=]*))(?P=value)(?=;|\Z)"
)
# A label word, then the rest of the name it is part of, then this: label [quote] separator
# [scheme] value. Separators: = : := => (not == or ::), or spaces after a --flag. Values:
# \"escaped\" (JSON inside a string), "double", 'single', `backtick` quoted (all words, to the
# closing quote or the end of the line), or bare up to a space, quote, comma, ';' or '&' ('='
# included: base64 padding). An Authorization scheme word is kept.
_LABEL_RE = re.compile(
    r"token|secret|passw(?:or)?d|pwd|passphrase|credential|auth|cookie"
    r"|(?:api|access|private|signing|encryption|master)[ _.\-]?keys?"
)
_LABEL_WORDS = (
    "token",
    "secret",
    "passw",
    "pwd",
    "passphrase",
    "credential",
    "auth",
    "cookie",
    "api",
    "access",
    "private",
    "signing",
    "encryption",
    "master",
)
_NAME_REST_RE = re.compile(r"[a-z0-9_.\-]*")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_AUTH_SCHEMES = r"(?:bearer|basic|token|digest|negotiate)"
_ASSIGNMENT_RE = re.compile(
    r"(?:\\?[\"'`])?\]?"
    r"(?:[ \t]*(?::=|=>|=(?![=~])|:(?![:=]))[ \t]*|(?P<space>[ \t]+)(?=[^\s\-]))"
    r"(?:" + _AUTH_SCHEMES + r"[ \t]+(?=\S))?"
    r"(?:\\\"(?P<v1>(?:(?!\\\").)*)(?:\\\")?"
    r"|\"(?P<v2>(?:[^\"\\\n]|\\.)*)\"?"
    r"|'(?P<v3>(?:[^'\\\n]|\\.)*)'?"
    r"|`(?P<v4>[^`\n]*)`?"
    r"|(?!" + _AUTH_SCHEMES + r"[ \t]+\S)"
    r"(?P<v5>[^\s\"'`,;&{\[(<)\]}>\\](?:[^\s\"'`,;&\\]|\\(?![nrt\"'`\\]))*))"
)
_VALUE_GROUPS = ("v1", "v2", "v3", "v4", "v5")
# "Bearer x" and "Basic x" outside an Authorization header: prose says "bearer token" too, so a
# Bearer credential must not read as words, and a Basic one must decode to user:password.
_BEARER_RE = re.compile(r"bearer(?<![a-z0-9_]bearer)[ \t]+(?P<value>[a-z0-9._~+/\-]+=*)")
_BASIC_RE = re.compile(
    r"basic(?<![a-z0-9_]basic)[ \t]+(?P<value>(?=(?P<run>[a-z0-9+/]{4,}))(?P=run)={0,2})(?![a-z0-9+/=])"
)
# Credentials on a command line that no label names. A Cookie (or Set-Cookie) header: its whole
# value, every cookie, to the end of the line or the closing quote.
_COOKIE_HEADER_RE = re.compile(r"cookie(?<![a-z0-9_]cookie)[ \t]*:[ \t]*(?P<value>[^\r\n\"'`\\]+)")
# curl -u/--user user:PASSWORD (also -U/--proxy-user, and attached: -uuser:pass).
_USER_FLAGS = ("-u", "-U", "--user", "--proxy-user")
_USER_FLAG_RE = re.compile(
    r"-(?<!\S-)(?:u|U|-user|-proxy-user)(?:[ \t]+|=)?[\"']?"
    r"(?P<user>[^\s:\"'`]*):(?P<value>[^\s\"'`]+)"
)
# mysql -pPASSWORD (attached only: "-p name" prompts, then names a database) and sshpass -p PASSWORD,
# within the command's own segment of the line.
_PASSWORD_PROGRAMS = (
    "mysql",
    "mysqldump",
    "mysqladmin",
    "mysqlimport",
    "mysqlshow",
    "mysqlcheck",
    "mariadb",
    "mariadb-dump",
    "mariadb-admin",
    "sshpass",
)
_PASSWORD_PROGRAM_RE = re.compile(r"(?<![\w.\-])(?:" + "|".join(_PASSWORD_PROGRAMS) + r")(?![\w.\-])")
_SEGMENT_END_RE = re.compile(r"[\n|;&]")
_DASH_P_RE = re.compile(r"-(?<!\S-)p(?P<space>[ \t]*)[\"']?(?P<value>[^\s\"'`;|&]+)")
_WORDS_RE = re.compile(r"[A-Za-z][a-z]*(?:[-.'][A-Za-z][a-z]*)*\.?")
# Every rule needs one of these (or an exact value); a string with none is returned untouched.
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


def _has_hint(text: str, hints: Sequence[str]) -> bool:
    for hint in hints:
        if hint in text:
            return True
    return False


def _redact_patterns(text: str) -> str:
    """Every pattern rule, in order, each only where its hint occurs."""
    if "PRIVATE KEY" in text:
        text = _redact_pem(text)
    if "://" in text:
        text = _substitute(text, text, _URL_PASSWORD_RE, _password_value)
    for hints, pattern in _TOKEN_PATTERNS:
        if _has_hint(text, hints):
            text = pattern.sub(REDACTED, text)
    low = _fold(text)
    if "pwd" in low or "password" in low:
        text = _substitute(text, low, _ADO_PASSWORD_RE, _ado_password)
    text = _redact_command_line(text)
    text = _redact_labelled(text)
    low = _fold(text)
    if "bearer" in low:
        text = _substitute(text, low, _BEARER_RE, _bearer_value)
        low = _fold(text)
    if "basic" in low:
        text = _substitute(text, low, _BASIC_RE, _basic_value)
    return text


Replacer = Callable[["re.Match[str]", str], Optional[str]]


def _substitute(text: str, haystack: str, pattern: re.Pattern[str], replace: Replacer) -> str:
    """Each match of `pattern` in `haystack` (text or its _fold, same positions) replaced in
    `text` by replace(match, text), unless that returns None."""
    pieces: List[str] = []
    done = 0
    for match in pattern.finditer(haystack):
        replacement = replace(match, text)
        if replacement is None:
            continue
        pieces.append(text[done : match.start()])
        pieces.append(replacement)
        done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _replace_group(match: re.Match[str], text: str, group: str) -> str:
    """The matched text with one group replaced by REDACTED, what surrounds it (label, quotes) kept."""
    return text[match.start() : match.start(group)] + REDACTED + text[match.end(group) : match.end()]


def _password_value(match: re.Match[str], text: str) -> Optional[str]:
    already = text[match.start("value") : match.end("value")] == REDACTED
    return None if already else _replace_group(match, text, "value")


def _ado_password(match: re.Match[str], text: str) -> Optional[str]:
    start = match.start()
    opens = start == 0 or text[start - 1] in ";\"'" or text[start - 2 : start] == "; "
    directory = text.startswith("PWD", start) and match.group("value")[:1] in ("/", "~")  # the shell's $PWD
    return _password_value(match, text) if opens and not directory else None


def _bearer_value(match: re.Match[str], text: str) -> Optional[str]:
    value = text[match.start("value") : match.end("value")]
    return _replace_group(match, text, "value") if _looks_like_credential(value) else None


def _basic_value(match: re.Match[str], text: str) -> Optional[str]:
    value = text[match.start("value") : match.end("value")]
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None
    if ":" not in decoded or not decoded.isprintable():
        return None
    return _replace_group(match, text, "value")


def _redact_command_line(text: str) -> str:
    """Cookie headers, curl's user:password, mysql's -pPASSWORD and sshpass -p PASSWORD."""
    low = _fold(text)
    if "cookie" in low:
        text = _substitute(text, low, _COOKIE_HEADER_RE, _password_value)
    if "-u" in text or "-U" in text:
        text = _substitute(text, text, _USER_FLAG_RE, _user_password)
    if "-p" in text and _PASSWORD_PROGRAM_RE.search(text):
        text = _redact_dash_p(text)
    return text


def _user_password(match: re.Match[str], text: str) -> Optional[str]:
    """user:PASSWORD, unless it reads as user:group (`docker run -u 1000:1000`, `-u root:root`)."""
    value = match.group("value")
    if value == match.group("user") or value.isdigit() or not _is_secret_value(value):
        return None
    return _replace_group(match, text, "value")


def _redact_dash_p(text: str) -> str:
    pieces: List[str] = []
    done = segment_end = 0
    for program in _PASSWORD_PROGRAM_RE.finditer(text):
        if program.start() < segment_end:
            continue  # in the segment just handled
        boundary = _SEGMENT_END_RE.search(text, program.end())
        segment_end = boundary.start() if boundary else len(text)
        attached_only = program.group() != "sshpass"
        for flag in _DASH_P_RE.finditer(text, program.end(), segment_end):
            if (attached_only and flag.group("space")) or not _is_secret_value(flag.group("value")):
                continue
            pieces.extend((text[done : flag.start("value")], REDACTED))
            done = flag.end("value")
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _looks_like_credential(value: str) -> bool:
    """Long enough, and not words ("bearer token-based auth")."""
    return len(value) >= MIN_SECRET_LENGTH and not _WORDS_RE.fullmatch(value)


def _redact_pem(text: str) -> str:
    ends = [match.start() for match in _PEM_END_RE.finditer(text)]  # found once, not per BEGIN
    pieces: List[str] = []
    done = index = 0
    for begin in _PEM_BEGIN_RE.finditer(text):
        if begin.start() < done:
            continue
        while index < len(ends) and ends[index] < begin.end():
            index += 1
        if index < len(ends):
            body_end = ends[index]
        else:  # unterminated: to the next "-----" or the end
            body_end = text.find("-----", begin.end())
            body_end = len(text) if body_end < 0 else body_end
        body = text[begin.end() : body_end]
        if not _BASE64_CHAR_RE.search(body.replace(REDACTED, "").replace(TRUNCATED_MARKER, "")):
            continue  # nothing left to hide (already redacted, or cut right after BEGIN)
        pieces.extend((text[done : begin.end()], REDACTED))
        done = body_end
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _label_starts(low: str) -> List[int]:
    starts = set()
    for word in _LABEL_WORDS:
        at = low.find(word)
        while at >= 0:
            starts.add(at)
            at = low.find(word, at + 1)
    return sorted(starts)


def _redact_labelled(text: str) -> str:
    """Replace the values of secret-labelled assignments, headers and flags, labels kept; and
    the other occurrences in the text of those values that look like credentials (not words:
    `token=function` must not erase every "function")."""
    low = _fold(text)
    pieces: List[str] = []
    found: List[str] = []
    done = pos = 0
    for start in _label_starts(low):
        label = _LABEL_RE.match(low, start) if start >= pos else None
        if label is None:
            continue
        rest = _NAME_REST_RE.match(low, label.end())
        name_end = rest.end() if rest else label.end()
        pos = name_end  # later label words in this name make the same name: judged once
        match = _ASSIGNMENT_RE.match(low, name_end)
        if match is None:
            continue
        name_start = start
        while name_start > done and text[name_start - 1] in _NAME_CHARS:  # csrf_token, AWS_SECRET_...
            name_start -= 1
        name = text[name_start:name_end]
        group = next(group for group in _VALUE_GROUPS if match.start(group) >= 0)
        value = text[match.start(group) : match.end(group)]
        separator_ok = match.group("space") is None or name.startswith("-")  # "--token v", not "token v"
        if not (separator_ok and is_secret_name(name) and _is_secret_value(value)):
            continue  # pos is past the name only: the value may itself hold a labelled secret
        pieces.extend((text[done : match.start(group)], REDACTED))
        done = pos = match.end(group)
        if _looks_like_credential(value):
            found.append(value)
    if not pieces:
        return text
    pieces.append(text[done:])
    redacted = "".join(pieces)
    for value in sorted(found, key=len, reverse=True):
        redacted = redacted.replace(value, REDACTED)
    return redacted


def _redact_argv(items: List[Any]) -> bool:
    """An argument vector ["mysql", "--password", "x"]: the item after a secret-named flag without
    its own value is replaced (in place), as are the password of ["curl", "-u", "user:password"],
    mysql's ["-pPASSWORD"] and sshpass's ["-p", "PASSWORD"]. Whether anything was."""
    program = os.path.basename(items[0]) if items and isinstance(items[0], str) else ""
    changed = False
    for index, flag in enumerate(items):
        if not isinstance(flag, str) or not flag.startswith("-"):
            continue
        value = items[index + 1] if index + 1 < len(items) else None
        if (
            program in _PASSWORD_PROGRAMS
            and flag.startswith("-p")
            and len(flag) > 2
            and _is_secret_value(flag[2:])
        ):
            items[index] = "-p" + REDACTED
        elif not isinstance(value, str):
            continue
        elif flag in _USER_FLAGS and ":" in value:
            user, _, password = value.partition(":")
            if password == user or password.isdigit() or not _is_secret_value(password):
                continue
            items[index + 1] = f"{user}:{REDACTED}"
        elif (program == "sshpass" and flag == "-p") or ("=" not in flag and is_secret_name(flag)):
            if not _is_secret_value(value):
                continue
            items[index + 1] = REDACTED
        else:
            continue
        changed = True
    return changed


def _unique_pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    # A repeated key would hide its first value from the by-key pass; such text is redacted as text.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _unique_key(mapping: Mapping[str, Any], key: str) -> str:
    """Two keys that redact (or cut) to the same text both stay: the later one gets a suffix."""
    if key not in mapping:
        return key
    number = 2
    while f"{key}~{number}" in mapping:
        number += 1
    return f"{key}~{number}"


class _JsonTooDeep(Exception):
    pass


# --- which environment values are secrets -----------------------------------------------

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
    words = _NAME_WORD_RE.findall(name)
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


def _exact_forms(value: str) -> List[str]:
    # The value as written, as sanitized text shows it, and as it appears in a URL or a JSON string.
    return [
        value,
        sanitize_text(value),
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    ]


# --- the protector ----------------------------------------------------------------------


class _Findings:
    """What protecting one event did, and an upper bound of its serialized size."""

    __slots__ = ("bound", "redacted", "truncated")

    def __init__(self) -> None:
        self.redacted = False
        self.truncated = False
        self.bound = 2


class Protector:
    """Sanitizes, redacts, truncates and caps events (EVENTS.md "Protection"), for one capture.

    `secret_values` are replaced wherever they appear as a plain substring (also URL-encoded
    or JSON-escaped); values shorter than MIN_SECRET_LENGTH are ignored. Results for short
    strings are cached (events repeat most of their keys and values)."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        forms = {
            form
            for value in secret_values
            if len(value) >= MIN_SECRET_LENGTH
            for form in _exact_forms(value)
            if len(form) >= MIN_SECRET_LENGTH
        }
        # Longest first: a value that contains another is replaced whole.
        self._exact = sorted(forms, key=lambda form: (-len(form), form))
        self._strings: Dict[str, Tuple[str, bool]] = {}
        self._keys: Dict[str, Tuple[str, bool, int, bool, int]] = {}

    # --- one string ---------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        """`text` sanitized and redacted (not truncated)."""
        return self._redact(sanitize_text(text), 0)

    def protect_text(self, text: str, limit: int = FIELD_BYTES) -> str:
        """`text` sanitized, redacted, then truncated to `limit` bytes."""
        return self._redact_and_cut(sanitize_text(text), limit)[0]

    def _redact_and_cut(self, clean: str, limit: int) -> Tuple[str, bool, bool]:
        """Redacted, then cut to `limit` bytes: (result, whether cut, whether redacted). A cut can
        turn text no rule matched into text one does (a connection string now ending at the cut),
        so what is kept is redacted again until stable: protecting it again must not change it."""
        redacted = self._redact(clean, 0)
        found = redacted.count(REDACTED) > clean.count(REDACTED)
        result, cut = truncate_utf8(redacted, limit)
        for _ in range(_MAX_PASSES):
            if not cut:
                break
            head = result[: -len(TRUNCATED_MARKER)]
            again = self._redact(head, 0)
            if again == head:
                break
            found = True
            result = truncate_utf8(again + TRUNCATED_MARKER, limit)[0]
        return result, cut, found

    def _redact(self, text: str, depth: int) -> str:
        if text.endswith(TRUNCATED_MARKER):  # a cut's marker is not content: no value runs into it
            core = text
            while core.endswith(TRUNCATED_MARKER):
                core = core[: -len(TRUNCATED_MARKER)]
            return self._redact(core, depth) + text[len(core) :]
        if not self._has_hint(text):
            return text
        stripped = text.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]") and depth < _MAX_JSON_DEPTH:
            structured = self._redact_json(text, depth)
            if structured is not None:
                return structured
        # Until nothing changes: a replacement can uncover a neighbour (AKIA... glued to AKIA...),
        # and the result must not change when protected again.
        for _ in range(_MAX_PASSES):
            redacted = _redact_patterns(self._redact_exact(text))
            if redacted == text:
                break
            text = redacted
        return text

    def _redact_exact(self, text: str) -> str:
        # Before the patterns: one could replace part of an exact value and hide the rest from it.
        for value in self._exact:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def _has_hint(self, text: str) -> bool:
        return (
            _has_hint(text, _CASE_HINTS)
            or _has_hint(text.lower(), _LOWER_HINTS)
            or _has_hint(text, self._exact)
        )

    def _redact_json(self, text: str, depth: int) -> Optional[str]:
        """A string holding a JSON object or array, redacted by key and value and re-serialized
        compactly; the text itself when nothing changed; None when it is not JSON."""
        try:
            decoded = json.loads(text, object_pairs_hook=_unique_pairs)
        except (ValueError, RecursionError):
            return None
        if not isinstance(decoded, (dict, list)):
            return None
        try:
            redacted, changed = self._redact_structure(decoded, depth + 1)
        except (_JsonTooDeep, RecursionError):
            return None
        return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")) if changed else text

    def _redact_structure(self, value: Any, depth: int) -> Tuple[Any, bool]:
        if isinstance(value, str):
            result = self._redact(sanitize_text(value), depth)
            return result, result != value
        if depth > _MAX_JSON_DEPTH:
            raise _JsonTooDeep()
        if isinstance(value, list):
            items = [self._redact_structure(item, depth + 1) for item in value]
            redacted = [item for item, _ in items]
            return redacted, _redact_argv(redacted) or any(changed for _, changed in items)
        if isinstance(value, dict):
            return self._redact_object(value, depth)
        return value, False

    def _redact_object(self, value: Dict[str, Any], depth: int) -> Tuple[Dict[str, Any], bool]:
        """A decoded JSON object: the value of a secret-named key replaced whole, the rest redacted."""
        result: Dict[str, Any] = {}
        changed = False
        for key, item in value.items():
            new_key, key_changed = self._redact_structure(key, depth)
            if is_secret_name(new_key) and _is_secret_payload(item):
                new_item, item_changed = REDACTED, item != REDACTED
            else:
                new_item, item_changed = self._redact_structure(item, depth + 1)
            result[_unique_key(result, new_key)] = new_item
            changed = changed or key_changed or item_changed
        return result, changed

    # --- one event ----------------------------------------------------------------------

    def protect_event(self, event: Dict[str, Any]) -> Dict[str, Any]:
        """A protected copy of `event` (the input is not changed): every string, keys included,
        sanitized, redacted, truncated; `content.redacted` and `field_truncated` set when that
        happened; the serialized line at most MAX_LINE_BYTES (a minimal event when nothing else fits)."""
        findings = _Findings()
        protected: Dict[str, Any] = self._protect_mapping(event, findings, 0)
        if findings.redacted:
            _mark_redacted(protected)
        if findings.truncated:
            protected["field_truncated"] = True
        if findings.bound + 64 <= MAX_LINE_BYTES:  # cannot be too long: no need to serialize
            return protected
        return _fit_line(protected, findings.redacted, self._cut)

    def _cut(self, text: str, limit: int) -> Tuple[str, bool]:
        """A protected string cut shorter, and still stable under protection (see _redact_and_cut)."""
        result, cut, _ = self._redact_and_cut(text, limit)
        return result, cut

    def _protect_mapping(self, mapping: Mapping[Any, Any], findings: _Findings, depth: int) -> Any:
        if depth >= _MAX_EVENT_DEPTH:
            return _cut_too_deep(findings)
        result: Dict[str, Any] = {}
        bound = 2 + 2 * len(mapping)
        keys, strings = self._keys, self._strings
        # The hot loop of protection: cached keys and short values are looked up inline.
        for key, value in mapping.items():
            facts = keys.get(key) if type(key) is str else None
            if facts is None:
                facts = self._learn_key(key, findings)
            new_key, secret, limit, key_redacted, key_size = facts
            bound += key_size
            if key_redacted:
                findings.redacted = True
            if secret and _is_secret_payload(value):
                findings.redacted = findings.redacted or value != REDACTED
                bound += 12
                value = REDACTED
            elif type(value) is str:
                known = strings.get(value)
                if known is None:
                    value = self._protect_string(value, limit, findings)
                else:
                    value = known[0]
                    bound += 4 * len(value) + 3
                    if known[1]:
                        findings.redacted = True
            else:
                value = self._protect_value(value, limit, findings, depth)
            if new_key in result:
                new_key = _unique_key(result, new_key)
            result[new_key] = value
        findings.bound += bound
        return result

    def _learn_key(self, key: Any, findings: _Findings) -> Tuple[str, bool, int, bool, int]:
        """A key's facts: protected, whether it names a secret, the byte limit of its string
        values, whether protecting it redacted, its serialized size bound. Cached."""
        name = (
            key
            if isinstance(key, str)
            else json.dumps(key)
            if key is None or isinstance(key, bool)
            else str(key)
        )
        mark = _Findings()
        new_key = self._protect_string(name, FIELD_BYTES, mark)
        # Judged by the protected name, as a second protection will see it.
        facts = (new_key, is_secret_name(new_key), _limit_for(new_key), mark.redacted, 4 * len(new_key) + 3)
        if type(key) is str and len(key) <= _CACHE_CHARS:
            if len(self._keys) >= _CACHE_ENTRIES:
                self._keys.clear()
            self._keys[key] = facts
        findings.truncated = findings.truncated or mark.truncated
        return facts

    def _protect_value(self, value: Any, limit: int, findings: _Findings, depth: int) -> Any:
        if isinstance(value, str):
            return self._protect_string(value, limit, findings)
        if isinstance(value, dict):
            return self._protect_mapping(value, findings, depth + 1)
        if isinstance(value, (list, tuple, set, frozenset)):
            if depth + 1 >= _MAX_EVENT_DEPTH:
                return _cut_too_deep(findings)
            findings.bound += 2 + len(value)
            items = [self._protect_value(item, limit, findings, depth + 1) for item in value]
            if _redact_argv(items):
                findings.redacted = True
            return items
        if value is None or isinstance(value, bool):
            findings.bound += 5
            return value
        if isinstance(value, int):
            findings.bound += len(str(value))
            return value
        if isinstance(value, float):
            findings.bound += 32
            # The writer refuses NaN and infinities (not JSON): keep them as words.
            return (
                value
                if math.isfinite(value)
                else "NaN"
                if value != value
                else "Infinity"
                if value > 0
                else "-Infinity"
            )
        if isinstance(value, (bytes, bytearray)):
            return self._protect_string(bytes(value).decode("utf-8", "replace"), limit, findings)
        return self._protect_string(str(value), limit, findings)

    def _protect_string(self, text: str, limit: int, findings: _Findings) -> str:
        known = self._strings.get(text)
        if known is not None:
            result, redacted = known
        else:
            result, truncated, redacted = self._redact_and_cut(sanitize_text(text), limit)
            findings.truncated = findings.truncated or truncated
            if len(text) <= _CACHE_CHARS:  # too short to be cut at any limit we use
                if len(self._strings) >= _CACHE_ENTRIES:
                    self._strings.clear()
                self._strings[text] = (result, redacted)
        findings.redacted = findings.redacted or redacted
        findings.bound += 4 * len(result) + 3  # UTF-8 and JSON escapes: at most 4 bytes a character
        return result


def _cut_too_deep(findings: _Findings) -> str:
    findings.truncated = True
    findings.bound += 20
    return TRUNCATED_MARKER


def _limit_for(name: str) -> int:
    last = _COLLISION_SUFFIX_RE.sub("", name).rsplit(".", 1)[-1].lower()
    return LONG_FIELD_BYTES if last in LONG_FIELD_NAMES else FIELD_BYTES


def _mark_redacted(event: Dict[str, Any]) -> None:
    """content.redacted = true (content is an object; a foreign non-object one is kept inside)."""
    content = event.get("content")
    if isinstance(content, dict):
        content["redacted"] = True
    elif content is None:
        event["content"] = {"redacted": True}
    else:
        event["content"] = {"value": content, "redacted": True}


# --- the line cap -----------------------------------------------------------------------


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


Cutter = Callable[[str, int], Tuple[str, bool]]


def _fit_line(event: Dict[str, Any], redacted: bool, cut: Cutter) -> Dict[str, Any]:
    """`event` (changed in place) within MAX_LINE_BYTES: raw strings cut, then raw members
    dropped (not the identifying ones), then message cut; else a minimal event saying so."""
    size = _json_size(event)
    if size <= MAX_LINE_BYTES:
        return event
    original = size
    if not event.get("field_truncated"):
        event["field_truncated"] = True
        size += len(',"field_truncated":true')
    size = _shrink_raw(event, size, cut)
    if size > MAX_LINE_BYTES and isinstance(event.get("message"), str):
        size = _shrink_string(event, "message", MESSAGE_SHRUNK_BYTES, size, cut)
    if size <= MAX_LINE_BYTES and _json_size(event) <= MAX_LINE_BYTES:  # the arithmetic, checked
        return event
    return _minimal_event(event, original, redacted, cut)


def _shrink_raw(event: Dict[str, Any], size: int, cut: Cutter) -> int:
    if "raw" not in event:
        return size
    leaves = sorted(_string_leaves(event, "raw"), key=lambda leaf: -_json_size(leaf[0][leaf[1]]))
    for container, key in leaves:  # the largest strings first
        if size <= MAX_LINE_BYTES:
            return size
        size = _shrink_string(container, key, RAW_SHRUNK_BYTES, size, cut)
    raw = event["raw"]
    if isinstance(raw, dict):
        members = sorted(
            (key for key in raw if key not in RAW_IDENTITY), key=lambda key: -_json_size(raw[key])
        )
        for key in members:  # then the largest members, whole
            if size <= MAX_LINE_BYTES:
                break
            size -= _json_size(key) + 1 + _json_size(raw[key]) + (1 if len(raw) > 1 else 0)
            del raw[key]
    elif isinstance(raw, list):
        while raw and size > MAX_LINE_BYTES:
            largest = max(range(len(raw)), key=lambda index: _json_size(raw[index]))
            size -= _json_size(raw[largest]) + (1 if len(raw) > 1 else 0)
            del raw[largest]
    return size


def _string_leaves(container: Any, key: Any) -> Iterator[Tuple[Any, Any]]:
    """(container, key) of every string under container[key], itself included."""
    value = container[key]
    if isinstance(value, str):
        yield container, key
    elif isinstance(value, dict):
        for inner in value:
            yield from _string_leaves(value, inner)
    elif isinstance(value, list):
        for index in range(len(value)):
            yield from _string_leaves(value, index)


def _shrink_string(container: Any, key: Any, limit: int, size: int, cut: Cutter) -> int:
    """Cut container[key] to `limit` bytes; the line's new size (the JSON string's length changes)."""
    before = container[key]
    after, was_cut = cut(before, limit)
    if not was_cut:
        return size
    container[key] = after
    return size - _json_size(before) + _json_size(after)


def _minimal_event(event: Dict[str, Any], size: int, redacted: bool, cut: Cutter) -> Dict[str, Any]:
    """The required fields only, each object reduced to its first scalar members, and a message
    saying what happened. The second setting fits whatever the input: 12 fields x 16 members x
    (32-byte key + 64-byte value, doubled by JSON escapes) stays far below the cap."""
    minimal: Dict[str, Any] = {}
    for strings, members in ((256, 32), (64, 16)):
        minimal = {
            name: _small(event[name], strings, members, cut) for name in MINIMAL_EVENT_FIELDS if name in event
        }
        minimal["message"] = f"event too large: {size} bytes; content dropped"
        minimal["field_truncated"] = True
        if redacted:
            minimal["content"] = {"redacted": True}
        if _json_size(minimal) <= MAX_LINE_BYTES:
            break
    return minimal


def _small(value: Any, strings: int, members: int, cut: Cutter) -> Any:
    if isinstance(value, str):
        return cut(value, strings)[0]
    if isinstance(value, dict):
        # event.kind/action/category/id first: they must survive the member limit.
        keys = sorted(value, key=lambda key: key not in ("kind", "action", "category", "id", "name"))
        scalars = [key for key in keys if value[key] is None or isinstance(value[key], (str, int, float))]
        return {
            cut(key, strings // 2)[0]: _small(value[key], strings, members, cut) for key in scalars[:members]
        }
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return TRUNCATED_MARKER
