"""``chaosmonkey run``: the operator process.

Starts kopf (standalone: leader election is our own Lease, see :mod:`chaosmonkey.leader`), the
``/healthz`` and ``/metrics`` endpoint, and the :class:`~chaosmonkey.controller.ChaosOperator`.
SIGINT and SIGTERM stop it cleanly: the Lease is released, pending status writes are flushed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import socket
import threading
import uuid
from typing import Any

import kopf
from aiohttp import web

from chaosmonkey.attacks import delete_pod
from chaosmonkey.controller import ChaosOperator
from chaosmonkey.kube import KubeClient, load_api_client
from chaosmonkey.leader import LeaseElector
from chaosmonkey.registry import load_registry
from chaosmonkey.settings import OperatorSettings
from chaosmonkey.timeutil import UTC

log = logging.getLogger(__name__)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log pipelines."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: OperatorSettings) -> None:
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # kopf and the clients are chatty at INFO; their warnings still show.
    for noisy in ("kopf", "kubernetes", "urllib3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))


async def serve_health(operator: ChaosOperator, settings: OperatorSettings) -> web.AppRunner:
    """``/healthz`` (liveness: the event loop answers) and ``/metrics`` (Prometheus)."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "leading": operator.leading})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=operator.metrics.render(), content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.health_address, settings.health_port).start()
    return runner


async def run_operator(
    settings: OperatorSettings,
    *,
    kubeconfig: str | None = None,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
) -> None:
    """Run one operator replica until ``stop_flag`` is set (or a signal stops kopf)."""
    plugins = load_registry()
    api_client = load_api_client(kubeconfig)
    delete_pod.set_api_client_factory(lambda: api_client)
    kube = KubeClient(api_client)
    operator = ChaosOperator(settings, plugins, kube)
    if settings.leader_election:
        identity = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        operator.elector = LeaseElector(
            api_client,
            namespace=settings.operator_namespace,
            name=settings.lease_name,
            identity=identity,
            on_started_leading=operator.start_leading,
            on_stopped_leading=operator.stop_leading,
            lease_duration=settings.lease_duration_seconds,
            renew_deadline=settings.lease_renew_deadline_seconds,
            retry_period=settings.lease_retry_period_seconds,
        )
    registry = kopf.OperatorRegistry()
    operator.register(registry)
    health = await serve_health(operator, settings)
    try:
        await kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        await health.cleanup()
        api_client.close()


def main(settings: OperatorSettings, kubeconfig: str | None = None) -> int:
    configure_logging(settings)
    if kubeconfig is None and os.environ.get("KUBECONFIG"):
        kubeconfig = os.environ["KUBECONFIG"]
    log.info("starting chaosmonkey operator (namespaces: %s)", ", ".join(settings.namespaces) or "all")
    asyncio.run(run_operator(settings, kubeconfig=kubeconfig))
    return 0
