"""A real OpenSSH server on loopback, run as the current user (root or not).

``running_sshd(workdir)`` generates a host key and a client key, writes an ``sshd_config`` that
needs no privileges (``UsePAM no``, ``StrictModes no``, the pid file and authorized keys in
``workdir``), starts ``/usr/sbin/sshd -D -e`` on 127.0.0.1 and a free port, waits (with a
deadline) until it answers with its SSH banner, and stops it on exit::

    with running_sshd(tmp_path) as server:
        server.host, server.port, server.user      # where and as whom to connect
        server.private_key_pem                      # the client key (OpenSSH PEM text)
        server.known_hosts_line                     # "[127.0.0.1]:PORT ssh-ed25519 AAAA..."

:func:`require_sshd` skips the calling test when the machine has no OpenSSH server.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
START_DEADLINE_SECONDS = 15.0


@dataclass(frozen=True)
class SSHServer:
    """A running sshd and what a client needs to use it."""

    host: str
    port: int
    user: str
    private_key_pem: str
    public_key_line: str
    known_hosts_line: str
    host_public_key_line: str
    log_path: Path

    @property
    def address(self) -> str:
        """``host:port``, as RunScript's ``args.hosts`` takes it."""
        return f"{self.host}:{self.port}"

    def log(self) -> str:
        """What sshd printed so far (it logs to stderr with ``-e``)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def require_sshd() -> None:
    """Skip the test when there is no OpenSSH server to run."""
    if not SSHD.exists():
        pytest.skip(f"{SSHD} is absent: install openssh-server to run the SSH tests")


def generate_key(path: Path, comment: str = "chaosmonkey-test") -> tuple[str, str]:
    """An Ed25519 key pair written to ``path``/``path.pub``: (private PEM text, public line)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.read_text(), path.with_suffix(".pub").read_text().strip()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_sshd(workdir: Path) -> Iterator[SSHServer]:
    """Start sshd in ``workdir`` (which must exist) and stop it when the block ends."""
    require_sshd()
    workdir.mkdir(parents=True, exist_ok=True)
    host_key = workdir / "ssh_host_ed25519_key"
    _, host_public = generate_key(host_key, "test-host")
    client_key = workdir / "id_ed25519"
    private_pem, public_line = generate_key(client_key)
    authorized_keys = workdir / "authorized_keys"
    authorized_keys.write_text(public_line + "\n")
    authorized_keys.chmod(0o600)
    port = free_port()
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"Port {port}",
                f"HostKey {host_key}",
                f"PidFile {workdir / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized_keys}",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "AllowTcpForwarding no",
                "X11Forwarding no",
                "PrintMotd no",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        # As root, sshd insists on its (empty) privilege separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log_path = workdir / "sshd.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_for_banner(port, process, log_path)
        host_key_body = " ".join(host_public.split()[:2])
        yield SSHServer(
            host="127.0.0.1",
            port=port,
            user=getpass.getuser(),
            private_key_pem=private_pem,
            public_key_line=public_line,
            known_hosts_line=f"[127.0.0.1]:{port} {host_key_body}",
            host_public_key_line=host_key_body,
            log_path=log_path,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_banner(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"sshd exited with {process.returncode}: {log_path.read_text(errors='replace')}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.settimeout(2)
                if connection.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"sshd did not answer on port {port}: {log_path.read_text(errors='replace')}")
