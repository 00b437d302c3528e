"""Semantics 4 and 6 (discovery): CRDs from manifests and over the API, schema validation, discovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes
import pytest
import requests

from chaosmonkey.sandbox.apiserver import ServerThread

from .conftest import CRDS_DIR
from .helpers import GROUP, PLURAL, VERSION, api_error, widget


def test_validation_errors_are_422_invalid_with_causes(custom: Any) -> None:
    status, body = api_error(lambda: custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, widget("w1", size="x")))
    assert status == 422 and body["reason"] == "Invalid"
    assert body["message"] == ('Widget.example.com "w1" is invalid: spec.size: Unsupported value: "x": '
                               'supported values: "small", "large"')
    bad = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2"},
           "spec": {"replicas": "three", "colour": "Red1", "port": 1.5}}
    status, body = api_error(lambda: custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, bad))
    fields = {cause["field"]: cause["reason"] for cause in body["details"]["causes"]}
    assert fields == {"spec.replicas": "FieldValueInvalid", "spec.colour": "FieldValueInvalid",
                      "spec.port": "FieldValueInvalid", "spec.size": "FieldValueRequired"}
    for spec, message in [({"replicas": -1}, "should be greater than or equal to 0"),
                          ({"replicas": 11}, "should be less than or equal to 10"),
                          ({"colour": "abcdefghijk"}, "spec.colour: Too long: may not be more than 10 bytes")]:
        _, body = api_error(lambda spec=spec: custom.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, widget("w3", **spec)))
        assert message in body["message"]


def test_defaults_pruning_int_or_string_nullable(custom: Any) -> None:
    body = widget("w", port="http", note=None, unknown=1, extra={"free": {"form": [1]}})
    body["topLevelJunk"] = True
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    assert created["spec"] == {"size": "small", "replicas": 1, "port": "http", "note": None,
                               "extra": {"free": {"form": [1]}}}
    assert "topLevelJunk" not in created
    assert custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w",
                                                 {"spec": {"port": 8080}})["spec"]["port"] == 8080


def test_discovery_documents(runner: ServerThread) -> None:
    def get(path: str) -> Any:
        return requests.get(runner.url + path, timeout=5).json()

    assert get("/api")["versions"] == ["v1"]
    assert get("/api/v1")["groupVersion"] == "v1"
    assert get("/version")["major"] == "1"
    groups = {group["name"]: group for group in get("/apis")["groups"]}
    assert groups["example.com"]["preferredVersion"]["groupVersion"] == "example.com/v1"
    assert {"apps", "policy", "coordination.k8s.io", "rbac.authorization.k8s.io"} <= set(groups)
    resources = {entry["name"]: entry for entry in get("/apis/example.com/v1")["resources"]}
    assert resources["widgets"]["shortNames"] == ["wd"]
    assert resources["widgets"]["categories"] == ["all", "toys"]
    assert resources["widgets"]["namespaced"] is True and "watch" in resources["widgets"]["verbs"]
    assert "widgets/status" in resources
    assert "pods/eviction" in {entry["name"] for entry in get("/api/v1")["resources"]}
    assert requests.get(runner.url + "/openapi/v2", timeout=5).status_code == 404


def test_crd_created_over_the_api_is_served_and_removed(client: Any) -> None:
    extensions = kubernetes.client.ApiextensionsV1Api(client)
    custom = kubernetes.client.CustomObjectsApi(client)
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "gadgets.test.io"},
           "spec": {"group": "test.io", "scope": "Cluster",
                    "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    created = extensions.create_custom_resource_definition(crd)
    assert any(condition.type == "Established" for condition in created.status.conditions)
    gadget = custom.create_cluster_custom_object("test.io", "v1", "gadgets",
                                                 {"apiVersion": "test.io/v1", "kind": "Gadget",
                                                  "metadata": {"name": "g"}, "anything": {"goes": 1}})
    assert gadget["anything"] == {"goes": 1} and "namespace" not in gadget["metadata"]
    extensions.delete_custom_resource_definition("gadgets.test.io")
    status, _ = api_error(lambda: custom.list_cluster_custom_object("test.io", "v1", "gadgets"))
    assert status == 404


@pytest.mark.parametrize("sandbox_apiserver", [{"crds_dir": CRDS_DIR}], indirect=True)
def test_the_reusable_fixture(sandbox_apiserver: ServerThread, tmp_path: Path) -> None:
    assert sandbox_apiserver.url.startswith("http://127.0.0.1:")
    assert (tmp_path / "kubeconfig").read_text().count(sandbox_apiserver.url) == 1
    listed = requests.get(f"{sandbox_apiserver.url}/apis/{GROUP}/{VERSION}/{PLURAL}", timeout=5).json()
    assert listed["kind"] == "WidgetList" and listed["items"] == []
