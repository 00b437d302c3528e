"""DeletePod: evict (or delete) running pods chosen at random, the way chaoskube and kube-monkey do.

Pods are listed with ``args.labelSelector`` (and ``args.fieldSelector``) in the plan's namespace,
or in ``args.namespace`` when the operator allows that namespace. Candidates are the pods that
are Running, not being deleted and older than ``args.minAge``; the server's answer is checked
against both selectors again here, so a server (or proxy) that ignored a selector can never
widen what a plan may touch. ``count`` (default 1) or ``percent`` of the candidates are chosen.

``mode: evict`` (default) goes through the Eviction API, so PodDisruptionBudgets hold: an
eviction the API server refuses (429) is reported, never forced. ``mode: delete`` deletes the
pods outright. Each affected pod gets a Warning Event on its owning workload (pod → ReplicaSet →
Deployment when readable, else the direct owner, else the pod itself), so the workload's owners
see what happened; failing to post one is logged, not fatal.

The Kubernetes client comes from :func:`kubernetes_api_client`: in-cluster config, else the
kubeconfig, built once on first use. The operator (or a test) may supply its own with
:func:`set_api_client_factory`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from chaosmonkey.attacks._selection import SELECTION_EXCLUSIVE, SELECTION_PROPERTIES, choose
from chaosmonkey.attacks.attack import Attack, AttackError

log = logging.getLogger(__name__)

EVENT_COMPONENT = "chaosmonkey-operator"
#: Seconds any single API call may take.
REQUEST_TIMEOUT_SECONDS = 30

ApiClientFactory = Callable[[], k8s.ApiClient]

_factory_lock = threading.Lock()
_api_client_factory: ApiClientFactory | None = None
_default_api_client: k8s.ApiClient | None = None


def set_api_client_factory(factory: ApiClientFactory | None) -> None:
    """Make :func:`kubernetes_api_client` call ``factory`` (None: back to the default).

    The operator calls this at start-up to share its configured client; tests point it at an
    emulated API server.
    """
    global _api_client_factory  # noqa: PLW0603 - the module's one injection point
    with _factory_lock:
        _api_client_factory = factory


def kubernetes_api_client() -> k8s.ApiClient:
    """The API client DeletePod uses: the injected factory's, else one from in-cluster config
    or, outside a cluster, the kubeconfig (built on first use and kept)."""
    global _default_api_client  # noqa: PLW0603 - built lazily, once
    with _factory_lock:
        factory = _api_client_factory
        if factory is None and _default_api_client is None:
            configuration = k8s.Configuration()
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except k8s_config.ConfigException:
                try:
                    # KUBECONFIG read now: the client library's default was fixed at its import.
                    k8s_config.load_kube_config(
                        config_file=os.environ.get("KUBECONFIG") or None, client_configuration=configuration
                    )
                except (k8s_config.ConfigException, OSError) as exc:
                    raise AttackError(f"no Kubernetes configuration found: {exc}") from None
            _default_api_client = k8s.ApiClient(configuration)
        default = _default_api_client
    if factory is not None:
        return factory()
    assert default is not None
    return default


# -- selectors -----------------------------------------------------------------------------------

_LABEL_KEY = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^({_LABEL_KEY})\s+(in|notin)\s*\(\s*([^()]*?)\s*\)$")
_EQUALITY_RE = re.compile(rf"^({_LABEL_KEY})\s*(==|=|!=)\s*({_LABEL_VALUE})$")
_EXISTS_RE = re.compile(rf"^(!?)\s*({_LABEL_KEY})$")
_FIELD_RE = re.compile(r"^([A-Za-z][A-Za-z0-9.]*)\s*(==|=|!=)\s*([^,]*)$")

#: A pod test: (pod as a dict) -> whether it satisfies one requirement.
Requirement = Callable[[Mapping[str, Any]], bool]


def _split_requirements(selector: str) -> list[str]:
    """Split on the commas that are not inside ``in (...)`` value lists."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [part for part in parts if part]


def parse_label_selector(selector: str) -> list[Requirement]:
    """A Kubernetes label selector (``a=b,c!=d,e in (x,y),!f,g``) as pod tests."""
    requirements: list[Requirement] = []
    for part in _split_requirements(selector):
        requirements.append(_label_requirement(part, selector))
    if not requirements:
        raise AttackError("labelSelector is empty: it must select something")
    return requirements


def _labels(pod: Mapping[str, Any]) -> Mapping[str, str]:
    labels: Mapping[str, str] = pod.get("metadata", {}).get("labels") or {}
    return labels


