"""RunScript: run a shell script over SSH on explicit hosts or on EC2 instances matching filters.

The script is sent on the session's stdin to ``sh -s`` (no scp/sftp needed on the target), with
``script.args`` as its positional parameters. It comes from exactly one of:

- ``script.inline``: the script's text;
- ``script.bundled``: a script shipped with the operator (``burn_cpu``, ``burn_io``,
  ``fill_disk``, ``kill_process``, ``stop_service``; see :data:`BUNDLED_SCRIPTS`);
- ``script.path``: a file on the operator's file system (e.g. a mounted ConfigMap).

Authentication is by private key only: from a Kubernetes Secret (``ssh.secretRef``, read through
``self.context.read_secret``), or, for compatibility with the original engine, base64 in the plan
itself (``ssh.pem``: accepted but flagged as insecure in the result and the log). Host keys are
verified against ``ssh.knownHosts`` / ``ssh.knownHostsSecretRef`` unless
``ssh.insecureIgnoreHostKeys`` is true (flagged too). Key material never reaches a message or log.

``args.timeout`` bounds each host's run: when it passes, the channel is closed and the host
counts as failed. The remote command is also wrapped in ``timeout(1)`` when the host has it, so
the script's process group is killed even though closing an SSH channel without a terminal does
not signal the remote processes.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import shlex
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import paramiko

from chaosmonkey.attacks._ec2 import EC2_TARGET_ARGS_PROPERTIES, find_ec2_targets
from chaosmonkey.attacks._selection import SELECTION_EXCLUSIVE, SELECTION_PROPERTIES, choose
from chaosmonkey.attacks.attack import Attack, AttackError

log = logging.getLogger(__name__)

#: The bundled scripts' names (``script.bundled``), from ``chaosmonkey/attacks/scripts/*.sh``.
BUNDLED_SCRIPTS: tuple[str, ...] = tuple(
    sorted(
        entry.name.removesuffix(".sh")
        for entry in resources.files("chaosmonkey.attacks").joinpath("scripts").iterdir()
        if entry.name.endswith(".sh")
    )
)
DEFAULT_USER = "ubuntu"
DEFAULT_PORT = 22
DEFAULT_TIMEOUT_SECONDS = 300.0
#: How many lines of each host's combined stdout/stderr the result keeps.
OUTPUT_TAIL_LINES = 20
#: Hosts run at the same time at most (the rest wait for a free slot).
MAX_PARALLEL_HOSTS = 8
#: Seconds to open the TCP connection and finish the SSH handshake and authentication.
CONNECT_TIMEOUT_SECONDS = 15.0
_MAX_LINE_CHARS = 200
_READ_CHUNK = 32768

_SECRET_REF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "description": "Secret in the plan's namespace."},
        "key": {"type": "string", "minLength": 1, "description": "Key of the Secret's data."},
    },
    "required": ["name", "key"],
    "additionalProperties": False,
}

_TARGET_PROPERTIES: dict[str, Any] = {
    "hosts": {
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "minLength": 1},
        "description": (
            "Explicit targets: 'host', 'host:port' or '[ipv6]:port'. All of them unless count or "
            "percent is given. Exclusive with region/filters."
        ),
    },
    "region": EC2_TARGET_ARGS_PROPERTIES["region"],
    "filters": dict(EC2_TARGET_ARGS_PROPERTIES["filters"], minProperties=1),
    "excluded": EC2_TARGET_ARGS_PROPERTIES["excluded"],
    "address": {
        "type": "string",
        "enum": ["private", "public"],
        "description": "EC2 mode: connect to the instance's private (default) or public IP.",
    },
    **SELECTION_PROPERTIES,
}

_SCRIPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The script to run: exactly one of inline, bundled or path.",
    "properties": {
        "inline": {"type": "string", "minLength": 1, "description": "The script's text."},
        "bundled": {
            "type": "string",
            "enum": list(BUNDLED_SCRIPTS),
            "description": "A script shipped with the operator.",
        },
        "path": {
            "type": "string",
            "minLength": 1,
            "description": "A script file on the operator's file system (e.g. a mounted ConfigMap).",
        },
        "args": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Positional parameters of the script ($1, $2...).",
        },
    },
    "oneOf": [{"required": ["inline"]}, {"required": ["bundled"]}, {"required": ["path"]}],
    "additionalProperties": False,
}

_SSH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Credentials and host key verification.",
    "properties": {
        "secretRef": dict(
            _SECRET_REF_SCHEMA, description="The private key (PEM/OpenSSH text) in a Secret (preferred)."
        ),
        "pem": {
            "type": "string",
            "minLength": 1,
            "description": (
                "INSECURE, for compatibility with the original engine: the private key, base64, in "
                "the plan itself. Prefer secretRef."
            ),
        },
        "knownHosts": {"type": "string", "minLength": 1, "description": "known_hosts lines."},
        "knownHostsSecretRef": dict(_SECRET_REF_SCHEMA, description="known_hosts lines in a Secret."),
        "insecureIgnoreHostKeys": {
            "type": "boolean",
            "description": "INSECURE: accept any host key (flagged in the result). Default false.",
        },
    },
    "oneOf": [{"required": ["secretRef"]}, {"required": ["pem"]}],
    "anyOf": [
        {"required": ["knownHosts"]},
        {"required": ["knownHostsSecretRef"]},
        {"properties": {"insecureIgnoreHostKeys": {"const": True}}, "required": ["insecureIgnoreHostKeys"]},
    ],
    "additionalProperties": False,
}

_EC2_KEYS = ("region", "filters", "excluded", "address")


@dataclass(frozen=True)
class SSHTarget:
    """Where to connect, and how the result names it."""

    host: str
    port: int
    label: str


@dataclass
class HostResult:
    """What happened on one host."""

    target: SSHTarget
    exit_code: int | None = None
    output: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.exit_code == 0

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"host": self.target.label, "exitCode": self.exit_code}
        if self.error is not None:
            described["error"] = self.error
        described["output"] = "\n".join(self.output)
        return described

    def failure(self) -> str:
        reason = self.error if self.error is not None else f"exit {self.exit_code}"
        tail = " | ".join(self.output[-3:])
        return f"{self.target.label} ({reason})" + (f": {tail}" if tail else "")


@dataclass(frozen=True)
class _Script:
    name: str
    text: str
    args: tuple[str, ...]


class RunScript(Attack):
    """Run a shell script over SSH on ``args.hosts`` or on EC2 instances matching ``args.filters``.

    Every chosen host runs the script (at most :data:`MAX_PARALLEL_HOSTS` at a time); a host that
    cannot be reached, rejects the key or host key, times out or exits non-zero fails the attack,
    and the error names each failed host. The result gives each host's exit code and the last
    :data:`OUTPUT_TAIL_LINES` lines of its output. A dry run resolves targets and script and says
    what would run where, connecting to nothing.
    """

    ref: ClassVar[str] = "run_script:RunScript"
    schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "ref": {"type": "string", "description": "The attack's ref."},
            "args": {
                "type": "object",
                "description": "Where to run which script, as whom, and how long to wait.",
                "properties": {
                    **_TARGET_PROPERTIES,
                    "user": {
                        "type": "string",
                        "minLength": 1,
                        "description": f"SSH user (default {DEFAULT_USER}; ec2-user on Amazon Linux).",
                    },
                    "port": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 65535,
                        "description": f"SSH port where a host names none (default {DEFAULT_PORT}).",
                    },
                    "script": _SCRIPT_SCHEMA,
                    "ssh": _SSH_SCHEMA,
                    "timeout": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "description": (
                            f"Seconds a host's run may take before its session is killed and the "
                            f"host fails (default {DEFAULT_TIMEOUT_SECONDS:g})."
                        ),
                    },
                },
                "required": ["script", "ssh"],
                "additionalProperties": False,
                "allOf": [
                    SELECTION_EXCLUSIVE,
                    {
                        "oneOf": [
                            {
                                "required": ["hosts"],
                                "not": {"anyOf": [{"required": [key]} for key in _EC2_KEYS]},
                            },
                            {"required": ["region", "filters"], "not": {"required": ["hosts"]}},
                        ]
                    },
                ],
            },
        },
        "required": ["ref", "args"],
    }
    example: ClassVar[dict[str, Any]] = {
        "ref": "run_script:RunScript",
        "args": {
            "region": "eu-west-1",
            "filters": {"tag:Chaos": "true"},
            "count": 1,
            "user": "ubuntu",
            "script": {"bundled": "burn_cpu", "args": ["60"]},
            "ssh": {
                "secretRef": {"name": "chaos-ssh", "key": "id_ed25519"},
                "knownHostsSecretRef": {"name": "chaos-ssh", "key": "known_hosts"},
            },
            "timeout": 120,
        },
    }
    supports_dry_run: ClassVar[bool] = True

    def __init__(self, attack_config: dict[str, Any]) -> None:
        super().__init__(attack_config)

    def run(self) -> dict[str, Any]:
        args = self.checked_args()
        script = _resolve_script(args["script"])
        targets = self._targets(args)
        user: str = args.get("user", DEFAULT_USER)
        where = ", ".join(target.label for target in targets)
        if self.dry_run:
            log.info("dry run: would run %s as %s on %s", script.name, user, where)
            return {"message": f"dry run: would run {script.name} as {user} on {where}"}

        ssh = args["ssh"]
        warnings: list[str] = []
        private_key = self._private_key(ssh, warnings)
        host_keys = self._host_keys(ssh, warnings)
        for warning in warnings:
            log.warning("%s: %s", self.ref, warning)
        timeout = float(args.get("timeout", DEFAULT_TIMEOUT_SECONDS))

        def run_on(target: SSHTarget) -> HostResult:
            return _run_on_host(
                target,
                user=user,
                private_key=private_key,
                host_keys=host_keys,
                script=script,
                timeout=timeout,
            )

        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_HOSTS, len(targets))) as pool:
            results = list(pool.map(run_on, targets))

        failed = [result for result in results if not result.ok]
        if failed:
            flagged = f" [{'; '.join(warnings)}]" if warnings else ""
            raise AttackError(
                f"{script.name} failed on {len(failed)} of {len(results)} host(s): "
                + "; ".join(result.failure() for result in failed)
                + flagged
            )
        result: dict[str, Any] = {
            "message": f"ran {script.name} on {where}: exit 0",
            "hosts": [result.describe() for result in results],
        }
        if warnings:
            result["warnings"] = warnings
        return result

    @staticmethod
    def to_dict() -> dict[str, Any]:
        return Attack._to_dict(RunScript.ref, RunScript.schema, RunScript.example)

    # -- internals ---------------------------------------------------------------------------

    def _targets(self, args: dict[str, Any]) -> list[SSHTarget]:
        default_port: int = args.get("port", DEFAULT_PORT)
        count, percent = args.get("count"), args.get("percent")
        if "hosts" in args:
            targets = [_parse_host(host, default_port) for host in args["hosts"]]
            if count is None and percent is None:
                return targets
            return choose(targets, count=count, percent=percent)
        instances = find_ec2_targets(
            args["region"], args["filters"], excluded=args.get("excluded"), count=count, percent=percent
        )
        public = args.get("address", "private") == "public"
        targets = []
        for instance in instances:
            address = instance.public_ip if public else instance.private_ip
            if not address:
                kind = "public" if public else "private"
                raise AttackError(f"instance {instance.instance_id} has no {kind} IP address")
            targets.append(SSHTarget(address, default_port, f"{instance.instance_id} ({address})"))
        return targets

    def _read_secret(self, ref: dict[str, str], purpose: str) -> bytes:
        reader = self.context.read_secret
        if reader is None:
            raise AttackError(
                f"cannot read {purpose} from Secret {ref['name']}: no Secret reader is available "
                "here (run the plan in the operator, or give the value inline)"
            )
        try:
            return reader(ref["name"], ref["key"])
        except Exception as exc:  # noqa: BLE001 - any reader failure is the attack's failure
            raise AttackError(
                f"cannot read {purpose} from key {ref['key']} of Secret {ref['name']}: "
                f"{type(exc).__name__}: {exc}"
            ) from None

    def _private_key(self, ssh: dict[str, Any], warnings: list[str]) -> paramiko.PKey:
        if "secretRef" in ssh:
            material = self._read_secret(ssh["secretRef"], "the SSH private key")
            return _load_private_key(material.decode("utf-8", "replace"), "ssh.secretRef")
        warnings.append(
            "INSECURE: the SSH private key is in the plan (ssh.pem); store it in a Secret and use "
            "ssh.secretRef"
        )
        try:
            text = base64.b64decode(ssh["pem"], validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AttackError("ssh.pem is not a base64-encoded private key") from None
        return _load_private_key(text, "ssh.pem")

    def _host_keys(self, ssh: dict[str, Any], warnings: list[str]) -> paramiko.HostKeys | None:
        """The known host keys, or None when host keys are not to be checked."""
        if ssh.get("insecureIgnoreHostKeys", False):
            warnings.append("INSECURE: host keys were not verified (ssh.insecureIgnoreHostKeys)")
            return None
        lines = []
        if "knownHosts" in ssh:
            lines.append(ssh["knownHosts"])
        if "knownHostsSecretRef" in ssh:
            material = self._read_secret(ssh["knownHostsSecretRef"], "known_hosts")
            lines.append(material.decode("utf-8", "replace"))
        return _parse_known_hosts("\n".join(lines))


def _resolve_script(spec: dict[str, Any]) -> _Script:
    script_args = tuple(spec.get("args", ()))
    if "inline" in spec:
        return _Script("the inline script", spec["inline"], script_args)
    if "bundled" in spec:
        name = spec["bundled"]
        if name not in BUNDLED_SCRIPTS:
            raise AttackError(f"no bundled script {name!r}; bundled: {', '.join(BUNDLED_SCRIPTS)}")
        text = resources.files("chaosmonkey.attacks").joinpath("scripts", f"{name}.sh").read_text("utf-8")
        return _Script(f"{name}.sh", text, script_args)
    path = Path(spec["path"])
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise AttackError(f"cannot read script {path}: {exc.strerror or exc}") from None
    return _Script(str(path), text, script_args)


def _parse_host(host: str, default_port: int) -> SSHTarget:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address."""
    name, port_text = host, ""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif host.count(":") == 1:
        name, _, port_text = host.partition(":")
    if not name:
        raise AttackError(f"invalid host {host!r}")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise AttackError(f"invalid port in host {host!r}") from None
    if not 0 < port < 65536:
        raise AttackError(f"invalid port in host {host!r}")
    return SSHTarget(name, port, host)


