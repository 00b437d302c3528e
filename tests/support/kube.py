"""kmock's Kubernetes API emulator on loopback, in a background thread, with pods in it.

``kube_emulator()`` starts ``kmock.KubernetesEmulator`` (the bundled built-in resources loaded)
behind a real aiohttp server on 127.0.0.1 and a free port, in its own event loop thread, so the
synchronous ``kubernetes`` client can talk to it over HTTP::

    with kube_emulator() as kube:
        kube.add_pod("chaos", "web-1", labels={"app": "web"}, owner=kube.add_deployment("chaos", "web"))
        kube.refuse_evictions("web-1")            # as a PodDisruptionBudget would
        api_client = kube.api_client()            # kubernetes.client.ApiClient for the emulator
        ...
        assert kube.pod_names("chaos") == {...}

kmock has no Eviction API (a POST to ``pods/NAME/eviction`` is not a Kubernetes action it
knows), so :class:`KubeEmulator` adds one reaction for it: the pod is deleted and a Success
Status is answered (with 200, as kmock answers every reaction), or, for pods named in :meth:`KubeEmulator.refuse_evictions`, 429 TooManyRequests with the
API server's Status and message for a PodDisruptionBudget refusal. Everything else is kmock's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import kmock
from kubernetes import client as k8s

START_DEADLINE_SECONDS = 15.0
PODS = "v1/pods"
EVENTS = "v1/events"
REPLICASETS = "apps/v1/replicasets"
DEPLOYMENTS = "apps/v1/deployments"

#: What the API server says when an eviction would violate a PodDisruptionBudget.
PDB_REFUSAL = "Cannot evict pod as it would violate the pod's disruption budget."


class KubeEmulator:
    """A running emulator: its URL, a client for it, and helpers to seed and inspect it."""

    def __init__(self, emulator: kmock.KubernetesEmulator, url: str) -> None:
        self.emulator = emulator
        self.url = url
        self.refused: set[tuple[str, str]] = set()
        self.evictions: list[tuple[str, str]] = []
        emulator[kmock.method.POST, kmock.subresource("eviction")] << self._evict

    # -- clients -------------------------------------------------------------------------------

    def api_client(self) -> k8s.ApiClient:
        configuration = k8s.Configuration()
        configuration.host = self.url
        return k8s.ApiClient(configuration)

    # -- seeding -------------------------------------------------------------------------------

    def add_pod(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        phase: str = "Running",
        age_seconds: float = 3600,
        owner: Mapping[str, Any] | None = None,
        deleting: bool = False,
        node_name: str = "node-1",
    ) -> dict[str, Any]:
        """A pod ``age_seconds`` old in ``phase``; ``owner`` is an ownerReference (controller)."""
        created = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_seconds)
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "labels": dict(labels or {}),
            "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if owner is not None:
            metadata["ownerReferences"] = [dict(owner)]
        if deleting:
            metadata["deletionTimestamp"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": {"nodeName": node_name, "containers": [{"name": "main", "image": "busybox"}]},
            "status": {"phase": phase},
        }
        self.emulator.objects[PODS, namespace, name] = pod
        return pod

    def add_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """A Deployment and its ReplicaSet; returns the ownerReference for the ReplicaSet's pods."""
        deployment_uid = str(uuid.uuid4())
        self.emulator.objects[DEPLOYMENTS, namespace, name] = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "uid": deployment_uid},
        }
        replica_set = f"{name}-7d9f8b6c5"
        return self.add_replica_set(
            namespace,
            replica_set,
            owner={
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": name,
                "uid": deployment_uid,
                "controller": True,
            },
        )

    def add_replica_set(
        self, namespace: str, name: str, *, owner: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A ReplicaSet (owned by ``owner``, if given); returns the ownerReference for its pods."""
        uid = str(uuid.uuid4())
        metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": uid}
        if owner is not None:
            metadata["ownerReferences"] = [dict(owner)]
        self.emulator.objects[REPLICASETS, namespace, name] = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": metadata,
        }
        return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": uid, "controller": True}

    def refuse_evictions(self, namespace: str, *names: str) -> None:
        """Answer 429 to evictions of these pods, as for a PodDisruptionBudget at its limit."""
        self.refused.update((namespace, name) for name in names)

    # -- inspection ----------------------------------------------------------------------------

    def pod_names(self, namespace: str) -> set[str]:
        """Names of the pods that still exist in ``namespace``."""
        return {
            name
            for (resource, ns, name), obj in self.emulator.objects.items()
            if resource == kmock.resource(PODS) and ns == namespace and not obj.deleted
        }

    def events(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Events posted (in ``namespace``, or everywhere)."""
        return [
            dict(obj.raw)
            for (resource, ns, _), obj in self.emulator.objects.items()
            if resource == kmock.resource(EVENTS)
            and (namespace is None or ns == namespace)
            and not obj.deleted
        ]

    def writes(self) -> list[str]:
        """``METHOD path`` of every request that could change something (not GET)."""
        return [
            f"{request.method.value} {request.url.path}"
            for request in list(self.emulator)
            if request.method != kmock.method.GET
        ]

    # -- the Eviction API ----------------------------------------------------------------------

    def _evict(self, request: kmock.Request) -> dict[str, Any]:
        namespace, name = request.namespace or "", request.name or ""
        if (namespace, name) in self.refused:
            cause = {"reason": "DisruptionBudget", "message": "The disruption budget needs 2 healthy pods"}
            # kmock answers a raised KubernetesError with a Status of that code, as the API does.
            raise kmock.KubernetesError(
                status=429,
                reason="TooManyRequests",
                message=PDB_REFUSAL,
                details={"name": name, "kind": "pods", "causes": [cause]},
            )
        key = (kmock.resource(PODS), namespace, name)
        if key not in self.emulator.objects or self.emulator.objects[key].deleted:
            raise kmock.KubernetesError(
                status=404, reason="NotFound", message=f'pods "{name}" not found', details={"name": name}
            )
        self.emulator.objects[key].delete()
        self.evictions.append((namespace, name))
        return {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Success", "code": 201}


@contextmanager
def kube_emulator() -> Iterator[KubeEmulator]:
    """Run the emulator in a thread of its own; stop it when the block ends."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        state["loop"], state["stop"] = asyncio.get_running_loop(), stop
        try:
            emulator = kmock.KubernetesEmulator()
            with warnings.catch_warnings():
                # kmock reads its bundled resources with a deprecated importlib call.
                warnings.simplefilter("ignore", DeprecationWarning)
                emulator.resources.load_bundled()
            async with emulator, kmock.Server(emulator) as server:
                state["handle"] = KubeEmulator(emulator, str(server.url).rstrip("/"))
                ready.set()
                await stop.wait()
        except BaseException as exc:
            state["error"] = exc
            raise
        finally:
            ready.set()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="kmock", daemon=True)
    thread.start()
    if not ready.wait(START_DEADLINE_SECONDS) or "handle" not in state:
        raise RuntimeError(f"the kmock emulator did not start: {state.get('error')!r}")
    try:
        yield state["handle"]
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(timeout=10)
