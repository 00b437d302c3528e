"""ApiRequest against a real recording HTTP server on loopback."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest

from chaosmonkey.attacks import AttackError
from chaosmonkey.attacks.api_request import ApiRequest
from chaosmonkey.registry import PluginRegistry
from tests.support.http_target import HTTPTarget

REF = "api_request:ApiRequest"
PLANTED_TOKEN = "Bearer planted-token-4f9a1c0e7b"
PLANTED_API_KEY = "planted-api-key-93b2"


def request_config(endpoint: str, **args: Any) -> dict[str, Any]:
    return {"ref": REF, "args": {"endpoint": endpoint, **args}}


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/health"


# -- what is sent ------------------------------------------------------------------------------


def test_a_get_by_default_reports_status_and_latency(target: HTTPTarget, make_attack: Any) -> None:
    result = make_attack(request_config(f"{target.url}/health?deep=1")).run()

    assert result["status"] == 200
    assert isinstance(result["latencyMs"], int)
    assert result["latencyMs"] >= 0
    assert set(result) == {"status", "latencyMs"}
    (request,) = target.requests
    assert (request.method, request.path, request.query) == ("GET", "/health", {"deep": ["1"]})
    assert request.body == b""


def test_method_headers_and_a_json_body(target: HTTPTarget, make_attack: Any) -> None:
    payload = {"scope": "all", "ids": [1, 2], "dry": False}
    target.respond(201)

    result = make_attack(
        request_config(f"{target.url}/cache/flush", method="post", headers={"X-Team": "sre"}, payload=payload)
    ).run()

    assert result["status"] == 201
    (request,) = target.requests
    assert request.method == "POST"
    assert request.header("X-Team") == "sre"
    assert request.header("Content-Type") == "application/json"
    assert request.json() == payload


def test_a_json_flavoured_content_type_is_kept(target: HTTPTarget, make_attack: Any) -> None:
    headers = {"Content-Type": "application/vnd.api+json"}
    make_attack(request_config(target.url, method="PATCH", headers=headers, payload=[1, "a"])).run()

    (request,) = target.requests
    assert request.header("Content-Type") == "application/vnd.api+json"
    assert request.json() == [1, "a"]


def test_a_form_body_when_the_headers_say_so(target: HTTPTarget, make_attack: Any) -> None:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    payload = {"user": "chaos monkey", "tags": ["a", "b"], "count": 3}

    make_attack(request_config(target.url, method="PUT", headers=headers, payload=payload)).run()

    (request,) = target.requests
    assert request.form() == {"user": ["chaos monkey"], "tags": ["a", "b"], "count": ["3"]}


def test_a_string_payload_is_sent_as_is(target: HTTPTarget, make_attack: Any) -> None:
    headers = {"Content-Type": "text/plain"}
    make_attack(request_config(target.url, method="POST", headers=headers, payload="raw {not json}")).run()

    (request,) = target.requests
    assert request.text == "raw {not json}"
    assert request.header("Content-Type") == "text/plain"


def test_an_object_payload_for_a_non_json_content_type_is_refused(
    target: HTTPTarget, make_attack: Any
) -> None:
    headers = {"Content-Type": "text/csv"}
    with pytest.raises(AttackError, match="must be a string"):
        make_attack(request_config(target.url, method="POST", headers=headers, payload={"a": 1})).run()
    assert target.requests == []


# -- expected statuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected_status", "answered"),
    [
        (None, 200),
        (None, 299),
        (204, 204),
        ("2xx", 201),
        ("404", 404),
        ("500-503", 502),
        ([200, 404], 404),
        (["3xx", 418], 418),
        ({"min": 400, "max": 499}, 429),
    ],
)
def test_expected_status_forms_accept(
    target: HTTPTarget, make_attack: Any, expected_status: Any, answered: int
) -> None:
    target.respond(answered)
    extra = {} if expected_status is None else {"expected_status": expected_status}
    assert make_attack(request_config(target.url, **extra)).run()["status"] == answered


@pytest.mark.parametrize(
    ("expected_status", "answered", "label"),
    [
        (None, 500, "2xx"),
        (204, 200, "204"),
        ("2xx", 404, "2xx"),
        ([200, "3xx"], 404, "200, 3xx"),
        ({"min": 400, "max": 499}, 503, "400-499"),
    ],
)
def test_an_unexpected_status_fails_with_the_status(
    target: HTTPTarget, make_attack: Any, expected_status: Any, answered: int, label: str
) -> None:
    target.respond(answered, body="boom")
    extra = {} if expected_status is None else {"expected_status": expected_status}

    with pytest.raises(AttackError) as failure:
        make_attack(request_config(f"{target.url}/x", **extra)).run()

    assert str(failure.value).startswith(
        f"GET {target.url}/x answered {answered}, expected {label} (latency "
    )


def test_redirects_are_followed_unless_told_not_to(target: HTTPTarget, make_attack: Any) -> None:
    target.respond(302, headers={"Location": "/new"}, path="/old")
    target.respond(200, path="/new")

    assert make_attack(request_config(f"{target.url}/old")).run()["status"] == 200
    assert [r.path for r in target.requests] == ["/old", "/new"]

    not_followed = request_config(f"{target.url}/old", follow_redirects=False, expected_status="3xx")
    assert make_attack(not_followed).run()["status"] == 302
    assert [r.path for r in target.requests] == ["/old", "/new", "/old"]


# -- transport failures ------------------------------------------------------------------------


def test_connection_refused_fails(make_attack: Any) -> None:
    url = closed_port_url()
    with pytest.raises(AttackError) as failure:
        make_attack(request_config(url, timeout=2)).run()
    message = str(failure.value)
    assert message.startswith(f"GET {url}: request failed: ")
    assert "refused" in message.lower()


def test_a_slow_answer_times_out(target: HTTPTarget, make_attack: Any) -> None:
    target.respond(200, delay=5)
    started = time.monotonic()

    with pytest.raises(AttackError) as failure:
        make_attack(request_config(target.url, timeout=0.2)).run()

    assert time.monotonic() - started < 2
    assert str(failure.value) == f"GET {target.url}: no answer within 0.2 s"
    assert len(target.wait_for_requests(1)) == 1


# -- dry run and layouts -----------------------------------------------------------------------


def test_dry_run_describes_the_request_and_sends_nothing(target: HTTPTarget, make_attack: Any) -> None:
    config = request_config(
        f"{target.url}/orders",
        method="DELETE",
        headers={"Authorization": PLANTED_TOKEN, "X-Api-Key": PLANTED_API_KEY},
        payload={"id": 7},
        expected_status=[200, 204],
    )

    result = make_attack(config, dry_run=True).run()

    assert result == (
        f"dry run: would send DELETE {target.url}/orders (headers: Authorization, X-Api-Key; "
        "a JSON body), expecting 200, 204"
    )
    assert target.requests == []


def test_the_original_engines_top_level_layout(target: HTTPTarget, make_attack: Any) -> None:
    config = {
        "ref": REF,
        "endpoint": f"{target.url}/legacy",
        "method": "POST",
        "headers": {"X-Team": "sre"},
        "payload": {"a": 1},
    }

    assert make_attack(config).run()["status"] == 200

    (request,) = target.requests
    assert (request.method, request.path, request.json()) == ("POST", "/legacy", {"a": 1})
    assert request.header("X-Team") == "sre"


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"ref": REF}, "(root)"),
        ({"ref": REF, "args": {"endpoint": "http://x"}, "endpoint": "http://y"}, "(root)"),
        ({"ref": REF, "args": {"endpoint": "ftp://x"}}, "args/endpoint"),
        ({"ref": REF, "args": {"endpoint": "http://x", "method": "FETCH"}}, "args/method"),
        ({"ref": REF, "args": {"endpoint": "http://x", "timeout": 0}}, "args/timeout"),
        ({"ref": REF, "args": {"endpoint": "http://x", "expected_status": "2xy"}}, "args/expected_status"),
        ({"ref": REF, "args": {"endpoint": "http://x", "bogus": 1}}, "args"),
    ],
)
def test_invalid_configs_are_refused_before_sending(
    make_attack: Any, config: dict[str, Any], where: str
) -> None:
    with pytest.raises(AttackError) as failure:
        make_attack(config).run()
    assert str(failure.value).startswith(f"invalid {REF} config at {where}: ")


# -- header values: sent, never shown ----------------------------------------------------------


def test_a_header_from_a_secret(target: HTTPTarget, make_attack: Any) -> None:
    read: list[tuple[str, str]] = []

    def read_secret(name: str, key: str) -> bytes:
        read.append((name, key))
        return PLANTED_TOKEN.encode() + b"\n"

    headers = {"Authorization": {"secretKeyRef": {"name": "api", "key": "token"}}}
    make_attack(request_config(target.url, headers=headers), read_secret=read_secret).run()

    assert read == [("api", "token")]
    assert target.requests[0].header("Authorization") == PLANTED_TOKEN


def test_a_secret_header_without_a_cluster_is_a_clear_error(target: HTTPTarget, make_attack: Any) -> None:
    headers = {"Authorization": {"secretKeyRef": {"name": "api", "key": "token"}}}
    with pytest.raises(AttackError, match="header Authorization comes from Secret api"):
        make_attack(request_config(target.url, headers=headers)).run()
    assert target.requests == []


def test_header_values_never_reach_logs_results_or_errors(
    target: HTTPTarget, make_attack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, requests' and urllib3's included
    headers = {"Authorization": PLANTED_TOKEN, "X-Api-Key": PLANTED_API_KEY}
    outputs: list[str] = []

    def attempt(config: dict[str, Any], **kwargs: Any) -> None:
        try:
            outputs.append(str(make_attack(config, **kwargs).run()))
        except AttackError as exc:
            outputs.append(str(exc))

    attempt(request_config(target.url, headers=headers))
    attempt(request_config(target.url, headers=headers), dry_run=True)
    target.respond(401, body=f"bad token {PLANTED_TOKEN}")
    attempt(request_config(target.url, headers=headers))
    attempt(request_config(closed_port_url(), headers=headers))
    target.respond(200, delay=5)
    attempt(request_config(target.url, headers=headers, timeout=0.2))
    attempt(request_config(target.url, headers={**headers, "X-Bad": 7}))  # schema error on headers
    attempt({"ref": REF, "args": {"endpoint": target.url}, "headers": headers})  # mixed layouts

    assert len(outputs) == 7
    assert outputs[0].startswith("{'status': 200")
    assert target.requests[0].header("Authorization") == PLANTED_TOKEN
    for text in (*outputs, caplog.text, *(str(r.args) for r in caplog.records)):
        assert PLANTED_TOKEN not in text
        assert "planted-token" not in text
        assert PLANTED_API_KEY not in text


# -- registry ----------------------------------------------------------------------------------


def test_the_registry_loads_it_and_its_example_validates(registry: PluginRegistry) -> None:
    info = registry.get("attack", REF)
    assert info is not None
    assert info.cls is ApiRequest
    assert [p for p in registry.problems if p.ref == REF or p.module == "api_request"] == []
    validator = info.validator()
    assert list(validator.iter_errors(info.example)) == []
    original_layout: dict[str, Any] = {
        "ref": REF,
        "endpoint": "https://example.com",
        "method": "GET",
        "headers": {},
    }
    assert list(validator.iter_errors(original_layout)) == []
    assert ApiRequest.to_dict() == {"ref": REF, "schema": info.schema, "example": info.example}
    assert ApiRequest.supports_dry_run


def test_urls_in_logs_and_results_hide_passwords_and_query_values() -> None:
    from chaosmonkey.attacks.api_request import shown_url_of

    assert shown_url_of("https://svc.example.com/flush") == "https://svc.example.com/flush"
    assert shown_url_of("https://bot:hunter2@svc.example.com:8443/x?api_key=s3cr3t&scope=all") == (
        "https://bot:***@svc.example.com:8443/x?api_key=***&scope=***"
    )
