"""The `chaosmonkey` command: catalog, validate, plan and attack, as users and pipelines run it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from chaosmonkey.cli import main

from .conftest import SEED_PLUGINS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def manifest(name: str, planner: str, attack: str, *, namespace: str = "chaos", extra: str = "") -> str:
    return (
        textwrap.dedent(f"""\
        apiVersion: chaosmonkey.io/v1alpha1
        kind: ChaosPlan
        metadata: {{name: {name}, namespace: {namespace}}}
        spec:
          planner: {planner}
          attack: {attack}
        """)
        + extra
    )


@pytest.fixture
def seed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSMONKEY_PLANNERS_PATH", str(SEED_PLUGINS / "planners"))
    monkeypatch.setenv("CHAOSMONKEY_ATTACKS_PATH", str(SEED_PLUGINS / "attacks"))


def test_there_is_an_example_for_every_builtin_planner() -> None:
    refs = {yaml.safe_load(path.read_text())["spec"]["planner"]["ref"] for path in EXAMPLES}
    assert {
        "exact_planner:ExactPlanner",
        "simple_planner:SimplePlanner",
        "cron_planner:CronPlanner",
        "mtbf_planner:MTBFPlanner",
    } <= refs


def test_every_example_validates_through_the_installed_command() -> None:
    # The real console entry point, as a GitOps pipeline would run it before merge.
    result = subprocess.run(
        [sys.executable, "-m", "chaosmonkey", "validate", *map(str, EXAMPLES)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == f"{len(EXAMPLES)} valid, 0 invalid ChaosPlans"


def test_validate_reports_file_document_and_path_for_every_error(tmp_path: Path) -> None:
    path = tmp_path / "plans.yaml"
    path.write_text(
        "\n---\n".join(
            [
                manifest(
                    "good",
                    "{ref: exact_planner:ExactPlanner, args: {date: '2026-12-01T10:00'}}",
                    "{ref: api_request:ApiRequest, args: {endpoint: 'http://svc:8080/'}}",
                ),
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unrelated}\n",
                manifest(
                    "bad",
                    "{ref: cron_planner:CronPlanner, args: {cron: '* * *'}}",
                    "{ref: api_request:ApiRequest, args: {method: GET}}",
                    extra="  timeZone: Nowhere/Land\n",
                ),
            ]
        )
    )
    code, out = run("validate", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}: document 1 (ChaosPlan chaos/good): valid",
        f"{path}: document 2 (ConfigMap unrelated): skipped (kind ConfigMap is not a ChaosPlan)",
        f"{path}: document 3 (ChaosPlan chaos/bad): spec.attack.args.endpoint: 'endpoint' is a required property",
        f"{path}: document 3 (ChaosPlan chaos/bad): spec.planner.args.cron: '* * *' is not a cron expression of "
        "five fields (minute hour day month weekday)",
        f"{path}: document 3 (ChaosPlan chaos/bad): spec.timeZone: unknown time zone 'Nowhere/Land' "
        "(expected an IANA name such as 'Europe/Madrid')",
        "1 valid, 1 invalid ChaosPlans",
    ]


def test_validate_reads_stdin_and_rejects_broken_yaml(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("kind: ChaosPlan\nspec: [unclosed\n"))
    assert main(["validate", "-"]) == 2
    assert "chaosmonkey validate: -: not valid YAML" in capsys.readouterr().err
    assert main(["validate", "/no/such/file.yaml"]) == 2
    assert "/no/such/file.yaml: cannot read" in capsys.readouterr().err


def test_catalog_in_every_format(seed_plugins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "half_done.py").write_text("raise ImportError('sdk missing')\n")
    monkeypatch.setenv("CHAOSMONKEY_ATTACKS_PATH", f"{SEED_PLUGINS / 'attacks'}:{broken}")
    code, out = run("catalog", "-o", "json")
    assert code == 0
    catalog = json.loads(out)
    planners = {p["ref"]: p for p in catalog["planners"]}
    attacks = {a["ref"]: a for a in catalog["attacks"]}
    assert planners["my_planner:MyPlanner"]["source"].endswith("my_planner.py")
    assert attacks["my_attack:MyAttack"]["example"] == {"ref": "my_attack:MyAttack", "name": "attack1"}
    assert planners["simple_planner:SimplePlanner"]["source"] == "built-in"
    assert [(p["module"], p["reason"]) for p in catalog["problems"]] == [
        ("half_done", "ImportError: sdk missing")
    ]
    assert yaml.safe_load(run("catalog", "-o", "yaml")[1]) == catalog
    text = run("catalog")[1]
    assert "  my_attack:MyAttack" in text
    assert "attack half_done (skipped; folder" in text


def test_plan_previews_executors(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        manifest(
            "nightly",
            "{ref: cron_planner:CronPlanner, args: {cron: '0 3 * * *', ahead: 2}}",
            "{ref: api_request:ApiRequest, args: {endpoint: 'http://svc/'}}",
            extra="  timeZone: Europe/Madrid\n",
        )
    )
    code, out = run("plan", str(path), "--now", "2026-10-24T12:00:00Z", "-o", "json")
    assert code == 0
    assert json.loads(out) == [
        {
            "name": "nightly-1",
            "scheduledTime": "2026-10-25T02:00:00Z",
            "localTime": "2026-10-25T03:00:00+01:00",
            "job": "Cron Planner - nightly",
        },
        {
            "name": "nightly-2",
            "scheduledTime": "2026-10-26T02:00:00Z",
            "localTime": "2026-10-26T03:00:00+01:00",
            "job": "Cron Planner - nightly",
        },
    ]
    code, out = run("plan", str(path), "--now", "2026-10-24T12:00:00Z")
    assert out.splitlines()[1:] == [
        "  nightly-1                                2026-10-25T02:00:00Z  (2026-10-25T03:00:00+01:00)",
        "  nightly-2                                2026-10-26T02:00:00Z  (2026-10-26T03:00:00+01:00)",
        "  (recurring: the operator plans more as these are consumed)",
    ]


def test_plan_needs_exactly_one_valid_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "two.yaml"
    one = manifest(
        "one",
        "{ref: exact_planner:ExactPlanner, args: {date: '2026-12-01'}}",
        "{ref: api_request:ApiRequest, args: {endpoint: 'http://svc/'}}",
    )
    path.write_text(one + "---\n" + one.replace("name: one", "name: two"))
    assert main(["plan", str(path)]) == 2
    assert "expected one ChaosPlan, found 2; choose one with --name" in capsys.readouterr().err
    assert run("plan", str(path), "--name", "two", "-o", "yaml")[0] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(one.replace("2026-12-01", "someday"))
    assert main(["plan", str(bad)]) == 2
    assert "spec.planner.args.date: invalid date 'someday'" in capsys.readouterr().err


def test_attack_runs_once_in_process(seed_plugins: None, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        manifest(
            "seed",
            "{ref: my_planner:MyPlanner, args: {date: '2026-12-01T10:00'}}",
            "{ref: my_attack:MyAttack, name: attack1}",
        )
    )
    code, out = run("attack", str(path))
    assert (code, out) == (
        0,
        f"{path}: document 1 (ChaosPlan chaos/seed): attack my_attack:MyAttack succeeded: attack completed\n",
    )
    code, out = run("attack", str(path), "--dry-run")
    assert code == 0
    assert "succeeded (dry run): dry run: would run my_attack:MyAttack; it has no dry-run mode" in out


def test_attack_failure_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "attacks"
    folder.mkdir()
    (folder / "always_fails.py").write_text(
        textwrap.dedent("""
        from chaosmonkey.attacks import Attack

        class AlwaysFails(Attack):
            ref = "always_fails:AlwaysFails"
            schema = {"type": "object"}
            example = {"ref": "always_fails:AlwaysFails"}

            def run(self):
                raise ConnectionError("target unreachable at 10.0.0.1:22")
    """)
    )
    monkeypatch.setenv("CHAOSMONKEY_ATTACKS_PATH", str(folder))
    path = tmp_path / "fails.yaml"
    path.write_text(
        manifest(
            "fails",
            "{ref: exact_planner:ExactPlanner, args: {date: '2026-12-01'}}",
            "{ref: always_fails:AlwaysFails}",
        )
    )
    code, out = run("attack", str(path))
    assert code == 1
    assert out.endswith(
        "attack always_fails:AlwaysFails failed: ConnectionError: target unreachable at 10.0.0.1:22\n"
    )
