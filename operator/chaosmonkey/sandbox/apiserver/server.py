"""The aiohttp application: routing, the indexed store, watches, faults and the request log."""

from __future__ import annotations

import asyncio
import collections
import copy
import datetime
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from .registry import Registry, ResourceInfo, load_crd_manifests
from .schema import FieldError, apply_root_schema
from .selectors import (
    ObjectPredicate,
    PatchError,
    SelectorError,
    json_patch,
    label_selector_matches,
    merge_patch,
    parse_field_selector,
    parse_label_selector,
    strategic_merge_patch,
)
from .tables import to_table, wants_table

JSON = dict[str, Any]
PRECREATED_NAMESPACES = ("default", "kube-system", "kube-public")
_NOT_SPEC_KEYS = frozenset({"metadata", "status", "apiVersion", "kind"})
_DROP_WATCH = object()  # queued to a watcher to make it close its stream


class APIError(Exception):
    """An error answered as a Kubernetes ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: JSON | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def status(self) -> JSON:
        body: JSON = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body

    def response(self) -> web.Response:
        return web.json_response(self.status(), status=self.code, headers=self.headers)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_part(obj: JSON) -> JSON:
    return {key: value for key, value in obj.items() if key not in _NOT_SPEC_KEYS}


def _resource_label(info: ResourceInfo) -> str:
    return f"{info.plural}.{info.group}" if info.group else info.plural


def _kind_label(info: ResourceInfo) -> str:
    return f"{info.kind}.{info.group}" if info.group else info.kind


def not_found(info: ResourceInfo, name: str) -> APIError:
    return APIError(
        404,
        "NotFound",
        f'{_resource_label(info)} "{name}" not found',
        {"name": name, "group": info.group, "kind": info.plural},
    )


# ---------------------------------------------------------------------------------------------------
# Faults and the request log


@dataclass
class Fault:
    """An injected failure: requests matching ``method`` and ``path_regex`` get ``status`` (or a delay)."""

    method: str | None
    path_regex: re.Pattern[str]
    status: int | None
    times: int | None
    retry_after: int | None
    delay: float
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return (self.method is None or self.method == method) and bool(self.path_regex.search(path))


class Faults:
    """Fault injection for tests. ``add`` returns the fault; ``clear`` removes all."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(
        self,
        *,
        method: str | None = None,
        path_regex: str = ".*",
        status: int | None = 503,
        times: int | None = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
    ) -> Fault:
        """Fail the next ``times`` matching requests (``None``: forever) with ``status`` after ``delay`` s.

        ``status=None`` only delays. ``retry_after`` adds a ``Retry-After`` header (seconds).
        """
        fault = Fault(
            method.upper() if method else None, re.compile(path_regex), status, times, retry_after, delay
        )
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def match(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method, path):
                fault.hits += 1
                return fault
        return None


class RequestLog:
    """Counts requests by ``"METHOD /path/{pattern}"`` in O(1) and keeps the last few in a deque."""

    def __init__(self, keep: int = 1000) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.recent: collections.deque[tuple[str, str]] = collections.deque(maxlen=keep)
        self.total = 0

    def record(self, method: str, pattern: str, path: str) -> None:
        self.counts[f"{method} {pattern}"] += 1
        self.recent.append((method, path))
        self.total += 1

    def count(self, method: str, pattern: str) -> int:
        """E.g. ``count("PATCH", "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status")``."""
        return self.counts[f"{method.upper()} {pattern}"]


# ---------------------------------------------------------------------------------------------------
# The store


@dataclass
class WatchEvent:
    resource_version: int
    type: str
    obj: JSON


