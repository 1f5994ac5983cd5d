"""Credentials in well-known framings: PEM private keys, URL and connection-string passwords,
Bearer and Basic credentials.
"""

from __future__ import annotations

import base64
import re
from typing import List, Optional

from beacon_protect.names import looks_like_credential, stands_in
from beacon_protect.text import (
    REDACTED,
    TRUNCATED_MARKER,
    fold,
    password_value,
    replace_group,
    substitute,
)

# PEM private keys: the body between the markers (kept) is replaced; unterminated (cut
# upstream), up to the next "-----" or the end.
_PEM_BEGIN_RE = re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END_RE = re.compile(r"-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_BASE64_CHAR_RE = re.compile(r"[A-Za-z0-9+/]")
# scheme://user:PASSWORD@host: the password runs to the last '@' of the authority; the user may
# hold an '@' itself (smtp://postmaster@mg.example.com:PASSWORD@smtp.example.org).
_URL_PASSWORD_RE = re.compile(r"://[^\s:/?#\"'`<>]*:(?P<value>[^\s/?#\"'`<>]+)@")
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
    if not opens or directory or stands_in(match.group("value")):
        return None
    return password_value(match, text)


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


def redact_pem(text: str) -> str:
    """The bodies of PEM private keys, markers kept (an unterminated one to the next ----- or the end)."""
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


def redact_url_passwords(text: str) -> str:
    """scheme://user:PASSWORD@host (not postgres://user:password@localhost in an example)."""
    return substitute(text, text, _URL_PASSWORD_RE, _secret_value)


def _secret_value(match: re.Match[str], text: str) -> Optional[str]:
    return None if stands_in(match.group("value")) else password_value(match, text)


def redact_ado_passwords(text: str) -> str:
    """Password=... and Pwd=... in connection strings, to the ';'."""
    return substitute(text, fold(text), _ADO_PASSWORD_RE, _ado_password)


def redact_auth_schemes(text: str) -> str:
    """`Bearer x` and `Basic x` outside an Authorization header (see _BEARER_RE)."""
    low = fold(text)
    if "bearer" in low:
        text = substitute(text, low, _BEARER_RE, _bearer_value)
        low = fold(text)
    if "basic" in low:
        text = substitute(text, low, _BASIC_RE, _basic_value)
    return text
