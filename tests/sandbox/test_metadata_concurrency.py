"""Semantics 1-3 and 5: metadata, optimistic concurrency, the status subresource, patch types."""

from __future__ import annotations

from typing import Any

import requests

from chaosmonkey.sandbox.apiserver import ServerThread

from .helpers import GROUP, PLURAL, VERSION, api_error, widget


def test_create_fills_metadata_and_answers_201(runner: ServerThread) -> None:
    response = requests.post(
        f"{runner.url}/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}", json=widget("w1"), timeout=5
    )
    assert response.status_code == 201
    metadata = response.json()["metadata"]
    assert metadata["uid"] and metadata["creationTimestamp"].endswith("Z")
    assert metadata["generation"] == 1
    assert int(metadata["resourceVersion"]) > 0
    assert metadata["namespace"] == "default"


def test_generation_bumps_only_on_spec_changes(custom: Any) -> None:
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w"))
    labelled = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    assert int(labelled["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    resized = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w", {"spec": {"size": "large"}}
    )
    assert resized["metadata"]["generation"] == 2
    assert resized["metadata"]["uid"] == created["metadata"]["uid"]


def test_generate_name_and_cluster_scoped(core: Any) -> None:
    first = core.create_namespace({"metadata": {"generateName": "ns-"}})
    second = core.create_namespace({"metadata": {"generateName": "ns-"}})
    assert first.metadata.name.startswith("ns-") and first.metadata.name != second.metadata.name
    assert first.metadata.namespace is None
    names = {item.metadata.name for item in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", first.metadata.name} <= names


def test_not_found_and_already_exists_are_status_objects(custom: Any) -> None:
    status, body = api_error(
        lambda: custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "x")
    )
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'widgets.example.com "x" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "x", "group": "example.com", "kind": "widgets"},
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("x"))
    status, body = api_error(
        lambda: custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("x"))
    )
    assert status == 409 and body["reason"] == "AlreadyExists"
    assert body["message"] == 'widgets.example.com "x" already exists'


def test_delete_returns_object_and_unknown_namespace_is_404(runner: ServerThread, core: Any) -> None:
    core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}, "data": {"k": "v"}})
    deleted = requests.delete(f"{runner.url}/api/v1/namespaces/default/configmaps/cm", timeout=5).json()
    assert deleted["metadata"]["name"] == "cm" and deleted["data"] == {"k": "v"}
    status, body = api_error(
        lambda: core.create_namespaced_config_map("nowhere", {"metadata": {"name": "c"}})
    )
    assert status == 404 and body["message"] == 'namespaces "nowhere" not found'


def test_stale_resource_version_conflicts_and_put_requires_one(custom: Any, core: Any) -> None:
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w"))
    custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w", {"spec": {"replicas": 2}})
    stale = {**created, "spec": {"size": "large"}}
    status, body = api_error(
        lambda: custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w", stale)
    )
    assert status == 409 and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    stale_patch = {
        "metadata": {"resourceVersion": created["metadata"]["resourceVersion"]},
        "spec": {"replicas": 3},
    }
    status, _ = api_error(
        lambda: custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w", stale_patch)
    )
    assert status == 409
    unversioned = {**created, "metadata": {"name": "w"}}
    status, body = api_error(
        lambda: custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w", unversioned)
    )
    assert status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.resourceVersion"
    assert "must be specified for an update" in body["message"]
    current = custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
    current["spec"]["replicas"] = 4
    replaced = custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w", current)
    assert replaced["spec"]["replicas"] == 4


def test_status_subresource_split(custom: Any) -> None:
    body = {**widget("w"), "status": {"phase": "Ignored"}}
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    assert "status" not in created
    updated = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "w", {"status": {"phase": "Ready"}, "spec": {"size": "large"}}
    )
    assert updated["status"] == {"phase": "Ready"}
    assert updated["spec"]["size"] == "small" and updated["metadata"]["generation"] == 1
    main = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w", {"status": {"phase": "Nope"}, "spec": {"size": "large"}}
    )
    assert main["status"] == {"phase": "Ready"} and main["spec"]["size"] == "large"
    assert main["metadata"]["generation"] == 2


def test_patch_types(runner: ServerThread, custom: Any) -> None:
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, widget("w", extra={"list": [1, 2], "keep": True})
    )
    url = f"{runner.url}/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/w"

    def patch(content_type: str, body: Any) -> requests.Response:
        return requests.patch(url, json=body, headers={"Content-Type": content_type}, timeout=5)

    merged = patch("application/merge-patch+json", {"spec": {"extra": {"keep": None, "new": 1}}}).json()
    assert merged["spec"]["extra"] == {"list": [1, 2], "new": 1}
    strategic = patch("application/strategic-merge-patch+json", {"spec": {"colour": "red"}}).json()
    assert strategic["spec"]["colour"] == "red"
    ops = [
        {"op": "add", "path": "/spec/extra/list/-", "value": 3},
        {"op": "remove", "path": "/spec/colour"},
        {"op": "replace", "path": "/spec/size", "value": "large"},
        {"op": "copy", "from": "/spec/size", "path": "/spec/extra/copied"},
        {"op": "move", "from": "/spec/extra/new", "path": "/spec/extra/moved"},
        {"op": "test", "path": "/spec/replicas", "value": 1},
    ]
    patched = patch("application/json-patch+json", ops).json()
    assert patched["spec"] == {
        "size": "large",
        "replicas": 1,
        "extra": {"list": [1, 2, 3], "copied": "large", "moved": 1},
    }
    failed = patch("application/json-patch+json", [{"op": "test", "path": "/spec/replicas", "value": 9}])
    assert failed.status_code == 422
    assert patch("application/apply-patch+yaml", {}).status_code == 415


def test_finalizers_delay_deletion_until_removed(custom: Any) -> None:
    body = widget("w")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
    marked = custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
    assert marked["metadata"]["deletionTimestamp"]
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w", {"metadata": {"finalizers": None}}
    )
    status, _ = api_error(lambda: custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w"))
    assert status == 404


def test_unconditional_put_is_allowed_where_the_api_server_allows_it(client: Any, core: Any) -> None:
    # Most built-in kinds accept a PUT without resourceVersion (it simply overwrites);
    # custom resources (above) and Leases refuse it, as their update strategies do.
    import kubernetes

    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    replaced = core.replace_namespaced_config_map(
        "c", "default", {"metadata": {"name": "c"}, "data": {"a": "2"}}
    )
    assert replaced.data == {"a": "2"}
    leases = kubernetes.client.CoordinationV1Api(client)
    leases.create_namespaced_lease("default", {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a"}})
    status, body = api_error(
        lambda: leases.replace_namespaced_lease(
            "l", "default", {"metadata": {"name": "l"}, "spec": {"holderIdentity": "b"}}
        )
    )
    assert status == 422
    assert body["reason"] == "Invalid"
