"""Operator settings: flags over CHAOSMONKEY_* variables over defaults; bad values name their source."""

from __future__ import annotations

import argparse

import pytest

from chaosmonkey.settings import SETTINGS, OperatorSettings, SettingsError, add_arguments, load_settings


def parse_flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults() -> None:
    assert load_settings({}, None) == OperatorSettings()
    assert OperatorSettings().namespaces == ()
    assert OperatorSettings().max_concurrent_attacks == 4


def test_variables_and_flags() -> None:
    environ = {
        "CHAOSMONKEY_NAMESPACES": "chaos, staging,",
        "CHAOSMONKEY_MAX_CONCURRENT_ATTACKS": "8",
        "CHAOSMONKEY_ATTACK_TIMEOUT_SECONDS": "12.5",
        "CHAOSMONKEY_LOG_FORMAT": "JSON",
        "CHAOSMONKEY_LEADER_ELECTION": "false",
        "CHAOSMONKEY_DEFAULT_TIME_ZONE": "Europe/Madrid",
        "POD_NAMESPACE": "chaosmonkey-system",
    }
    settings = load_settings(environ, parse_flags("--max-concurrent-attacks", "2", "--log-level", "debug"))
    assert settings.namespaces == ("chaos", "staging")
    assert settings.max_concurrent_attacks == 2, "a flag wins over its variable"
    assert settings.attack_timeout_seconds == 12.5
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    assert settings.leader_election is False
    assert settings.default_time_zone == "Europe/Madrid"
    assert settings.operator_namespace == "chaosmonkey-system"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CHAOSMONKEY_MAX_CONCURRENT_ATTACKS": "0"}, "CHAOSMONKEY_MAX_CONCURRENT_ATTACKS='0': out of range"),
        (
            {"CHAOSMONKEY_ATTACK_TIMEOUT_SECONDS": "soon"},
            "CHAOSMONKEY_ATTACK_TIMEOUT_SECONDS='soon': could not convert",
        ),
        (
            {"CHAOSMONKEY_DEFAULT_TIME_ZONE": "Moon/Base"},
            "CHAOSMONKEY_DEFAULT_TIME_ZONE='Moon/Base': unknown time zone",
        ),
        ({"CHAOSMONKEY_LOG_LEVEL": "LOUD"}, "CHAOSMONKEY_LOG_LEVEL='LOUD': expected one of DEBUG, INFO"),
        (
            {"CHAOSMONKEY_LEADER_ELECTION": "maybe"},
            "CHAOSMONKEY_LEADER_ELECTION='maybe': expected true or false",
        ),
        ({"CHAOSMONKEY_HEALTH_PORT": "70000"}, "CHAOSMONKEY_HEALTH_PORT='70000': out of range"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, None)
    assert str(caught.value).startswith(message)


def test_lease_timings_must_be_ordered() -> None:
    with pytest.raises(
        SettingsError, match=r"RETRY_PERIOD_SECONDS < .*RENEW_DEADLINE_SECONDS < .*DURATION_SECONDS"
    ):
        load_settings({"CHAOSMONKEY_LEASE_RENEW_DEADLINE_SECONDS": "20"}, None)


def test_a_bad_flag_names_the_flag() -> None:
    with pytest.raises(SettingsError, match=r"^--health-port='x':"):
        load_settings({}, parse_flags("--health-port", "x"))


def test_every_setting_has_a_variable_and_a_flag() -> None:
    fields = {field.name for field in OperatorSettings.__dataclass_fields__.values()}
    assert {s.field for s in SETTINGS} == fields
    assert all(s.variable.startswith("CHAOSMONKEY_") and s.flag.startswith("--") for s in SETTINGS)
