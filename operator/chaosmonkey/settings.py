"""Operator settings: every one a ``CHAOSMONKEY_*`` variable with a matching ``chaosmonkey run`` flag.

Flags win over variables, variables over defaults. Bad values are errors that name the variable
or flag, raised before the operator starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from chaosmonkey.timeutil import get_timezone

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


class SettingsError(ValueError):
    """A setting with a bad value; the message names the variable or flag."""


@dataclasses.dataclass(frozen=True)
class Setting:
    field: str
    variable: str
    flag: str
    help: str


@dataclasses.dataclass(frozen=True)
class OperatorSettings:
    #: Namespaces whose ChaosPlans are served; empty means all (cluster-wide).
    namespaces: tuple[str, ...] = ()
    #: The time zone of plans that set no ``spec.timeZone``.
    default_time_zone: str = "UTC"
    #: Attacks running at once across all plans; more wait for a slot.
    max_concurrent_attacks: int = 4
    #: An attack still running after this long is reported Failed (timed out).
    attack_timeout_seconds: float = 300.0
    log_level: str = "INFO"
    log_format: str = "text"
    #: Address of the HTTP endpoint serving /healthz (liveness) and /metrics.
    health_address: str = "0.0.0.0"  # noqa: S104 - a probe endpoint inside the pod's network namespace
    health_port: int = 8080
    #: Namespaces besides a plan's own that its attacks may touch (DeletePod, Secret references).
    allowed_namespaces: tuple[str, ...] = ()
    #: Namespace the operator runs in (its Lease and catalog ConfigMap live there).
    operator_namespace: str = "default"
    #: ConfigMap the operator writes the plugin catalog into, in its own namespace.
    catalog_configmap: str = "chaosmonkey-catalog"
    #: Leader election on a coordination.k8s.io/v1 Lease so only one replica fires attacks.
    leader_election: bool = True
    lease_name: str = "chaosmonkey-operator"
    #: A leader that has not renewed for this long may be replaced.
    lease_duration_seconds: float = 15.0
    #: A leader that cannot renew for this long steps down (before anyone may replace it).
    lease_renew_deadline_seconds: float = 10.0
    #: How often candidates try to take the Lease and the leader renews it.
    lease_retry_period_seconds: float = 2.0


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "namespaces",
        "CHAOSMONKEY_NAMESPACES",
        "--namespace",
        "comma-separated namespaces to serve (default: all)",
    ),
    Setting(
        "default_time_zone",
        "CHAOSMONKEY_DEFAULT_TIME_ZONE",
        "--default-time-zone",
        "IANA time zone for plans without spec.timeZone (default UTC)",
    ),
    Setting(
        "max_concurrent_attacks",
        "CHAOSMONKEY_MAX_CONCURRENT_ATTACKS",
        "--max-concurrent-attacks",
        "attacks running at once, across all plans (default 4)",
    ),
    Setting(
        "attack_timeout_seconds",
        "CHAOSMONKEY_ATTACK_TIMEOUT_SECONDS",
        "--attack-timeout-seconds",
        "seconds after which a running attack is reported failed (default 300)",
    ),
    Setting(
        "log_level", "CHAOSMONKEY_LOG_LEVEL", "--log-level", "DEBUG, INFO, WARNING or ERROR (default INFO)"
    ),
    Setting("log_format", "CHAOSMONKEY_LOG_FORMAT", "--log-format", "text or json (default text)"),
    Setting(
        "health_address",
        "CHAOSMONKEY_HEALTH_ADDRESS",
        "--health-address",
        "address of the /healthz and /metrics endpoint (default 0.0.0.0)",
    ),
    Setting(
        "health_port",
        "CHAOSMONKEY_HEALTH_PORT",
        "--health-port",
        "port of /healthz and /metrics (default 8080)",
    ),
    Setting(
        "allowed_namespaces",
        "CHAOSMONKEY_ALLOWED_NAMESPACES",
        "--allowed-namespaces",
        "comma-separated namespaces attacks may touch besides their plan's own (default: none)",
    ),
    Setting(
        "operator_namespace",
        "CHAOSMONKEY_OPERATOR_NAMESPACE",
        "--operator-namespace",
        "the operator's own namespace (default: POD_NAMESPACE, else default)",
    ),
    Setting(
        "catalog_configmap",
        "CHAOSMONKEY_CATALOG_CONFIGMAP",
        "--catalog-configmap",
        "ConfigMap that receives the plugin catalog (default chaosmonkey-catalog)",
    ),
    Setting(
        "leader_election",
        "CHAOSMONKEY_LEADER_ELECTION",
        "--leader-election",
        "true or false: elect one active replica on a Lease (default true)",
    ),
    Setting(
        "lease_name",
        "CHAOSMONKEY_LEASE_NAME",
        "--lease-name",
        "name of the leader-election Lease (default chaosmonkey-operator)",
    ),
    Setting(
        "lease_duration_seconds",
        "CHAOSMONKEY_LEASE_DURATION_SECONDS",
        "--lease-duration-seconds",
        "seconds without renewal after which another replica may lead (default 15)",
    ),
    Setting(
        "lease_renew_deadline_seconds",
        "CHAOSMONKEY_LEASE_RENEW_DEADLINE_SECONDS",
        "--lease-renew-deadline-seconds",
        "seconds a leader may fail to renew before it stops firing (default 10; below the duration)",
    ),
    Setting(
        "lease_retry_period_seconds",
        "CHAOSMONKEY_LEASE_RETRY_PERIOD_SECONDS",
        "--lease-retry-period-seconds",
        "seconds between leader-election attempts and renewals (default 2)",
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; unset flags stay None so variables and defaults apply."""
    for setting in SETTINGS:
        parser.add_argument(
            setting.flag, dest=setting.field, default=None, help=f"{setting.help}; env {setting.variable}"
        )


