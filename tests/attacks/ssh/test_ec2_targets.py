"""RunScript's EC2 mode: targets found in moto's EC2 API, reached over SSH on loopback.

The target instance is launched in a 127.0.0.0/24 subnet with private IP 127.0.0.1, where the
test's sshd listens, so the attack really connects to the address EC2 reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosmonkey.attacks import AttackContext, AttackError
from chaosmonkey.attacks.run_script import RunScript
from tests.attacks.ssh.conftest import pem_base64
from tests.support.sshd import SSHServer

moto_ec2_support = pytest.importorskip("tests.support.moto_ec2")

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto_server() -> Iterator[Any]:
    with moto_ec2_support.moto_ec2() as servers:
        yield servers


@pytest.fixture
def aws(moto_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    moto_server.reset()
    moto_ec2_support.use_moto_environment(
        moto_server, monkeypatch, access_key_id="testing", secret_access_key="testing"
    )
    return moto_server


def launch_on_loopback(aws: Any, tags: dict[str, str]) -> str:
    """An instance whose private IP is 127.0.0.1 (in a loopback VPC); returns its id."""
    ec2 = aws.client(REGION)
    vpc = ec2.create_vpc(CidrBlock="127.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="127.0.0.0/24")["Subnet"]["SubnetId"]
    response = ec2.run_instances(
        ImageId=moto_ec2_support.DEFAULT_AMI,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        PrivateIpAddress="127.0.0.1",
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )
    instance_id: str = response["Instances"][0]["InstanceId"]
    return instance_id


def ec2_attack(sshd: SSHServer, script: str, *, dry_run: bool = False, **args: Any) -> RunScript:
    attack = RunScript(
        {
            "ref": "run_script:RunScript",
            "args": {
                "region": REGION,
                "filters": {"tag:Chaos": "true"},
                "port": sshd.port,
                "user": sshd.user,
                "script": {"inline": script},
                "ssh": {"pem": pem_base64(sshd), "knownHosts": sshd.known_hosts_line},
                "timeout": 20,
                **args,
            },
        }
    )
    attack.context = AttackContext(plan_name="plan", namespace="chaos", dry_run=dry_run)
    return attack


def test_the_script_runs_on_the_instance_matching_the_filters(
    aws: Any, sshd: SSHServer, scratch: Path
) -> None:
    target = launch_on_loopback(aws, {"Chaos": "true"})
    aws.create_instances(REGION, count=2, tags={"Chaos": "false"})

    result = ec2_attack(sshd, f"hostname > {scratch / 'ran'}").run()

    assert (scratch / "ran").exists()
    assert [host["host"] for host in result["hosts"]] == [f"{target} (127.0.0.1)"]


def test_excluded_instances_are_never_targets(aws: Any, sshd: SSHServer, scratch: Path) -> None:
    launch_on_loopback(aws, {"Chaos": "true", "Domain": "payments"})

    with pytest.raises(AttackError, match="excluded"):
        ec2_attack(sshd, f"touch {scratch / 'ran'}", excluded={"Domain": "payments"}).run()
    assert not (scratch / "ran").exists()


def test_the_public_address_is_required_when_asked_for(aws: Any, sshd: SSHServer) -> None:
    target = launch_on_loopback(aws, {"Chaos": "true"})

    with pytest.raises(AttackError, match=f"instance {target} has no public IP address"):
        ec2_attack(sshd, "true", address="public").run()


def test_a_dry_run_names_the_instance_and_connects_nothing(aws: Any, sshd: SSHServer, scratch: Path) -> None:
    target = launch_on_loopback(aws, {"Chaos": "true"})

    result = ec2_attack(sshd, f"touch {scratch / 'ran'}", dry_run=True).run()

    assert result["message"] == f"dry run: would run the inline script as {sshd.user} on {target} (127.0.0.1)"
    assert not (scratch / "ran").exists()
