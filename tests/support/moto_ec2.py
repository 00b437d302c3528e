"""A real EC2 API and instance metadata service on loopback: moto's servers, in threads.

``moto_ec2()`` starts two HTTP servers on 127.0.0.1 (random ports): moto's EC2 backend alone, and
moto's instance metadata service (IMDS). Both are moto's own WSGI apps served by werkzeug; the
only things added around them are documented below, each because moto differs from AWS there.
libcloud's real EC2 driver and boto3 talk to them over HTTP.

    with moto_ec2() as aws:
        ids = aws.create_instances("eu-west-1", count=3, tags={"Chaos": "true"})
        monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", aws.endpoint_url)
        ...
        assert aws.instance_states("eu-west-1", ids) == {...}

Every request either server receives is recorded (method, path, query, headers, body), so a
test can check what a client really sent (an IMDSv2 token, a session token...). moto keeps its
state in-process: :meth:`MotoEC2.reset` forgets every instance (tests sharing one server call it
between tests).
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import boto3
from moto.ec2.models import ec2_backends
from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

#: The XML namespace real EC2 answers in for the API version libcloud requests (2016-11-15).
EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
#: moto's templates carry assorted (older, slash-less) versions.
_MOTO_XMLNS = re.compile(rb'xmlns="http://ec2\.amazonaws\.com/doc/[^"]*"')
#: moto's IMDS serves this one role (with fixed credentials, see CREDENTIALS below).
IAM_ROLE = "default-role"
#: The temporary credentials moto's IMDS hands out for :data:`IAM_ROLE`.
IMDS_CREDENTIALS = {
    "AccessKeyId": "test-key",
    "SecretAccessKey": "test-secret-key",
    "Token": "test-session-token",
}
#: An AMI id moto accepts for run_instances (one of its bundled images).
DEFAULT_AMI = "ami-12c6146b"
#: Credentials for test clients (moto accepts any).
CLIENT_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as a server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header's value, by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def params(self) -> dict[str, list[str]]:
        """Query and form parameters together (libcloud sends GET queries, boto3 POST forms)."""
        params = {k: list(v) for k, v in self.query.items()}
        if self.body:
            for key, values in parse_qs(self.body.decode("utf-8", "replace")).items():
                params.setdefault(key, []).extend(values)
        return params

    @property
    def action(self) -> str | None:
        """The EC2 API action (``DescribeInstances``...), if any."""
        actions = self.params.get("Action")
        return actions[0] if actions else None


@dataclass
class _Recorder:
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, app: WSGIApp) -> WSGIApp:
        def recording_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            headers = {
                key[5:].replace("_", "-").title(): str(value)
                for key, value in environ.items()
                if key.startswith("HTTP_")
            }
            if environ.get("CONTENT_TYPE"):
                headers["Content-Type"] = environ["CONTENT_TYPE"]
            with self.lock:
                self.requests.append(
                    RecordedRequest(
                        method=environ["REQUEST_METHOD"],
                        path=environ.get("PATH_INFO", ""),
                        query=parse_qs(environ.get("QUERY_STRING", "")),
                        headers=headers,
                        body=body,
                    )
                )
            return app(environ, start_response)

        return recording_app

    def snapshot(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self.requests)

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


def _rewrite_ec2_xmlns(app: WSGIApp) -> WSGIApp:
    """Answer in the namespace of the API version the client asked for, as real EC2 does.

    Real EC2 echoes the requested version (``.../doc/2016-11-15/``, trailing slash); moto answers
    in its templates' own versions, and libcloud, which looks elements up by namespace, then
    finds no instances at all. Real AWS needs no such rewrite: this exists only for moto.
    """

    def rewriting_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None  # moto's Flask app never uses write()

        chunks = app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        body = _MOTO_XMLNS.sub(f'xmlns="{EC2_XMLNS}"'.encode(), body)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers)
        return [body]

    return rewriting_app


@dataclass
class _IMDSSettings:
    """What the metadata service in front of moto's does beyond moto (see MotoEC2)."""

    http_tokens: str = "optional"  # EC2's HttpTokens option: "optional" or "required"
    token_route_status: int | None = None  # answer PUT /latest/api/token with this instead


def _imds_front(app: WSGIApp, settings: _IMDSSettings) -> WSGIApp:
    """moto's IMDS plus EC2's ``HttpTokens`` behaviour, which moto does not implement.

    moto serves ``PUT /latest/api/token`` but never checks tokens. Real IMDS with
    ``HttpTokens=required`` answers 401 to a GET without a valid token; with
    ``token_route_status`` set, the token route answers that status, as metadata services
    without IMDSv2 (or proxies blocking PUT) do, which clients must survive by using IMDSv1.
    """
    issued: set[str] = set()
    lock = threading.Lock()

    def imds_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        if path == "/latest/api/token":
            if settings.token_route_status is not None:
                start_response(f"{settings.token_route_status} Unavailable", [("Content-Length", "0")])
                return [b""]
            if method != "PUT":
                start_response("405 Method Not Allowed", [("Content-Length", "0")])
                return [b""]
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured["status"], captured["headers"] = status, headers
                return lambda data: None

            body = b"".join(app(environ, capture))
            with lock:
                issued.add(body.decode().strip())
            start_response(captured["status"], captured["headers"])
            return [body]
        token = environ.get("HTTP_X_AWS_EC2_METADATA_TOKEN")
        with lock:
            valid = token in issued
        if not valid and (token is not None or settings.http_tokens == "required"):
            start_response("401 Unauthorized", [("Content-Length", "0")])
            return [b""]
        return app(environ, start_response)

    return imds_app


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Keep test output clean (failures still show through pytest's captured logs)."""


class _ServerThread:
    def __init__(self, app: WSGIApp) -> None:
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
        )
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.started = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> None:
        self.thread.start()
        self.started = True

    def stop(self) -> None:
        if self.started:  # shutdown() waits for serve_forever() to return: only if it runs
            self.server.shutdown()
            self.thread.join(timeout=10)
        self.server.server_close()


