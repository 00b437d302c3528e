"""Finding planner and attack plugins: built-ins, plugin folders and entry points.

Sources are read in this order, and the first to provide a ref keeps it (a later duplicate is
reported, never silently shadowing the earlier one):

1. the built-ins shipped in :mod:`chaosmonkey.planners` and :mod:`chaosmonkey.attacks`;
2. plugin folders, ``CHAOSMONKEY_PLANNERS_PATH`` / ``CHAOSMONKEY_ATTACKS_PATH``
   (``os.pathsep``-separated; every ``*.py`` module, ``*_test.py`` and ``_*.py`` skipped);
3. Python entry points in the groups ``chaosmonkey.planners`` / ``chaosmonkey.attacks``.

A plugin that fails to import, lacks ``ref``/``schema``/``example`` or declares an invalid JSON
Schema is recorded as a :class:`PluginProblem` (with the reason) and skipped; loading goes on.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import jsonschema
from jsonschema.protocols import Validator

from chaosmonkey.attacks.attack import Attack
from chaosmonkey.planners.planner import Planner

log = logging.getLogger(__name__)

PluginKind = Literal["planner", "attack"]

BUILTIN_PLANNER_MODULES: tuple[str, ...] = (
    "exact_planner",
    "simple_planner",
    "cron_planner",
    "mtbf_planner",
)
BUILTIN_ATTACK_MODULES: tuple[str, ...] = (
    "api_request",
    "terminate_ec2_instance",
    "terminate_ec2_instance_not_excluded",
    "run_script",
    "delete_pod",
)

#: Refs the original engine's documentation used for built-ins, mapped to today's refs.
REF_ALIASES: dict[str, str] = {
    "terminate_ec2_instance:TerminateEC2InstanceNotExcluded": (
        "terminate_ec2_instance_not_excluded:TerminateEC2InstanceNotExcluded"
    ),
}

PATH_VARIABLES: dict[PluginKind, str] = {
    "planner": "CHAOSMONKEY_PLANNERS_PATH",
    "attack": "CHAOSMONKEY_ATTACKS_PATH",
}
ENTRY_POINT_GROUPS: dict[PluginKind, str] = {
    "planner": "chaosmonkey.planners",
    "attack": "chaosmonkey.attacks",
}
_BASES: dict[PluginKind, type] = {"planner": Planner, "attack": Attack}
_BUILTIN_PACKAGES: dict[PluginKind, str] = {
    "planner": "chaosmonkey.planners",
    "attack": "chaosmonkey.attacks",
}


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin class and where it came from."""

    kind: PluginKind
    ref: str
    cls: type[Any]
    source: str
    schema: dict[str, Any]
    example: dict[str, Any]

    @property
    def module_name(self) -> str:
        return self.ref.partition(":")[0]

    def validator(self) -> Validator:
        """A validator for the plugin's schema, of the draft its ``$schema`` names."""
        validator_cls = jsonschema.validators.validator_for(
            self.schema, default=jsonschema.Draft202012Validator
        )
        return validator_cls(self.schema, format_checker=validator_cls.FORMAT_CHECKER)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ref": self.ref,
            "source": self.source,
            "schema": self.schema,
            "example": self.example,
        }


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that was skipped (or loaded with a warning), and why."""

    kind: PluginKind
    source: str
    reason: str
    ref: str | None = None
    #: The module the problem is in, so a plan naming ``module:Class`` can be told why.
    module: str | None = None
    skipped: bool = True

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ref": self.ref,
            "module": self.module,
            "source": self.source,
            "reason": self.reason,
            "skipped": self.skipped,
        }


def normalize_ref(ref: str) -> str:
    """``module.Class`` (the original docs' other spelling) becomes ``module:Class``."""
    ref = ref.strip()
    if ":" not in ref and "." in ref:
        module, _, cls = ref.rpartition(".")
        ref = f"{module}:{cls}"
    return REF_ALIASES.get(ref, ref)


@dataclass
class PluginRegistry:
    """Every planner and attack that could be loaded, plus what could not."""

    planners: dict[str, PluginInfo] = field(default_factory=dict)
    attacks: dict[str, PluginInfo] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)

    def plugins(self, kind: PluginKind) -> dict[str, PluginInfo]:
        return self.planners if kind == "planner" else self.attacks

    def get(self, kind: PluginKind, ref: str) -> PluginInfo | None:
        return self.plugins(kind).get(normalize_ref(ref))

    def problems_for(self, kind: PluginKind, ref: str) -> list[PluginProblem]:
        """Why ``ref`` is missing, if a problem was recorded for it or for its module."""
        ref = normalize_ref(ref)
        module = ref.partition(":")[0]
        return [
            p
            for p in self.problems
            if p.kind == kind and p.skipped and (p.ref == ref or (p.ref is None and p.module == module))
        ]

    def describe(self) -> dict[str, Any]:
        """The catalog: every plugin with its schema and example, and every problem."""
        return {
            "planners": [p.describe() for p in sorted(self.planners.values(), key=lambda p: p.ref)],
            "attacks": [p.describe() for p in sorted(self.attacks.values(), key=lambda p: p.ref)],
            "problems": [p.describe() for p in self.problems],
        }

    # -- loading -----------------------------------------------------------------------------

    def add_class(self, kind: PluginKind, cls: type, source: str) -> PluginInfo | None:
        """Check a plugin class and register it; record a problem and return None if unfit."""
        module = getattr(cls, "__module__", "").rpartition(".")[2] or None
        missing = [attr for attr in ("ref", "schema", "example") if not hasattr(cls, attr)]
        if missing:
            self._problem(kind, source, f"{cls.__name__} lacks {', '.join(missing)}", module=module)
            return None
        ref, schema, example = cls.ref, cls.schema, cls.example  # type: ignore[attr-defined]
        if not isinstance(ref, str) or ":" not in ref:
            self._problem(
                kind, source, f"{cls.__name__}.ref must be 'module:Class', got {ref!r}", module=module
            )
            return None
        if not isinstance(schema, dict) or not isinstance(example, dict):
            self._problem(kind, source, f"{cls.__name__}.schema and .example must be dicts", ref=ref)
            return None
        validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            validator_cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            self._problem(kind, source, f"invalid JSON Schema at {where}: {exc.message}", ref=ref)
            return None
        existing = self.plugins(kind).get(ref)
        if existing is not None:
            if existing.cls is cls:
                return existing
            self._problem(
                kind, source, f"duplicate ref {ref}: already provided by {existing.source}", ref=ref
            )
            return None
        info = PluginInfo(kind=kind, ref=ref, cls=cls, source=source, schema=schema, example=example)
        example_errors = [e.message for e in info.validator().iter_errors(example)]
        if example_errors:
            # Loaded all the same: the example is documentation, the plugin may still work.
            self._problem(
                kind,
                source,
                f"example does not validate against the schema: {example_errors[0]}",
                ref=ref,
                skipped=False,
            )
        self.plugins(kind)[ref] = info
        return info

    def add_module(self, kind: PluginKind, module: ModuleType, source: str) -> list[PluginInfo]:
        """Register every plugin class defined in ``module`` (not the ones it imports)."""
        base = _BASES[kind]
        loaded = []
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj is base or not issubclass(obj, base) or obj.__module__ != module.__name__:
                continue
            info = self.add_class(kind, obj, source)
            if info is not None:
                loaded.append(info)
        return loaded

    def load_builtins(self) -> None:
        builtins: dict[PluginKind, tuple[str, ...]] = {
            "planner": BUILTIN_PLANNER_MODULES,
            "attack": BUILTIN_ATTACK_MODULES,
        }
        for kind, names in builtins.items():
            for name in names:
                try:
                    module = importlib.import_module(f"{_BUILTIN_PACKAGES[kind]}.{name}")
                except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken built-in must not stop the rest
                    self._problem(kind, "built-in", _describe_exception(exc), module=name)
                    continue
                self.add_module(kind, module, "built-in")

    def load_folder(self, kind: PluginKind, folder: Path) -> None:
        if not folder.is_dir():
            self._problem(kind, f"folder {folder}", "not a directory")
            return
        for path in sorted(folder.glob("*.py")):
            if path.name.endswith("_test.py") or path.name.startswith("_"):
                continue
            source = f"folder {path}"
            try:
                module = _import_file(kind, path)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - third-party errors are reported
                self._problem(kind, source, _describe_exception(exc), module=path.stem)
                continue
            self.add_module(kind, module, source)

    def load_entry_points(self, kind: PluginKind) -> None:
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUPS[kind]):
            dist = entry_point.dist
            origin = f" ({dist.name} {dist.version})" if dist is not None else ""
            source = f"entry point {entry_point.name} = {entry_point.value}{origin}"
            try:
                target = entry_point.load()
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - third-party errors are reported
                module = entry_point.value.partition(":")[0].rpartition(".")[2]
                self._problem(kind, source, _describe_exception(exc), module=module)
                continue
            if isinstance(target, ModuleType):
                self.add_module(kind, target, source)
            elif isinstance(target, type) and issubclass(target, _BASES[kind]):
                self.add_class(kind, target, source)
            else:
                self._problem(
                    kind, source, f"entry point must name a {kind} class or a module, got {target!r}"
                )

    def _problem(
        self,
        kind: PluginKind,
        source: str,
        reason: str,
        *,
        ref: str | None = None,
        module: str | None = None,
        skipped: bool = True,
    ) -> None:
        if ref is not None and module is None:
            module = ref.partition(":")[0]
        problem = PluginProblem(
            kind=kind, source=source, reason=reason, ref=ref, module=module, skipped=skipped
        )
        self.problems.append(problem)
        log.warning("%s plugin %s from %s: %s", kind, ref or module or "?", source, reason)


