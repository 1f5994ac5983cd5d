"""Credentials on a command line that no label names: Cookie headers, curl's user:password,
the -p password of mysql, sshpass and the registry logins; in a string or an argument vector.
"""

from __future__ import annotations

import os
import re
from typing import Any, List, Optional

from beacon_protect.names import is_secret_name, is_secret_value
from beacon_protect.text import REDACTED, fold, password_value, replace_group, substitute

# Credentials on a command line that no label names. A Cookie (or Set-Cookie) header: its whole
# value, every cookie, to the end of the line or the closing quote.
_COOKIE_HEADER_RE = re.compile(r"cookie(?<![a-z0-9_]cookie)[ \t]*:[ \t]*(?P<value>[^\r\n\"'`\\]+)")
# curl -u/--user user:PASSWORD (also -U/--proxy-user, and attached: -uuser:pass).
_USER_FLAGS = ("-u", "-U", "--user", "--proxy-user")
_USER_FLAG_RE = re.compile(
    r"-(?<!\S-)(?:u|U|-user|-proxy-user)(?:[ \t]+|=)?[\"']?"
    r"(?P<user>[^\s:\"'`]*):(?P<value>[^\s\"'`]+)"
)
# Commands whose -p takes a password, within the command's own segment of the line, and whether
# it may be a separate argument: mysql's only attached, -pPASSWORD ("-p name" prompts, then names a
# database); sshpass's, the registry logins' and twine's also "-p PASSWORD".
_PASSWORD_PROGRAMS = {
    "mysql": False,
    "mysqldump": False,
    "mysqladmin": False,
    "mysqlimport": False,
    "mysqlshow": False,
    "mysqlcheck": False,
    "mariadb": False,
    "mariadb-dump": False,
    "mariadb-admin": False,
    "sshpass": True,
    "docker login": True,
    "podman login": True,
    "buildah login": True,
    "skopeo login": True,
    "nerdctl login": True,
    "oras login": True,
    "helm registry login": True,
    "twine": True,
}
_PASSWORD_PROGRAM_RE = re.compile(
    r"(?<![\w.\-])(?:"
    + "|".join(program.replace(" ", r"[ \t]+") for program in _PASSWORD_PROGRAMS)
    + r")(?![\w.\-])"
)
_SEGMENT_END_RE = re.compile(r"[\n|;&]")
_DASH_P_RE = re.compile(r"-(?<!\S-)p(?P<space>[ \t]*)[\"']?(?P<value>[^\s\"'`;|&]+)")


def redact_command_line(text: str) -> str:
    """Cookie headers, curl's user:password, mysql's -pPASSWORD and sshpass -p PASSWORD."""
    low = fold(text)
    if "cookie" in low:
        text = substitute(text, low, _COOKIE_HEADER_RE, password_value)
    if "-u" in text or "-U" in text:
        text = substitute(text, text, _USER_FLAG_RE, _user_password)
    if "-p" in text and _PASSWORD_PROGRAM_RE.search(text):
        text = _redact_dash_p(text)
    return text


def _user_password(match: re.Match[str], text: str) -> Optional[str]:
    """user:PASSWORD, unless it reads as user:group (`docker run -u 1000:1000`, `-u root:root`)."""
    value = match.group("value")
    if value == match.group("user") or value.isdigit() or not is_secret_value(value):
        return None
    return replace_group(match, text, "value")


def _redact_dash_p(text: str) -> str:
    pieces: List[str] = []
    done = segment_end = 0
    for program in _PASSWORD_PROGRAM_RE.finditer(text):
        if program.start() < segment_end:
            continue  # in the segment just handled
        boundary = _SEGMENT_END_RE.search(text, program.end())
        segment_end = boundary.start() if boundary else len(text)
        attached_only = not _PASSWORD_PROGRAMS[" ".join(program.group().split())]
        for flag in _DASH_P_RE.finditer(text, program.end(), segment_end):
            if (attached_only and flag.group("space")) or not is_secret_value(flag.group("value")):
                continue
            pieces.extend((text[done : flag.start("value")], REDACTED))
            done = flag.end("value")
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def redact_argv(items: List[Any]) -> bool:
    """An argument vector ["mysql", "--password", "x"]: the item after a secret-named flag without
    its own value is replaced (in place), as are the password of ["curl", "-u", "user:password"],
    mysql's ["-pPASSWORD"] and sshpass's (or docker login's) ["-p", "PASSWORD"]. Whether anything was."""
    program = _password_program(items)
    changed = False
    for index, flag in enumerate(items):
        if not isinstance(flag, str) or not flag.startswith("-"):
            continue
        value = items[index + 1] if index + 1 < len(items) else None
        if (
            program in _PASSWORD_PROGRAMS
            and flag.startswith("-p")
            and len(flag) > 2
            and is_secret_value(flag[2:])
        ):
            items[index] = "-p" + REDACTED
        elif not isinstance(value, str):
            continue
        elif flag in _USER_FLAGS and ":" in value:
            user, _, password = value.partition(":")
            if password == user or password.isdigit() or not is_secret_value(password):
                continue
            items[index + 1] = f"{user}:{REDACTED}"
        elif (flag == "-p" and _PASSWORD_PROGRAMS.get(program, False)) or (
            "=" not in flag and is_secret_name(flag)
        ):
            if not is_secret_value(value):
                continue
            items[index + 1] = REDACTED
        else:
            continue
        changed = True
    return changed


def _password_program(items: List[Any]) -> str:
    """The entry of _PASSWORD_PROGRAMS an argument vector runs ("docker login"), or ""."""
    words = [item for item in items[:3] if isinstance(item, str)]
    if words:
        words[0] = os.path.basename(words[0])
    for size in (3, 2, 1):
        program = " ".join(words[:size])
        if program in _PASSWORD_PROGRAMS:
            return program
    return ""
