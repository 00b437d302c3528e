"""EC2DriverFactory: a libcloud EC2 driver with credentials the way AWS tools find them.

The seed engine's factory, kept compatible (``EC2DriverFactory(region).get_driver()``, the
``AWS_IAM_ROLE`` variable, ``region`` / ``AWS_DEFAULT_REGION``) and made safe to run today:

* Credentials come from the instance metadata service when ``AWS_IAM_ROLE`` is set, with
  IMDSv2 (a session token from ``PUT /latest/api/token`` first), falling back to IMDSv1 only when
  the service does not offer tokens; the role's temporary session token is passed to the
  driver. Otherwise they come from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` and the
  optional ``AWS_SESSION_TOKEN``.
* Requests are signed with Signature Version 4 (required by every region opened since 2014, and
  by temporary credentials).
* ``AWS_ENDPOINT_URL_EC2`` (or ``AWS_ENDPOINT_URL``) points the driver at another endpoint,
  ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` at another metadata service, as in the AWS SDKs.
* Errors and logs name variables and endpoints, never a credential's value.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from libcloud.compute.providers import Provider
from libcloud.compute.providers import get_driver as libcloud_get_driver

from chaosmonkey.drivers.errors import DriverError, redact

log = logging.getLogger(__name__)

DEFAULT_METADATA_ENDPOINT = "http://169.254.169.254"
#: Seconds to wait for the metadata service; it answers in milliseconds when it is there at all.
DEFAULT_METADATA_TIMEOUT = 2.0
#: Seconds an IMDSv2 session token lives; credentials are fetched right after, so short is fine.
METADATA_TOKEN_TTL_SECONDS = 300
#: Seconds libcloud waits for an EC2 API answer.
DEFAULT_API_TIMEOUT = 30.0
#: Token request answers by which a metadata service says it offers no IMDSv2 (AWS SDKs agree).
_IMDSV1_FALLBACK_STATUSES = frozenset({403, 404, 405})

REGION_VARIABLES = ("AWS_DEFAULT_REGION", "AWS_REGION")
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL")


@dataclass(frozen=True)
class AWSCredentials:
    """An access key pair and, for temporary credentials, the session token."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    #: Where they came from, for logs and errors: a variable name or the metadata service.
    source: str = ""

    def secrets(self) -> tuple[str | None, ...]:
        return (self.access_key_id, self.secret_access_key, self.session_token)


@dataclass(frozen=True)
class EC2Endpoint:
    """Where the EC2 API is served when not at AWS's regional endpoint."""

    host: str
    port: int | None
    secure: bool
    url: str


