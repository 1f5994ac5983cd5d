"""Structural readers: secrets that only the file or format around them gives away, each
replaced whole: CSV and markdown tables with credential columns, .netrc entries, .pgpass lines,
configuration directives, XML elements, PuTTY private keys, Azure key listings,
`user:password@host:port` without a scheme, and base64 blobs that decode to a private key or to
text holding secrets. Sentences and code are prose.py's.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Callable, List, Optional

from beacon_protect.names import is_secret_name, is_secret_value, looks_like_credential
from beacon_protect.text import REDACTED, Span, fold, replace_spans


def worth_hiding(value: str) -> bool:
    return REDACTED not in value and is_secret_value(value)


# --- tables: the AWS console's credentials CSV, exported password lists, markdown -------------

_MAX_COLUMNS = 64
_MARKDOWN_RULE_RE = re.compile(r"[ \t]*\|?(?:[ \t]*:?-{3,}:?[ \t]*\|)+(?:[ \t]*:?-{3,}:?[ \t]*)?")


def redact_tables(text: str) -> str:
    """Rows under a CSV or markdown table header naming secret columns (`Secret access key`,
    `password`): those cells replaced, however the rest of the row reads."""
    spans: List[Span] = []
    secret_columns: List[int] = []
    columns = position = 0
    for line in text.splitlines(keepends=True):
        row = line.rstrip("\r\n")
        if _MARKDOWN_RULE_RE.fullmatch(row):  # |---|:--:|, the underline of a markdown header
            position += len(line)
            continue
        cells = _table_cells(row, position)
        names = [text[start:end].strip().strip("\"'") for start, end in cells]
        if 2 <= len(cells) <= _MAX_COLUMNS and any(is_secret_name(name) for name in names):
            secret_columns = [index for index, name in enumerate(names) if is_secret_name(name)]
            columns = len(cells)
        elif secret_columns and len(cells) == columns:
            spans.extend(
                cells[index]
                for index in secret_columns
                if worth_hiding(text.__getitem__(slice(*cells[index])))
            )
        elif row.strip():
            secret_columns = []
        position += len(line)
    return replace_spans(text, spans)


def _table_cells(line: str, offset: int) -> List[Span]:
    """The spans of a CSV or markdown table line's cells (quotes excluded); none for other lines."""
    stripped = line.strip()
    if len(stripped) > 1 and stripped[0] == "|" and stripped[-1] == "|":
        left = line.index("|") + 1
        return _cells(line[left : line.rindex("|")], offset + left, "|")
    return _cells(line, offset, ",") if "," in line else []


def _cells(line: str, offset: int, delimiter: str) -> List[Span]:
    cells: List[Span] = []
    start = 0
    for part in line.split(delimiter)[: _MAX_COLUMNS + 1]:
        inner = part.strip()
        left = start + part.index(inner) if inner else start
        if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "\"'":
            left, inner = left + 1, inner[1:-1]
        cells.append((offset + left, offset + left + len(inner)))
        start += len(part) + 1
    return cells


# --- configuration files -------------------------------------------------------------------------

_NETRC_RE = re.compile(r"(?:^|(?<=\s))(?:machine[ \t]+\S+|default)(?=\s)")
_NETRC_PASSWORD_RE = re.compile(
    r"(?:^|(?<=\s))(?:password|passwd|account)[ \t]+(?P<value>[^\s\"']+|\"[^\"\n]*\")"
)


def redact_netrc(text: str) -> str:
    """`machine host login user password SECRET` (a .netrc entry, on one line or several)."""
    low = fold(text)
    if not _NETRC_RE.search(low):
        return text
    return replace_spans(
        text,
        [
            match.span("value")
            for match in _NETRC_PASSWORD_RE.finditer(low)
            if worth_hiding(match.group("value"))
        ],
    )


# .pgpass lines: host:port:database:user:password (any field but the password may be *).
_PGPASS_RE = re.compile(
    r"(?:^|(?<=[\s'\"]))[^\s:'\"]+:(?:[0-9]{1,5}|\*):[^\s:'\"]+:[^\s:'\"]+:(?P<value>[^\s'\"]{6,256})(?=[\s'\"]|$)",
    re.MULTILINE,
)


def redact_pgpass(text: str) -> str:
    return replace_spans(
        text,
        [match.span("value") for match in _PGPASS_RE.finditer(text) if worth_hiding(match.group("value"))],
    )


# `directive value` lines (redis.conf requirepass and masterauth, sshd-style files): a secret name
# alone at the start of a line, then one value that does not read as words.
_DIRECTIVE_RE = re.compile(
    r"^[ \t]*(?P<name>[A-Za-z_][A-Za-z0-9_.\-]{2,64})[ \t]+(?P<value>[^\s\"']{8,256})[ \t]*\r?$", re.MULTILINE
)


def redact_directives(text: str) -> str:
    return replace_spans(
        text,
        [
            match.span("value")
            for match in _DIRECTIVE_RE.finditer(text)
            if is_secret_name(match.group("name"))
            and worth_hiding(match.group("value"))
            and looks_like_credential(match.group("value"))
        ],
    )


