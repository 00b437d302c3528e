"""Semantic 6: lists with selectors, and watches (resume, 410, timeouts, bookmarks, DELETED)."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest
import requests

from chaosmonkey.sandbox.apiserver import APIServer, ServerThread
from chaosmonkey.sandbox.apiserver.testing import kube_client

from .helpers import GROUP, PLURAL, VERSION, widget

PODS = "/api/v1/namespaces/default/pods"


def _pod(name: str, labels: dict[str, str], phase: str = "Running", node: str = "n1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}, "status": {"phase": phase}}


@pytest.fixture
def pods(core: Any) -> None:
    core.create_namespaced_pod("default", _pod("a", {"app": "web", "tier": "front"}))
    core.create_namespaced_pod("default", _pod("b", {"app": "web"}, phase="Pending", node="n2"))
    core.create_namespaced_pod("default", _pod("c", {"app": "db"}))


@pytest.mark.usefixtures("pods")
@pytest.mark.parametrize(("label_selector", "field_selector", "expected"), [
    ("app=web", "", {"a", "b"}),
    ("app==web,tier!=front", "", {"b"}),
    ("app in (web, db)", "", {"a", "b", "c"}),
    ("app notin (web)", "", {"c"}),
    ("tier", "", {"a"}),
    ("!tier", "", {"b", "c"}),
    ("", "status.phase=Running", {"a", "c"}),
    ("", "spec.nodeName!=n1", {"b"}),
    ("app=web", "metadata.name=a,metadata.namespace=default", {"a"}),
])
def test_list_selectors(runner: ServerThread, label_selector: str, field_selector: str,
                        expected: set[str]) -> None:
    body = requests.get(runner.url + PODS, params={"labelSelector": label_selector,
                                                   "fieldSelector": field_selector}, timeout=5).json()
    assert body["kind"] == "PodList" and body["apiVersion"] == "v1"
    assert int(body["metadata"]["resourceVersion"]) >= 3
    assert {item["metadata"]["name"] for item in body["items"]} == expected


def test_custom_list_kind_and_client_models(core: Any, custom: Any) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w"))
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    assert listed["kind"] == "WidgetList" and listed["apiVersion"] == "example.com/v1"
    assert core.list_namespace().kind == "NamespaceList"


def _events(url: str, **params: Any) -> list[dict[str, Any]]:
    with requests.get(url, params={"watch": "true", **params}, stream=True, timeout=10) as response:
        return [json.loads(line) for line in response.iter_lines() if line]


def test_watch_streams_and_resumes_from_a_resource_version(runner: ServerThread, custom: Any) -> None:
    first = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w1"))
    custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1", {"spec": {"replicas": 2}})
    custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
    url = f"{runner.url}/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}"
    events = _events(url, resourceVersion=first["metadata"]["resourceVersion"], timeoutSeconds=1)
    assert [event["type"] for event in events] == ["MODIFIED", "DELETED"]
    versions = [int(event["object"]["metadata"]["resourceVersion"]) for event in events]
    assert versions == sorted(versions) and versions[0] > int(first["metadata"]["resourceVersion"])
    bookmarked = _events(url, timeoutSeconds=1, allowWatchBookmarks="true")
    assert [event["type"] for event in bookmarked] == ["BOOKMARK"]


def test_watch_with_the_kubernetes_client(runner: ServerThread, client: Any, custom: Any) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w1", colour="red"))
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("w2"))
    watch = kubernetes.watch.Watch()
    seen = []
    for event in watch.stream(custom.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL,
                              field_selector="metadata.name=w1", timeout_seconds=5):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if len(seen) == 1:
            custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w2", {"spec": {"replicas": 3}})
            custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w1")
        if event["type"] == "DELETED":
            watch.stop()
    assert seen == [("ADDED", "w1"), ("DELETED", "w1")]


def test_watch_older_than_history_gets_410() -> None:
    with ServerThread(APIServer(history_size=3)) as small:
        small_core = kubernetes.client.CoreV1Api(kube_client(small.url))
        first = small_core.create_namespaced_config_map("default", {"metadata": {"name": "c0"}})
        for index in range(1, 6):
            small_core.create_namespaced_config_map("default", {"metadata": {"name": f"c{index}"}})
        events = _events(small.url + "/api/v1/namespaces/default/configmaps",
                         resourceVersion=first.metadata.resource_version, timeoutSeconds=1)
        assert events[0]["type"] == "ERROR"
        assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"

