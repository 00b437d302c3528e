"""The server used directly from asyncio code (same loop as the test), with a raw aiohttp client."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
import yaml

from chaosmonkey.sandbox.apiserver import APIServer


@pytest.mark.asyncio
async def test_start_watch_write_stop_in_one_loop(tmp_path: Path) -> None:
    server = APIServer()
    url = await server.start()
    try:
        kubeconfig = yaml.safe_load(server.write_kubeconfig(tmp_path / "kubeconfig").read_text())
        assert kubeconfig["clusters"][0]["cluster"]["server"] == url
        assert kubeconfig["current-context"] == "sandbox"
        configmaps = f"{url}/api/v1/namespaces/default/configmaps"
        async with aiohttp.ClientSession() as session:
            async with session.get(configmaps) as listed:
                since = (await listed.json())["metadata"]["resourceVersion"]
            async with session.get(configmaps, params={"watch": "true", "resourceVersion": since}) as watch:
                async with session.post(configmaps, json={"metadata": {"name": "c"}}) as created:
                    assert created.status == 201
                event = json.loads(await watch.content.readline())
                assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "c")
                server.drop_watches()
                assert await watch.content.read() == b""
        assert server.requests.count("POST", "/api/v1/namespaces/{namespace}/configmaps") == 1
    finally:
        await server.stop()
