"""The ``chaosmonkey`` command: catalog, validate, plan and attack (and, later, run).

* ``chaosmonkey catalog [-o text|json|yaml]`` lists every planner and attack plugin.
* ``chaosmonkey validate FILE...`` validates ChaosPlan manifests offline (exit 0 only if valid).
* ``chaosmonkey plan FILE`` previews the executors a plan would produce now.
* ``chaosmonkey attack FILE [--dry-run]`` runs a plan's attack once, now, in this process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from chaosmonkey import __version__
from chaosmonkey.attacks.attack import AttackContext, AttackError
from chaosmonkey.execution import run_attack
from chaosmonkey.planning import PlanningError, compute_executors
from chaosmonkey.registry import PluginRegistry, load_registry
from chaosmonkey.settings import add_arguments as add_settings_arguments
from chaosmonkey.timeutil import UTC, rfc3339
from chaosmonkey.validation import PlanSpec, is_chaosplan, validate_manifest

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A user error: printed as one line, exit code 2."""


@dataclass(frozen=True)
class Document:
    file: str
    index: int  # 1-based, as people count documents in a file
    body: Any

    @property
    def label(self) -> str:
        where = f"{self.file}: document {self.index}"
        if isinstance(self.body, dict) and isinstance(self.body.get("metadata"), dict):
            metadata = self.body["metadata"]
            name = metadata.get("name") or metadata.get("generateName") or "?"
            namespace = metadata.get("namespace")
            where += f" ({self.body.get('kind', '?')} {namespace + '/' if namespace else ''}{name})"
        return where


def read_documents(paths: Sequence[str]) -> Iterator[Document]:
    """Every YAML document of every file (``-`` is standard input); CommandError if unreadable."""
    for path in paths:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        try:
            bodies = list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise CommandError(f"{path}: not valid YAML: {exc}") from exc
        for index, body in enumerate(bodies, start=1):
            if body is not None:
                yield Document(path, index, body)


def select_plan(path: str, name: str | None) -> Document:
    """The one ChaosPlan in ``path`` (or the one called ``name``)."""
    plans = [doc for doc in read_documents([path]) if is_chaosplan(doc.body)]
    if name is not None:
        plans = [doc for doc in plans if (doc.body.get("metadata") or {}).get("name") == name]
    if len(plans) != 1:
        which = f" named {name!r}" if name else ""
        hint = "" if name or not plans else "; choose one with --name"
        raise CommandError(f"{path}: expected one ChaosPlan{which}, found {len(plans)}{hint}")
    return plans[0]


def checked_spec(document: Document, registry: PluginRegistry, now: dt.datetime | None) -> PlanSpec:
    issues = validate_manifest(document.body, registry, now=now)
    if issues:
        details = "\n".join(f"  {issue}" for issue in issues)
        raise CommandError(f"{document.label} is invalid:\n{details}")
    return PlanSpec.from_dict(document.body["spec"])


# -- commands ----------------------------------------------------------------------------------


def cmd_catalog(args: argparse.Namespace, registry: PluginRegistry, out: TextIO) -> int:
    catalog = registry.describe()
    if args.output == "json":
        json.dump(catalog, out, indent=2)
        out.write("\n")
    elif args.output == "yaml":
        yaml.safe_dump(catalog, out, sort_keys=False, allow_unicode=True)
    else:
        for title, key in (("Planners", "planners"), ("Attacks", "attacks")):
            out.write(f"{title}:\n")
            for plugin in catalog[key]:
                out.write(f"  {plugin['ref']:<70} {plugin['source']}\n")
        if catalog["problems"]:
            out.write("Problems:\n")
            for problem in catalog["problems"]:
                what = problem["ref"] or problem["module"] or "?"
                status = "skipped" if problem["skipped"] else "warning"
                out.write(
                    f"  {problem['kind']} {what} ({status}; {problem['source']}): {problem['reason']}\n"
                )
    return EXIT_OK


