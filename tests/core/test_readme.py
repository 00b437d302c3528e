"""The README's examples work as written: its plugin code loads, plans and runs; its commands exist."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

from chaosmonkey.attacks import AttackContext
from chaosmonkey.execution import run_attack
from chaosmonkey.planning import compute_executors
from chaosmonkey.registry import load_registry
from chaosmonkey.validation import validate_spec

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_plugin_examples_load_plan_and_run(tmp_path: Path) -> None:
    written = []
    # Plugin files start with their file name; other blocks illustrate driver settings for real clouds.
    plugin_files = [b for b in code_blocks("python") if re.match(r"# \w+\.py\n", b)]
    for block in plugin_files:
        first_line = block.splitlines()[0]
        kind = "planners" if "Planner" in block else "attacks"
        (tmp_path / kind).mkdir(exist_ok=True)
        (tmp_path / kind / first_line[2:]).write_text(block)
        written.append(first_line[2:])
    assert sorted(written) == ["my_attack.py", "my_planner.py"]
    registry = load_registry(
        planner_folders=[tmp_path / "planners"], attack_folders=[tmp_path / "attacks"], entry_points=False
    )
    assert registry.problems == [] or all(not p.skipped for p in registry.problems if p.kind == "planner")
    planner = registry.get("planner", "my_planner:MyPlanner")
    attack = registry.get("attack", "my_attack:MyAttack")
    assert planner is not None and attack is not None
    spec = {"planner": planner.example, "attack": attack.example, "timeZone": "Europe/Madrid"}
    assert validate_spec(spec, registry) == []
    [executor] = compute_executors(
        planner.cls, planner.example, attack.example, plan_name="readme", timezone=ZoneInfo("Europe/Madrid")
    )
    assert executor.scheduled_time.isoformat() == "2026-06-21T13:30:00+00:00"
    outcome = run_attack(attack.cls, attack.example, AttackContext())
    assert (outcome.succeeded, outcome.message) == (True, "attacked attack1")


def test_readme_first_command_runs_the_sandbox() -> None:
    # tests/operator/test_sandbox_quickstart.py runs `chaosmonkey sandbox --kubeconfig ... --apply ...`.
    [first, *_] = code_blocks("sh")
    assert ".venv/bin/chaosmonkey sandbox --kubeconfig sandbox.kubeconfig --apply examples/" in first
    assert "pip install -q -e '.[sandbox]'" in first


def test_readme_test_command_is_what_ci_runs() -> None:
    assert "```sh\n.ci/test\n```" in README
    assert "exec bash ./.ci/test" in (ROOT / ".ci" / "run").read_text()


def test_readme_lists_every_example_planner() -> None:
    for path in sorted((ROOT / "examples").glob("*-planner.yaml")):
        assert f"(examples/{path.name})" in README


def test_readme_lists_every_operator_setting() -> None:
    from chaosmonkey.settings import SETTINGS

    for setting in SETTINGS:
        assert f"| `{setting.variable}` | `{setting.flag}` |" in README, setting.variable
