"""The Helm chart in chart/, through the real Helm library (helm-sdkpy) and the embedded API server."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import kubernetes
import pytest
import yaml

from .conftest import CHART, ROOT, find, manifests
from .conftest import ChartHelm as HelmWorker

NS = "chaos-system"
SELF_RULES_DEFAULT = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "resourceNames": ["chaosmonkey-operator"],
        "verbs": ["get", "update"],
    },
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "resourceNames": ["chaosmonkey-catalog"],
        "verbs": ["get", "patch"],
    },
]
PLAN_RULES = [
    {"apiGroups": ["chaosmonkey.io"], "resources": ["chaosplans"], "verbs": ["list", "watch"]},
    {"apiGroups": ["chaosmonkey.io"], "resources": ["chaosplans/status"], "verbs": ["patch"]},
]
ATTACK_RULES = [
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "delete"]},
    {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
]
CRD_SCAN_RULE = {
    "apiGroups": ["apiextensions.k8s.io"],
    "resources": ["customresourcedefinitions"],
    "verbs": ["list", "watch"],
}
NAMESPACE_SCAN_RULE = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}
NAMESPACED = {"operator": {"namespaces": ["team-a", "team-b"], "allowedNamespaces": ["targets"]}}


def _kinds(objects: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return sorted((o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects)


def _env(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_lint_passes(helm: HelmWorker) -> None:
    result = helm.ok("lint")
    assert result["TotalChartsLinted"] == 1
    assert not result["Errors"], result
    assert all(m["Severity"] <= 1 for m in result["Messages"]), result  # INFO only (no icon)


def test_default_render_objects_and_cluster_wide_rbac(helm: HelmWorker) -> None:
    objects = helm.render()
    (deployment,) = find(objects, "Deployment")
    full = deployment["metadata"]["name"]
    instance = deployment["metadata"]["labels"]["app.kubernetes.io/instance"]
    assert full == f"{instance}-chaosmonkey-operator"
    assert _kinds(objects) == sorted(
        [
            ("CustomResourceDefinition", "chaosplans.chaosmonkey.io", None),
            ("ServiceAccount", full, NS),
            ("Role", f"{full}-self", NS),
            ("RoleBinding", f"{full}-self", NS),
            ("ClusterRole", full, None),
            ("ClusterRoleBinding", full, None),
            ("ClusterRole", f"{full}-scanning", None),
            ("ClusterRoleBinding", f"{full}-scanning", None),
            ("Deployment", full, NS),
        ]
    )
    assert find(objects, "Role")[0]["rules"] == SELF_RULES_DEFAULT
    assert find(objects, "ClusterRole", full)[0]["rules"] == PLAN_RULES + ATTACK_RULES
    assert find(objects, "ClusterRole", f"{full}-scanning")[0]["rules"] == [CRD_SCAN_RULE]
    subject = {"kind": "ServiceAccount", "name": full, "namespace": NS}
    for binding in find(objects, "ClusterRoleBinding") + find(objects, "RoleBinding"):
        assert binding["subjects"] == [subject]

    for obj in objects:
        labels = obj["metadata"]["labels"]
        for key in ("name", "instance", "version", "component", "part-of", "managed-by"):
            assert f"app.kubernetes.io/{key}" in labels, (obj["kind"], labels)
        assert labels["helm.sh/chart"] == "chaosmonkey-operator-0.1.0"

    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"]["matchLabels"] == {  # stable labels only: a selector cannot change
        "app.kubernetes.io/name": "chaosmonkey-operator",
        "app.kubernetes.io/instance": instance,
    }
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == full
    assert pod["terminationGracePeriodSeconds"] == 30
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {}}]
    affinity = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert affinity["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/chaosmonkey-operator/chaosmonkey-operator:0.1.0"
    assert container["args"] == ["run"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert _env(deployment) == {
        "CHAOSMONKEY_OPERATOR_NAMESPACE": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        "CHAOSMONKEY_NAMESPACES": "",
        "CHAOSMONKEY_ALLOWED_NAMESPACES": "",
        "CHAOSMONKEY_DEFAULT_TIME_ZONE": "UTC",
        "CHAOSMONKEY_MAX_CONCURRENT_ATTACKS": "4",
        "CHAOSMONKEY_ATTACK_TIMEOUT_SECONDS": "300",
        "CHAOSMONKEY_LOG_LEVEL": "INFO",
        "CHAOSMONKEY_LOG_FORMAT": "text",
        "CHAOSMONKEY_HEALTH_ADDRESS": "0.0.0.0",
        "CHAOSMONKEY_HEALTH_PORT": "8080",
        "CHAOSMONKEY_CATALOG_CONFIGMAP": "chaosmonkey-catalog",
        "CHAOSMONKEY_LEADER_ELECTION": "true",
        "CHAOSMONKEY_LEASE_NAME": "chaosmonkey-operator",
        "CHAOSMONKEY_LEASE_DURATION_SECONDS": "15",
        "CHAOSMONKEY_LEASE_RENEW_DEADLINE_SECONDS": "10",
        "CHAOSMONKEY_LEASE_RETRY_PERIOD_SECONDS": "2",
    }


def test_every_operator_setting_is_set_by_the_chart(helm: HelmWorker) -> None:
    from chaosmonkey.settings import SETTINGS, load_settings

    deployment = find(helm.render(), "Deployment")[0]
    env = _env(deployment)
    assert {s.variable for s in SETTINGS} <= set(env)
    plain = {k: v for k, v in env.items() if isinstance(v, str)}
    settings = load_settings({**plain, "CHAOSMONKEY_OPERATOR_NAMESPACE": NS})  # the operator accepts them
    assert settings.namespaces == () and settings.leader_election is True


def test_non_default_settings_reach_the_operator_parseable(helm: HelmWorker) -> None:
    from chaosmonkey.settings import load_settings

    operator = {
        "namespaces": ["a", "b"],
        "allowedNamespaces": ["c"],
        "defaultTimeZone": "Europe/Madrid",
        "maxConcurrentAttacks": 1000000,  # Helm's numbers are float64: must not render as 1e+06
        "attackTimeoutSeconds": 2.5,
        "logLevel": "DEBUG",
        "logFormat": "json",
        "healthPort": 9090,
        "catalogConfigMap": "cat",
        "leaderElection": {
            "enabled": False,
            "leaseName": "lease",
            "leaseDurationSeconds": 30,
            "renewDeadlineSeconds": 20.5,
            "retryPeriodSeconds": 0.5,
        },
    }
    deployment = find(helm.render({"operator": operator}), "Deployment")[0]
    plain = {k: v for k, v in _env(deployment).items() if isinstance(v, str)}
    settings = load_settings(plain)
    assert (settings.namespaces, settings.allowed_namespaces) == (("a", "b"), ("c",))
    assert (settings.default_time_zone, settings.max_concurrent_attacks) == ("Europe/Madrid", 1000000)
    assert (settings.attack_timeout_seconds, settings.log_level, settings.log_format) == (
        2.5,
        "DEBUG",
        "json",
    )
    assert (settings.health_port, settings.catalog_configmap) == (9090, "cat")
    assert (settings.leader_election, settings.lease_name) == (False, "lease")
    assert (
        settings.lease_duration_seconds,
        settings.lease_renew_deadline_seconds,
        settings.lease_retry_period_seconds,
    ) == (30, 20.5, 0.5)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0]["containerPort"] == 9090


def test_namespaced_render_rbac_only_in_listed_namespaces(helm: HelmWorker) -> None:
    objects = helm.render(NAMESPACED)
    roles = {
        o["metadata"]["namespace"]: o
        for o in find(objects, "Role")
        if not o["metadata"]["name"].endswith("-self")
    }
    assert sorted(roles) == ["targets", "team-a", "team-b"]
    assert roles["team-a"]["rules"] == PLAN_RULES + ATTACK_RULES
    assert roles["team-b"]["rules"] == PLAN_RULES + ATTACK_RULES
    assert roles["targets"]["rules"] == ATTACK_RULES  # allowed namespace: attacks only, no plans
    bindings = [b for b in find(objects, "RoleBinding") if not b["metadata"]["name"].endswith("-self")]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["targets", "team-a", "team-b"]
    cluster_roles = find(objects, "ClusterRole")
    assert len(cluster_roles) == 1 and cluster_roles[0]["metadata"]["name"].endswith("-scanning")
    assert cluster_roles[0]["rules"] == [CRD_SCAN_RULE, NAMESPACE_SCAN_RULE]
    self_role = [r for r in find(objects, "Role") if r["metadata"]["name"].endswith("-self")]
    assert [r["metadata"]["namespace"] for r in self_role] == [NS]
    env = _env(find(objects, "Deployment")[0])
    assert env["CHAOSMONKEY_NAMESPACES"] == "team-a,team-b"
    assert env["CHAOSMONKEY_ALLOWED_NAMESPACES"] == "targets"


def test_rbac_toggles(helm: HelmWorker) -> None:
    objects = helm.render(
        {
            "rbac": {"secrets": False, "podChaos": False, "clusterScanning": False},
            "operator": {"leaderElection": {"enabled": False}, "catalogConfigMap": "my-catalog"},
        }
    )
    (cluster_role,) = find(objects, "ClusterRole")
    assert cluster_role["rules"] == PLAN_RULES + ATTACK_RULES[:1]
    assert find(objects, "Role")[0]["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": ["my-catalog"],
            "verbs": ["get", "patch"],
        },
    ]
    none = helm.render({"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "existing"}})
    assert {o["kind"] for o in none} == {"CustomResourceDefinition", "Deployment"}
    assert find(none, "Deployment")[0]["spec"]["template"]["spec"]["serviceAccountName"] == "existing"


SERVICE_MONITOR_CRD = {  # a stand-in for the Prometheus Operator's CRD, so the ServiceMonitor maps
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {"plural": "servicemonitors", "singular": "servicemonitor", "kind": "ServiceMonitor"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


def test_deployment_options(helm: HelmWorker, client: Any) -> None:
    ext = kubernetes.client.ApiextensionsV1Api(client)
    ext.create_custom_resource_definition(SERVICE_MONITOR_CRD)  # type: ignore[arg-type]  # a dict body
    values = {
        "image": {"tag": "9.9.9", "digest": "sha256:" + "a" * 64, "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "regcred"}],
        "aws": {"region": "eu-west-1", "existingSecret": {"name": "aws-keys", "sessionTokenKey": "token"}},
        "plugins": {"planners": ["my-planners"], "attacks": ["a1", "a2"]},
        "extraEnv": [{"name": "EXTRA", "value": "1"}],
        "envFrom": [{"secretRef": {"name": "more"}}],
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}},
        "priorityClassName": "high",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "chaos", "operator": "Exists"}],
        "affinity": {"nodeAffinity": {}},
        "podAnnotations": {"a": "b"},
        "metrics": {"service": {"enabled": True}, "serviceMonitor": {"enabled": True}},
        "crds": {"enabled": False},
    }
    objects = helm.render(values)
    assert not find(objects, "CustomResourceDefinition")
    assert len(find(objects, "Service")) == 1 and len(find(objects, "ServiceMonitor")) == 1
    sa = find(objects, "ServiceAccount")[0]
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}
    deployment = find(objects, "Deployment")[0]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/chaosmonkey-operator/chaosmonkey-operator@sha256:" + "a" * 64
    assert container["imagePullPolicy"] == "Always"
    assert container["envFrom"] == [{"secretRef": {"name": "more"}}]
    env = _env(deployment)
    assert env["CHAOSMONKEY_PLANNERS_PATH"] == "/plugins/planners/my-planners"
    assert env["CHAOSMONKEY_ATTACKS_PATH"] == "/plugins/attacks/a1:/plugins/attacks/a2"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "aws-keys", "key": "access-key-id"}}
    assert env["AWS_SECRET_ACCESS_KEY"] == {"secretKeyRef": {"name": "aws-keys", "key": "secret-access-key"}}
    assert env["AWS_SESSION_TOKEN"] == {"secretKeyRef": {"name": "aws-keys", "key": "token"}}
    assert env["EXTRA"] == "1"
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/plugins/attacks/a2"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["attacks-1"]["configMap"] == {"name": "a2"}
    assert pod["affinity"] == {"nodeAffinity": {}}
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["priorityClassName"] == "high"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCont": 1}, "replicaCont"),
        ({"operator": {"namespace": ["a"]}}, "namespace"),
        ({"operator": {"leaderElection": {"leaseDuration": 15}}}, "leaseDuration"),
        ({"replicaCount": "two"}, "replicaCount"),
        ({"operator": {"logLevel": "TRACE"}}, "logLevel"),
        ({"rbac": {"secrets": "yes"}}, "secrets"),
        ({"operator": {"namespaces": "team-a"}}, "namespaces"),
    ],
)
def test_schema_rejects_typos_and_wrong_types(helm: HelmWorker, values: dict[str, Any], message: str) -> None:
    answer = helm.call("install", release="bad", namespace=NS, values=values)
    assert "error" in answer, answer
    assert "schema" in answer["error"].lower() and message in answer["error"], answer


def test_template_checks_reject_inconsistent_values(helm: HelmWorker) -> None:
    answer = helm.call(
        "install",
        release="bad",
        namespace=NS,
        values={"operator": {"leaderElection": {"renewDeadlineSeconds": 20}}},
    )
    assert "renewDeadlineSeconds must be below leaseDurationSeconds" in answer.get("error", ""), answer
    answer = helm.call(
        "install", release="bad", namespace=NS, values={"metrics": {"serviceMonitor": {"enabled": True}}}
    )
    assert "needs metrics.service.enabled" in answer.get("error", ""), answer


def test_rendered_manifests_validate_against_kubernetes_schemas(helm: HelmWorker) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    renders = [
        helm.render(),
        helm.render(NAMESPACED),
        helm.render({"metrics": {"service": {"enabled": True}}}),
    ]
    checked = 0
    for objects in renders:
        for obj in objects:
            kubernetes_validate.validate(obj, "1.29", strict=True)
            checked += 1
    assert checked > 20


def test_crd_copy_has_not_drifted_from_crds() -> None:
    sources = sorted(p.name for p in (ROOT / "crds").glob("*.yaml"))
    copies = sorted(p.name for p in (CHART / "files" / "crds").glob("*.yaml"))
    assert copies == sources, "re-sync chart/files/crds/ from crds/ (see chart/README.md)"
    for name in sources:
        assert (CHART / "files" / "crds" / name).read_bytes() == (ROOT / "crds" / name).read_bytes(), name


def test_rendered_crd_is_the_source_plus_labels_and_keep(helm: HelmWorker) -> None:
    source = yaml.safe_load((ROOT / "crds" / "chaosplan.yaml").read_text())
    (crd,) = find(helm.render(), "CustomResourceDefinition")
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert crd["metadata"]["labels"].items() >= source["metadata"]["labels"].items()
    stripped = json.loads(json.dumps(crd))
    del stripped["metadata"]["annotations"]
    stripped["metadata"]["labels"] = source["metadata"]["labels"]
    assert stripped == source
    (crd,) = find(helm.render({"crds": {"keep": False}}), "CustomResourceDefinition")
    assert "annotations" not in crd["metadata"]


def _leaves(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in _leaves(item, f"{prefix}{key}.")]
    return [prefix[:-1]]


# Maps whose default is non-empty are documented as one value (their keys are examples).
WHOLE = ("resources", "podSecurityContext", "securityContext")


def _documented(values_yaml: dict[str, Any]) -> list[str]:
    leaves = _leaves({k: v for k, v in values_yaml.items() if k not in WHOLE}) + list(WHOLE)
    return sorted(leaves)


def test_every_value_is_commented_in_values_yaml(values_yaml: dict[str, Any]) -> None:
    text = (CHART / "values.yaml").read_text()
    missing = [leaf for leaf in _documented(values_yaml) if f"# {leaf} -- " not in text]
    assert not missing


def test_readme_values_table_lists_every_value(values_yaml: dict[str, Any]) -> None:
    readme = (CHART / "README.md").read_text()
    rows = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.MULTILINE))
    missing = [leaf for leaf in _documented(values_yaml) if leaf not in rows]
    assert not missing


PLURALS = {
    "ServiceAccount": "serviceaccounts",
    "Deployment": "deployments",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "CustomResourceDefinition": "customresourcedefinitions",
}


def _path(obj: dict[str, Any]) -> str:
    version = obj["apiVersion"]
    base = f"/api/{version}" if "/" not in version else f"/apis/{version}"
    namespace = obj["metadata"].get("namespace")
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{base}{scope}/{PLURALS[obj['kind']]}/{obj['metadata']['name']}"


def _stored(runner: Any, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The object as the API server stores it, or None if it is gone."""
    try:
        with urllib.request.urlopen(runner.url + _path(obj), timeout=10) as response:
            stored: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    return stored


