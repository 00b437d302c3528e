"""Shared bits for the sandbox API server tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest

GROUP, VERSION, PLURAL = "example.com", "v1", "widgets"


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": {"size": "small", **spec}}


def api_error(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """The HTTP status and the decoded Status body of a call that must fail."""
    with pytest.raises(kubernetes.client.ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until ``condition()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
