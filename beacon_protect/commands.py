"""Credentials on a command line that no label names: Cookie headers, curl's user:password,
and the arguments the program table (programs.py) says hold one; in a string or an argument
vector, through the same reading of a command's words.
"""

from __future__ import annotations

import os
import re
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

from beacon_protect.names import is_flag_name, is_secret_name, is_secret_value
from beacon_protect.programs import PROGRAMS, Program
from beacon_protect.text import REDACTED, fold, password_value, replace_group, replace_spans, substitute

# Credentials on a command line that no label names. A Cookie (or Set-Cookie) header: its whole
# value, every cookie, to the end of the line or the closing quote.
_COOKIE_HEADER_RE = re.compile(r"cookie(?<![a-z0-9_]cookie)[ \t]*:[ \t]*(?P<value>[^\r\n\"'`\\]+)")
# curl -u/--user user:PASSWORD (also -U/--proxy-user, and attached: -uuser:pass).
_USER_FLAGS = ("-u", "-U", "--user", "--proxy-user")
_USER_FLAG_RE = re.compile(
    r"-(?<!\S-)(?:u|U|-user|-proxy-user)(?:[ \t]+|=)?[\"']?"
    r"(?P<user>[^\s:\"'`]*):(?P<value>[^\s\"'`]+)"
)
# A shell word: bare characters, "double" or 'single' quoted parts, backslash escapes; or a
# here-string operator, or a separator. Linear: no part can backtrack over another.
_SHELL_TOKEN_RE = re.compile(
    r"(?P<word>(?:\"(?:[^\"\\]|\\.)*\"?|'[^']*'?|\\.|[^\s\"'\\|;&<>()`])+)|(?P<here><<<)"
    r"|(?P<redirect>[0-9]*(?:<|>>?)&?)|(?P<sep>[|;&\n]+)"
)
_WORD_PART_RE = re.compile(
    r"\"(?P<dq>(?:[^\"\\]|\\.)*)\"?|'(?P<sq>[^']*)'?|\\(?P<esc>.)|(?P<bare>[^\"'\\]+)", re.S
)
PROGRAM_NAMES = tuple(sorted({name.split()[0] for name in PROGRAMS}))
_FIRST_WORDS = frozenset(PROGRAM_NAMES)
_PROGRAM_HINT_RE = re.compile(
    r"\b(?:"
    + "|".join(re.escape(name) for name in sorted(PROGRAM_NAMES, key=len, reverse=True))
    + r")(?![\w\-])"
)
_MAX_WORDS = 256  # words of one command that are looked at
# Files that hold a secret however their content reads: Rails' master.key, private keys, keystores.
SECRET_FILE_RE = re.compile(
    r"(?:^|(?<=[\s/\\'\"=]))(?:master\.key|id_(?:rsa|dsa|ecdsa|ed25519)|\.pgpass|\.netrc|\.htpasswd"
    r"|[\w.\-]*\.(?:key|pem|p12|pfx|jks|keystore|ppk))(?=$|[\s'\"])"
)
_QUOTED_COMMAND_RE = re.compile(r"'[^'\n]{3,4096}'|\"(?:[^\"\\\n]|\\.){3,4096}\"")
_ASSIGNMENT_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*=")


def redact_command_line(text: str) -> str:
    """Cookie headers, curl's user:password, and the credentials of the programs in the table."""
    low = fold(text)
    if "cookie" in low:
        text = substitute(text, low, _COOKIE_HEADER_RE, password_value)
    if "-u" in text or "-U" in text:
        text = substitute(text, text, _USER_FLAG_RE, _user_password)
    if _PROGRAM_HINT_RE.search(text):
        text = _redact_programs(text)
        text = _QUOTED_COMMAND_RE.sub(_redact_quoted_command, text)
    return text


def _redact_quoted_command(match: re.Match[str]) -> str:
    """A command inside quotes (bash -c "mysql -p...", echo 'set -x TOKEN ...' >> config.fish)."""
    quote, inner = match.group()[0], match.group()[1:-1]
    if " " not in inner or not _PROGRAM_HINT_RE.search(inner):
        return match.group()
    return quote + _redact_programs(inner) + quote


def _user_password(match: re.Match[str], text: str) -> Optional[str]:
    """user:PASSWORD, unless it reads as user:group (`docker run -u 1000:1000`, `-u root:root`)."""
    value = match.group("value")
    if (
        value == match.group("user")
        or value.isdigit()
        or value.startswith("//")
        or not is_secret_value(value)
    ):
        return None  # 1000:1000 is user:group, https://host a URL
    return replace_group(match, text, "value")