def cmd_validate(args: argparse.Namespace, registry: PluginRegistry, out: TextIO) -> int:
    valid = invalid = 0
    for document in read_documents(args.files):
        if not is_chaosplan(document.body):
            kind = document.body.get("kind", "?") if isinstance(document.body, dict) else "?"
            out.write(f"{document.label}: skipped (kind {kind} is not a ChaosPlan)\n")
            continue
        issues = validate_manifest(document.body, registry)
        if issues:
            invalid += 1
            for issue in issues:
                out.write(f"{document.label}: {issue}\n")
        else:
            valid += 1
            out.write(f"{document.label}: valid\n")
    out.write(f"{valid} valid, {invalid} invalid ChaosPlan{'s' if valid + invalid != 1 else ''}\n")
    return EXIT_INVALID if invalid else EXIT_OK


def cmd_plan(args: argparse.Namespace, registry: PluginRegistry, out: TextIO) -> int:
    now = args.now or dt.datetime.now(UTC)
    document = select_plan(args.file, args.name)
    spec = checked_spec(document, registry, now)
    info = registry.get("planner", spec.planner["ref"])
    assert info is not None  # validated
    name = document.body["metadata"].get("name") or "plan"
    try:
        executors = compute_executors(
            info.cls, spec.planner, spec.attack, plan_name=name, timezone=spec.timezone, now=now
        )
    except PlanningError as exc:  # pragma: no cover - validation plans once already
        raise CommandError(f"{document.label}: spec.planner: {exc}") from exc
    rows = [
        {
            "name": executor.name,
            "scheduledTime": rfc3339(executor.scheduled_time),
            "localTime": executor.scheduled_time.astimezone(spec.timezone).isoformat(),
            "job": executor.job_name,
        }
        for executor in executors
    ]
    if args.output == "json":
        json.dump(rows, out, indent=2)
        out.write("\n")
    elif args.output == "yaml":
        yaml.safe_dump(rows, out, sort_keys=False)
    else:
        out.write(
            f"{document.label}: {len(rows)} executor{'s' if len(rows) != 1 else ''} "
            f"planned at {rfc3339(now)} ({spec.time_zone})\n"
        )
        for row in rows:
            out.write(f"  {row['name']:<40} {row['scheduledTime']}  ({row['localTime']})\n")
        if info.cls.recurring:
            out.write("  (recurring: the operator plans more as these are consumed)\n")
    return EXIT_OK


def cmd_attack(args: argparse.Namespace, registry: PluginRegistry, out: TextIO) -> int:
    document = select_plan(args.file, args.name)
    spec = checked_spec(document, registry, None)
    info = registry.get("attack", spec.attack["ref"])
    assert info is not None  # validated
    metadata = document.body["metadata"]
    namespace = metadata.get("namespace") or "default"
    context = AttackContext(
        plan_name=metadata.get("name") or "plan",
        namespace=namespace,
        executor_name=f"{metadata.get('name') or 'plan'}-manual",
        dry_run=args.dry_run or spec.dry_run,
        read_secret=kubernetes_secret_reader(namespace),
    )
    outcome = run_attack(info.cls, spec.attack, context)
    state = "succeeded" if outcome.succeeded else "failed"
    out.write(
        f"{document.label}: attack {info.ref} {state}{' (dry run)' if outcome.dry_run else ''}: "
        f"{outcome.message}\n"
    )
    return EXIT_OK if outcome.succeeded else EXIT_INVALID


def cmd_run(args: argparse.Namespace, registry: PluginRegistry, out: TextIO) -> int:
    from chaosmonkey import app  # noqa: PLC0415 - kopf loads only for the operator itself
    from chaosmonkey.settings import SettingsError, load_settings  # noqa: PLC0415

    try:
        settings = load_settings(flags=args)
    except SettingsError as exc:
        raise CommandError(str(exc)) from exc
    return app.main(settings, kubeconfig=args.kubeconfig)


