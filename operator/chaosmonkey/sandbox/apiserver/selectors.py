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


_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A strategic merge patch without the OpenAPI schema: a merge patch plus the directives.

    Knows ``$patch: replace|delete``, ``$retainKeys``, ``$deleteFromPrimitiveList/F`` and
    ``$setElementOrder/F``. The last marks ``F`` as a merge list (clients send it for every
    changed merge list, as Helm's and kubectl's three-way patches do); its entries name the merge
    key (``{"name": ...}``, ``{"containerPort": ...}``). Other lists are replaced.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {key: copy.deepcopy(value) for key, value in patch.items() if key != "$patch"}
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        elif isinstance(value, list):
            order = patch.get(_ORDER + key)
            if isinstance(order, list) and isinstance(result.get(key), list):
                result[key] = _merge_list(result[key], value, order)
            else:
                result[key] = [_strip_directives(item) for item in value]
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return _list_directives(result, patch)


def _list_directives(result: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply the directives that act on ``result`` after the merge: deletions, order, retained keys."""
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVES):
            field_name = key[len(_DELETE_PRIMITIVES) :]
            if isinstance(result.get(field_name), list):
                result[field_name] = [item for item in result[field_name] if item not in value]
        elif key.startswith(_ORDER) and key[len(_ORDER) :] not in patch:
            field_name = key[len(_ORDER) :]
            if isinstance(result.get(field_name), list):
                result[field_name] = _merge_list(result[field_name], [], value)
    if isinstance(patch.get("$retainKeys"), list):
        return {key: value for key, value in result.items() if key in patch["$retainKeys"]}
    return result


def _merge_list(current: list[Any], patch: list[Any], order: list[Any]) -> list[Any]:
    """Merge ``patch`` into ``current`` by merge key, then sort as ``order`` says."""
    merge_key = next(iter(order[0]), None) if order and isinstance(order[0], dict) else None
    if merge_key is None:  # a list of primitives with the merge strategy: a set union
        merged = list(current) + [item for item in patch if item not in current]
        identity: Callable[[Any], Any] = lambda item: item  # noqa: E731
    else:
        merged = list(current)
        identity = lambda item: item.get(merge_key) if isinstance(item, dict) else item  # noqa: E731
        for item in patch:
            if not isinstance(item, dict):
                continue
            found = next((index for index, old in enumerate(merged) if identity(old) == identity(item)), None)
            if item.get("$patch") == "delete":
                if found is not None:
                    del merged[found]
            elif found is None:
                merged.append(_strip_directives(item))
            else:
                merged[found] = strategic_merge_patch(merged[found], item)
    wanted = [identity(entry) for entry in order]
    ranked = {value: index for index, value in enumerate(wanted) if _hashable(value)}
    return sorted(
        merged,
        key=lambda item: (
            ranked.get(identity(item), len(wanted)) if _hashable(identity(item)) else len(wanted)
        ),
    )


def _hashable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def _strip_directives(value: Any) -> Any:
    """A patch value with its ``$`` directives removed, for a list element or key that is replaced."""
    if isinstance(value, dict):
        return {key: _strip_directives(item) for key, item in value.items() if not key.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(item) for item in value]
    return value


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
