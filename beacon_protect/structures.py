"""Decoded JSON and lists: [name, value] pairs, {"name": ..., "value": ...} objects, argument
vectors, and keys that must stay unique once protected.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Tuple

from beacon_protect.commands import SECRET_FILE_RE, redact_argv
from beacon_protect.names import is_secret_name, is_secret_payload
from beacon_protect.text import CACHE_CHARS, REDACTED

# The same in decoded JSON and events: {"name": ..., "value": ...} with a few more fields at most.
_PAIR_NAME_KEYS = ("name", "Name", "NAME", "key", "Key", "KEY")
_PAIR_VALUE_KEYS = ("value", "Value", "VALUE")
_PAIR_MAX_FIELDS = 8


def redact_list(items: List[Any]) -> bool:
    """A list's credentials (see redact_argv and _redact_listed_pairs), replaced in place;
    whether there were any."""
    changed = redact_argv(items)
    return _redact_listed_pairs(items) or changed


def _redact_listed_pairs(items: List[Any]) -> bool:
    """A list of [name, value] pairs (HTTP header lists, dict items as JSON): the value of each
    pair a secret name labels is replaced, in place. Whether one was."""
    changed = False
    for item in items:
        if (
            isinstance(item, list)
            and len(item) == 2
            and _names_a_secret(item[0])
            and is_secret_payload(item[1])
        ):
            item[1] = REDACTED
            changed = True
    return changed


def redact_object(mapping: Dict[str, Any]) -> bool:
    """An object's credentials that its own fields give away (see redact_pair and
    _redact_secret_file), replaced in place; whether there were any."""
    if _TELLING_KEYS.isdisjoint(mapping):  # most objects: none of the fields these rules read
        return False
    paired = redact_pair(mapping)
    return (not _TARGET_KEYS.isdisjoint(mapping) and _redact_secret_file(mapping)) or paired


# A file written with this content, or a command that read a file with this output: Rails'
# master.key, a private key, a keystore hold a secret however their content reads.
_PATH_KEYS = ("file_path", "path", "filename", "filePath", "target_file")
_CONTENT_KEYS = ("content", "contents", "file_text", "text", "data", "body")
_COMMAND_KEYS = ("arguments", "command", "cmd")
_OUTPUT_KEYS = ("output", "stdout")
_TARGET_KEYS = frozenset((*_CONTENT_KEYS, *_OUTPUT_KEYS))
_TELLING_KEYS = frozenset((*_TARGET_KEYS, "value", "Value", "VALUE"))


def _redact_secret_file(mapping: Dict[str, Any]) -> bool:
    targets: Tuple[str, ...]
    if _names_secret_file(mapping, _PATH_KEYS):
        targets = _CONTENT_KEYS
    elif _names_secret_file(mapping, _COMMAND_KEYS):
        targets = _OUTPUT_KEYS
    else:
        return False
    changed = False
    for key in targets:
        value = mapping.get(key)
        if isinstance(value, str) and value.strip() and value != REDACTED:
            mapping[key] = REDACTED
            changed = True
    return changed


def _names_secret_file(mapping: Mapping[str, Any], keys: Tuple[str, ...]) -> bool:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str) and SECRET_FILE_RE.search(value):
            return True
    return False


def redact_pair(mapping: Dict[str, Any]) -> bool:
    """An object {"name": "DB_PASSWORD", "value": "x"} (Kubernetes env, HAR headers, Postman and
    Terraform variables, az's {"keyName": "key1", "value": "x"}): the value its secret name labels
    is replaced, in place. Whether it was."""
    if len(mapping) > _PAIR_MAX_FIELDS:
        return False
    for value_key in _PAIR_VALUE_KEYS:
        if value_key in mapping:
            break
    else:
        return False
    if not is_secret_payload(mapping[value_key]):
        return False
    # An Azure key listing names its keys key1, key2: "keyName" says the value is one.
    if not any(_names_a_secret(mapping.get(key)) for key in _PAIR_NAME_KEYS) and "keyName" not in mapping:
        return False
    mapping[value_key] = REDACTED
    return True


def _names_a_secret(name: Any) -> bool:
    return isinstance(name, str) and len(name) <= CACHE_CHARS and is_secret_name(name)


def unique_pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    # A repeated key would hide its first value from the by-key pass; such text is redacted as text.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def unique_key(mapping: Mapping[str, Any], key: str) -> str:
    """Two keys that redact (or cut) to the same text both stay: the later one gets a suffix."""
    if key not in mapping:
        return key
    number = 2
    while f"{key}~{number}" in mapping:
        number += 1
    return f"{key}~{number}"


class JsonTooDeep(Exception):
    pass