def load_settings(
    environ: Mapping[str, str] | None = None, flags: argparse.Namespace | None = None
) -> OperatorSettings:
    """Settings from flags, then ``CHAOSMONKEY_*`` variables, then defaults."""
    environ = os.environ if environ is None else environ
    defaults = OperatorSettings()
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = getattr(flags, setting.field, None) if flags is not None else None
        source = setting.flag
        if raw is None:
            raw, source = environ.get(setting.variable), setting.variable
        if raw is None or raw == "":
            if setting.field == "operator_namespace" and environ.get("POD_NAMESPACE"):
                raw, source = environ["POD_NAMESPACE"], "POD_NAMESPACE"
            else:
                continue
        values[setting.field] = _parse(setting.field, raw, getattr(defaults, setting.field), source)
    settings = dataclasses.replace(defaults, **values)
    if not (
        settings.lease_retry_period_seconds
        < settings.lease_renew_deadline_seconds
        < settings.lease_duration_seconds
    ):
        raise SettingsError(
            "leader election needs CHAOSMONKEY_LEASE_RETRY_PERIOD_SECONDS < "
            "CHAOSMONKEY_LEASE_RENEW_DEADLINE_SECONDS < CHAOSMONKEY_LEASE_DURATION_SECONDS"
        )
    return settings


def _parse(field: str, raw: str, default: Any, source: str) -> Any:
    text = raw.strip()
    try:
        if isinstance(default, bool):
            if text.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError("expected true or false")
            return text.lower() in {"true", "1", "yes"}
        if isinstance(default, tuple):
            return tuple(part.strip() for part in text.split(",") if part.strip())
        if isinstance(default, int):
            number = int(text)
            if number < 1 or (field == "health_port" and number > 65535):
                raise ValueError("out of range")
            return number
        if isinstance(default, float):
            seconds = float(text)
            if not seconds > 0:
                raise ValueError("must be positive")
            return seconds
        if field == "default_time_zone":
            get_timezone(text)
        elif field == "log_level" and text.upper() not in LOG_LEVELS:
            raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
        elif field == "log_format" and text.lower() not in LOG_FORMATS:
            raise ValueError(f"expected one of {', '.join(LOG_FORMATS)}")
        return text.upper() if field == "log_level" else text.lower() if field == "log_format" else text
    except ValueError as exc:
        raise SettingsError(f"{source}={raw!r}: {exc}") from None
