"""Label and field selectors as the API server parses them, and the three patch formats."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

ObjectPredicate = Callable[[dict[str, Any]], bool]

_SET_TERM = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALITY_TERM = re.compile(r"^\s*([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([^\s!=()]+)\s*$")


class SelectorError(ValueError):
    """A selector the server cannot parse (answered as 400 BadRequest)."""


def _split_terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term for term in terms if term.strip()]


def _label_check(labels: dict[str, str], operator: str, key: str, values: frozenset[str]) -> bool:
    if operator == "in":
        return labels.get(key) in values
    if operator == "notin":
        return labels.get(key) not in values
    if operator == "exists":
        return key in labels
    if operator == "!exists":
        return key not in labels
    if operator == "!=":
        return labels.get(key) not in values
    return labels.get(key) in values  # = and ==


def parse_label_selector(selector: str) -> ObjectPredicate:
    """Compile ``a=b,c!=d,e in (f,g),h notin (i),j,!k`` into a predicate on objects."""
    checks: list[tuple[str, str, frozenset[str]]] = []
    for term in _split_terms(selector):
        if match := _SET_TERM.match(term):
            key, operator, raw_values = match.groups()
            values = frozenset(value.strip() for value in raw_values.split(",") if value.strip())
            checks.append((operator, key, values))
        elif match := _EQUALITY_TERM.match(term):
            key, operator, value = match.groups()
            checks.append((operator, key, frozenset({value})))
        elif match := _EXISTS_TERM.match(term):
            negated, key = match.groups()
            checks.append(("!exists" if negated else "exists", key, frozenset()))
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")

    def predicate(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(_label_check(labels, operator, key, values) for operator, key, values in checks)

    return predicate


def _field_value(obj: dict[str, Any], dotted: str) -> str:
    current: Any = obj
    for part in dotted.split("."):
        if not isinstance(current, dict):
            return ""
        current = current.get(part)
    return "" if current is None else str(current)


def parse_field_selector(selector: str) -> ObjectPredicate:
    """Compile ``metadata.name=x,status.phase!=Running`` (any dotted path, = / == / !=)."""
    checks: list[tuple[str, bool, str]] = []
    for term in _split_terms(selector):
        match = _EQUALITY_TERM.match(term)
        if not match:
            raise SelectorError(f"invalid field selector: {term!r}")
        path, operator, value = match.groups()
        checks.append((path, operator != "!=", value))

    def predicate(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, path) == value) == equal for path, equal, value in checks)

    return predicate


def label_selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a structured ``LabelSelector`` (matchLabels / matchExpressions) selects these labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


class PatchError(ValueError):
    """A patch that cannot be applied (answered as 422 or 400)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; ``null`` deletes a key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer: {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _resolve(document: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(document, list):
            document = document[int(part)]
        elif isinstance(document, dict):
            document = document[part]
        else:
            raise PatchError("path does not exist")
    return document


def _remove(document: Any, parts: list[str]) -> Any:
    parent = _resolve(document, parts[:-1])
    key = parts[-1]
    if isinstance(parent, list):
        return parent.pop(int(key))
    return parent.pop(key)


def _add(document: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _resolve(document, parts[:-1])
    key = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if key == "-" else int(key)
        if not 0 <= index <= len(parent):
            raise PatchError("index out of range")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[key] = value
    else:
        raise PatchError("path does not exist")
    return document


def _apply_operation(document: Any, operation: dict[str, Any]) -> Any:
    op, parts = operation["op"], _pointer(operation["path"])
    if op == "add":
        return _add(document, parts, copy.deepcopy(operation["value"]))
    if op == "remove":
        _remove(document, parts)
        return document
    if op == "replace":
        _resolve(document, parts)  # must exist
        if parts:
            _remove(document, parts)
        return _add(document, parts, copy.deepcopy(operation["value"]))
    if op in ("move", "copy"):
        source = _pointer(operation["from"])
        moved = _remove(document, source) if op == "move" else copy.deepcopy(_resolve(document, source))
        return _add(document, parts, moved)
    if op == "test":
        if _resolve(document, parts) != operation["value"]:
            raise PatchError(f"test failed at {operation['path']}")
        return document
    raise PatchError(f"unknown JSON patch operation {op!r}")


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch: add, remove, replace, move, copy, test."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    document = copy.deepcopy(target)
    try:
        for operation in operations:
            document = _apply_operation(document, operation)
    except PatchError:
        raise
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise PatchError(f"unable to apply JSON patch: {exc}") from exc
    return document
