"""The rules over one string, in the order they run, and the keyword index that picks them.

Every rule names keywords (lowercase); one scan of the lowercased text finds which occur, and only
the rules with a keyword present run. A string with none (most of them) is returned untouched.
"""

from __future__ import annotations

import re
from typing import Callable, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

from beacon_protect.commands import PROGRAM_NAMES, redact_command_line
from beacon_protect.custom import CustomRules
from beacon_protect.formats import FORMAT_RULES, redact_format
from beacon_protect.labels import LABEL_KEYWORDS, redact_labelled
from beacon_protect.patterns import (
    redact_ado_passwords,
    redact_auth_schemes,
    redact_pem,
    redact_url_passwords,
)
from beacon_protect.prose import (
    CALL_KEYWORDS,
    PAIRED_KEYWORDS,
    PROSE_KEYWORDS,
    SQL_KEYWORDS,
    redact_calls,
    redact_paired_secrets,
    redact_prose,
    redact_sql,
)
from beacon_protect.readers import (
    redact_azure_key_list,
    redact_bare_authority,
    redact_blobs,
    redact_directives,
    redact_netrc,
    redact_pgpass,
    redact_putty,
    redact_tables,
    redact_xml,
)
from beacon_protect.text import fold

Redact = Callable[[str], str]


class Step(NamedTuple):
    keywords: Tuple[str, ...]
    apply: Callable[[str, Redact], str]  # (text, how nested text is redacted) -> text


def _plain(rule: Callable[[str], str]) -> Callable[[str, Redact], str]:
    return lambda text, nested: rule(text)


_SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "key", "pass")

# Before the formats: shapes whose parts a format rule would only partly replace (a private key
# holding base64 that reads as a token, a blob, a URL's password). After them: command lines,
# files and labels, which may quote a value a format rule has already replaced.
_BEFORE: Tuple[Step, ...] = (
    Step(("private key",), _plain(redact_pem)),
    Step(("private-lines", "private-mac"), _plain(redact_putty)),
    Step(("eyj", "ewo", "w3s", "ls0tls1c"), redact_blobs),
    Step(("keyname",), _plain(redact_azure_key_list)),
    Step(PAIRED_KEYWORDS, _plain(redact_paired_secrets)),
    Step(("://",), _plain(redact_url_passwords)),
    Step(("@",), _plain(redact_bare_authority)),
)
_AFTER: Tuple[Step, ...] = (
    Step(("pwd", "password"), _plain(redact_ado_passwords)),
    Step(
        ("cookie", "-u", "--user", "--proxy-user", *(name + " " for name in PROGRAM_NAMES)),
        _plain(redact_command_line),
    ),
    Step(_SECRET_WORDS, _plain(redact_tables)),
    Step((*_SECRET_WORDS, "auth", "psk"), _plain(redact_directives)),
    Step(("machine", "default"), _plain(redact_netrc)),
    Step((":5432:", ":*:", "*:*:", "pgpass"), _plain(redact_pgpass)),
    Step(("</",), _plain(redact_xml)),
    Step(SQL_KEYWORDS, _plain(redact_sql)),
    Step(CALL_KEYWORDS, _plain(redact_calls)),
    Step(LABEL_KEYWORDS, _plain(redact_labelled)),
    Step(PROSE_KEYWORDS, _plain(redact_prose)),
    Step(("bearer", "basic"), _plain(redact_auth_schemes)),
)


# The engine tries the branches of an alternation one by one: the characters text holds most
# often come first, so that at most places the branch that fits is one of the first tried.
_FREQUENT = ' etaoinsrhldcumfpgwybvkxjqz_-."/:0123456789'


def _by_frequency(char: str) -> int:
    at = _FREQUENT.find(char)
    return at if at >= 0 else len(_FREQUENT) + ord(char)


def _trie(words: Iterable[str]) -> str:
    """A pattern matching any of `words`, branching on one character at a time (the engine tries
    an alternation of plain words one by one at every position: a trie is ten times faster)."""
    tree: Dict[str, Dict] = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: Dict[str, Dict]) -> str:
        chars = sorted((char for char in node if char), key=_by_frequency)
        branches = [re.escape(char) + emit(node[char]) for char in chars]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(tree)