class EC2DriverFactory:
    """Driver factory for libcloud's EC2 driver, with credentials as AWS tools find them.

    Credentials, in this order:

    * ``AWS_IAM_ROLE`` set: temporary credentials of that role from the instance metadata
      service (``AWS_EC2_METADATA_SERVICE_ENDPOINT``, default ``http://169.254.169.254``);
    * ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN`` if set).

    Region: the ``region`` argument, else ``AWS_DEFAULT_REGION``, else ``AWS_REGION``.
    Credentials are read by :meth:`get_driver`, so temporary ones are fresh for every attack.
    """

    IAM_METADATA_PATH = "/latest/meta-data/iam/security-credentials"
    TOKEN_PATH = "/latest/api/token"  # noqa: S105 - a URL path, not a password

    def __init__(
        self,
        region: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        metadata_timeout: float = DEFAULT_METADATA_TIMEOUT,
        api_timeout: float = DEFAULT_API_TIMEOUT,
    ) -> None:
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        self.metadata_timeout = metadata_timeout
        self.api_timeout = api_timeout
        self.region: str = self._resolve_region(region)
        self.endpoint: EC2Endpoint | None = self._resolve_endpoint()
        self._known_secrets: list[str] = []

    # -- public API --------------------------------------------------------------------------

    def get_driver(self) -> Any:
        """A libcloud EC2 driver for ``self.region``, signing with SigV4 (``EC2NodeDriver``)."""
        credentials = self.get_credentials()
        driver_cls = libcloud_get_driver(Provider.EC2)
        connection: dict[str, Any] = {}
        if self.endpoint is not None:
            connection = {"host": self.endpoint.host, "secure": self.endpoint.secure}
            if self.endpoint.port is not None:
                connection["port"] = self.endpoint.port
            log.info("EC2 API endpoint overridden: %s", self.endpoint.url)
        try:
            return driver_cls(
                credentials.access_key_id,
                credentials.secret_access_key,
                region=self.region,
                token=credentials.session_token,
                signature_version="4",
                timeout=self.api_timeout,
                **connection,
            )
        except ValueError as exc:
            # libcloud checks the region against its own list, and says only "Invalid region".
            raise DriverError(
                f"cannot build an EC2 driver for region {self.region!r}: {self.redact(str(exc))}"
            ) from None

    def get_credentials(self) -> AWSCredentials:
        """The credentials :meth:`get_driver` uses (remembered, so :meth:`redact` knows them)."""
        role = self._environ.get("AWS_IAM_ROLE", "").strip()
        credentials = self._credentials_from_iam_role(role) if role else self._credentials_from_environment()
        self._known_secrets.extend(s for s in credentials.secrets() if s)
        return credentials

    def redact(self, text: str) -> str:
        """``text`` without any credential value this factory has read (for provider errors)."""
        env_secrets = [
            self._environ.get(name)
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        ]
        return redact(text, [*self._known_secrets, *env_secrets])

    # -- region and endpoint -----------------------------------------------------------------

    def _resolve_region(self, region: str | None) -> str:
        if region and region.strip():
            return region.strip()
        for name in REGION_VARIABLES:
            value = self._environ.get(name, "").strip()
            if value:
                return value
        raise DriverError(
            "no AWS region: none was given (the attack's args.region / EC2DriverFactory(region=...)) "
            f"and neither of {', '.join(REGION_VARIABLES)} is set"
        )

    def _resolve_endpoint(self) -> EC2Endpoint | None:
        for name in ENDPOINT_VARIABLES:
            url = self._environ.get(name, "").strip()
            if url:
                return _parse_endpoint(name, url)
        return None

    # -- credentials -------------------------------------------------------------------------

    def _credentials_from_environment(self) -> AWSCredentials:
        access_key_id = self._environ.get("AWS_ACCESS_KEY_ID", "").strip()
        secret_access_key = self._environ.get("AWS_SECRET_ACCESS_KEY", "").strip()
        if not access_key_id or not secret_access_key:
            missing = [
                name
                for name, value in (
                    ("AWS_ACCESS_KEY_ID", access_key_id),
                    ("AWS_SECRET_ACCESS_KEY", secret_access_key),
                )
                if not value
            ]
            raise DriverError(
                "no AWS credentials: AWS_IAM_ROLE is not set (credentials from the instance "
                f"metadata service) and {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set"
            )
        session_token = self._environ.get("AWS_SESSION_TOKEN", "").strip() or None
        log.debug("using AWS credentials from the environment (session token: %s)", bool(session_token))
        return AWSCredentials(access_key_id, secret_access_key, session_token, source="environment")

    def _metadata_endpoint(self) -> str:
        endpoint = self._environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "").strip()
        return (endpoint or DEFAULT_METADATA_ENDPOINT).rstrip("/")

    def _credentials_from_iam_role(self, role: str) -> AWSCredentials:
        endpoint = self._metadata_endpoint()
        token = self._metadata_token(endpoint)
        url = f"{endpoint}{self.IAM_METADATA_PATH}/{role}"
        log.info(
            "getting AWS credentials of IAM role %s from the instance metadata service at %s (%s)",
            role,
            endpoint,
            "IMDSv2" if token is not None else "IMDSv1",
        )
        headers = {"X-aws-ec2-metadata-token": token} if token is not None else {}
        where = f"IAM role {role!r} from the instance metadata service at {endpoint}"
        try:
            response = requests.get(url, headers=headers, timeout=self.metadata_timeout)
        except requests.RequestException as exc:
            raise DriverError(
                f"cannot get credentials of {where}: {type(exc).__name__} "
                f"(no answer within {self.metadata_timeout:g} s, or connection refused)"
            ) from None
        if response.status_code != 200:
            hint = " (is the role attached to this instance?)" if response.status_code == 404 else ""
            raise DriverError(f"cannot get credentials of {where}: HTTP {response.status_code}{hint}")
        try:
            document = json.loads(response.text)
        except ValueError:
            raise DriverError(f"cannot get credentials of {where}: the answer is not JSON") from None
        if not isinstance(document, dict):
            raise DriverError(f"cannot get credentials of {where}: the answer is not a JSON object")
        code = document.get("Code", "Success")
        if code != "Success":
            raise DriverError(f"cannot get credentials of {where}: the service says {code!r}")
        fields = {name: document.get(name) for name in ("AccessKeyId", "SecretAccessKey", "Token")}
        missing = [name for name, value in fields.items() if not isinstance(value, str) or not value]
        if missing:
            raise DriverError(f"cannot get credentials of {where}: the answer lacks {', '.join(missing)}")
        return AWSCredentials(
            str(fields["AccessKeyId"]),
            str(fields["SecretAccessKey"]),
            str(fields["Token"]),
            source=f"IAM role {role}",
        )

    def _metadata_token(self, endpoint: str) -> str | None:
        """An IMDSv2 session token, or None where the service offers only IMDSv1."""
        try:
            response = requests.put(
                f"{endpoint}{self.TOKEN_PATH}",
                headers={"X-aws-ec2-metadata-token-ttl-seconds": str(METADATA_TOKEN_TTL_SECONDS)},
                timeout=self.metadata_timeout,
            )
        except requests.RequestException as exc:
            # A PUT that never arrives is what IMDSv2 looks like from a container behind one hop
            # too many; the SDKs fall back to IMDSv1 then, and so do we.
            log.info("no IMDSv2 token from %s (%s); trying IMDSv1", endpoint, type(exc).__name__)
            return None
        if response.status_code in _IMDSV1_FALLBACK_STATUSES:
            log.info("no IMDSv2 token from %s (HTTP %s); trying IMDSv1", endpoint, response.status_code)
            return None
        if response.status_code != 200 or not response.text.strip():
            raise DriverError(
                f"cannot get an IMDSv2 token from the instance metadata service at {endpoint}: "
                f"HTTP {response.status_code}"
            )
        return response.text.strip()


def _parse_endpoint(variable: str, url: str) -> EC2Endpoint:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DriverError(f"{variable} must be an http(s) URL such as https://ec2.example.com, got {url!r}")
    if parts.path not in ("", "/"):
        # libcloud's EC2 driver always posts to "/"; a path would be silently dropped.
        raise DriverError(f"{variable} must not have a path (libcloud's EC2 driver posts to /), got {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise DriverError(f"{variable} has an invalid port: {url!r}") from None
    # Rebuilt without any user:password part, so the URL is safe to log.
    shown = f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port is not None else "")
    return EC2Endpoint(host=parts.hostname, port=port, secure=parts.scheme == "https", url=shown)