def cmd_sandbox(args: argparse.Namespace, registry: PluginRegistry, out: TextIO) -> int:
    from chaosmonkey.sandbox import quickstart  # noqa: PLC0415 - kopf and aiohttp load only here
    from chaosmonkey.settings import SettingsError, load_settings  # noqa: PLC0415

    try:
        settings = load_settings(flags=args)
    except SettingsError as exc:
        raise CommandError(str(exc)) from exc
    return quickstart.main(
        Path(args.kubeconfig), port=args.port, apply=[Path(p) for p in args.apply], settings=settings
    )


def kubernetes_secret_reader(namespace: str) -> Callable[[str, str], bytes]:
    """Reads Secret keys in ``namespace`` with the local kubeconfig (or in-cluster config)."""

    def read_secret(name: str, key: str) -> bytes:
        from kubernetes.config.config_exception import ConfigException  # noqa: PLC0415

        from chaosmonkey.kube import KubeClient, load_api_client  # noqa: PLC0415 - only Secret readers need it

        try:
            api_client = load_api_client()
        except (ConfigException, OSError) as exc:
            raise AttackError(
                f"cannot read Secret {namespace}/{name}: no Kubernetes configuration ({exc})"
            ) from None
        with api_client:
            return KubeClient(api_client).secret_reader(namespace)(name, key)

    return read_secret


# -- parsing -----------------------------------------------------------------------------------


def _instant(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} needs an offset, e.g. {value}Z")
    return parsed.astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaosmonkey", description="Chaos Monkey operator: plan, validate and run chaos attacks."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        dest="cli_log_level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level of the offline commands (stderr); `run` has its own --log-level",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    catalog = commands.add_parser("catalog", help="list every planner and attack plugin")
    catalog.add_argument("-o", "--output", choices=["text", "json", "yaml"], default="text")
    catalog.set_defaults(handler=cmd_catalog)

    validate = commands.add_parser("validate", help="validate ChaosPlan manifests offline")
    validate.add_argument("files", nargs="+", metavar="FILE", help="YAML files (multi-document); - for stdin")
    validate.set_defaults(handler=cmd_validate)

    plan = commands.add_parser("plan", help="preview the executors a ChaosPlan would produce now")
    plan.add_argument("file", metavar="FILE")
    plan.add_argument("--name", help="the ChaosPlan to use when the file has several")
    plan.add_argument("--now", type=_instant, help="plan as if it were this instant (ISO 8601 with offset)")
    plan.add_argument("-o", "--output", choices=["text", "json", "yaml"], default="text")
    plan.set_defaults(handler=cmd_plan)

    attack = commands.add_parser("attack", help="run a ChaosPlan's attack once, now, in this process")
    attack.add_argument("file", metavar="FILE")
    attack.add_argument("--name", help="the ChaosPlan to use when the file has several")
    attack.add_argument("--dry-run", action="store_true", help="say what would be attacked, change nothing")
    attack.set_defaults(handler=cmd_attack)

    run = commands.add_parser("run", help="run the operator (in a cluster, or against a kubeconfig)")
    run.add_argument("--kubeconfig", help="kubeconfig to use instead of in-cluster config ($KUBECONFIG)")
    add_settings_arguments(run)
    run.set_defaults(handler=cmd_run)

    sandbox = commands.add_parser(
        "sandbox",
        help="run the operator on an embedded API server (no cluster needed) and write a kubeconfig",
    )
    sandbox.add_argument("--kubeconfig", default="sandbox.kubeconfig", help="where to write the kubeconfig")
    sandbox.add_argument(
        "--port", type=int, default=0, help="port of the embedded API server (default: any free)"
    )
    sandbox.add_argument(
        "--apply",
        action="append",
        default=[],
        metavar="FILE",
        help="create the objects of this manifest once the server runs (repeatable)",
    )
    add_settings_arguments(sandbox)
    sandbox.set_defaults(handler=cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.cli_log_level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    out = out or sys.stdout
    try:
        registry = load_registry()
        code: int = args.handler(args, registry, out)
    except CommandError as exc:
        print(f"chaosmonkey {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return code