class RuleSet:
    """The built-in rules and a user's own (custom.py), behind one keyword index."""

    def __init__(self, custom: Optional[CustomRules] = None) -> None:
        self.custom = custom = custom if custom is not None else CustomRules()
        keywords = (
            {keyword for step in (*_BEFORE, *_AFTER) for keyword in step.keywords}
            | {keyword for rule in FORMAT_RULES for keyword in rule.keywords}
            | set(custom.keywords)
        )
        self.keywords = frozenset(keywords)
        self._formats: Dict[str, Tuple[int, ...]] = {
            word: tuple(index for index, rule in enumerate(FORMAT_RULES) if word in rule.keywords)
            for word in keywords
        }
        # Rules with no keyword are searched for themselves; a match counts as their own keyword.
        self._unprompted = tuple((f"#{rule.id}", rule.pattern) for rule in FORMAT_RULES if not rule.keywords)
        # One search for all of them first (their first characters make a set the engine skips by).
        self._any_unprompted = re.compile(
            "|".join(f"(?:{rule.pattern.pattern})" for rule in FORMAT_RULES if not rule.keywords)
        )
        self._formats.update(
            (f"#{rule.id}", (index,)) for index, rule in enumerate(FORMAT_RULES) if not rule.keywords
        )
        # The engine tries every first character of the index at every place where one occurs: the
        # keywords that begin with a letter make the index; the few others are plain substring
        # searches (://, @, -u, </), which cost less than widening it.
        words = {keyword for keyword in keywords if keyword[:1].isalpha()}
        self._others = tuple(sorted(keywords - words))
        self._any_other = re.compile("|".join(re.escape(keyword) for keyword in self._others))
        self._index = re.compile(_trie(words))
        # A match is the longest keyword at its place: the shorter ones it begins with occur too,
        # and others may begin inside it (the scan goes on after it): those places are tried too.
        self._found: Dict[str, FrozenSet[str]] = {
            match: frozenset(match[:end] for end in range(1, len(match) + 1) if match[:end] in words)
            for match in words
        }
        by_prefix: Dict[str, Set[str]] = {}
        for word in words:
            for end in range(1, len(word) + 1):
                by_prefix.setdefault(word[:end], set()).add(word)
        self._inside: Dict[str, Tuple[Tuple[int, ...], FrozenSet[str]]] = {
            match: _begun_inside(match, by_prefix) for match in words
        }

    def keywords_in(self, text: str) -> FrozenSet[str]:
        """The keywords that occur in `text`, case-insensitively (and "#<rule id>" for each rule
        without keywords whose pattern occurs)."""
        low = fold(text)
        if (
            self._index.search(low) is None
            and self._any_other.search(low) is None
            and self._any_unprompted.search(text) is None
        ):
            return _NOTHING  # most strings
        hits: Set[str] = {keyword for keyword in self._others if keyword in low}
        for match in self._index.finditer(low):
            word = match.group()
            hits.update(self._found[word])
            offsets, could_begin = self._inside[word]
            if could_begin and not could_begin <= hits:
                for offset in offsets:
                    inner = self._index.match(low, match.start() + offset)
                    if inner is not None:
                        hits.update(self._found[inner.group()])
        if self._any_unprompted.search(text):
            hits.update(name for name, pattern in self._unprompted if pattern.search(text))
        return frozenset(hits)

    def redact(self, text: str, hits: FrozenSet[str], nested: Redact) -> str:
        """Every rule with a keyword in `hits`, in order."""
        text = self.custom.redact(text, hits)
        text = _run(_BEFORE, text, hits, nested)
        for index in sorted({index for word in hits for index in self._formats[word]}):
            text = redact_format(FORMAT_RULES[index], text)
        return _run(_AFTER, text, hits, nested)


def _run(steps: Sequence[Step], text: str, hits: FrozenSet[str], nested: Redact) -> str:
    for step in steps:
        if not hits.isdisjoint(step.keywords):
            text = step.apply(text, nested)
    return text


_NOTHING: FrozenSet[str] = frozenset()


def _begun_inside(match: str, by_prefix: Dict[str, Set[str]]) -> Tuple[Tuple[int, ...], FrozenSet[str]]:
    """The offsets inside `match` where another keyword may begin, and those keywords:
    `by_prefix` maps every prefix of a keyword to the keywords it begins."""
    offsets: List[int] = []
    words: Set[str] = set()
    for offset in range(1, len(match)):
        rest = match[offset:]
        here = set(by_prefix.get(rest, ()))  # keywords that go on past the match
        here.update(
            rest[:end] for end in range(1, len(rest) + 1) if rest[:end] in by_prefix.get(rest[:end], ())
        )
        if here:
            offsets.append(offset)
            words |= here
    return tuple(offsets), frozenset(words)


_BUILT_IN: Optional[RuleSet] = None


def rule_set(custom: Optional[CustomRules] = None) -> RuleSet:
    """The rules for a capture: built once for the built-in rules alone."""
    global _BUILT_IN
    if custom:
        return RuleSet(custom)
    if _BUILT_IN is None:
        _BUILT_IN = RuleSet()
    return _BUILT_IN
