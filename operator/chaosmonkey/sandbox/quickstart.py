"""``chaosmonkey sandbox``: the operator on an embedded API server, no cluster needed.

One process runs the embedded API server (a stand-in for tests and trying things out, not a
cluster: see :mod:`chaosmonkey.sandbox.apiserver`) with the ChaosPlan CRD, writes a kubeconfig
for it, and runs the real operator against it until interrupted. Apply plans with
``kubectl --kubeconfig FILE apply --validate=false -f plan.yaml`` and watch them with
``kubectl get chaosplans``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
from pathlib import Path
from typing import TextIO

import yaml

from chaosmonkey.app import configure_logging, run_operator
from chaosmonkey.sandbox.apiserver import APIServer
from chaosmonkey.settings import OperatorSettings

#: A copy of the repository's crds/ shipped in the package (a test keeps them identical).
PACKAGED_CRDS = Path(__file__).parent / "crds"


async def run_sandbox(
    kubeconfig: Path,
    *,
    port: int = 0,
    apply: list[Path] | None = None,
    settings: OperatorSettings | None = None,
    out: TextIO = sys.stdout,
) -> None:
    server = APIServer(crds_dir=PACKAGED_CRDS, auto_create_namespaces=True)
    url = await server.start(port=port)
    try:
        server.write_kubeconfig(kubeconfig)
        for path in apply or []:
            for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if document:
                    await _create(url, document)
        out.write(
            f"ready {url}\n"
            f"The operator runs against an embedded API server (a stand-in, not a cluster). Try:\n"
            f"  export KUBECONFIG={kubeconfig.resolve()}\n"
            f"  kubectl apply --validate=false -f examples/exact-planner.yaml\n"
            f"  kubectl get chaosplans -A\n"
            f"Stop with Ctrl-C.\n"
        )
        out.flush()
        settings = settings or OperatorSettings()
        settings = dataclasses.replace(
            settings, leader_election=False, health_address="127.0.0.1", operator_namespace="default"
        )
        await run_operator(settings, kubeconfig=str(kubeconfig))
    finally:
        await server.stop()


async def _create(url: str, document: dict[str, object]) -> None:
    """Create one object through the server's own HTTP API, as kubectl would."""
    from kubernetes import client, utils  # noqa: PLC0415 - only --apply needs it

    def create() -> None:
        configuration = client.Configuration()
        configuration.host = url
        with client.ApiClient(configuration) as api_client:
            if document.get("kind") == "ChaosPlan":
                metadata = document.get("metadata") or {}
                namespace = metadata.get("namespace", "default") if isinstance(metadata, dict) else "default"
                client.CustomObjectsApi(api_client).create_namespaced_custom_object(
                    "chaosmonkey.io", "v1alpha1", namespace, "chaosplans", document
                )
            else:
                utils.create_from_dict(api_client, document)

    await asyncio.to_thread(create)


def main(kubeconfig: Path, *, port: int, apply: list[Path], settings: OperatorSettings) -> int:
    configure_logging(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_sandbox(kubeconfig, port=port, apply=apply, settings=settings))
    return 0
