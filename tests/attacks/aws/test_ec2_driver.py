"""EC2DriverFactory against moto: regions, credentials (env and IAM role via IMDSv2), endpoints,
and secrets kept out of errors, results and logs."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

from chaosmonkey.attacks import AttackError
from chaosmonkey.drivers import AWSCredentials, DriverError, EC2DriverFactory
from tests.attacks.aws.conftest import (
    PLANTED_ACCESS_KEY_ID,
    PLANTED_SECRET_ACCESS_KEY,
    PLANTED_SESSION_TOKEN,
    REGION,
)
from tests.support.moto_ec2 import IAM_ROLE, IMDS_CREDENTIALS, MotoEC2, RecordedRequest

REF = "terminate_ec2_instance:TerminateEC2Instance"
SECRETS = (
    PLANTED_ACCESS_KEY_ID,
    PLANTED_SECRET_ACCESS_KEY,
    PLANTED_SESSION_TOKEN,
    IMDS_CREDENTIALS["AccessKeyId"],
    IMDS_CREDENTIALS["SecretAccessKey"],
    IMDS_CREDENTIALS["Token"],
)


def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was just free), so connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def api_calls(aws: MotoEC2) -> list[RecordedRequest]:
    """EC2 requests made by libcloud (boto3 helper calls are POSTs, libcloud's are GETs)."""
    return [r for r in aws.ec2_requests if r.method == "GET"]


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# -- region ------------------------------------------------------------------------------------


def test_region_comes_from_the_argument_first(aws: MotoEC2, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert EC2DriverFactory("eu-west-1").region == "eu-west-1"
    assert EC2DriverFactory().region == "us-east-1"


def test_region_falls_back_to_aws_region(aws: MotoEC2, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert EC2DriverFactory().region == "eu-central-1"


def test_a_missing_region_says_where_it_looked(aws: MotoEC2) -> None:
    with pytest.raises(DriverError) as failure:
        EC2DriverFactory()
    message = str(failure.value)
    assert "no AWS region" in message
    assert "AWS_DEFAULT_REGION" in message
    assert "AWS_REGION" in message
    assert "region" in message


def test_an_unknown_region_is_a_clear_error(aws: MotoEC2) -> None:
    with pytest.raises(DriverError, match="'mars-north-1'"):
        EC2DriverFactory("mars-north-1").get_driver()


# -- credentials from the environment ----------------------------------------------------------


def test_env_credentials_sign_with_sigv4_for_the_region(aws: MotoEC2) -> None:
    ids = aws.create_instances(REGION, count=2)

    nodes = EC2DriverFactory(REGION).get_driver().list_nodes()

    assert sorted(node.id for node in nodes) == sorted(ids)
    request = api_calls(aws)[0]
    authorization = request.header("Authorization") or ""
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={PLANTED_ACCESS_KEY_ID}/")
    assert f"/{REGION}/ec2/aws4_request" in authorization
    assert request.header("X-Amz-Security-Token") is None


def test_aws_session_token_is_sent_and_signed(aws: MotoEC2, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", PLANTED_SESSION_TOKEN)

    EC2DriverFactory(REGION).get_driver().list_nodes()

    request = api_calls(aws)[0]
    assert request.header("X-Amz-Security-Token") == PLANTED_SESSION_TOKEN
    assert "x-amz-security-token" in (request.header("Authorization") or "")
    # In a header only: query strings end up in access logs.
    assert "x-amz-security-token" not in {key.lower() for key in request.query}


@pytest.mark.parametrize("missing", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
def test_missing_credentials_are_a_clear_error(
    aws: MotoEC2, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.delenv(missing)
    with pytest.raises(DriverError) as failure:
        EC2DriverFactory(REGION).get_driver()
    message = str(failure.value)
    assert message.startswith("no AWS credentials")
    assert missing in message
    assert "AWS_IAM_ROLE" in message
    assert_no_secrets(message)


# -- endpoints ---------------------------------------------------------------------------------


def test_the_ec2_specific_endpoint_wins_over_the_general_one(
    aws: MotoEC2, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port_url())
    aws.create_instances(REGION)
    assert len(EC2DriverFactory(REGION).get_driver().list_nodes()) == 1


def test_the_general_endpoint_is_used_alone(aws: MotoEC2, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_EC2")
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
    aws.create_instances(REGION)
    assert len(EC2DriverFactory(REGION).get_driver().list_nodes()) == 1


@pytest.mark.parametrize(
    "url", ["ftp://example.com", "http://example.com/ec2", "http://example.com:notaport"]
)
def test_bad_endpoints_are_refused_with_the_variable_named(
    aws: MotoEC2, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", url)
    with pytest.raises(DriverError, match="AWS_ENDPOINT_URL_EC2"):
        EC2DriverFactory(REGION)


# -- credentials of an IAM role from the instance metadata service ---------------------------


@pytest.fixture
def iam_role(aws: MotoEC2, monkeypatch: pytest.MonkeyPatch) -> MotoEC2:
    """AWS_IAM_ROLE set (and no keys in the environment), IMDS at moto's metadata server."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_IAM_ROLE", IAM_ROLE)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", aws.metadata_url)
    return aws


def test_iam_role_credentials_come_via_imdsv2_and_the_session_token_is_used(
    iam_role: MotoEC2, make_attack: Any
) -> None:
    aws = iam_role
    aws.set_imds(http_tokens="required")  # IMDSv1 requests would be refused
    ids = aws.create_instances(REGION, tags={"Chaos": "true"})

    attack_config = {"ref": REF, "args": {"region": REGION, "filters": {"tag:Chaos": "true"}}}
    result = make_attack(REF, attack_config).run()

    assert result.startswith(f"terminated {ids[0]} (")
    token_request, credentials_request = aws.metadata_requests
    assert (token_request.method, token_request.path) == ("PUT", "/latest/api/token")
    assert int(token_request.header("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") or 0) > 0
    assert credentials_request.method == "GET"
    assert credentials_request.path == f"/latest/meta-data/iam/security-credentials/{IAM_ROLE}"
    assert credentials_request.header("X-Aws-Ec2-Metadata-Token")
    calls = api_calls(aws)
    assert calls
    for call in calls:
        assert call.header("X-Amz-Security-Token") == IMDS_CREDENTIALS["Token"]
        assert (call.header("Authorization") or "").startswith(
            f"AWS4-HMAC-SHA256 Credential={IMDS_CREDENTIALS['AccessKeyId']}/"
        )


@pytest.mark.parametrize("status", [403, 404, 405])
def test_imdsv1_is_the_fallback_when_no_token_is_offered(iam_role: MotoEC2, status: int) -> None:
    iam_role.set_imds(token_route_status=status)

    credentials = EC2DriverFactory(REGION).get_credentials()

    assert credentials.session_token == IMDS_CREDENTIALS["Token"]
    token_request, credentials_request = iam_role.metadata_requests
    assert token_request.method == "PUT"
    assert credentials_request.header("X-Aws-Ec2-Metadata-Token") is None


def test_an_unreachable_metadata_service_is_a_clear_error(
    iam_role: MotoEC2, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = closed_port_url()
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", unreachable)
    with pytest.raises(DriverError) as failure:
        EC2DriverFactory(REGION, metadata_timeout=0.5).get_driver()
    message = str(failure.value)
    assert f"IAM role '{IAM_ROLE}'" in message
    assert unreachable in message


def test_an_unknown_role_is_a_clear_error(iam_role: MotoEC2, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_IAM_ROLE", "no-such-role")
    with pytest.raises(DriverError, match=r"IAM role 'no-such-role'.*HTTP 5"):
        EC2DriverFactory(REGION).get_driver()


def test_credentials_never_show_in_repr() -> None:
    credentials = AWSCredentials(PLANTED_ACCESS_KEY_ID, PLANTED_SECRET_ACCESS_KEY, PLANTED_SESSION_TOKEN)
    assert_no_secrets(repr(credentials), str(credentials))


# -- secrets never in errors, results or logs --------------------------------------------------


def test_secrets_stay_out_of_results_errors_and_logs(
    aws: MotoEC2, monkeypatch: pytest.MonkeyPatch, make_attack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, libcloud's and urllib3's included
    monkeypatch.setenv("AWS_SESSION_TOKEN", PLANTED_SESSION_TOKEN)
    aws.create_instances(REGION, count=2, tags={"Chaos": "true"})
    outputs: list[str] = []

    def attack(region: str = REGION, filters: dict[str, Any] | None = None, **kw: Any) -> None:
        cfg = {"ref": REF, "args": {"region": region, "filters": filters or {"tag:Chaos": "true"}}}
        try:
            outputs.append(str(make_attack(REF, cfg, **kw).run()))
        except (AttackError, DriverError) as exc:
            outputs.append(str(exc))

    attack(dry_run=True)
    attack()
    attack(filters={"tag:Chaos": "nope"})
    attack(region="mars-north-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", closed_port_url())
    attack()
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", aws.endpoint_url)
    monkeypatch.setenv("AWS_IAM_ROLE", IAM_ROLE)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", aws.metadata_url)
    attack()
    attack(filters={"tag:Chaos": "nope"})

    assert len(outputs) == 7
    assert outputs[0].startswith("dry run")
    assert outputs[1].startswith("terminated")
    assert_no_secrets(*outputs, caplog.text, *(str(r.args) for r in caplog.records))


def test_redact_removes_every_credential_value_it_has_read(aws: MotoEC2) -> None:
    factory = EC2DriverFactory(REGION)
    factory.get_credentials()
    echoed = f"SignatureDoesNotMatch: Credential={PLANTED_ACCESS_KEY_ID}/x secret {PLANTED_SECRET_ACCESS_KEY}"
    assert factory.redact(echoed) == "SignatureDoesNotMatch: Credential=***/x secret ***"