# --- the words of a command ---------------------------------------------------------------------


class _Word(NamedTuple):
    text: str  # unquoted
    offsets: Tuple[int, ...]  # where each character of it is in the command line


def _shell_commands(text: str) -> List[Tuple[str, List[re.Match[str]]]]:
    """The commands of a shell line, each with the separator before it and its tokens."""
    commands: List[Tuple[str, List[re.Match[str]]]] = [("", [])]
    for token in _SHELL_TOKEN_RE.finditer(text):
        if token.lastgroup == "sep":
            commands.append((token.group().strip(" \t"), []))
        elif len(commands[-1][1]) < _MAX_WORDS:
            commands[-1][1].append(token)
    return commands


def _unquoted(token: re.Match[str]) -> _Word:
    if token.lastgroup == "here":
        return _Word("<<<", ())
    if token.lastgroup == "redirect":
        return _Word(">", ())  # < file, > file, 2>&1: what follows is no argument
    chars: List[str] = []
    offsets: List[int] = []
    for part in _WORD_PART_RE.finditer(token.group()):
        group = part.lastgroup or "bare"
        start = token.start() + part.start(group)
        value = part.group(group)
        chars.append(value)
        offsets.extend(range(start, start + len(value)))
    return _Word("".join(chars), tuple(offsets))


def _redact_programs(text: str) -> str:
    spans: List[Tuple[int, int]] = []
    commands = _shell_commands(text)
    for index, (separator, tokens) in enumerate(commands):
        if not any(_command_name(token.group()) in _FIRST_WORDS for token in tokens):
            continue  # the words of other commands are never unquoted
        words = [_unquoted(token) for token in tokens]
        before = [_unquoted(token) for token in commands[index - 1][1]] if index and separator == "|" else []
        for word, start, end in secret_spans([word.text for word in words], [word.text for word in before]):
            source = before[word] if word < 0 else words[word]
            if source.offsets:
                spans.append((source.offsets[start], source.offsets[end - 1] + 1))
    return replace_spans(text, spans)


# --- which words hold the secret -----------------------------------------------------------------


def secret_spans(words: Sequence[str], piped_from: Sequence[str] = ()) -> List[Tuple[int, int, int]]:
    """(word index, start, end) of each credential in one command's words, as the program table
    says; a negative index counts from the end of `piped_from`, the command whose output this one
    reads (`echo SECRET | docker login --password-stdin`)."""
    found = _program(words)
    if found is None:
        return []
    first, program = found
    spans: List[Tuple[int, int, int]] = []
    positional: List[int] = []
    index = first
    while index < len(words):
        word = words[index]
        if word.startswith("-") or (word.startswith("/") and ":" in word[:8]):  # -p, /p: (Windows)
            index = _flag_spans(program, words, index, spans)
            continue
        if word == "<<<" and program.stdin_flags and index + 1 < len(words):
            spans.append(_whole(words, index + 1))
            index += 2
            continue
        if word == ">":
            if (
                program.writes_secret_file
                and index + 1 < len(words)
                and SECRET_FILE_RE.search(words[index + 1])
            ):
                spans.extend(_whole(words, before) for before in positional)  # echo SECRET > master.key
            index += 2  # the redirection's file
            continue
        if program.pass_prefix and word.startswith("pass:"):
            spans.append((index, 5, len(word)))
        elif index + 1 < len(words) and (
            (program.after_word and word == program.after_word)
            or (program.named_args and is_secret_name(word))
        ):
            spans.append(_whole(words, index + 1))
            index += 1
        positional.append(index)
        index += 1
    spans.extend(_positional_spans(program, words, positional))
    if program.stdin_flags.intersection(words) and piped_from:
        spans.extend(_piped_spans(piped_from))
    return [span for span in spans if _worth_hiding(words, piped_from, span)]


def _command_name(word: str) -> str:
    """The program a word may name: /usr/bin/mysql is mysql, and so is ?q=mysql (a command quoted
    in a URL or an assignment)."""
    return os.path.basename(word.rpartition("=")[2])


def _program(words: Sequence[str]) -> Optional[Tuple[int, Program]]:
    """Where the arguments of the first known program among `words` begin, and the program (a
    command may follow `sudo`, `X=1`, `cd app &&`, or prose: "run mysql -p...")."""
    for start, word in enumerate(words):
        first = _command_name(word)
        if first not in _FIRST_WORDS:
            continue
        names = [first, *words[start + 1 : start + 4]]
        for size in (4, 3, 2, 1):
            program = PROGRAMS.get(" ".join(names[:size])) if len(names) >= size else None
            if program is not None:
                return start + size, program
    return None