@dataclass
class ResourceStore:
    """Objects of one resource: namespace → name → object, plus event history and live watchers.

    Stored objects are never mutated in place (writes store a new dict), so events and responses can
    share them without copying.
    """

    history_size: int
    objects: dict[str, dict[str, JSON]] = field(default_factory=dict)
    history: collections.deque[WatchEvent] = field(init=False)
    history_floor: int = 0  # a watch from a resourceVersion below this one has lost events: 410
    watchers: set[asyncio.Queue[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.history = collections.deque(maxlen=self.history_size)

    def record(self, event: WatchEvent) -> None:
        if len(self.history) == self.history.maxlen:
            self.history_floor = self.history[0].resource_version
        self.history.append(event)
        for queue in self.watchers:
            queue.put_nowait(event)

    def iter_objects(self, namespace: str | None) -> Iterator[JSON]:
        if namespace is not None:
            yield from self.objects.get(namespace, {}).values()
            return
        for by_name in self.objects.values():
            yield from by_name.values()


# ---------------------------------------------------------------------------------------------------
# Parsed request paths


@dataclass
class Target:
    info: ResourceInfo
    namespace: str | None
    name: str | None
    subresource: str | None

    def pattern(self) -> str:
        prefix = f"/apis/{self.info.group_version}" if self.info.group else "/api/v1"
        if self.namespace is not None:
            prefix += "/namespaces/{namespace}"
        path = f"{prefix}/{self.info.plural}"
        if self.name is not None:
            path += "/{name}"
        if self.subresource:
            path += f"/{self.subresource}"
        return path


class APIServer:
    """An in-memory Kubernetes API server stand-in for tests and the sandbox — not a cluster.

    ``crds_dir``: register CRDs from ``*.yaml`` there at start. ``auto_create_namespaces``: accept
    namespaced writes to namespaces that do not exist (creating them) instead of answering 404.
    ``history_size``: watch events kept per resource for resumable watches (older: 410 Gone).
    """

    def __init__(
        self,
        crds_dir: str | Path | None = None,
        *,
        auto_create_namespaces: bool = False,
        history_size: int = 1000,
    ) -> None:
        self.crds_dir = Path(crds_dir) if crds_dir else None
        self.auto_create_namespaces = auto_create_namespaces
        self.history_size = history_size
        self.registry = Registry()
        self.registry.load_builtins()
        self.stores: dict[tuple[str, str], ResourceStore] = {}
        self.resource_version = 0
        self.faults = Faults()
        self.requests = RequestLog()
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()
        self.url = ""
        for namespace in PRECREATED_NAMESPACES:
            self._create_namespace(namespace)
        if self.crds_dir:
            for crd in load_crd_manifests(self.crds_dir):
                self.create_object(
                    self._info("apiextensions.k8s.io", "v1", "customresourcedefinitions"), None, crd
                )

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: a free port); returns the base URL, also in ``self.url``."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)  # a TCPSite always has one
        bound_port = server.sockets[0].getsockname()[1]
        self.url = f"http://{host}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        """Close open watches and stop serving."""
        self._stopping.set()
        self._drop_watches_now()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def write_kubeconfig(self, path: str | Path) -> Path:
        """Write a kubeconfig for this server (no auth; context ``sandbox``) and return its path."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "sandbox",
            "preferences": {},
            "clusters": [{"name": "sandbox", "cluster": {"server": self.url}}],
            "users": [{"name": "sandbox", "user": {}}],
            "contexts": [
                {
                    "name": "sandbox",
                    "context": {"cluster": "sandbox", "user": "sandbox", "namespace": "default"},
                }
            ],
        }
        target = Path(path)
        target.write_text(yaml.safe_dump(config), encoding="utf-8")
        return target

    # -- test controls --------------------------------------------------------------------------------

    def drop_watches(self) -> None:
        """Close every open watch stream. Safe to call from any thread."""
        self._on_loop(self._drop_watches_now)

    def _drop_watches_now(self) -> None:
        for store in self.stores.values():
            for queue in store.watchers:
                queue.put_nowait(_DROP_WATCH)

    def compact_history(self) -> None:
        """Forget all watch history, as etcd compaction does: resuming from any older version gets 410.

        Safe to call from any thread.
        """
        self._on_loop(self._compact_history_now)

    def _compact_history_now(self) -> None:
        for store in self.stores.values():
            store.history.clear()
            store.history_floor = self.resource_version

    def _on_loop(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the server's loop (waiting for it) when called from another thread."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is None or not self._loop.is_running() or running is self._loop:
            action()
            return

        async def run() -> None:
            action()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    # -- store helpers ------------------------------------------------------------------------------

    def _info(self, group: str, version: str, plural: str) -> ResourceInfo:
        info = self.registry.get(group, version, plural)
        if info is None:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        return info

    def _store(self, info: ResourceInfo) -> ResourceStore:
        store = self.stores.get(info.store_key)
        if store is None:
            store = self.stores[info.store_key] = ResourceStore(self.history_size)
        return store

    def _next_version(self) -> str:
        self.resource_version += 1
        return str(self.resource_version)

    def _emit(self, info: ResourceInfo, event_type: str, obj: JSON) -> None:
        self._store(info).record(WatchEvent(int(obj["metadata"]["resourceVersion"]), event_type, obj))

    def _create_namespace(self, name: str) -> None:
        info = self._info("", "v1", "namespaces")
        self.create_object(info, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def _check_namespace(self, info: ResourceInfo, namespace: str | None, *, creating: bool) -> None:
        if not info.namespaced or namespace is None:
            return
        if namespace in self._store(self._info("", "v1", "namespaces")).objects.get("", {}):
            return
        if creating and self.auto_create_namespaces:
            self._create_namespace(namespace)
            return
        raise APIError(
            404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"}
        )

    def get_object(self, info: ResourceInfo, namespace: str | None, name: str) -> JSON:
        obj = self._store(info).objects.get(namespace or "", {}).get(name)
        if obj is None:
            raise not_found(info, name)
        return obj

    def _validate(self, info: ResourceInfo, obj: JSON, name: str) -> JSON:
        if info.schema is None:
            return obj
        applied, errors = apply_root_schema(obj, info.schema)
        if errors:
            raise _invalid(info, name, errors)
        return applied

    def create_object(self, info: ResourceInfo, namespace: str | None, body: JSON) -> JSON:
        """Create as the API server does: metadata filled in, status dropped where it is a subresource."""
        if not isinstance(body, dict):
            raise APIError(400, "BadRequest", "the body of the request was in an unknown format")
        obj = copy.deepcopy(body)
        metadata = obj.setdefault("metadata", {})
        if info.namespaced:
            namespace = namespace or metadata.get("namespace") or "default"
            if metadata.get("namespace", namespace) != namespace:
                raise APIError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            metadata["namespace"] = namespace
        else:
            namespace = None
            metadata.pop("namespace", None)
        self._check_namespace(info, namespace, creating=True)
        store = self._store(info)
        by_name = store.objects.setdefault(namespace or "", {})
        name = metadata.get("name")
        if not name and metadata.get("generateName"):
            name = metadata["generateName"] + uuid.uuid4().hex[:5]
            while name in by_name:
                name = metadata["generateName"] + uuid.uuid4().hex[:5]
        if not name:
            raise _invalid(
                info,
                "",
                [
                    FieldError(
                        "metadata.name",
                        "FieldValueRequired",
                        "metadata.name: Required value: name or generateName is required",
                    )
                ],
            )
        if name in by_name:
            raise APIError(
                409,
                "AlreadyExists",
                f'{_resource_label(info)} "{name}" already exists',
                {"name": name, "group": info.group, "kind": info.plural},
            )
        obj["apiVersion"], obj["kind"] = info.api_version, info.kind
        if info.has_status and info.from_crd:
            obj.pop("status", None)
        obj = self._validate(info, obj, name)
        metadata = obj["metadata"]
        metadata.update(
            name=name,
            uid=str(uuid.uuid4()),
            creationTimestamp=_now(),
            generation=1,
            resourceVersion=self._next_version(),
        )
        metadata.pop("deletionTimestamp", None)
        if info.store_key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._register_crd(obj)
        by_name[name] = obj
        self._emit(info, "ADDED", obj)
        return obj

    def _register_crd(self, crd: JSON) -> None:
        try:
            self.registry.add_crd(crd)
        except (KeyError, TypeError) as exc:
            raise APIError(422, "Invalid", f"CustomResourceDefinition is invalid: missing {exc}") from exc
        crd.setdefault("status", {})["conditions"] = [
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "lastTransitionTime": _now(),
            },
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "lastTransitionTime": _now(),
            },
        ]
        crd["status"]["acceptedNames"] = crd["spec"]["names"]

    def replace_object(
        self,
        info: ResourceInfo,
        namespace: str | None,
        name: str,
        body: JSON,
        subresource: str | None,
        *,
        require_version: bool,
    ) -> JSON:
        """PUT, and the last step of every PATCH: concurrency check, status split, generation, finalizers."""
        current = self.get_object(info, namespace, name)
        if not isinstance(body, dict):
            raise APIError(400, "BadRequest", "the body of the request was in an unknown format")
        new = copy.deepcopy(body)
        new_metadata = new.setdefault("metadata", {})
        _check_version(info, name, current, new_metadata, require_version=require_version)
        if subresource == "status":
            new = {**current, "status": new.get("status")} if "status" in new else dict(current)
            if new.get("status") is None:
                new.pop("status", None)
        elif info.has_status:
            new = {key: value for key, value in new.items() if key != "status"}
            if "status" in current:
                new["status"] = current["status"]
        new["apiVersion"], new["kind"] = info.api_version, info.kind
        metadata = copy.deepcopy(current["metadata"]) if subresource == "status" else new_metadata
        for immutable in ("uid", "creationTimestamp", "namespace", "name", "generation", "deletionTimestamp"):
            if immutable in current["metadata"]:
                metadata[immutable] = current["metadata"][immutable]
            else:
                metadata.pop(immutable, None)
        new["metadata"] = metadata
        new = self._validate(info, new, name)
        metadata = new["metadata"]
        if _spec_part(new) != _spec_part(current):
            metadata["generation"] = int(current["metadata"].get("generation", 1)) + 1
        unchanged_metadata = {**metadata, "resourceVersion": current["metadata"]["resourceVersion"]}
        if new == {**current, "metadata": unchanged_metadata}:
            return current  # a no-op write does not bump resourceVersion, as on a real server
        metadata["resourceVersion"] = self._next_version()
        if metadata.get("deletionTimestamp") and not metadata.get("finalizers"):
            self._remove(info, namespace, name)
            self._emit(info, "DELETED", new)
            return new
        self._store(info).objects[namespace or ""][name] = new
        if info.from_crd is None and info.store_key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self.registry.add_crd(new)
        self._emit(info, "MODIFIED", new)
        return new

    def _remove(self, info: ResourceInfo, namespace: str | None, name: str) -> None:
        del self._store(info).objects[namespace or ""][name]
        if info.store_key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self.registry.remove_crd(name)

    def delete_object(self, info: ResourceInfo, namespace: str | None, name: str) -> JSON:
        """Delete, or only mark for deletion while finalizers remain; returns the object."""
        current = self.get_object(info, namespace, name)
        metadata = dict(current["metadata"])
        if metadata.get("finalizers"):
            if metadata.get("deletionTimestamp"):
                return current
            metadata.update(
                deletionTimestamp=_now(), deletionGracePeriodSeconds=0, resourceVersion=self._next_version()
            )
            marked = {**current, "metadata": metadata}
            self._store(info).objects[namespace or ""][name] = marked
            self._emit(info, "MODIFIED", marked)
            return marked
        metadata["resourceVersion"] = self._next_version()
        deleted = {**current, "metadata": metadata}
        self._remove(info, namespace, name)
        self._emit(info, "DELETED", deleted)
        return deleted

    def list_objects(
        self, info: ResourceInfo, namespace: str | None, predicates: list[ObjectPredicate]
    ) -> JSON:
        items = [
            obj
            for obj in self._store(info).iter_objects(namespace)
            if all(predicate(obj) for predicate in predicates)
        ]
        return {
            "kind": f"{info.kind}List",
            "apiVersion": info.api_version,
            "metadata": {"resourceVersion": str(self.resource_version)},
            "items": items,
        }

    # -- eviction -----------------------------------------------------------------------------------

    def evict(self, namespace: str, name: str) -> JSON:
        """Delete the pod unless a PodDisruptionBudget selecting it would be violated (429)."""
        pods_info = self._info("", "v1", "pods")
        pod = self.get_object(pods_info, namespace, name)
        labels = pod["metadata"].get("labels") or {}
        if (pod.get("status") or {}).get("phase") == "Running":
            budgets = self._store(self._info("policy", "v1", "poddisruptionbudgets")).iter_objects(namespace)
            for budget in budgets:
                selector = (budget.get("spec") or {}).get("selector")
                if selector is None or not label_selector_matches(selector, labels):
                    continue
                self._check_budget(budget, namespace, selector)
        self.delete_object(pods_info, namespace, name)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def _check_budget(self, budget: JSON, namespace: str, selector: JSON) -> None:
        pods = [
            pod
            for pod in self._store(self._info("", "v1", "pods")).iter_objects(namespace)
            if label_selector_matches(selector, pod["metadata"].get("labels") or {})
        ]
        healthy = sum(1 for pod in pods if (pod.get("status") or {}).get("phase") == "Running")
        spec = budget["spec"]
        if isinstance(spec.get("minAvailable"), int):
            needed = spec["minAvailable"]
        elif isinstance(spec.get("maxUnavailable"), int):
            needed = len(pods) - spec["maxUnavailable"]
        else:
            return  # percentages are not implemented: such a budget never blocks
        if healthy - 1 < needed:
            budget_name = budget["metadata"]["name"]
            raise APIError(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                {
                    "causes": [
                        {
                            "reason": "DisruptionBudget",
                            "message": f"The disruption budget {budget_name} needs {needed} healthy pods "
                            f"and has {healthy} currently",
                        }
                    ]
                },
            )

    # -- HTTP ---------------------------------------------------------------------------------------

    def _resolve(self, path: str) -> Target:
        parts = [part for part in path.split("/") if part]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if not 1 <= len(rest) <= 3:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        info = self._info(group, version, rest[0])
        if info.namespaced != (namespace is not None) and not (info.namespaced and len(rest) == 1):
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) >= 2 else None
        subresource = rest[2] if len(rest) == 3 else None
        known = (["status"] if info.has_status else []) + info.extra_subresources
        if subresource and subresource not in known:
            raise APIError(404, "NotFound", "the server could not find the requested resource")
        return Target(info, namespace, name, subresource)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        try:
            static = self._static(path)
            target = None if static is not None else self._resolve(path)
        except APIError as error:
            self.requests.record(request.method, path, path)
            return error.response()
        self.requests.record(request.method, path if target is None else target.pattern(), path)
        try:
            fault = self.faults.match(request.method, path)
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.status is not None:
                    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                    reason = "InternalError" if fault.status >= 500 else "TooManyRequests"
                    raise APIError(fault.status, reason, f"injected fault: {fault.status}", headers=headers)
            if target is None:
                return web.json_response(static)
            return await self._dispatch(request, target)
        except APIError as error:
            return error.response()

    def _static(self, path: str) -> JSON | None:
        stripped = path.rstrip("/")
        if stripped == "/version":
            return {
                "major": "1",
                "minor": "30",
                "gitVersion": "v1.30.0-chaosmonkey-sandbox",
                "platform": "linux/amd64",
            }
        if stripped == "/api":
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
            }
        if stripped == "/api/v1":
            return self.registry.resource_list("", "v1")
        if stripped == "/apis":
            return self.registry.group_list()
        parts = stripped.split("/")[1:]
        if parts[:1] == ["apis"] and len(parts) == 2:
            document = self.registry.group_document(parts[1])
            if document is None:
                raise APIError(404, "NotFound", "the server could not find the requested resource")
            return document
        if parts[:1] == ["apis"] and len(parts) == 3:
            document = self.registry.resource_list(parts[1], parts[2])
            if document is None:
                raise APIError(404, "NotFound", "the server could not find the requested resource")
            return document
        return None

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            if (request.content_type or "").endswith("yaml"):
                return yaml.safe_load(raw)
            return json.loads(raw) if raw else {}
        except (ValueError, yaml.YAMLError) as exc:
            raise APIError(400, "BadRequest", f"the body of the request could not be decoded: {exc}") from exc

    async def _dispatch(self, request: web.Request, target: Target) -> web.StreamResponse:
        info, namespace, name, sub = target.info, target.namespace, target.name, target.subresource
        method = request.method
        if name is None:
            if method == "GET":
                predicates = _predicates(request)
                if request.query.get("watch") in ("true", "1"):
                    return await self._watch(request, info, namespace, predicates)
                listed = self.list_objects(info, namespace, predicates)
                if wants_table(request.headers.get("Accept", "")):
                    return _json(to_table(info, listed["items"], listed["metadata"]["resourceVersion"]))
                return _json(listed)
            if method == "POST":
                return _json(self.create_object(info, namespace, await self._body(request)), 201)
            raise APIError(405, "MethodNotAllowed", f"{method} is not supported on a collection here")
        if sub == "eviction":
            if method != "POST" or namespace is None:
                raise APIError(405, "MethodNotAllowed", "evictions are created with POST")
            return _json(self.evict(namespace, name), 201)
        if method == "GET":
            obj = self.get_object(info, namespace, name)
            if wants_table(request.headers.get("Accept", "")):
                return _json(to_table(info, [obj], obj["metadata"]["resourceVersion"]))
            return _json(obj)
        if method == "PUT":
            return _json(
                self.replace_object(
                    info,
                    namespace,
                    name,
                    await self._body(request),
                    sub,
                    require_version=_put_requires_version(info),
                )
            )
        if method == "PATCH":
            return _json(self._patch(target, request.content_type, await self._body(request)))
        if method == "DELETE":
            return _json(self.delete_object(info, namespace, name))
        raise APIError(405, "MethodNotAllowed", f"{method} is not supported")

    def _patch(self, target: Target, content_type: str, patch: Any) -> JSON:
        info, namespace, name, sub = target.info, target.namespace, target.name or "", target.subresource
        current = self.get_object(info, namespace, name)
        base = {
            **current,
            "metadata": {
                key: value for key, value in current["metadata"].items() if key != "resourceVersion"
            },
        }
        try:
            if content_type == "application/json-patch+json":
                patched = json_patch(current, patch)
                if patched["metadata"].get("resourceVersion") == current["metadata"]["resourceVersion"]:
                    patched["metadata"].pop("resourceVersion")
            elif content_type == "application/merge-patch+json":
                patched = merge_patch(base, patch)
            elif content_type == "application/strategic-merge-patch+json":
                patched = strategic_merge_patch(base, patch)
            else:
                raise APIError(
                    415, "UnsupportedMediaType", f"the media type {content_type!r} is not supported"
                )
        except PatchError as exc:
            raise APIError(422, "Invalid", str(exc)) from exc
        if not isinstance(patched, dict):
            raise APIError(422, "Invalid", "the patch does not produce an object")
        return self.replace_object(info, namespace, name, patched, sub, require_version=False)

    async def _watch(
        self,
        request: web.Request,
        info: ResourceInfo,
        namespace: str | None,
        predicates: list[ObjectPredicate],
    ) -> web.StreamResponse:
        store = self._store(info)
        since, since_version, timeout = _watch_parameters(request)
        bookmarks = request.query.get("allowWatchBookmarks") in ("true", "1")
        # A streaming list (client-go's WatchList): the current objects as ADDED events, then a
        # bookmark annotated "k8s.io/initial-events-end" (the current state satisfies NotOlderThan).
        send_initial = request.query.get("sendInitialEvents") in ("true", "1")
        snapshot_version = self.resource_version
        queue: asyncio.Queue[Any] = asyncio.Queue()
        # Snapshot or replay and subscribe with no await in between, so no event is lost or doubled.
        gone = not (send_initial or since in ("", "0")) and since_version < store.history_floor
        initial: list[WatchEvent] = []
        if send_initial or since in ("", "0"):
            initial = [WatchEvent(0, "ADDED", obj) for obj in store.iter_objects(namespace)]
        elif not gone:
            initial = [event for event in store.history if event.resource_version > since_version]
        store.watchers.add(queue)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        try:
            await response.prepare(request)
            if gone:
                error = APIError(410, "Expired", f"too old resource version: {since} ({store.history_floor})")
                await response.write(_line("ERROR", error.status()))
                return response
            for event in initial:
                await self._send(response, event, namespace, predicates)
            if send_initial and bookmarks:
                end = _bookmark(info, snapshot_version)
                end["metadata"]["annotations"] = {"k8s.io/initial-events-end": "true"}
                await response.write(_line("BOOKMARK", end))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout if timeout else None
            while not self._stopping.is_set():
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    event = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
                if event is _DROP_WATCH:
                    break
                await self._send(response, event, namespace, predicates)
            if bookmarks and not self._stopping.is_set():
                await response.write(_line("BOOKMARK", _bookmark(info, self.resource_version)))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            store.watchers.discard(queue)
        return response

    @staticmethod
    async def _send(
        response: web.StreamResponse,
        event: WatchEvent,
        namespace: str | None,
        predicates: list[ObjectPredicate],
    ) -> None:
        obj = event.obj
        if namespace is not None and obj["metadata"].get("namespace") != namespace:
            return
        if all(predicate(obj) for predicate in predicates):
            await response.write(_line(event.type, obj))


