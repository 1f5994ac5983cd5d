"""Known credential formats, replaced wherever they appear: token prefixes, PEM private keys,
URL and connection-string passwords, Bearer and Basic credentials.
"""

from __future__ import annotations

import base64
import re
from typing import List, Optional, Sequence, Tuple

from beacon_protect.names import looks_like_credential
from beacon_protect.text import (
    REDACTED,
    TRUNCATED_MARKER,
    Replacer,
    fold,
    password_value,
    replace_group,
    substitute,
)

# Known credential formats, replaced whole wherever they appear, each with the hints that must
# occur for it to be tried, and for a loose prefix, a test of the body that a real key passes.
# Case-sensitive, as the prefixes are. Open-ended lengths (or repeats), so that two keys glued
# together go in one match (the result is stable when protected again).
# GitLab personal, deploy, runner, trigger, CI job, mail, OAuth, SCIM, feed and agent tokens;
# routable ones end in .xx.yyyyyyy. Too many prefixes to hint at one by one (each hint is a search
# of every string): the hint is "gl", and the gate searches for the prefixes in one pattern.
_GITLAB_KINDS = r"(?:pat|dt|rt|rtr|ptt|cbt|imt|oas|soat|ft|agent)-"
GITLAB_PREFIX_RE = re.compile("gl" + _GITLAB_KINDS)
_GITLAB_TOKEN = r"gl(?<![A-Za-z0-9]gl)" + _GITLAB_KINDS + r"[A-Za-z0-9_\-]{20,}(?:\.[A-Za-z0-9_\-]+)*"
# Package and branch names (sk-learn-contrib-2-extras): lowercase words and numbers joined by '-'.
_HYPHENATED_WORDS_RE = re.compile(r"[a-z]+(?:-(?:[a-z]+|[0-9]+))*")
_DIGIT_RE = re.compile(r"[0-9]")


def _random_key(match: re.Match[str], text: str) -> Optional[str]:
    """An sk- key whose body reads as random (every real one has a digit: sk-ant-api03-, OpenAI's
    T3BlbkFJ, 150 random characters), not as hyphenated words."""
    body = match.group("body")
    random = bool(_DIGIT_RE.search(body)) and not _HYPHENATED_WORDS_RE.fullmatch(body)
    return REDACTED if random else None


_TOKEN_PATTERNS: Tuple[Tuple[Tuple[str, ...], re.Pattern[str], Optional[Replacer]], ...] = tuple(
    (hints, re.compile(source), accept)
    for hints, source, accept in (
        # Anthropic sk-ant-, OpenAI sk-, sk-proj-, sk-svcacct-, and the providers that copied them
        (("sk-",), r"sk-(?<![A-Za-z0-9]sk-)(?P<body>[A-Za-z0-9_\-]{20,})", _random_key),
        # Stripe
        (("k_live_", "k_test_"), r"[sr]k_(?<![A-Za-z0-9][sr]k_)(?:live|test)_[A-Za-z0-9]{10,}", None),
        (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{36,}", None),  # GitHub
        (("github_pat_",), r"github_pat_[A-Za-z0-9_]{22,}", None),
        (("gl",), _GITLAB_TOKEN, None),
        (  # AWS access key ids: exactly 16 after the prefix, a word of its own (or glued to another)
            ("AKIA", "ASIA"),
            r"A(?<![A-Z0-9]A)(?:KIA|SIA)[A-Z0-9]{16}(?:A(?:KIA|SIA)[A-Z0-9]{16})*(?![A-Za-z0-9])",
            None,
        ),
        (("AIza",), r"AIza[0-9A-Za-z_\-]{35,}", None),  # Google API keys
        (("xox",), r"xox[abposre]-[A-Za-z0-9\-]{10,}", None),  # Slack bot, user, refresh... tokens
        (("xapp-",), r"xapp-[0-9]+-[A-Za-z0-9\-]{10,}", None),  # Slack app-level tokens
        (("npm_",), r"npm_[A-Za-z0-9]{36,}", None),
        (("pypi-",), r"pypi-AgE[A-Za-z0-9_\-]{16,}", None),  # PyPI macaroons: pypi-AgEIcHlwaS5vcmc...
        (
            ("eyJ",),
            r"eyJ(?<![A-Za-z0-9_\-]eyJ)(?=(?P<h>[A-Za-z0-9_\-]{4,}))(?P=h)"  # JWT: header.payload.sig
            r"\.eyJ(?=(?P<p>[A-Za-z0-9_\-]{4,}))(?P=p)\.[A-Za-z0-9_\-]*",
            None,
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


# "Bearer x" and "Basic x" outside an Authorization header: prose says "bearer token" too, so a
# Bearer credential must not read as words, and a Basic one must decode to user:password.
_BEARER_RE = re.compile(r"bearer(?<![a-z0-9_]bearer)[ \t]+(?P<value>[a-z0-9._~+/\-]+=*)")
_BASIC_RE = re.compile(
    r"basic(?<![a-z0-9_]basic)[ \t]+(?P<value>(?=(?P<run>[a-z0-9+/]{4,}))(?P=run)={0,2})(?![a-z0-9+/=])"
)


def _ado_password(match: re.Match[str], text: str) -> Optional[str]:
    start = match.start()
    opens = start == 0 or text[start - 1] in ";\"'" or text[start - 2 : start] == "; "
    directory = text.startswith("PWD", start) and match.group("value")[:1] in ("/", "~")  # the shell's $PWD
    return password_value(match, text) if opens and not directory else None


def _bearer_value(match: re.Match[str], text: str) -> Optional[str]:
    value = text[match.start("value") : match.end("value")]
    return replace_group(match, text, "value") if looks_like_credential(value) else None


def _basic_value(match: re.Match[str], text: str) -> Optional[str]:
    value = text[match.start("value") : match.end("value")]
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None
    if ":" not in decoded or not decoded.isprintable():
        return None
    return replace_group(match, text, "value")


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


def redact_formats(text: str) -> str:
    """Known credential formats, each only where its hint occurs: PEM private keys, URL
    passwords, the token formats above and connection-string passwords."""
    if "PRIVATE KEY" in text:
        text = _redact_pem(text)
    if "://" in text:
        text = substitute(text, text, _URL_PASSWORD_RE, password_value)
    for hints, pattern, accept in _TOKEN_PATTERNS:
        if has_hint(text, hints):
            text = pattern.sub(REDACTED, text) if accept is None else substitute(text, text, pattern, accept)
    low = fold(text)
    if "pwd" in low or "password" in low:
        text = substitute(text, low, _ADO_PASSWORD_RE, _ado_password)
    return text


def redact_auth_schemes(text: str) -> str:
    """`Bearer x` and `Basic x` outside an Authorization header (see _BEARER_RE)."""
    low = fold(text)
    if "bearer" in low:
        text = substitute(text, low, _BEARER_RE, _bearer_value)
        low = fold(text)
    if "basic" in low:
        text = substitute(text, low, _BASIC_RE, _basic_value)
    return text


def has_hint(text: str, hints: Sequence[str]) -> bool:
    for hint in hints:
        if hint in text:
            return True
    return False