_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


def _load_private_key(text: str, origin: str) -> paramiko.PKey:
    # Errors name the origin only: a parser's message could quote part of the key.
    for key_class in _KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
    raise AttackError(
        f"{origin} is not an unencrypted Ed25519, ECDSA or RSA private key (PEM or OpenSSH format)"
    )


def _parse_known_hosts(text: str) -> paramiko.HostKeys:
    host_keys = paramiko.HostKeys()
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
        except (paramiko.SSHException, ValueError, binascii.Error):
            entry = None
        if entry is None or entry.key is None:
            raise AttackError(f"invalid known_hosts line: {line[:80]!r}")
        for hostname in entry.hostnames:
            host_keys.add(hostname, entry.key.get_name(), entry.key)
    if not host_keys.keys():
        raise AttackError("known_hosts is empty: give host keys or set ssh.insecureIgnoreHostKeys")
    return host_keys


class _AcceptAnyHostKey(paramiko.MissingHostKeyPolicy):
    """Accept an unknown host key without storing it (``insecureIgnoreHostKeys``)."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        return None


def _remote_command(script: _Script, timeout: float) -> str:
    arguments = " ".join(shlex.quote(arg) for arg in script.args)
    shell = f"sh -s -- {arguments}".rstrip()
    # timeout(1) kills the script's whole process group when the time is up, even if the
    # operator side is gone; hosts without it rely on the channel being closed.
    seconds = max(1, int(timeout + 0.999))
    return (
        f"if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 {seconds} {shell}; "
        f"else exec {shell}; fi"
    )


def _run_on_host(
    target: SSHTarget,
    *,
    user: str,
    private_key: paramiko.PKey,
    host_keys: paramiko.HostKeys | None,
    script: _Script,
    timeout: float,
) -> HostResult:
    result = HostResult(target)
    client = paramiko.SSHClient()
    try:
        if host_keys is None:
            client.set_missing_host_key_policy(_AcceptAnyHostKey())
        else:
            for hostname, keys in host_keys.items():
                for key_type, key in keys.items():
                    client.get_host_keys().add(hostname, key_type, key)
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        connect_timeout = min(CONNECT_TIMEOUT_SECONDS, timeout)
        try:
            client.connect(
                target.host,
                port=target.port,
                username=user,
                pkey=private_key,
                timeout=connect_timeout,
                banner_timeout=connect_timeout,
                auth_timeout=connect_timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.BadHostKeyException:
            result.error = "host key does not match known_hosts"
            return result
        except paramiko.AuthenticationException:
            result.error = f"authentication as {user} failed"
            return result
        except paramiko.SSHException as exc:
            # RejectPolicy: the host is not in known_hosts at all.
            result.error = f"SSH error: {exc}"
            return result
        except OSError as exc:  # TimeoutError included
            result.error = f"cannot connect: {exc.strerror or exc}"
            return result
        try:
            _execute(client, target, script, timeout, result)
        except (paramiko.SSHException, OSError) as exc:
            result.error = f"SSH session failed: {exc}"
        return result
    finally:
        client.close()


def _execute(
    client: paramiko.SSHClient, target: SSHTarget, script: _Script, timeout: float, result: HostResult
) -> None:
    transport = client.get_transport()
    if transport is None:  # pragma: no cover - connect() succeeded, so there is one
        result.error = "SSH transport closed"
        return
    deadline = time.monotonic() + timeout
    channel = transport.open_session(timeout=CONNECT_TIMEOUT_SECONDS)
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    pending = b""
    try:
        channel.set_combine_stderr(True)
        channel.exec_command(_remote_command(script, timeout))
        channel.sendall(script.text.encode("utf-8"))
        channel.shutdown_write()
        channel.settimeout(0.1)
        while True:
            try:
                chunk = channel.recv(_READ_CHUNK)
            except TimeoutError:
                chunk = None
            if chunk:
                pending = _collect_lines(pending + chunk, tail)
            elif chunk == b"":
                # Output is over; the exit status may still be on its way.
                if channel.exit_status_ready():
                    break
                channel.status_event.wait(0.1)
            if time.monotonic() >= deadline:
                result.error = f"timed out after {timeout:g}s; session killed"
                log.warning("%s on %s timed out after %gs", script.name, target.label, timeout)
                break
        if result.error is None:
            result.exit_code = channel.recv_exit_status()
    finally:
        # Closing the channel ends the session (and, with timeout(1) gone too, its processes).
        channel.close()
    if pending:
        tail.append(_clip(pending.decode("utf-8", "replace")))
    result.output = list(tail)
    log.info("%s on %s: exit %s", script.name, target.label, result.exit_code)


def _collect_lines(data: bytes, tail: deque[str]) -> bytes:
    """Move the complete lines of ``data`` into ``tail``; return the unfinished rest."""
    *lines, rest = data.split(b"\n")
    for line in lines:
        tail.append(_clip(line.decode("utf-8", "replace").rstrip("\r")))
    # An endless line must not grow without bound: keep its end only.
    return rest[-_MAX_LINE_CHARS * 4 :]


def _clip(line: str) -> str:
    return line if len(line) <= _MAX_LINE_CHARS else "..." + line[-_MAX_LINE_CHARS:]