#: Built-in kinds whose update strategy refuses unconditional updates (AllowUnconditionalUpdate
#: false in the API server); custom resources refuse them too. Other built-ins accept a PUT
#: without metadata.resourceVersion and simply overwrite.
_CONDITIONAL_UPDATE_ONLY = {("coordination.k8s.io", "leases")}


def _put_requires_version(info: ResourceInfo) -> bool:
    return info.from_crd is not None or (info.group, info.plural) in _CONDITIONAL_UPDATE_ONLY


def _check_version(
    info: ResourceInfo, name: str, current: JSON, new_metadata: JSON, *, require_version: bool
) -> None:
    sent_version = new_metadata.get("resourceVersion")
    if require_version and not sent_version:
        raise _invalid(
            info,
            name,
            [
                FieldError(
                    "metadata.resourceVersion",
                    "FieldValueInvalid",
                    "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                )
            ],
        )
    if sent_version and str(sent_version) != current["metadata"]["resourceVersion"]:
        raise APIError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {_resource_label(info)} "{name}": the object '
            "has been modified; please apply your changes to the latest version and try again",
            {"name": name, "group": info.group, "kind": info.plural},
        )
    if new_metadata.get("name", name) != name:
        raise APIError(400, "BadRequest", "the name of the object does not match the name on the URL")