# <password>SECRET</password>, <entry key="client.secret">SECRET</entry>; <add key="x" value="y"/>
# is a name/value pair (labels.py).
_XML_ELEMENT_RE = re.compile(
    r"<(?P<tag>[A-Za-z_][\w.:\-]{0,64})(?P<attributes>[ \t][^<>]{0,256})?>(?P<value>[^<>]{1,4096})</(?P=tag)>"
)
_XML_NAME_ATTRIBUTE_RE = re.compile(r"[ \t](?:key|name)=[\"'](?P<name>[^\"'<>]{1,128})[\"']")


def redact_xml(text: str) -> str:
    """The text of XML elements a secret name tags (Maven's <password>, <apiKey>) or names in a
    key or name attribute."""
    spans: List[Span] = []
    for match in _XML_ELEMENT_RE.finditer(text):
        attribute = _XML_NAME_ATTRIBUTE_RE.search(match.group("attributes") or "")
        named = is_secret_name(match.group("tag")) or bool(
            attribute and is_secret_name(attribute.group("name"))
        )
        if named and worth_hiding(match.group("value")):
            spans.append(match.span("value"))
    return replace_spans(text, spans)


# --- keys in text formats ------------------------------------------------------------------------

_PUTTY_RE = re.compile(
    r"private-lines:[ \t]*[0-9]+(?P<nl>\r?\n|\\r?\\n)[ \t]*"
    r"(?P<value>[A-Za-z0-9+/=]+(?:(?P=nl)[ \t]*[A-Za-z0-9+/=]+)*)"
    r"|private-mac:[ \t]*(?P<mac>[0-9a-f]{16,})"
)


def redact_putty(text: str) -> str:
    """The private lines and MAC of a PuTTY .ppk key (indented too: a key in a YAML block)."""
    spans = [
        match.span("value") if match.group("value") else match.span("mac")
        for match in _PUTTY_RE.finditer(fold(text))
    ]
    return replace_spans(text, spans)


# `az storage account keys list`: [{"keyName": "key1", "permissions": "FULL", "value": "..."}],
# as text (maybe JSON-escaped inside another string).
_AZURE_KEY_VALUE_RE = re.compile(r"\\?\"value\\?\"[ \t]*:[ \t]*\\?\"(?P<value>[A-Za-z0-9+/=_\-]{20,})\\?\"")


def redact_azure_key_list(text: str) -> str:
    return replace_spans(text, [match.span("value") for match in _AZURE_KEY_VALUE_RE.finditer(text)])


# user:password@host:port or user:password@host/path with no scheme (mysqlsh --uri, redis
# clients): found from each '@', the user and password read backwards to a delimiter.
_AUTHORITY_TAIL_RE = re.compile(r"@[A-Za-z0-9][A-Za-z0-9.\-]*(?::[0-9]{1,5}|/|\b)")
_AUTHORITY_HEAD_RE = re.compile(r"(?P<user>[A-Za-z0-9._\-]{1,64}):(?P<value>[^\s:@/\"'`<>]{1,256})\Z")
_MAX_AT_SIGNS = 1024


def redact_bare_authority(text: str) -> str:
    spans: List[Span] = []
    for count, tail in enumerate(_AUTHORITY_TAIL_RE.finditer(text)):
        if count >= _MAX_AT_SIGNS:
            break
        host_end = tail.end()
        if not (text[host_end - 1 : host_end] in ("/",) or ":" in tail.group() or "." in tail.group()):
            continue
        start = max(0, tail.start() - 330)
        head = _AUTHORITY_HEAD_RE.search(text, start, tail.start())
        if head is None:
            continue
        before = text[head.start() - 3 : head.start()] if head.start() >= 3 else ""
        value = head.group("value")
        if before == "://" or value.isdigit() or not worth_hiding(value):
            continue
        spans.append(head.span("value"))
    return replace_spans(text, spans)


# --- base64 blobs --------------------------------------------------------------------------------

# Base64 of `{"`, `{\n`, `[{`, `-----BEGIN`, or of text that begins with a letter and '='
# (KEY=value files): decoded, redacted, and when that changed anything, replaced whole.
_BLOB_RE = re.compile(
    r"(?:eyJ|ewo|W3s)(?<![A-Za-z0-9+/_\-]...)[A-Za-z0-9+/_\-]{32,}={0,2}"
    r"|LS0tLS1C(?<![A-Za-z0-9+/_\-]LS0tLS1C)[A-Za-z0-9+/]{24,}={0,2}"
)
_MAX_BLOB_CHARS = 1 << 20


def redact_blobs(text: str, redact: Callable[[str], str]) -> str:
    """Base64 blobs that decode to a private key, or to text in which `redact` finds a secret:
    a GCP service-account key in GCP_SA_KEY, a kubeconfig's client-key-data, .dockerconfigjson."""
    spans: List[Span] = []
    for match in _BLOB_RE.finditer(text):
        decoded = _decoded(match.group())
        if decoded is not None and ("PRIVATE KEY" in decoded or redact(decoded) != decoded):
            spans.append(match.span())
    return replace_spans(text, spans)


def _decoded(blob: str) -> Optional[str]:
    if len(blob) > _MAX_BLOB_CHARS:
        return None
    padded = blob + "=" * (-len(blob) % 4)
    try:
        data = base64.urlsafe_b64decode(padded) if ("-" in blob or "_" in blob) else base64.b64decode(padded)
        return data.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
