"""LibcloudDriverFactory: a libcloud compute driver for any provider, credentials kept out of specs.

Credentials come from environment variables or from files (a Kubernetes Secret mounted as a
volume), named by the caller; non-secret settings (project, region, auth URL...) are passed as
``options``, the driver class's keyword arguments. Examples (see the README for more):

* GCE: ``LibcloudDriverFactory("gce", key_env="GCE_SERVICE_ACCOUNT_EMAIL",
  secret_file="/var/run/secrets/gce/key.json", options={"project": "my-project",
  "datacenter": "europe-west1-b"})``
* Azure: ``LibcloudDriverFactory("azure_arm", key_env="AZURE_CLIENT_ID",
  secret_env="AZURE_CLIENT_SECRET", options={"tenant_id": "...", "subscription_id": "..."})``
* OpenStack: ``LibcloudDriverFactory("openstack", key_env="OS_USERNAME", secret_env="OS_PASSWORD",
  options={"ex_force_auth_url": "https://keystone:5000", "ex_force_auth_version": "3.x_password",
  "ex_tenant_name": "chaos", "ex_domain_name": "Default"})``
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from libcloud.compute.providers import get_driver as libcloud_get_driver

from chaosmonkey.drivers.errors import DriverError, redact

log = logging.getLogger(__name__)

#: Keyword names under which drivers take the key and the secret, where they are not
#: ``key``/``secret`` (GCE's "key" is the secret; the dummy driver takes a single ``creds``).
CREDENTIAL_PARAMETERS: dict[str, tuple[str, str | None]] = {
    "gce": ("user_id", "key"),
    "dummy": ("creds", None),
}
DEFAULT_CREDENTIAL_PARAMETERS: tuple[str, str | None] = ("key", "secret")


class LibcloudDriverFactory:
    """Builds ``libcloud.compute`` drivers for ``provider`` (a ``Provider`` value: ``"ec2"``,
    ``"gce"``, ``"azure_arm"``, ``"openstack"``, ``"dummy"``...).

    The key (user, client id, access key id) and the secret (password, client secret, private
    key) are each read from a file (``key_file``/``secret_file``, surrounding whitespace
    stripped) or else from an environment variable (``key_env``/``secret_env``). Giving a name
    whose variable is unset or whose file is unreadable is an error naming the variable or file.
    ``options`` are passed to the driver as keyword arguments and must not hold secrets (they
    usually come from a ChaosPlan's spec); ``secret_options_env``/``secret_options_files`` map
    further keyword arguments to variables/files, for drivers with more than two secrets
    (e.g. ``{"token": "AWS_SESSION_TOKEN"}``).
    """

    def __init__(
        self,
        provider: str,
        *,
        key_env: str | None = None,
        secret_env: str | None = None,
        key_file: str | os.PathLike[str] | None = None,
        secret_file: str | os.PathLike[str] | None = None,
        options: Mapping[str, Any] | None = None,
        secret_options_env: Mapping[str, str] | None = None,
        secret_options_files: Mapping[str, str | os.PathLike[str]] | None = None,
        credential_parameters: tuple[str, str | None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.provider = provider
        self.key_env = key_env
        self.secret_env = secret_env
        self.key_file = key_file
        self.secret_file = secret_file
        self.options: dict[str, Any] = dict(options or {})
        self.secret_options_env: dict[str, str] = dict(secret_options_env or {})
        self.secret_options_files: dict[str, str | os.PathLike[str]] = dict(secret_options_files or {})
        self.credential_parameters = credential_parameters or CREDENTIAL_PARAMETERS.get(
            provider, DEFAULT_CREDENTIAL_PARAMETERS
        )
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        self._secrets_read: list[str] = []

    def get_driver(self) -> Any:
        """A driver instance for the provider, built with the credentials and options."""
        try:
            driver_cls = libcloud_get_driver(self.provider)
        except AttributeError:
            raise DriverError(f"libcloud has no compute provider {self.provider!r}") from None
        except Exception as exc:  # noqa: BLE001 - libcloud raises bare Exception for retired providers
            raise DriverError(f"libcloud compute provider {self.provider!r}: {exc}") from None
        kwargs = dict(self.options)
        key_name, secret_name = self.credential_parameters
        key = self._read("key", self.key_env, self.key_file)
        if key is not None:
            kwargs[key_name] = key
        secret = self._read("secret", self.secret_env, self.secret_file)
        if secret is not None:
            if secret_name is None:
                raise DriverError(f"the {self.provider} driver takes no secret, but one was configured")
            kwargs[secret_name] = secret
        for option, variable in self.secret_options_env.items():
            kwargs[option] = self._read(option, variable, None)
        for option, path in self.secret_options_files.items():
            kwargs[option] = self._read(option, None, path)
        log.info(
            "building libcloud %s driver (credentials: %s; options: %s)",
            self.provider,
            ", ".join(self._sources()) or "none",
            ", ".join(sorted(self.options)) or "none",
        )
        try:
            return driver_cls(**kwargs)
        except Exception as exc:  # noqa: BLE001 - any driver complaint is a configuration error
            raise DriverError(
                f"cannot build the libcloud {self.provider} driver: "
                f"{type(exc).__name__}: {self.redact(str(exc))}"
            ) from None

    def redact(self, text: str) -> str:
        """``text`` without any credential value this factory has read."""
        return redact(text, self._secrets_read)

    def _read(self, what: str, variable: str | None, path: str | os.PathLike[str] | None) -> str | None:
        if path is not None:
            try:
                value = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise DriverError(
                    f"cannot read the {self.provider} {what} from file {os.fspath(path)}: "
                    f"{exc.strerror or type(exc).__name__}"
                ) from None
        elif variable is not None:
            value = self._environ.get(variable, "").strip()
            if not value:
                raise DriverError(f"the {self.provider} {what} variable {variable} is not set")
        else:
            return None
        self._secrets_read.append(value)
        return value

    def _sources(self) -> list[str]:
        sources = [
            f"{what} from {source}"
            for what, source in (
                ("key", self.key_file or self.key_env),
                ("secret", self.secret_file or self.secret_env),
            )
            if source is not None
        ]
        sources += [f"{option} from {variable}" for option, variable in self.secret_options_env.items()]
        sources += [f"{option} from {path}" for option, path in self.secret_options_files.items()]
        return sources
