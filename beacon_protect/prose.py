"""Secrets in sentences and code that no label or format gives away: "the admin password is
...", SQL's PASSWORD '...', an access key id followed by its secret, and SDK calls that take a
key as a plain argument. Each value must not read as words (names.looks_like_credential).
"""

from __future__ import annotations

import re
from typing import List

from beacon_protect.names import looks_like_credential
from beacon_protect.readers import worth_hiding
from beacon_protect.text import Span, fold, replace_spans

# ALTER USER ... PASSWORD 'x', CREATE ROLE ... WITH ENCRYPTED PASSWORD 'x', IDENTIFIED BY 'x'.
_SQL_PASSWORD_RE = re.compile(
    r"(?:password|identified[ \t]+by)[ \t]+"
    r"(?:(?P<q>['\"])(?P<quoted>(?:(?!(?P=q)).){1,256})(?P=q)|(?P<bare>[^\s'\";\-][^\s'\";]{5,255})(?=[\s;]|$))"
)
_SQL_STATEMENT_RE = re.compile(r"(?:alter|create)[ \t]+(?:user|role|login)|identified[ \t]+by")
SQL_KEYWORDS = ("identified", "password")


def redact_sql(text: str) -> str:
    low = fold(text)
    if not _SQL_STATEMENT_RE.search(low):
        return text
    spans: List[Span] = []
    for match in _SQL_PASSWORD_RE.finditer(low):
        group = "quoted" if match.group("quoted") is not None else "bare"
        value = text[match.start(group) : match.end(group)]
        if worth_hiding(value) and (group == "quoted" or looks_like_credential(value)):
            spans.append(match.span(group))
    return replace_spans(text, spans)


# "the staging admin password is X", "here's my token X", "(password X)", "the API key for the
# sandbox account is X", "Das Passwort ... lautet X", "la contraseña ... es X", "sign in as
# ops@example.com with X", "log in with admin / X".
_LABELS = (
    "password",
    "passwort",
    "kennwort",
    "contraseña",
    "mot de passe",
    "senha",
    "passphrase",
    "passcode",
    "pwd",
    "pw",
    "token",
    "secret",
    "api key",
    "api-key",
    "apikey",
)
_LABEL = "(?:" + "|".join(re.escape(label).replace(r"\ ", "[ \t]") for label in _LABELS) + ")"
_WORDS = r"(?:[ \t]+[^\s!?:=]+){0,8}?"  # a few words between the label and its verb
_PROSE_RE = re.compile(
    r"(?<![\w\-/=.])(?:"
    + _LABEL
    + _WORDS
    + r"[ \t]+(?:is|was|are|lautet|ist|es|est|é|era)[ \t]*:?"
    + "|"
    + _LABEL
    + r"[ \t]*[:=]?"
    + r"|(?:log[ \t]?in|sign[ \t]?in)"
    + _WORDS
    + r"[ \t]+with(?:[ \t]+[^\s/]+[ \t]*/)?)"
    + r"[ \t]+[\"'`(]?(?P<value>[^\s\"'`]{8,256})"
)
PROSE_KEYWORDS = (*_LABELS, "log in", "login", "sign in", "signin")
_TRAILING_PUNCTUATION = ".,;:!?)]'\"`"


def redact_prose(text: str) -> str:
    spans: List[Span] = []
    for match in _PROSE_RE.finditer(fold(text)):
        start, end = match.span("value")
        while end > start and text[end - 1] in _TRAILING_PUNCTUATION:
            end -= 1
        value = text[start:end]
        if value[:1] in "$-" or "://" in value or value.count("/") > 1:  # a reference, a flag, a path
            continue
        if worth_hiding(value) and looks_like_credential(value):
            spans.append((start, end))
    return replace_spans(text, spans)


# An access key id followed by its secret, unlabelled: Credential("AKID...", "secret"),
# AKIA...,secret in a CSV row, AKIA...:secret. The secret is the next quoted or separated value.
_PAIRED_SECRET_RE = re.compile(
    r"(?:AKIA|ASIA|AKID|LTAI)[A-Za-z0-9]{16,32}[\"']?[ \t]*[,:;|][ \t]*[\"']?"
    r"(?P<value>[A-Za-z0-9+/=]{28,64})(?![A-Za-z0-9+/=])"
)
PAIRED_KEYWORDS = ("akia", "asia", "akid", "ltai")


def redact_paired_secrets(text: str) -> str:
    spans = [
        match.span("value")
        for match in _PAIRED_SECRET_RE.finditer(text)
        if looks_like_credential(match.group("value"))
    ]
    return replace_spans(text, spans)


# SDK calls that take a credential as a plain argument: algoliasearch(appId, apiKey), Twilio's
# Client(accountSid, authToken) (its account SID begins with AC, its token is 32 hex digits).
_CALLS_RE = re.compile(
    r"(?:algoliasearch|searchClient)\([ \t]*[\"'][^\"']*[\"'][ \t]*,[ \t]*"
    r"[\"'](?P<value>[A-Za-z0-9]{20,64})[\"']"
    r"|Client\([^,()]*AC[^,()]*,[ \t]*[\"'](?P<twilio>[a-f0-9]{32})[\"']"
)
CALL_KEYWORDS = ("algoliasearch", "searchclient", "client(")


def redact_calls(text: str) -> str:
    spans = [match.span("value" if match.group("value") else "twilio") for match in _CALLS_RE.finditer(text)]
    return replace_spans(text, spans)
