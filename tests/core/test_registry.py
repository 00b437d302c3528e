"""Plugin discovery: built-ins, folders, entry points, aliases, duplicates and broken plugins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chaosmonkey.registry import (
    BUILTIN_ATTACK_MODULES,
    BUILTIN_PLANNER_MODULES,
    PluginRegistry,
    load_registry,
    normalize_ref,
)

BUILTIN_PLANNERS = {
    "exact_planner:ExactPlanner",
    "simple_planner:SimplePlanner",
    "cron_planner:CronPlanner",
    "mtbf_planner:MTBFPlanner",
}
BUILTIN_ATTACKS = {
    "terminate_ec2_instance:TerminateEC2Instance",
    "terminate_ec2_instance_not_excluded:TerminateEC2InstanceNotExcluded",
    "api_request:ApiRequest",
    "run_script:RunScript",
    "delete_pod:DeletePod",
}

PLANNER_TEMPLATE = """
from chaosmonkey.planners import Planner

class {cls}(Planner):
    ref = "{ref}"
    schema = {{"type": "object", "properties": {{"ref": {{"type": "string"}}}}}}
    example = {{"ref": "{ref}"}}

    def plan(self, planner_config, attack_config):
        self._add_job("2030-01-01T00:00", "{cls}", attack_config)
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_every_builtin_is_registered_under_the_original_refs(registry: PluginRegistry) -> None:
    assert set(registry.planners) == BUILTIN_PLANNERS
    assert set(registry.attacks) == BUILTIN_ATTACKS
    assert len(BUILTIN_PLANNER_MODULES) == len(BUILTIN_PLANNERS)
    assert len(BUILTIN_ATTACK_MODULES) == len(BUILTIN_ATTACKS)
    assert registry.problems == []
    assert {p.source for p in [*registry.planners.values(), *registry.attacks.values()]} == {"built-in"}


def test_every_builtin_example_validates_against_its_own_schema(registry: PluginRegistry) -> None:
    for info in [*registry.planners.values(), *registry.attacks.values()]:
        errors = [error.message for error in info.validator().iter_errors(info.example)]
        assert errors == [], info.ref
        assert info.example["ref"] == info.ref
        assert info.cls.to_dict() == {"ref": info.ref, "schema": info.schema, "example": info.example}


@pytest.mark.parametrize(
    ("spelling", "ref"),
    [
        ("simple_planner.SimplePlanner", "simple_planner:SimplePlanner"),
        (
            "terminate_ec2_instance:TerminateEC2InstanceNotExcluded",
            "terminate_ec2_instance_not_excluded:TerminateEC2InstanceNotExcluded",
        ),
        (
            "terminate_ec2_instance_not_excluded.TerminateEC2InstanceNotExcluded",
            "terminate_ec2_instance_not_excluded:TerminateEC2InstanceNotExcluded",
        ),
        (" exact_planner:ExactPlanner ", "exact_planner:ExactPlanner"),
    ],
)
def test_alias_spellings_of_the_original_docs(spelling: str, ref: str, registry: PluginRegistry) -> None:
    assert normalize_ref(spelling) == ref
    kind = "planner" if "planner" in ref else "attack"
    info = registry.get(kind, spelling)
    assert info is not None and info.ref == ref