def _install_and_check(
    helm: HelmWorker, runner: Any, release: str, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """Install into the embedded API server; every rendered object is stored as rendered."""
    namespace = f"{release}-system"
    installed = helm.ok("install", release=release, namespace=namespace, values=values)
    assert (installed["info"]["status"], installed["namespace"]) == ("deployed", namespace)
    objects = manifests(installed["manifest"])
    for obj in objects:
        stored = _stored(runner, obj)
        assert stored is not None, _path(obj)
        assert stored["metadata"]["annotations"]["meta.helm.sh/release-name"] == release
        assert stored["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        for field in ("rules", "subjects", "roleRef"):
            assert stored.get(field) == obj.get(field), (_path(obj), field)
        if obj["kind"] == "Deployment":
            assert stored["spec"]["replicas"] == obj["spec"]["replicas"]
            assert (
                stored["spec"]["template"]["spec"]["containers"][0]["env"]
                == (obj["spec"]["template"]["spec"]["containers"][0]["env"])
            )
    return objects


def test_install_default_creates_the_objects(helm: HelmWorker, runner: Any) -> None:
    objects = _install_and_check(helm, runner, "cm", {})
    try:
        assert {o["kind"] for o in objects} == set(PLURALS)
        with urllib.request.urlopen(
            runner.url + "/apis/chaosmonkey.io/v1alpha1/chaosplans", timeout=10
        ) as response:
            assert json.load(response)["items"] == []  # the installed CRD serves ChaosPlans
    finally:
        helm.ok("uninstall", release="cm", namespace="cm-system")
    kept = [o["kind"] for o in objects if _stored(runner, o) is not None]
    assert kept == ["CustomResourceDefinition"]  # helm.sh/resource-policy: keep


def test_install_namespaced_creates_roles_in_listed_namespaces(helm: HelmWorker, runner: Any) -> None:
    objects = _install_and_check(helm, runner, "nsd", NAMESPACED)
    try:
        roles = sorted(o["metadata"]["namespace"] for o in find(objects, "Role", "nsd-chaosmonkey-operator"))
        assert roles == ["targets", "team-a", "team-b"]
        assert _stored(runner, {**find(objects, "Role", "nsd-chaosmonkey-operator")[0]}) is not None
        assert not find(objects, "ClusterRole", "nsd-chaosmonkey-operator")
    finally:
        helm.ok("uninstall", release="nsd", namespace="nsd-system")
    assert all(_stored(runner, o) is None for o in objects if o["kind"] != "CustomResourceDefinition")
