"""Structural OpenAPI v3 (CRD) schema walking: validation, defaulting and pruning in one pass.

CRD schemas are close to, but not, JSON Schema (``nullable``, ``x-kubernetes-int-or-string``,
``x-kubernetes-preserve-unknown-fields``, no ``$ref``), and the API server reports errors by field
path in its own wording, so this walks the schema itself rather than translating it for jsonschema.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_TYPE_CHECKS: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


@dataclass(frozen=True)
class FieldError:
    """One invalid field, as the API server lists it in ``details.causes``."""

    field: str
    reason: str
    message: str


def _show(value: Any) -> str:
    return json.dumps(value)


def apply_schema(value: Any, schema: dict[str, Any], path: str, errors: list[FieldError]) -> Any:
    """Return ``value`` with defaults applied and unknown fields pruned; append problems to ``errors``."""
    if value is None:
        if not schema.get("nullable"):
            expected = schema.get("type", "object")
            errors.append(FieldError(path, "FieldValueInvalid", f"{path}: Invalid value: \"null\": "
                                     f"{path} in body must be of type {expected}: \"null\""))
        return value
    if schema.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or _TYPE_CHECKS["integer"](value)):
            errors.append(FieldError(path, "FieldValueInvalid",
                                     f"{path}: Invalid value: {_show(value)}: {path} in body must be of type "
                                     f"integer-or-string"))
            return value
    elif "type" in schema:
        expected = schema["type"]
        if not _TYPE_CHECKS.get(expected, lambda _v: True)(value):
            errors.append(FieldError(path, "FieldValueInvalid",
                                     f"{path}: Invalid value: \"{_type_name(value)}\": {path} in body "
                                     f"must be of type {expected}: \"{_type_name(value)}\""))
            return value
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(_show(choice) for choice in schema["enum"])
        errors.append(FieldError(path, "FieldValueNotSupported",
                                 f"{path}: Unsupported value: {_show(value)}: supported values: {supported}"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_bounds(value, schema, path, errors)
    if isinstance(value, str):
        _check_string(value, schema, path, errors)
    if isinstance(value, dict):
        return _apply_object(value, schema, path, errors)
    if isinstance(value, list):
        _check_array(value, schema, path, errors)
        item_schema = schema.get("items")
        if isinstance(item_schema, dict):
            return [apply_schema(item, item_schema, f"{path}[{index}]", errors)
                    for index, item in enumerate(value)]
    return value


def _type_name(value: Any) -> str:
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if _TYPE_CHECKS[name](value):
            return name
    return "null"


def _check_bounds(value: float, schema: dict[str, Any], path: str, errors: list[FieldError]) -> None:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if minimum is not None and (value < minimum or (schema.get("exclusiveMinimum") and value == minimum)):
        relation = "greater than" if schema.get("exclusiveMinimum") else "greater than or equal to"
        errors.append(FieldError(path, "FieldValueInvalid",
                                 f"{path}: Invalid value: {_show(value)}: {path} in body should be "
                                 f"{relation} {minimum}"))
    if maximum is not None and (value > maximum or (schema.get("exclusiveMaximum") and value == maximum)):
        relation = "less than" if schema.get("exclusiveMaximum") else "less than or equal to"
        errors.append(FieldError(path, "FieldValueInvalid",
                                 f"{path}: Invalid value: {_show(value)}: {path} in body should be "
                                 f"{relation} {maximum}"))


def _check_string(value: str, schema: dict[str, Any], path: str, errors: list[FieldError]) -> None:
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(FieldError(path, "FieldValueTooLong",
                                 f"{path}: Too long: may not be more than {schema['maxLength']} bytes"))
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(FieldError(path, "FieldValueInvalid",
                                 f"{path}: Invalid value: {_show(value)}: {path} in body should be at least "
                                 f"{schema['minLength']} chars long"))
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(FieldError(path, "FieldValueInvalid",
                                 f"{path}: Invalid value: {_show(value)}: {path} in body should match "
                                 f"'{schema['pattern']}'"))


def _check_array(value: list[Any], schema: dict[str, Any], path: str, errors: list[FieldError]) -> None:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(FieldError(path, "FieldValueTooMany",
                                 f"{path}: Too many: {len(value)}: must have at most "
                                 f"{schema['maxItems']} items"))
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(FieldError(path, "FieldValueInvalid",
                                 f"{path}: Invalid value: {len(value)}: {path} in body should have at least "
                                 f"{schema['minItems']} items"))


def _apply_object(value: dict[str, Any], schema: dict[str, Any], path: str,
                  errors: list[FieldError]) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    result: dict[str, Any] = {}
    for key, item in value.items():
        child_path = f"{path}.{key}" if path else key
        if key in properties:
            result[key] = apply_schema(item, properties[key], child_path, errors)
        elif isinstance(additional, dict):
            result[key] = apply_schema(item, additional, child_path, errors)
        elif additional is True or preserve:
            result[key] = item
        # else: pruned, as the API server drops fields the structural schema does not know.
    for key, child_schema in properties.items():
        if key not in result and isinstance(child_schema, dict) and "default" in child_schema:
            child_path = f"{path}.{key}" if path else key
            result[key] = apply_schema(json.loads(json.dumps(child_schema["default"])), child_schema,
                                       child_path, errors)
    for key in schema.get("required") or []:
        if key not in result:
            child_path = f"{path}.{key}" if path else key
            errors.append(FieldError(child_path, "FieldValueRequired", f"{child_path}: Required value"))
    return result


def apply_root_schema(obj: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """Apply a CRD version's schema to a whole object, keeping ``apiVersion``, ``kind``, ``metadata``."""
    errors: list[FieldError] = []
    kept: dict[str, Any] = {key: obj[key] for key in ("apiVersion", "kind", "metadata") if key in obj}
    rest = {key: item for key, item in obj.items() if key not in kept}
    root = {key: item for key, item in schema.items() if key != "required"}
    root_properties = {key: item for key, item in (schema.get("properties") or {}).items()
                       if key not in ("apiVersion", "kind", "metadata")}
    root["properties"] = root_properties
    applied = _apply_object(rest, root, "", errors)
    for key in schema.get("required") or []:
        if key not in applied and key not in kept:
            errors.append(FieldError(key, "FieldValueRequired", f"{key}: Required value"))
    return {**kept, **applied}, errors
