"""The operator's own Kubernetes API calls: plan status, Events, Secrets, the catalog ConfigMap.

kopf watches ChaosPlans; everything the operator *writes* goes through this adapter, on the
official ``kubernetes`` client (which handles kubeconfig, in-cluster tokens and their refresh),
called in worker threads so the event loop never blocks. Errors are logged with their status
code and reason, never with request bodies (which may hold secrets).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

import kopf
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from chaosmonkey.attacks.attack import AttackError
from chaosmonkey.execution import truncate
from chaosmonkey.timeutil import UTC

log = logging.getLogger(__name__)

GROUP = "chaosmonkey.io"
VERSION = "v1alpha1"
PLURAL = "chaosplans"
KIND = "ChaosPlan"
COMPONENT = "chaosmonkey-operator"
#: Kubernetes caps an Event's message at 1 KiB in practice (the API allows more; kubectl cuts).
MAX_EVENT_MESSAGE = 1024


def load_api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """An API client from in-cluster config, else the kubeconfig (``$KUBECONFIG`` or ~/.kube/config)."""
    configuration = client.Configuration()
    if kubeconfig is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        except ConfigException:
            pass
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return client.ApiClient(configuration)


class PlanNotFound(Exception):
    """The plan was deleted: nothing to write any more."""


class KubeClient:
    """Async wrappers for the few writes the operator makes."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    def connection_info(self) -> kopf.ConnectionInfo:
        """kopf's view of this client's credentials (kopf watches; this client writes)."""
        configuration = self.api_client.configuration
        header = configuration.get_api_key_with_prefix(
            "BearerToken"
        ) or configuration.get_api_key_with_prefix("authorization")
        scheme, _, token = (header or "").rpartition(" ")
        return kopf.ConnectionInfo(
            server=configuration.host,
            ca_path=configuration.ssl_ca_cert,
            insecure=not configuration.verify_ssl,
            scheme=scheme or ("Bearer" if token else None),
            token=token or None,
            certificate_path=configuration.cert_file,
            private_key_path=configuration.key_file,
        )

    async def patch_plan_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Merge-patch the plan's status subresource; PlanNotFound if the plan is gone."""
        try:
            await asyncio.to_thread(
                self.custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                {"status": status},
            )
        except ApiException as exc:
            if exc.status == 404:
                raise PlanNotFound(f"{namespace}/{name}") from None
            raise

    async def post_event(
        self, namespace: str, name: str, uid: str, *, type: str, reason: str, message: str
    ) -> None:
        """A core/v1 Event on the plan; failures are logged, never raised (events are best effort)."""
        now = dt.datetime.now(UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{name}.", namespace=namespace),
            involved_object=client.V1ObjectReference(
                api_version=f"{GROUP}/{VERSION}", kind=KIND, name=name, namespace=namespace, uid=uid
            ),
            type=type,
            reason=reason,
            message=truncate(message, MAX_EVENT_MESSAGE),
            source=client.V1EventSource(component=COMPONENT),
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            reporting_component=COMPONENT,
        )
        try:
            await asyncio.to_thread(self.core.create_namespaced_event, namespace, event)
        except (ApiException, OSError) as exc:
            log.warning("could not post event %s on %s/%s: %s", reason, namespace, name, describe_error(exc))

    def secret_reader(self, namespace: str) -> Callable[[str, str], bytes]:
        """Reads Secret keys in ``namespace`` (called from attack threads, so synchronous)."""

        def read_secret(name: str, key: str) -> bytes:
            try:
                secret = self.core.read_namespaced_secret(name, namespace)
            except ApiException as exc:
                raise AttackError(f"cannot read Secret {namespace}/{name}: {describe_error(exc)}") from None
            data = (secret.data or {}).get(key)
            if data is None:
                raise AttackError(f"Secret {namespace}/{name} has no key {key!r}")
            return base64.b64decode(data)

        return read_secret

    async def publish_catalog(self, namespace: str, name: str, catalog: dict[str, Any]) -> None:
        """Create or update the catalog ConfigMap (``catalog.json``) in the operator's namespace."""
        labels = {"app.kubernetes.io/name": "chaosmonkey-operator", "app.kubernetes.io/component": "catalog"}
        data = {"catalog.json": json.dumps(catalog, indent=2, sort_keys=True)}
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels), data=data
        )
        try:
            await asyncio.to_thread(self.core.create_namespaced_config_map, namespace, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            # It exists (an earlier start, another replica): a merge patch needs no resourceVersion.
            patch = {"metadata": {"labels": labels}, "data": data}
            await asyncio.to_thread(self.core.patch_namespaced_config_map, name, namespace, patch)


def describe_error(exc: BaseException) -> str:
    """``404 Not Found``-style text for API errors: status and reason, never the body."""
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}"
    return f"{type(exc).__name__}: {exc}"