def _label_requirement(part: str, selector: str) -> Requirement:
    if match := _SET_RE.match(part):
        key, operator, values_text = match.groups()
        values = {value.strip() for value in values_text.split(",") if value.strip()}
        if operator == "in":
            return lambda pod: _labels(pod).get(key) in values
        return lambda pod: _labels(pod).get(key) not in values
    if match := _EQUALITY_RE.match(part):
        key, operator, value = match.groups()
        if operator == "!=":
            return lambda pod: _labels(pod).get(key) != value
        return lambda pod: _labels(pod).get(key) == value
    if match := _EXISTS_RE.match(part):
        negated, key = match.groups()
        if negated:
            return lambda pod: key not in _labels(pod)
        return lambda pod: key in _labels(pod)
    raise AttackError(f"invalid labelSelector {selector!r}: cannot parse {part!r}")


def parse_field_selector(selector: str) -> list[Requirement]:
    """A field selector (``status.phase=Running,spec.nodeName!=n1``) as pod tests."""
    requirements: list[Requirement] = []
    for part in _split_requirements(selector):
        match = _FIELD_RE.match(part)
        if match is None:
            raise AttackError(f"invalid fieldSelector {selector!r}: cannot parse {part!r}")
        path, operator, value = match.groups()
        requirements.append(_field_requirement(path, operator == "!=", value))
    return requirements


def _field_requirement(path: str, negated: bool, value: str) -> Requirement:
    def requirement(pod: Mapping[str, Any]) -> bool:
        return (_field(pod, path) == value) != negated

    return requirement


def _field(pod: Mapping[str, Any], path: str) -> str:
    value: Any = pod
    for name in path.split("."):
        value = value.get(name) if isinstance(value, Mapping) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# -- durations -----------------------------------------------------------------------------------