def _flag_spans(program: Program, words: Sequence[str], index: int, spans: List[Tuple[int, int, int]]) -> int:
    """The secrets a flag at words[index] gives; the index of the next word to read."""
    word = words[index]
    name, equals, _ = word.partition("=")
    has_next = index + 1 < len(words)
    if word in program.flags and has_next:
        spans.append(_whole(words, index + 1))
        return index + 2
    if equals and name in program.flags:
        spans.append((index, len(name) + 1, len(word)))
    elif word in program.user_percent and has_next and "%" in words[index + 1]:
        spans.append((index + 1, words[index + 1].index("%") + 1, len(words[index + 1])))
        return index + 2
    elif equals and name in program.user_percent and "%" in word:
        spans.append((index, word.index("%") + 1, len(word)))
    else:
        for prefix in program.attached:
            if word.startswith(prefix) and len(word) > len(prefix) and word not in program.flags:
                spans.append((index, len(prefix), len(word)))
                break
    return index + 1


def _positional_spans(
    program: Program, words: Sequence[str], positional: List[int]
) -> List[Tuple[int, int, int]]:
    spans: List[Tuple[int, int, int]] = []
    gated = bool(program.when_flag) and not any(
        word.startswith("-") and not word.startswith("--") and program.when_flag in word for word in words
    )
    if program.positional is not None and positional:
        chosen = program.positional if program.positional >= 0 else len(positional) + program.positional
        if not gated and 0 <= chosen < len(positional):
            index = positional[chosen]
            word = words[index]
            if "/" in word and "@" in word:  # sqlplus user/SECRET@db
                spans.append((index, word.index("/") + 1, word.rindex("@")))
            elif not _ASSIGNMENT_WORD_RE.match(word):  # vault login token=... is a label's job
                spans.append(_whole(words, index))
    if program.name_value and len(positional) >= 2 and not gated and is_secret_name(words[positional[0]]):
        spans.append(_whole(words, positional[1]))
    if program.after_share:
        for before, index in zip(positional, positional[1:]):
            if words[before].startswith(
                ("\\", "//")
            ):  # \\server\share, or \server... once a shell unquoted it
                spans.append(_whole(words, index))
                break
    return spans


def _piped_spans(words: Sequence[str]) -> List[Tuple[int, int, int]]:
    """The value `echo SECRET |` or `printf '%s' SECRET |` writes (also after prose: "run echo
    SECRET | ..."): the last word, if an echo or printf comes before it."""
    writers = [index for index, word in enumerate(words[:-1]) if os.path.basename(word) in ("echo", "printf")]
    return [(-1, 0, len(words[-1]))] if writers else []


def _whole(words: Sequence[str], index: int) -> Tuple[int, int, int]:
    return index, 0, len(words[index])


def _worth_hiding(words: Sequence[str], piped_from: Sequence[str], span: Tuple[int, int, int]) -> bool:
    index, start, end = span
    word = piped_from[index] if index < 0 else words[index]
    value = word[start:end]
    return end > start and REDACTED not in value and is_secret_value(value)


def redact_argv(items: List[Any]) -> bool:
    """An argument vector ["mysql", "--password", "x"]: the item after a secret-named flag without
    its own value is replaced (in place), as are the password of ["curl", "-u", "user:password"]
    and the credentials the program table names (["mysql", "-pPASSWORD"]). Whether anything was."""
    words = [item if isinstance(item, str) else "" for item in items]
    spans = secret_spans(words)
    for index, flag in enumerate(words[:-1]):
        value = words[index + 1]
        if not flag.startswith("-") or not value:
            continue
        if flag in _USER_FLAGS and ":" in value:
            user, _, password = value.partition(":")
            if password != user and not password.isdigit():
                spans.append((index + 1, len(user) + 1, len(value)))
        elif is_flag_name(flag) and is_secret_name(flag):
            spans.append((index + 1, 0, len(value)))
    changed = False
    for index, start, end in sorted(set(spans), reverse=True):
        value = words[index][start:end]
        if index < 0 or end <= start or REDACTED in value or not is_secret_value(value):
            continue
        items[index] = words[index][:start] + REDACTED + words[index][end:]
        words[index] = items[index]
        changed = True
    return changed
