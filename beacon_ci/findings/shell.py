"""A command line read as the shell would run it, closely enough to judge it: the simple
commands (stages) it runs, each with its program, its arguments and its redirections, and the
operator before it (`|`, `&&`, `(`, `<(`, ...). Quoted text stays one word, so a commit message or
a pull request body that mentions `curl … | sh` is an argument, never a command; `sh -c`,
`eval`, `sudo`, `env`, `timeout` and friends are looked through, to the command they run.

Not a shell: no expansion, no functions, no aliases. What it cannot read (unbalanced quotes
after truncation) it reads as well as it can, and a reader of its stages must expect odd words.
"""

from __future__ import annotations

import re
import shlex
from typing import FrozenSet, Iterator, List, NamedTuple, Optional, Sequence, Tuple


class Stage(NamedTuple):
    program: str  # normalized: basename, lowercase, versions dropped (python3.12 -> python)
    args: Tuple[str, ...]  # the words after the program, without redirections
    reads: Tuple[str, ...]  # `<` sources
    writes: Tuple[str, ...]  # `>`, `>>` targets
    after: str  # the operator before this stage: "" first, "|", "&&", ";", "(", "<(", ...


# Operators, longest first (shlex hands runs of punctuation over as one token: `)|`, `2>&1`).
OPERATORS: Tuple[str, ...] = tuple(
    sorted(
        {"&&", "||", "|&", ";;", ">>", "<<<", "<<", "<(", ">(", "&>>", "&>", ">&", "<&", "<>", ">|"}
        | {"|", "&", ";", "(", ")", "<", ">"},
        key=len,
        reverse=True,
    )
)
SEPARATORS = frozenset({"&&", "||", "|&", ";;", "|", "&", ";", "(", ")", "<(", ">("})
WRITE_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", "<>"})
FD_REDIRECTS = frozenset({">&", "<&"})  # `2>&1`: the next word is a descriptor, not a file
SKIPPED_REDIRECTS = frozenset({"<<", "<<<"})  # a heredoc's delimiter, a here-string's text
# Words before a command that are not its program: `if curl … | sh; then` runs curl.
NO_OP_WORDS = frozenset({"{", "}", "!", "if", "elif", "while", "until", "then", "do", "else", "time"})

_VERSIONED = re.compile(r"(python|pip|node|ruby|perl|php|pwsh|pipx)[0-9][0-9.]*")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_HEREDOC = re.compile(r"(?<!<)<<(?!<)-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_SHELL_SCRIPT_FLAG = re.compile(r"-[a-zA-Z]*c[a-zA-Z]*")
MAX_DEPTH = 4  # sh -c "sh -c '…'" within sh -c …: deeper than any agent writes

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "busybox"})
POWERSHELLS = frozenset({"pwsh", "powershell"})
# Programs that run the command after their own options: (options that take a value, whether
# the wrapper itself is a stage worth keeping).
WRAPPERS = {
    "sudo": (frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "--user", "--group"}), True),
    "doas": (frozenset({"-u", "-C"}), True),
    "su": (frozenset({"-s", "-g", "-G", "--shell", "--group"}), True),
    "nohup": (frozenset(), False),
    "nice": (frozenset({"-n", "--adjustment"}), False),
    "ionice": (frozenset({"-c", "-n", "-p"}), False),
    "stdbuf": (frozenset({"-i", "-o", "-e"}), False),
    "timeout": (frozenset({"-s", "-k", "--signal", "--kill-after"}), False),
    "xargs": (
        frozenset({"-I", "-n", "-P", "-d", "-L", "-s", "-E", "-a", "--max-args", "--max-procs"}),
        False,
    ),
    "exec": (frozenset({"-a"}), False),
    "env": (frozenset({"-u", "-C", "-S", "--unset", "--chdir", "--split-string"}), False),
    "command": (frozenset(), False),
    "builtin": (frozenset(), False),
    "watch": (frozenset({"-n", "--interval"}), False),
}


def stages(command: str) -> List[Stage]:
    """The simple commands of a command line, in order, with the commands wrappers run."""
    return list(_stages_of(command, 0))


def program_name(word: str) -> str:
    name = word.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if name.endswith(".exe"):
        name = name[:-4]
    versioned = _VERSIONED.fullmatch(name)
    if versioned:
        return versioned.group(1)
    return "mkfs" if name.startswith("mkfs.") else name


def positionals(args: Sequence[str], valued: FrozenSet[str] = frozenset()) -> List[str]:
    """The arguments that are not options (nor the values of `valued` options)."""
    result: List[str] = []
    skip = False
    for index, word in enumerate(args):
        if skip:
            skip = False
        elif word == "--":
            return result + list(args[index + 1 :])
        elif word.startswith("-") and len(word) > 1:
            skip = word in valued
        else:
            result.append(word)
    return result


def _stages_of(command: str, depth: int) -> Iterator[Stage]:
    if depth > MAX_DEPTH:
        return
    for after, words in _split(_tokens(_without_heredoc_bodies(command))):
        yield from _expand(words, after, depth)


def _without_heredoc_bodies(command: str) -> str:
    """A heredoc's body is data for its command (a file being written), not commands: dropped,
    up to the line that ends it."""
    if "<<" not in command:
        return command
    lines = command.split("\n")
    kept: List[str] = []
    delimiter: Optional[str] = None
    for line in lines:
        if delimiter is not None:
            if line.strip() == delimiter:
                delimiter = None
            continue
        kept.append(line)
        match = _HEREDOC.search(line)
        if match:
            delimiter = match.group(2)
    return "\n".join(kept)