def plugin_folders(kind: PluginKind, environ: os._Environ[str] | dict[str, str] | None = None) -> list[Path]:
    value = (environ if environ is not None else os.environ).get(PATH_VARIABLES[kind], "")
    return [Path(part) for part in value.split(os.pathsep) if part.strip()]


def load_registry(
    *,
    planner_folders: Iterable[Path] | None = None,
    attack_folders: Iterable[Path] | None = None,
    entry_points: bool = True,
) -> PluginRegistry:
    """Load built-ins, plugin folders (default: from the environment) and entry points."""
    registry = PluginRegistry()
    registry.load_builtins()
    folders: dict[PluginKind, Iterable[Path] | None] = {"planner": planner_folders, "attack": attack_folders}
    for kind in _kinds():
        for folder in folders[kind] if folders[kind] is not None else plugin_folders(kind):  # type: ignore[union-attr]
            registry.load_folder(kind, folder)
    if entry_points:
        for kind in _kinds():
            registry.load_entry_points(kind)
    return registry


def _kinds() -> Iterator[PluginKind]:
    yield "planner"
    yield "attack"


def _import_file(kind: PluginKind, path: Path) -> ModuleType:
    # A unique module name per file, so two folders may both have a `my_planner.py`.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"chaosmonkey_plugins.{kind}s.m{digest}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _describe_exception(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
