"""Which resources the server knows: built-ins from kmock's bundled discovery data, plus CRDs."""

from __future__ import annotations

import gzip
import importlib.resources
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ALL_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

# The built-ins the project needs, whether or not the bundled discovery data lists them.
_REQUIRED_BUILTINS: list[tuple[str, str, str, str, bool, bool]] = [
    # group, version, plural, kind, namespaced, has status subresource
    ("", "v1", "namespaces", "Namespace", False, True),
    ("", "v1", "pods", "Pod", True, True),
    ("", "v1", "events", "Event", True, False),
    ("", "v1", "configmaps", "ConfigMap", True, False),
    ("", "v1", "secrets", "Secret", True, False),
    ("", "v1", "services", "Service", True, True),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, False),
    ("events.k8s.io", "v1", "events", "Event", True, False),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, False),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, True),
    ("apps", "v1", "deployments", "Deployment", True, True),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, True),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, False),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, False),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, False),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, False),
]


@dataclass
class ResourceInfo:
    """One served resource at one group/version."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    has_status: bool = False
    verbs: list[str] = field(default_factory=lambda: list(ALL_VERBS))
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    schema: dict[str, Any] | None = None
    printer_columns: list[dict[str, Any]] = field(default_factory=list)
    extra_subresources: list[str] = field(default_factory=list)
    from_crd: str | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def store_key(self) -> tuple[str, str]:
        """Versions of one resource share objects, as they do in etcd."""
        return (self.group, self.plural)

    def discovery(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {
            "name": self.plural, "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced, "kind": self.kind, "verbs": self.verbs,
        }
        if self.short_names:
            entry["shortNames"] = self.short_names
        if self.categories:
            entry["categories"] = self.categories
        entries = [entry]
        subresources = (["status"] if self.has_status else []) + self.extra_subresources
        for sub in subresources:
            verbs = ["create"] if sub == "eviction" else ["get", "patch", "update"]
            kind = "Eviction" if sub == "eviction" else self.kind
            group = {"group": "policy", "version": "v1"} if sub == "eviction" else {}
            entries.append({"name": f"{self.plural}/{sub}", "singularName": "", "namespaced": self.namespaced,
                            "kind": kind, "verbs": verbs, **group})
        return entries


class Registry:
    """Resources by group/version/plural, with the discovery documents built from them."""

    def __init__(self) -> None:
        self.resources: dict[tuple[str, str, str], ResourceInfo] = {}
        self.group_order: list[str] = []

    def add(self, info: ResourceInfo) -> None:
        self.resources[(info.group, info.version, info.plural)] = info
        if info.group not in self.group_order:
            self.group_order.append(info.group)

    def remove_crd(self, crd_name: str) -> None:
        for key in [key for key, info in self.resources.items() if info.from_crd == crd_name]:
            del self.resources[key]

    def get(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        return self.resources.get((group, version, plural))

    def versions(self, group: str) -> list[str]:
        seen: list[str] = []
        for (res_group, version, _plural) in self.resources:
            if res_group == group and version not in seen:
                seen.append(version)
        return seen

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        infos = [info for (g, v, _p), info in self.resources.items() if g == group and v == version]
        if not infos:
            return None
        entries = [entry for info in infos for entry in info.discovery()]
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": entries}

    def group_document(self, group: str) -> dict[str, Any] | None:
        versions = self.versions(group)
        if not group or not versions:
            return None
        listed = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": listed,
                "preferredVersion": listed[0]}

    def group_list(self) -> dict[str, Any]:
        groups = [self.group_document(group) for group in self.group_order if group]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group for group in groups if group]}

    def load_builtins(self) -> None:
        for resource_list in _bundled_discovery():
            group_version: str = resource_list["groupVersion"]
            group, _, version = group_version.rpartition("/")
            names = {entry["name"] for entry in resource_list["resources"]}
            for entry in resource_list["resources"]:
                if "/" in entry["name"]:
                    continue
                extra = ["eviction"] if (group, entry["name"]) == ("", "pods") else []
                self.add(ResourceInfo(
                    group=group, version=version, plural=entry["name"], kind=entry["kind"],
                    namespaced=entry["namespaced"], singular=entry.get("singularName", ""),
                    has_status=f"{entry['name']}/status" in names, verbs=list(entry["verbs"]),
                    short_names=list(entry.get("shortNames", [])),
                    categories=list(entry.get("categories", [])),
                    extra_subresources=extra,
                ))
        for group, version, plural, kind, namespaced, has_status in _REQUIRED_BUILTINS:
            if (group, version, plural) not in self.resources:
                extra = ["eviction"] if (group, plural) == ("", "pods") else []
                self.add(ResourceInfo(group, version, plural, kind, namespaced, has_status=has_status,
                                      extra_subresources=extra))

    def add_crd(self, crd: dict[str, Any]) -> list[ResourceInfo]:
        """Register every served version of a CustomResourceDefinition."""
        spec = crd["spec"]
        names = spec["names"]
        added = []
        for version in spec.get("versions", []):
            if not version.get("served", True):
                continue
            info = ResourceInfo(
                group=spec["group"], version=version["name"], plural=names["plural"], kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular", names["kind"].lower()),
                has_status="status" in (version.get("subresources") or {}),
                short_names=list(names.get("shortNames", [])), categories=list(names.get("categories", [])),
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=list(version.get("additionalPrinterColumns", [])),
                from_crd=crd["metadata"]["name"],
            )
            self.add(info)
            added.append(info)
        return added


def _bundled_discovery() -> list[dict[str, Any]]:
    """kmock's bundled discovery data (a recent K3s's built-ins); empty if kmock is not installed."""
    try:
        data = importlib.resources.files("kmock._internal").joinpath("resources.json.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return []
    loaded: list[dict[str, Any]] = json.loads(gzip.decompress(data))
    return [item for item in loaded if item.get("kind") == "APIResourceList"]


def load_crd_manifests(directory: Path) -> list[dict[str, Any]]:
    """Every CustomResourceDefinition document in ``directory/*.yaml`` / ``*.yml``."""
    crds = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        with path.open(encoding="utf-8") as stream:
            for document in yaml.safe_load_all(stream):
                if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                    crds.append(document)
    return crds
