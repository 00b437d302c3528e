"""A helm-sdkpy worker process: ``python helm_worker.py KUBECONFIG``, one JSON request per stdin line.

Helm reads ``HELM_DRIVER`` when the Go runtime starts, so the Helm calls run in this subprocess,
started with ``HELM_DRIVER=memory`` (as in ``tests/sandbox/test_helm.py``). One Helm
``Configuration`` per release namespace is kept for the worker's life, so the memory driver
remembers releases between requests.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from typing import Any

ANSWER = "HELM-WORKER "  # prefixes the answers; Helm itself may print to stdout


def main(kubeconfig: str) -> None:  # pragma: no cover - runs in the subprocess
    helm_sdkpy = importlib.import_module("helm_sdkpy")
    configs: dict[str, Any] = {}
    for line in sys.stdin:
        request = json.loads(line)
        action = request.pop("action")
        try:
            namespace = request.get("namespace", "default")
            if namespace not in configs:
                configs[namespace] = helm_sdkpy.Configuration(namespace=namespace, kubeconfig=kubeconfig)
            result = asyncio.run(_run(helm_sdkpy, configs[namespace], action, request))
        except Exception as exc:  # reported to the test
            result = {"error": str(exc), "type": type(exc).__name__}
        print(ANSWER + json.dumps(result), flush=True)


async def _run(helm_sdkpy: Any, config: Any, action: str, request: dict[str, Any]) -> Any:
    if action == "ready":
        return {"version": helm_sdkpy.get_version()}
    if action == "lint":
        return await helm_sdkpy.Lint(config).run(request["chart"])
    if action == "install":
        return await helm_sdkpy.Install(config).run(
            request["release"],
            request["chart"],
            values=request.get("values") or {},
            wait=False,
            timeout=20,
            take_ownership=True,
        )
    if action == "uninstall":
        return await helm_sdkpy.Uninstall(config).run(request["release"], wait=False, timeout=20)
    raise ValueError(f"unknown action {action!r}")


if __name__ == "__main__":
    main(sys.argv[1])
