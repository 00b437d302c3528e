"""``meta.k8s.io/v1`` Table responses for ``kubectl get``, from CRD ``additionalPrinterColumns``."""

from __future__ import annotations

import datetime
from typing import Any

from .registry import ResourceInfo


def wants_table(accept: str) -> bool:
    """kubectl's human output asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` first."""
    first = accept.split(",", maxsplit=1)[0]
    return "as=Table" in first and "g=meta.k8s.io" in first


def _simple_jsonpath(obj: Any, path: str) -> Any:
    """``.spec.size``-style paths only (what printer columns use almost always)."""
    current = obj
    for part in path.strip().lstrip(".").split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    created = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    seconds = max(0, int((datetime.datetime.now(datetime.UTC) - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def to_table(info: ResourceInfo, objects: list[dict[str, Any]], resource_version: str) -> dict[str, Any]:
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
    printer = [column for column in info.printer_columns if column.get("name", "").lower() != "age"]
    columns += [{"name": column["name"], "type": column.get("type", "string"),
                 "format": column.get("format", ""), "description": column.get("description", ""),
                 "priority": column.get("priority", 0)} for column in printer]
    columns.append({"name": "Age", "type": "date", "format": "", "description": "Age", "priority": 0})
    rows = []
    for obj in objects:
        cells: list[Any] = [obj["metadata"]["name"]]
        for column in printer:
            value = _simple_jsonpath(obj, column.get("jsonPath", ""))
            cells.append("<none>" if value is None else value)
        cells.append(_age(obj["metadata"].get("creationTimestamp")))
        rows.append({"cells": cells, "object": obj})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": resource_version}, "columnDefinitions": columns, "rows": rows}