def test_folders_load_every_module_skip_tests_and_report_broken_plugins(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write(
        first, "good_planner.py", PLANNER_TEMPLATE.format(cls="GoodPlanner", ref="good_planner:GoodPlanner")
    )
    write(first, "good_planner_test.py", "raise RuntimeError('test modules are never imported')\n")
    write(first, "broken_import.py", "import does_not_exist_anywhere\n")
    write(first, "exits.py", "import sys\nsys.exit(3)\n")
    write(
        first,
        "no_schema.py",
        """
        from chaosmonkey.planners import Planner
        class NoSchema(Planner):
            ref = "no_schema:NoSchema"
            example = {"ref": "no_schema:NoSchema"}
    """,
    )
    write(
        first,
        "bad_schema.py",
        """
        from chaosmonkey.planners import Planner
        class BadSchema(Planner):
            ref = "bad_schema:BadSchema"
            schema = {"type": "object", "properties": {"args": {"type": "no-such-type"}}}
            example = {"ref": "bad_schema:BadSchema"}
    """,
    )
    write(
        first,
        "bad_example.py",
        """
        from chaosmonkey.planners import Planner
        class BadExample(Planner):
            ref = "bad_example:BadExample"
            schema = {"type": "object", "required": ["args"]}
            example = {"ref": "bad_example:BadExample"}
    """,
    )
    # A later folder must not shadow a ref already taken, here a built-in and the first folder's.
    write(
        second, "shadow.py", PLANNER_TEMPLATE.format(cls="SimplePlanner", ref="simple_planner:SimplePlanner")
    )
    write(
        second, "good_planner.py", PLANNER_TEMPLATE.format(cls="GoodPlanner", ref="good_planner:GoodPlanner")
    )

    registry = load_registry(
        planner_folders=[first, second, tmp_path / "missing"], attack_folders=[], entry_points=False
    )

    assert registry.planners["good_planner:GoodPlanner"].source == f"folder {first / 'good_planner.py'}"
    assert registry.planners["simple_planner:SimplePlanner"].source == "built-in"
    assert "bad_example:BadExample" in registry.planners  # loaded, with a warning
    assert "no_schema:NoSchema" not in registry.planners
    assert "bad_schema:BadSchema" not in registry.planners

    reasons = {(p.ref or p.module): (p.reason, p.skipped) for p in registry.problems}
    assert reasons["broken_import"] == (
        "ModuleNotFoundError: No module named 'does_not_exist_anywhere'",
        True,
    )
    assert reasons["exits"] == ("SystemExit: 3", True)
    assert reasons["no_schema"] == ("NoSchema lacks schema", True)
    assert reasons["bad_schema:BadSchema"][0].startswith("invalid JSON Schema at properties/args/type:")
    assert reasons["bad_example:BadExample"] == (
        "example does not validate against the schema: 'args' is a required property",
        False,
    )
    assert reasons["simple_planner:SimplePlanner"] == (
        "duplicate ref simple_planner:SimplePlanner: already provided by built-in",
        True,
    )
    assert reasons["good_planner:GoodPlanner"] == (
        f"duplicate ref good_planner:GoodPlanner: already provided by folder {first / 'good_planner.py'}",
        True,
    )
    assert reasons[None] == ("not a directory", True)
    assert "good_planner_test" not in reasons

    # A plan naming a module that failed to import learns why.
    assert [p.reason for p in registry.problems_for("planner", "broken_import:Anything")] == [
        "ModuleNotFoundError: No module named 'does_not_exist_anywhere'"
    ]


def test_plugin_folders_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    write(one, "alpha.py", PLANNER_TEMPLATE.format(cls="Alpha", ref="alpha:Alpha"))
    write(two, "beta.py", PLANNER_TEMPLATE.format(cls="Beta", ref="beta:Beta"))
    monkeypatch.setenv("CHAOSMONKEY_PLANNERS_PATH", f"{one}:{two}")
    registry = load_registry(entry_points=False)
    assert {"alpha:Alpha", "beta:Beta"} <= set(registry.planners)


def test_entry_points_load_classes_and_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real installed distribution (a dist-info folder on sys.path), found by importlib.metadata.
    site = tmp_path / "site"
    write(site / "acme_chaos", "__init__.py", "")
    write(
        site / "acme_chaos", "planners.py", PLANNER_TEMPLATE.format(cls="AcmePlanner", ref="acme:AcmePlanner")
    )
    write(
        site / "acme_chaos",
        "attacks.py",
        """
        from chaosmonkey.attacks import Attack
        class AcmeAttack(Attack):
            ref = "acme:AcmeAttack"
            schema = {"type": "object"}
            example = {"ref": "acme:AcmeAttack"}
            def run(self):
                return "acme"
    """,
    )
    write(
        site / "acme_chaos-1.2.dist-info",
        "METADATA",
        "Metadata-Version: 2.1\nName: acme-chaos\nVersion: 1.2\n",
    )
    write(
        site / "acme_chaos-1.2.dist-info",
        "entry_points.txt",
        """
        [chaosmonkey.planners]
        acme = acme_chaos.planners:AcmePlanner
        [chaosmonkey.attacks]
        acme = acme_chaos.attacks
        broken = acme_chaos.missing:Nothing
    """,
    )
    monkeypatch.syspath_prepend(str(site))
    registry = load_registry(planner_folders=[], attack_folders=[])
    assert registry.planners["acme:AcmePlanner"].source == (
        "entry point acme = acme_chaos.planners:AcmePlanner (acme-chaos 1.2)"
    )
    assert (
        registry.attacks["acme:AcmeAttack"].source == "entry point acme = acme_chaos.attacks (acme-chaos 1.2)"
    )
    broken = [p for p in registry.problems if p.source.startswith("entry point broken")]
    assert [(p.module, p.reason) for p in broken] == [
        ("missing", "ModuleNotFoundError: No module named 'acme_chaos.missing'")
    ]


def test_catalog_describes_plugins_and_problems(tmp_path: Path) -> None:
    write(tmp_path, "oops.py", "raise ValueError('boom')\n")
    registry = load_registry(planner_folders=[tmp_path], attack_folders=[], entry_points=False)
    catalog = registry.describe()
    assert [p["ref"] for p in catalog["planners"]] == sorted(BUILTIN_PLANNERS)
    exact = next(p for p in catalog["planners"] if p["ref"] == "exact_planner:ExactPlanner")
    assert set(exact) == {"kind", "ref", "source", "schema", "example"}
    assert catalog["problems"] == [
        {
            "kind": "planner",
            "ref": None,
            "module": "oops",
            "source": f"folder {tmp_path / 'oops.py'}",
            "reason": "ValueError: boom",
            "skipped": True,
        }
    ]


def test_the_schema_draft_is_chosen_by_dollar_schema(tmp_path: Path) -> None:
    # Draft 4's boolean exclusiveMinimum is not valid in draft 2020-12 (the default).
    write(tmp_path, "old_style.py", """
        from chaosmonkey.attacks import Attack
        class OldStyle(Attack):
            ref = "old_style:OldStyle"
            schema = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
                      "properties": {"ref": {"type": "string"},
                                     "times": {"type": "integer", "minimum": 0, "exclusiveMinimum": True}}}
            example = {"ref": "old_style:OldStyle", "times": 1}
    """)
    write(tmp_path, "no_dollar_schema.py", """
        from chaosmonkey.attacks import Attack
        class NoDollarSchema(Attack):
            ref = "no_dollar_schema:NoDollarSchema"
            schema = {"type": "object", "properties": {"times": {"minimum": 0, "exclusiveMinimum": True}}}
            example = {"ref": "no_dollar_schema:NoDollarSchema"}
    """)
    registry = load_registry(planner_folders=[], attack_folders=[tmp_path], entry_points=False)
    old = registry.attacks["old_style:OldStyle"]
    assert [e.message for e in old.validator().iter_errors({"times": 0})] == [
        "0 is less than or equal to the minimum of 0"]
    assert "no_dollar_schema:NoDollarSchema" not in registry.attacks
    [problem] = [p for p in registry.problems if p.ref == "no_dollar_schema:NoDollarSchema"]
    assert problem.reason.startswith("invalid JSON Schema at properties/times/exclusiveMinimum: True is not of type")