_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value: int | float | str) -> float:
    """Seconds in ``value``: a number of seconds, or ``"90"``, ``"45s"``, ``"5m"``, ``"1h30m"``, ``"2d"``."""
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    match = _DURATION_RE.match(text)
    if not text or match is None:
        raise AttackError(f"invalid duration {value!r}: use seconds or e.g. 30s, 5m, 1h30m, 2d")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def _timestamp(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# -- the attack ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    pod: str
    reason: str = ""


class DeletePod(Attack):
    """Evict (default) or delete ``count`` (default 1) or ``percent`` of the running pods matching
    ``labelSelector`` in the plan's namespace (or an allowed ``namespace``)."""

    ref: ClassVar[str] = "delete_pod:DeletePod"
    schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "ref": {"type": "string", "description": "The attack's ref."},
            "args": {
                "type": "object",
                "description": "Which running pods may be disrupted, how many, and how.",
                "properties": {
                    "labelSelector": {
                        "type": "string",
                        "minLength": 1,
                        "description": (
                            "Label selector of the candidate pods: 'app=web', 'tier in (a,b)', '!canary'."
                        ),
                    },
                    "fieldSelector": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Optional field selector, e.g. 'spec.nodeName=node-1'.",
                    },
                    "namespace": {
                        "type": "string",
                        "minLength": 1,
                        "description": (
                            "Namespace of the pods (default: the plan's). Another namespace must be "
                            "allowed in the operator's configuration."
                        ),
                    },
                    "minAge": {
                        "description": (
                            "Only pods at least this old: seconds, or a duration like '30s', '5m', "
                            "'1h30m', '2d' (default 0)."
                        ),
                        "oneOf": [
                            {"type": "number", "minimum": 0},
                            {"type": "string", "pattern": r"^(\d+(\.\d+)?|(\d+d)?(\d+h)?(\d+m)?(\d+s)?)$"},
                        ],
                    },
                    "mode": {
                        "type": "string",
                        "enum": ["evict", "delete"],
                        "description": (
                            "evict (default): the Eviction API, which respects PodDisruptionBudgets; "
                            "delete: delete the pods outright."
                        ),
                    },
                    "gracePeriodSeconds": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Termination grace period (default: each pod's own).",
                    },
                    **SELECTION_PROPERTIES,
                },
                "required": ["labelSelector"],
                "additionalProperties": False,
                **SELECTION_EXCLUSIVE,
            },
        },
        "required": ["ref", "args"],
    }
    example: ClassVar[dict[str, Any]] = {
        "ref": "delete_pod:DeletePod",
        "args": {
            "labelSelector": "app=web,chaos notin (off)",
            "minAge": "10m",
            "count": 1,
            "mode": "evict",
        },
    }
    supports_dry_run: ClassVar[bool] = True

    def __init__(self, attack_config: dict[str, Any]) -> None:
        super().__init__(attack_config)

    def run(self) -> dict[str, Any]:
        args = self.checked_args()
        namespace = self._namespace(args)
        api_client = kubernetes_api_client()
        core = k8s.CoreV1Api(api_client)
        candidates = self._candidates(core, namespace, args)
        chosen = choose(candidates, count=args.get("count"), percent=args.get("percent"))
        names = [f"{namespace}/{pod['metadata']['name']}" for pod in chosen]
        mode: str = args.get("mode", "evict")
        verb = "evict" if mode == "evict" else "delete"
        if self.dry_run:
            log.info("dry run: would %s %s", verb, ", ".join(names))
            return {"message": f"dry run: would {verb} {', '.join(names)}", "pods": names}

        grace: int | None = args.get("gracePeriodSeconds")
        done: list[str] = []
        refused: list[_Outcome] = []
        failed: list[_Outcome] = []
        for pod in chosen:
            name = pod["metadata"]["name"]
            described = f"{namespace}/{name}"
            try:
                if mode == "evict":
                    self._evict(core, namespace, name, grace)
                else:
                    core.delete_namespaced_pod(
                        name,
                        namespace,
                        body=k8s.V1DeleteOptions(grace_period_seconds=grace),
                        _preload_content=False,
                        _request_timeout=REQUEST_TIMEOUT_SECONDS,
                    )
            except ApiException as exc:
                outcome = _Outcome(described, _api_error(exc))
                if mode == "evict" and exc.status == 429:
                    log.warning("eviction of %s refused: %s", described, outcome.reason)
                    refused.append(outcome)
                else:
                    log.warning("could not %s %s: %s", verb, described, outcome.reason)
                    failed.append(outcome)
                continue
            except Exception as exc:  # noqa: BLE001 - connection errors: report each pod, then fail
                failed.append(_Outcome(described, f"{type(exc).__name__}: {exc}"))
                continue
            log.info("%s %s", "evicted" if mode == "evict" else "deleted", described)
            done.append(described)
            self._post_event(api_client, namespace, pod, mode)
        return self._result(mode, done, refused, failed)

    @staticmethod
    def to_dict() -> dict[str, Any]:
        return Attack._to_dict(DeletePod.ref, DeletePod.schema, DeletePod.example)

    # -- internals ---------------------------------------------------------------------------

    def _namespace(self, args: Mapping[str, Any]) -> str:
        own = self.context.namespace
        namespace: str = args.get("namespace", own)
        if namespace != own and namespace not in self.context.allowed_namespaces:
            allowed = ", ".join(sorted(self.context.allowed_namespaces)) or "none"
            raise AttackError(
                f"namespace {namespace} is not allowed for a plan in namespace {own} "
                f"(other namespaces allowed: {allowed})"
            )
        return namespace

    def _candidates(
        self, core: k8s.CoreV1Api, namespace: str, args: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        label_selector: str = args["labelSelector"]
        field_selector: str | None = args.get("fieldSelector")
        requirements = parse_label_selector(label_selector)
        if field_selector:
            requirements += parse_field_selector(field_selector)
        min_age = parse_duration(args.get("minAge", 0))
        try:
            response = core.list_namespaced_pod(
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
            pods: list[dict[str, Any]] = _json(response).get("items") or []
        except ApiException as exc:
            raise AttackError(f"cannot list pods in {namespace}: {_api_error(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - connection errors are the attack's failure
            raise AttackError(f"cannot list pods in {namespace}: {type(exc).__name__}: {exc}") from None
        now = dt.datetime.now(dt.UTC)
        candidates = []
        for pod in pods:
            metadata = pod.get("metadata") or {}
            created = _timestamp(metadata.get("creationTimestamp"))
            if not all(requirement(pod) for requirement in requirements):
                continue
            if (pod.get("status") or {}).get("phase") != "Running" or metadata.get("deletionTimestamp"):
                continue
            if min_age > 0 and (created is None or (now - created).total_seconds() < min_age):
                continue
            candidates.append(pod)
        if not candidates:
            selectors = f"labelSelector {label_selector!r}"
            if field_selector:
                selectors += f" and fieldSelector {field_selector!r}"
            age = f", older than {args['minAge']}" if min_age > 0 else ""
            raise AttackError(
                f"no running pod matched {selectors} in namespace {namespace}{age} "
                f"({len(pods)} pod(s) listed)"
            )
        log.info("%d candidate pod(s) in %s matching %r", len(candidates), namespace, label_selector)
        return candidates

    @staticmethod
    def _evict(core: k8s.CoreV1Api, namespace: str, name: str, grace: int | None) -> None:
        body = k8s.V1Eviction(
            api_version="policy/v1",
            kind="Eviction",
            metadata=k8s.V1ObjectMeta(name=name, namespace=namespace),
            delete_options=k8s.V1DeleteOptions(grace_period_seconds=grace) if grace is not None else None,
        )
        core.create_namespaced_pod_eviction(
            name, namespace, body, _preload_content=False, _request_timeout=REQUEST_TIMEOUT_SECONDS
        )

    def _result(
        self, mode: str, done: list[str], refused: list[_Outcome], failed: list[_Outcome]
    ) -> dict[str, Any]:
        past = "evicted" if mode == "evict" else "deleted"
        parts = [f"{past} {', '.join(done)}"] if done else []
        if refused:
            parts.append("eviction refused for " + "; ".join(f"{o.pod} ({o.reason})" for o in refused))
        if failed:
            parts.append(f"could not {mode} " + "; ".join(f"{o.pod} ({o.reason})" for o in failed))
        message = "; ".join(parts)
        if failed or not done:
            raise AttackError(message)
        result: dict[str, Any] = {"message": message, past: done}
        if refused:
            result["refused"] = [{"pod": o.pod, "reason": o.reason} for o in refused]
        return result

    def _post_event(
        self, api_client: k8s.ApiClient, namespace: str, pod: Mapping[str, Any], mode: str
    ) -> None:
        """A Warning Event on the pod's workload; failures are logged only (the attack is done)."""
        name = pod["metadata"]["name"]
        try:
            target = _owning_workload(api_client, namespace, pod)
            past = "evicted" if mode == "evict" else "deleted"
            plan = (
                f"{self.context.namespace}/{self.context.plan_name}" if self.context.plan_name else "a plan"
            )
            executor = f" (executor {self.context.executor_name})" if self.context.executor_name else ""
            now = dt.datetime.now(dt.UTC)
            event = k8s.CoreV1Event(
                metadata=k8s.V1ObjectMeta(
                    name=f"{target['name']}.chaos-{uuid.uuid4().hex[:12]}", namespace=namespace
                ),
                involved_object=k8s.V1ObjectReference(
                    api_version=target["apiVersion"],
                    kind=target["kind"],
                    name=target["name"],
                    namespace=namespace,
                    uid=target.get("uid"),
                ),
                reason="ChaosPodEvicted" if mode == "evict" else "ChaosPodDeleted",
                message=f"Chaos Monkey {plan}{executor} {past} pod {name}",
                type="Warning",
                source=k8s.V1EventSource(component=EVENT_COMPONENT),
                reporting_component=EVENT_COMPONENT,
                reporting_instance=EVENT_COMPONENT,
                action="Evict" if mode == "evict" else "Delete",
                first_timestamp=now,
                last_timestamp=now,
                count=1,
            )
            k8s.CoreV1Api(api_client).create_namespaced_event(
                namespace, event, _preload_content=False, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        except Exception as exc:  # noqa: BLE001 - the pod is already gone; the event is a courtesy
            log.warning("could not post an event about pod %s/%s: %s", namespace, name, _describe(exc))


def _owning_workload(api_client: k8s.ApiClient, namespace: str, pod: Mapping[str, Any]) -> dict[str, Any]:
    """The reference of the pod's workload: its Deployment (through the ReplicaSet) when readable,
    else its direct owner, else the pod itself."""
    owner = _controller_of(pod)
    if owner is None:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": pod["metadata"]["name"],
            "uid": pod["metadata"].get("uid"),
        }
    if owner.get("kind") == "ReplicaSet" and str(owner.get("apiVersion", "")).startswith("apps/"):
        try:
            response = k8s.AppsV1Api(api_client).read_namespaced_replica_set(
                owner["name"], namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
            replica_set = _json(response)
        except Exception as exc:  # noqa: BLE001 - unreadable: the ReplicaSet is owner enough
            log.debug("cannot read ReplicaSet %s/%s: %s", namespace, owner["name"], _describe(exc))
        else:
            return _controller_of(replica_set) or owner
    return owner


def _controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    references: list[dict[str, Any]] = (obj.get("metadata") or {}).get("ownerReferences") or []
    controllers = [ref for ref in references if ref.get("controller")]
    candidates = controllers or references
    if not candidates or not candidates[0].get("kind") or not candidates[0].get("name"):
        return None
    return candidates[0]


def _json(response: object) -> dict[str, Any]:
    """The decoded body of a call made with ``_preload_content=False`` (a raw HTTP response).

    Raw JSON rather than the client's models: selectors are checked on the objects as served,
    and no model can fail to deserialize an answer.
    """
    decoded = json.loads(getattr(response, "data", b"") or b"{}")
    return decoded if isinstance(decoded, dict) else {}


def _api_error(exc: ApiException) -> str:
    """The API server's own message (from its Status body) with the HTTP status."""
    message = ""
    try:
        status = json.loads(exc.body) if exc.body else {}
        message = status.get("message", "") if isinstance(status, dict) else ""
    except ValueError:
        pass
    return f"{exc.status} {exc.reason}: {message}" if message else f"{exc.status} {exc.reason}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return _api_error(exc)
    return f"{type(exc).__name__}: {exc}"