def _watch_parameters(request: web.Request) -> tuple[str, int, float]:
    """``resourceVersion`` as sent and as a number, and ``timeoutSeconds`` (0: none)."""
    since = request.query.get("resourceVersion", "")
    try:
        return since, int(since or 0), float(request.query.get("timeoutSeconds", "0") or 0)
    except ValueError as exc:
        raise APIError(400, "BadRequest", f"invalid resourceVersion or timeoutSeconds: {exc}") from exc


def _bookmark(info: ResourceInfo, resource_version: int) -> JSON:
    return {
        "kind": info.kind,
        "apiVersion": info.api_version,
        "metadata": {"resourceVersion": str(resource_version)},
    }


def _line(event_type: str, obj: JSON) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _json(body: JSON, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )


def _predicates(request: web.Request) -> list[ObjectPredicate]:
    predicates = []
    try:
        if request.query.get("labelSelector"):
            predicates.append(parse_label_selector(request.query["labelSelector"]))
        if request.query.get("fieldSelector"):
            predicates.append(parse_field_selector(request.query["fieldSelector"]))
    except SelectorError as exc:
        raise APIError(400, "BadRequest", str(exc)) from exc
    return predicates


def _invalid(info: ResourceInfo, name: str, errors: list[FieldError]) -> APIError:
    messages = [error.message for error in errors]
    summary = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    causes = [{"reason": error.reason, "message": error.message, "field": error.field} for error in errors]
    return APIError(
        422,
        "Invalid",
        f'{_kind_label(info)} "{name}" is invalid: {summary}',
        {"name": name, "group": info.group, "kind": info.kind, "causes": causes},
    )


class ServerThread:
    """Runs an :class:`APIServer` on its own event loop in a background thread, for sync code.

    ``url = runner.start()``; ``runner.stop()``. Also a context manager yielding the runner.
    """

    def __init__(self, server: APIServer | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = server or APIServer()
        self.host, self.port = host, port
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def start(self, timeout: float = 10.0) -> str:
        """Start the loop thread and the server; returns its URL."""
        self.loop = loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="sandbox-apiserver", daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self.server.start(self.host, self.port), loop)
        return future.result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (closing watches), then the loop and its thread."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.server.stop(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        loop.close()
        self.loop = self._thread = None

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