class MotoEC2:
    """Handles to the running servers, plus boto3 helpers to arrange and inspect EC2 state."""

    def __init__(self, endpoint_url: str, metadata_url: str, imds: _IMDSSettings) -> None:
        #: Base URL of the EC2 API (for ``AWS_ENDPOINT_URL_EC2``).
        self.endpoint_url = endpoint_url
        #: Base URL of the instance metadata service (for ``AWS_EC2_METADATA_SERVICE_ENDPOINT``).
        self.metadata_url = metadata_url
        self._imds = imds
        self._ec2_recorder = _Recorder()
        self._imds_recorder = _Recorder()

    # -- what the servers saw ----------------------------------------------------------------

    @property
    def ec2_requests(self) -> list[RecordedRequest]:
        """Requests the EC2 API received, oldest first."""
        return self._ec2_recorder.snapshot()

    @property
    def metadata_requests(self) -> list[RecordedRequest]:
        """Requests the metadata service received, oldest first."""
        return self._imds_recorder.snapshot()

    # -- metadata service behaviour ----------------------------------------------------------

    def set_imds(self, *, http_tokens: str = "optional", token_route_status: int | None = None) -> None:
        """Make the IMDS require tokens (``http_tokens="required"``), or refuse to issue them."""
        self._imds.http_tokens = http_tokens
        self._imds.token_route_status = token_route_status

    def reset(self) -> None:
        """Forget all EC2 state, recorded requests and IMDS settings."""
        ec2_backends.reset()
        self._ec2_recorder.clear()
        self._imds_recorder.clear()
        self.set_imds()

    # -- arranging and inspecting state with boto3 -------------------------------------------

    def client(self, region: str) -> Any:
        """A boto3 EC2 client for ``region`` pointed at this server."""
        return boto3.client("ec2", region_name=region, endpoint_url=self.endpoint_url, **CLIENT_CREDENTIALS)

    def create_instances(
        self,
        region: str,
        *,
        count: int = 1,
        tags: Mapping[str, str] | None = None,
        instance_type: str = "t3.micro",
        availability_zone: str | None = None,
        subnet_id: str | None = None,
    ) -> list[str]:
        """Launch ``count`` running instances with ``tags``; returns their ids."""
        kwargs: dict[str, Any] = {
            "ImageId": DEFAULT_AMI,
            "MinCount": count,
            "MaxCount": count,
            "InstanceType": instance_type,
        }
        if tags:
            kwargs["TagSpecifications"] = [
                {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ]
        if availability_zone is not None:
            kwargs["Placement"] = {"AvailabilityZone": availability_zone}
        if subnet_id is not None:
            kwargs["SubnetId"] = subnet_id
        response = self.client(region).run_instances(**kwargs)
        return [instance["InstanceId"] for instance in response["Instances"]]

    def describe(self, region: str, instance_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Instance descriptions by id (all instances of the region by default)."""
        kwargs = {"InstanceIds": list(instance_ids)} if instance_ids is not None else {}
        reservations = self.client(region).describe_instances(**kwargs)["Reservations"]
        return {i["InstanceId"]: i for r in reservations for i in r["Instances"]}

    def instance_states(self, region: str, instance_ids: Iterable[str] | None = None) -> dict[str, str]:
        """``{instance id: state name}`` (``running``, ``terminated``...)."""
        return {iid: i["State"]["Name"] for iid, i in self.describe(region, instance_ids).items()}

    def stop_instances(self, region: str, instance_ids: Iterable[str]) -> None:
        self.client(region).stop_instances(InstanceIds=list(instance_ids))


@contextmanager
def moto_ec2() -> Iterator[MotoEC2]:
    """Start moto's EC2 API and IMDS on loopback; stop them (and forget their state) on exit."""
    imds_settings = _IMDSSettings()
    ec2_server: _ServerThread | None = None
    imds_server: _ServerThread | None = None
    # The recorders are created with the handle, so the servers are wired to them after.
    handle = MotoEC2("", "", imds_settings)
    try:
        ec2_server = _ServerThread(handle._ec2_recorder.wrap(_rewrite_ec2_xmlns(create_backend_app("ec2"))))
        imds_app = _imds_front(create_backend_app("instance_metadata"), imds_settings)
        imds_server = _ServerThread(handle._imds_recorder.wrap(imds_app))
        handle.endpoint_url, handle.metadata_url = ec2_server.url, imds_server.url
        ec2_server.start()
        imds_server.start()
        yield handle
    finally:
        for server in (ec2_server, imds_server):
            if server is not None:
                server.stop()
        ec2_backends.reset()


def use_moto_environment(
    servers: MotoEC2, monkeypatch: Any, *, access_key_id: str, secret_access_key: str
) -> None:
    """Point the EC2 driver at moto: only these AWS_* variables, none of the machine's own."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", servers.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_access_key)
