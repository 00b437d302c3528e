"""LibcloudDriverFactory: provider "ec2" against moto, and libcloud's "dummy" provider."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from libcloud.compute.types import NodeState

from chaosmonkey.drivers import DriverError, LibcloudDriverFactory
from tests.attacks.aws.conftest import (
    PLANTED_ACCESS_KEY_ID,
    PLANTED_SECRET_ACCESS_KEY,
    PLANTED_SESSION_TOKEN,
    REGION,
)
from tests.support.moto_ec2 import MotoEC2


def ec2_options(aws: MotoEC2) -> dict[str, Any]:
    """Non-secret settings for libcloud's EC2 driver pointed at moto."""
    port = int(aws.endpoint_url.rsplit(":", 1)[1])
    return {"region": REGION, "host": "127.0.0.1", "port": port, "secure": False, "signature_version": "4"}


def test_ec2_with_credentials_from_environment_variables(aws: MotoEC2) -> None:
    ids = aws.create_instances(REGION, count=2)
    factory = LibcloudDriverFactory(
        "ec2", key_env="AWS_ACCESS_KEY_ID", secret_env="AWS_SECRET_ACCESS_KEY", options=ec2_options(aws)
    )

    nodes = factory.get_driver().list_nodes()

    assert sorted(node.id for node in nodes) == sorted(ids)
    authorization = aws.ec2_requests[-1].header("Authorization") or ""
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={PLANTED_ACCESS_KEY_ID}/")


def test_ec2_with_credentials_from_mounted_secret_files(
    aws: MotoEC2, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Secret volume: one file per key, often with a trailing newline.
    (tmp_path / "access-key-id").write_text("AKIAFROMFILE0000\n")
    (tmp_path / "secret-access-key").write_text(PLANTED_SECRET_ACCESS_KEY + "\n")
    monkeypatch.setenv("AWS_SESSION_TOKEN", PLANTED_SESSION_TOKEN)
    aws.create_instances(REGION)
    factory = LibcloudDriverFactory(
        "ec2",
        key_file=tmp_path / "access-key-id",
        secret_file=tmp_path / "secret-access-key",
        secret_options_env={"token": "AWS_SESSION_TOKEN"},
        options=ec2_options(aws),
    )

    assert len(factory.get_driver().list_nodes()) == 1

    request = aws.ec2_requests[-1]
    assert (request.header("Authorization") or "").startswith("AWS4-HMAC-SHA256 Credential=AKIAFROMFILE0000/")
    assert request.header("X-Amz-Security-Token") == PLANTED_SESSION_TOKEN


def test_the_dummy_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUMMY_CREDS", "3")
    driver = LibcloudDriverFactory("dummy", key_env="DUMMY_CREDS").get_driver()
    assert type(driver).__name__ == "DummyNodeDriver"
    nodes = driver.list_nodes()
    assert [node.name for node in nodes] == ["dummy-0", "dummy-1", "dummy-2"]  # creds "3": 3 nodes
    assert nodes[0].state == NodeState.RUNNING
    assert driver.destroy_node(nodes[0]) is True


def test_an_unknown_provider_is_a_clear_error() -> None:
    with pytest.raises(DriverError, match="no compute provider 'no-such-cloud'"):
        LibcloudDriverFactory("no-such-cloud").get_driver()


def test_an_unset_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GCE_SERVICE_ACCOUNT", raising=False)
    with pytest.raises(DriverError, match="the gce key variable GCE_SERVICE_ACCOUNT is not set"):
        LibcloudDriverFactory("gce", key_env="GCE_SERVICE_ACCOUNT").get_driver()


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "key.json"
    with pytest.raises(DriverError, match=f"secret from file {missing}"):
        LibcloudDriverFactory("dummy", secret_file=missing).get_driver()


def test_driver_errors_and_logs_keep_secrets_out(
    aws: MotoEC2, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    factory = LibcloudDriverFactory(
        "ec2",
        key_env="AWS_ACCESS_KEY_ID",
        secret_env="AWS_SECRET_ACCESS_KEY",
        options={**ec2_options(aws), "region": "mars-north-1"},
    )
    with pytest.raises(DriverError) as failure:
        factory.get_driver()
    assert "cannot build the libcloud ec2 driver" in str(failure.value)
    for text in (str(failure.value), caplog.text):
        assert PLANTED_ACCESS_KEY_ID not in text
        assert PLANTED_SECRET_ACCESS_KEY not in text
    assert factory.redact(f"x {PLANTED_SECRET_ACCESS_KEY} y") == "x *** y"