def _tokens(command: str) -> List[str]:
    """Words and operators. Newlines separate commands; a comment runs to the line's end."""
    text = command.replace("\\\r\n", " ").replace("\\\n", " ")
    text = "\n".join(_uncommented(line) for line in text.split("\n")).replace("\n", " ; ")
    for ending in ("", '"', "'"):  # a command cut short (truncated) may leave a quote open
        lexer = shlex.shlex(text + ending, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = ""  # `#` mid-word (a URL's fragment) is not a comment; see _uncommented
        try:
            return [token for raw in lexer for token in _operators(raw)]
        except ValueError:
            continue
    return []


def _uncommented(line: str) -> str:
    """The line up to a `#` that starts a word outside quotes (a shell comment)."""
    if "#" not in line:
        return line
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t;&|("):
            return line[:index]
    return line


def _operators(token: str) -> List[str]:
    """A run of punctuation as the operators it holds (`)|` is `)` then `|`); a word as itself."""
    if not token or token[0] not in "();<>|&" or token.strip("();<>|&"):
        return [token]
    found: List[str] = []
    rest = token
    while rest:
        operator = next((op for op in OPERATORS if rest.startswith(op)), rest[0])
        found.append(operator)
        rest = rest[len(operator) :]
    return found


def _split(tokens: List[str]) -> Iterator[Tuple[str, List[str]]]:
    """(operator before, words with their redirections) per simple command."""
    after = ""  # the first stage follows nothing
    words: List[str] = []
    for token in tokens:
        if token in SEPARATORS:
            if words:
                yield after, words
            after, words = token, []
        else:
            words.append(token)
    if words:
        yield after, words


def _expand(words: List[str], after: str, depth: int) -> Iterator[Stage]:
    """A simple command's stage, then the stages of what it runs (wrappers, shells, eval)."""
    if depth > MAX_DEPTH:
        return
    args, reads, writes = _redirections(words)
    while args and args[0] in NO_OP_WORDS:
        args = args[1:]
    assignments = []
    while args and _ASSIGNMENT.match(args[0]):
        assignments.append(args.pop(0))
    if assignments:  # `A=1 cmd` sets A for cmd: judged as `export A=1`
        yield Stage("export", tuple(assignments), (), (), after)
    if not args:
        return
    program, rest = program_name(args[0]), tuple(args[1:])
    wrapper = WRAPPERS.get(program)
    if wrapper is None or wrapper[1] or reads or writes:
        yield Stage(program, rest, tuple(reads), tuple(writes), after)
    elif program == "env" and all(_ASSIGNMENT.match(word) for word in _wrapped(program, rest)):
        yield Stage(program, rest, (), (), after)  # no command: env prints the environment
    yield from _inner(program, rest, after, depth)


def _redirections(words: List[str]) -> Tuple[List[str], List[str], List[str]]:
    args: List[str] = []
    reads: List[str] = []
    writes: List[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else ""
        if word.isdigit() and following in WRITE_REDIRECTS | FD_REDIRECTS | {"<"}:
            index += 1  # the descriptor of `2>file`
            continue
        if word in WRITE_REDIRECTS or word in FD_REDIRECTS or word in SKIPPED_REDIRECTS or word == "<":
            if following and (word in WRITE_REDIRECTS or (word == ">&" and not _descriptor(following))):
                writes.append(following)  # `>& file` sends both streams to the file
            elif word == "<" and following:
                reads.append(following)
            index += 2
            continue
        args.append(word)
        index += 1
    return args, reads, writes


def _descriptor(word: str) -> bool:
    return word.isdigit() or word == "-"


def _inner(program: str, args: Tuple[str, ...], after: str, depth: int) -> Iterator[Stage]:
    """The stages a program runs: a wrapper's command, a shell's -c script, eval's words,
    `python -m module`."""
    if program in WRAPPERS:
        yield from _expand(_wrapped(program, args), after, depth + 1)
    elif program in SHELLS | POWERSHELLS | {"eval"}:
        script = _script(program, args)
        if script is not None:
            yield from _stages_of(script, depth + 1)
    elif program == "python" and len(args) >= 2 and args[0] == "-m":
        yield Stage(program_name(args[1]), args[2:], (), (), after)


def _wrapped(program: str, args: Tuple[str, ...]) -> List[str]:
    """The command a wrapper runs, after its options (and timeout's duration)."""
    valued, _ = WRAPPERS[program]
    if program == "command" and args[:1] in (("-v",), ("-V",)):
        return []  # a lookup, not a run
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] != "--":
        index += 2 if args[index] in valued else 1
    if index < len(args) and args[index] == "--":
        index += 1
    if program == "timeout":
        index += 1  # the duration
    if program == "su":  # su runs a -c script as its user, else a login shell
        script = next((args[i + 1] for i in range(len(args) - 1) if args[i] in ("-c", "--command")), None)
        return ["sh", "-c", script] if script is not None else []
    return list(args[index:])


def _script(program: str, args: Tuple[str, ...]) -> Optional[str]:
    """The script a shell runs from its arguments (`-c`, PowerShell's -Command), eval's words."""
    if program == "eval":
        return " ".join(args)
    for index, word in enumerate(args[:-1]):
        if program in POWERSHELLS and word.lower() in ("-c", "-command"):
            return " ".join(args[index + 1 :])
        if program in SHELLS and _SHELL_SCRIPT_FLAG.fullmatch(word):
            return args[index + 1]
    return None


def script_flag(program: str, args: Sequence[str]) -> bool:
    """Whether a shell runs a -c script (its stdin is then data, not the program)."""
    return program in SHELLS and any(_SHELL_SCRIPT_FLAG.fullmatch(word) for word in args)
