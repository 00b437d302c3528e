"""The real Helm library (helm-sdkpy: Helm 4 in a Go shared library) against the sandbox API server.

Helm reads ``HELM_DRIVER`` from the environment the Go runtime copied when the process started, so
setting it from Python is too late: the Helm calls run in a worker subprocess started with
``HELM_DRIVER=memory`` (the server cannot decode the protobuf Secrets of Helm's default storage).
The memory driver keeps releases in that process, so one worker (tests/support/helm.py) serves one
test's install, upgrade and uninstall.

Install and upgrade run with ``wait=False``: the sandbox runs no controllers, so a Deployment never
becomes ready. Uninstall waits, which exercises client-go's streaming-list watches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from tests.support.helm import HelmWorker, helm_worker

pytest.importorskip(
    "helm_sdkpy",
    reason="helm-sdkpy is not installed (on Python 3.11: pip install --ignore-requires-python helm-sdkpy)",
)

CHART = Path(__file__).parent / "charts" / "demo"
NAMESPACE = "helm-demo"
RELEASE = "demo"


@pytest.fixture
def helm(runner: Any, core: Any, tmp_path: Path) -> Iterator[HelmWorker]:
    """A Helm worker for the sandbox server (with the Widget CRD) and an empty release namespace."""
    core.create_namespace(
        kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=NAMESPACE))
    )
    kubeconfig = runner.server.write_kubeconfig(tmp_path / "kubeconfig")
    with helm_worker(kubeconfig, tmp_path, chart=str(CHART), release=RELEASE, namespace=NAMESPACE) as worker:
        yield worker


def _readers(client: Any) -> dict[str, Callable[[], Any]]:
    """Reads of the chart's objects with the kubernetes client, by kind."""
    core = kubernetes.client.CoreV1Api(client)
    rbac = kubernetes.client.RbacAuthorizationV1Api(client)
    apps = kubernetes.client.AppsV1Api(client)
    custom = kubernetes.client.CustomObjectsApi(client)
    return {
        "ConfigMap": lambda: core.read_namespaced_config_map(f"{RELEASE}-config", NAMESPACE),
        "ServiceAccount": lambda: core.read_namespaced_service_account(RELEASE, NAMESPACE),
        "Role": lambda: rbac.read_namespaced_role(RELEASE, NAMESPACE),
        "RoleBinding": lambda: rbac.read_namespaced_role_binding(RELEASE, NAMESPACE),
        "Deployment": lambda: apps.read_namespaced_deployment(RELEASE, NAMESPACE),
        "Widget": lambda: custom.get_namespaced_custom_object(
            "example.com", "v1", NAMESPACE, "widgets", RELEASE
        ),
    }


def _get(client: Any, read: Callable[[], Any]) -> dict[str, Any]:
    """A read's object as a plain dict in the API's camelCase (raises ``ApiException``)."""
    obj = client.sanitize_for_serialization(read())
    assert isinstance(obj, dict)
    return obj


def _objects(client: Any) -> dict[str, dict[str, Any]]:
    """The chart's objects as stored, by kind."""
    return {kind: _get(client, read) for kind, read in _readers(client).items()}


def _missing(client: Any) -> list[str]:
    """The kinds of the chart's objects that are gone."""
    gone = []
    for kind, read in _readers(client).items():
        try:
            _get(client, read)
        except kubernetes.client.ApiException as exc:
            if exc.status != 404:
                raise
            gone.append(kind)
    return gone


def _container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    containers = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def _no_directives(value: Any) -> bool:
    """No strategic-merge ``$`` directive was stored."""
    if isinstance(value, dict):
        return all(not key.startswith("$") and _no_directives(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_no_directives(item) for item in value)
    return True


def test_lint_passes(helm: HelmWorker) -> None:
    result = helm.ok("lint")
    assert result["TotalChartsLinted"] == 1
    assert not result["Errors"], result


def test_install_creates_the_objects(helm: HelmWorker, client: Any) -> None:
    release = helm.ok("install")
    assert (release["info"]["status"], release["version"], release["namespace"]) == ("deployed", 1, NAMESPACE)

    objects = _objects(client)
    for kind, obj in objects.items():
        assert obj["kind"] == kind
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert obj["metadata"]["annotations"]["meta.helm.sh/release-name"] == RELEASE
        assert obj["metadata"]["annotations"]["meta.helm.sh/release-namespace"] == NAMESPACE
    assert objects["ConfigMap"]["data"] == {"greeting": "hello"}
    assert objects["Role"]["rules"][0]["resources"] == ["configmaps"]
    assert objects["RoleBinding"]["roleRef"]["name"] == RELEASE
    assert objects["RoleBinding"]["subjects"][0] == {
        "kind": "ServiceAccount",
        "name": RELEASE,
        "namespace": NAMESPACE,
    }
    assert objects["Deployment"]["spec"]["replicas"] == 1
    assert _container(objects)["image"] == "registry.example.com/demo:1.0.0"
    assert objects["Widget"]["spec"] == {"size": "small", "replicas": 1}  # the CRD's default applied


def test_upgrade_updates_the_objects(helm: HelmWorker, client: Any) -> None:
    helm.ok("install")
    before = _objects(client)

    values = {
        "greeting": "bye",
        "replicas": 3,
        "image": "registry.example.com/demo:2.0.0",
        "widgetSize": "large",
    }
    release = helm.ok("upgrade", values=values)
    assert (release["info"]["status"], release["version"]) == ("deployed", 2)

    after = _objects(client)
    assert after["ConfigMap"]["data"] == {"greeting": "bye"}
    assert after["Deployment"]["spec"]["replicas"] == 3
    container = _container(after)
    # A strategic merge patch: the container is merged by name, so its untouched env survives.
    assert container["image"] == "registry.example.com/demo:2.0.0"
    assert container["env"] == _container(before)["env"]
    assert after["Deployment"]["metadata"]["generation"] == 2
    # A JSON merge patch for the custom resource.
    assert after["Widget"]["spec"] == {"size": "large", "replicas": 1}
    assert after["Widget"]["metadata"]["generation"] == 2
    for kind in ("ServiceAccount", "Role", "RoleBinding"):  # unchanged: not rewritten
        assert after[kind]["metadata"]["resourceVersion"] == before[kind]["metadata"]["resourceVersion"]
    for kind, obj in after.items():
        assert obj["metadata"]["uid"] == before[kind]["metadata"]["uid"]
        assert _no_directives(obj), obj


def test_uninstall_deletes_the_objects(helm: HelmWorker, client: Any) -> None:
    helm.ok("install")
    assert _missing(client) == []

    result = helm.ok("uninstall", wait=True)
    assert result["release"]["info"]["status"] == "uninstalled"
    assert _missing(client) == list(_readers(client))

    assert helm.ok("list") == {"releases": []}


# ---------------------------------------------------------------------------------------------------
# The worker: ``python test_helm.py KUBECONFIG NAMESPACE``, one JSON request per stdin line.
