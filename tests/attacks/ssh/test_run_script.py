"""RunScript against a real OpenSSH server on loopback."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chaosmonkey.attacks import AttackError
from tests.attacks.ssh.conftest import MakeAttack, SecretReader, pem_base64
from tests.support.sshd import SSHServer, generate_key


def wait_until(condition: Callable[[], bool], deadline_seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie (exited, not yet reaped) is gone too, for our purpose.
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split()[2] == "Z"


def key_body_lines(pem: str) -> list[str]:
    """The lines of a private key that carry key material (not the BEGIN/END armour)."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


# -- it runs -------------------------------------------------------------------------------------


def test_the_script_runs_with_its_args_and_its_output_is_captured(
    make_attack: MakeAttack, scratch: Path
) -> None:
    marker = scratch / "ran"
    script = f'echo "$1 $2" > {marker}\nfor i in $(seq 1 30); do echo "line $i"; done\necho oops >&2\n'

    result = make_attack({"inline": script, "args": ["hello", "world with spaces"]}).run()

    assert marker.read_text() == "hello world with spaces\n"
    (host,) = result["hosts"]
    assert host["exitCode"] == 0
    lines = host["output"].splitlines()
    assert len(lines) == 20  # the tail only
    assert lines[-2:] == ["line 30", "oops"]  # stderr is combined with stdout
    assert result["message"].startswith("ran the inline script on 127.0.0.1:")
    assert "warnings" in result  # the pem key is flagged (see below)


def test_a_script_file_on_the_operator_runs(make_attack: MakeAttack, scratch: Path, tmp_path: Path) -> None:
    script_file = tmp_path / "from-configmap.sh"
    script_file.write_text(f"touch {scratch / 'from-file'}\n")

    result = make_attack({"path": str(script_file)}).run()

    assert (scratch / "from-file").exists()
    assert str(script_file) in result["message"]


def test_a_missing_script_file_fails_before_connecting(make_attack: MakeAttack, tmp_path: Path) -> None:
    with pytest.raises(AttackError, match=r"cannot read script .*missing\.sh"):
        make_attack({"path": str(tmp_path / "missing.sh")}).run()


def test_a_non_zero_exit_fails_naming_the_host_and_code(make_attack: MakeAttack, sshd: SSHServer) -> None:
    with pytest.raises(AttackError) as failure:
        make_attack({"inline": "echo about to fail\nexit 3\n"}).run()

    message = str(failure.value)
    assert f"{sshd.address} (exit 3)" in message
    assert "about to fail" in message


def test_every_host_runs_and_each_failure_is_named(
    make_attack: MakeAttack, sshd: SSHServer, scratch: Path
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    unreachable = f"127.0.0.1:{closed_port}"

    with pytest.raises(AttackError) as failure:
        make_attack(
            {"inline": f"echo ran >> {scratch / 'runs'}\n"},
            hosts=[sshd.address, unreachable],
        ).run()

    assert (scratch / "runs").read_text() == "ran\n"
    assert "failed on 1 of 2 host(s)" in str(failure.value)
    assert f"{unreachable} (cannot connect" in str(failure.value)


def test_count_picks_among_explicit_hosts(make_attack: MakeAttack, sshd: SSHServer, scratch: Path) -> None:
    result = make_attack(
        {"inline": f"echo ran >> {scratch / 'runs'}\n"}, hosts=[sshd.address, sshd.address], count=1
    ).run()

    assert len(result["hosts"]) == 1
    assert (scratch / "runs").read_text() == "ran\n"


# -- authentication and host keys ----------------------------------------------------------------


def test_a_wrong_key_fails_cleanly(make_attack: MakeAttack, sshd: SSHServer, tmp_path: Path) -> None:
    other_pem, _ = generate_key(tmp_path / "other")
    reader = SecretReader({"ssh": {"key": other_pem.encode()}})
    ssh = {"secretRef": {"name": "ssh", "key": "key"}, "knownHosts": sshd.known_hosts_line}

    with pytest.raises(AttackError, match=f"{sshd.address} \\(authentication as {sshd.user} failed\\)"):
        make_attack({"inline": "true"}, ssh=ssh, read_secret=reader).run()


def test_a_host_key_other_than_known_fails_cleanly(
    make_attack: MakeAttack, sshd: SSHServer, tmp_path: Path
) -> None:
    _, impostor = generate_key(tmp_path / "impostor")
    known_hosts = f"[127.0.0.1]:{sshd.port} {' '.join(impostor.split()[:2])}"

    with pytest.raises(AttackError, match="host key does not match known_hosts"):
        make_attack({"inline": "true"}, ssh={"pem": pem_base64(sshd), "knownHosts": known_hosts}).run()


def test_a_host_missing_from_known_hosts_is_refused(
    make_attack: MakeAttack, sshd: SSHServer, scratch: Path
) -> None:
    known_hosts = f"[10.9.9.9]:{sshd.port} {sshd.host_public_key_line}"

    with pytest.raises(AttackError, match="not found in known_hosts"):
        make_attack(
            {"inline": f"touch {scratch / 'ran'}"}, ssh={"pem": pem_base64(sshd), "knownHosts": known_hosts}
        ).run()
    assert not (scratch / "ran").exists()


def test_ignoring_host_keys_works_and_is_flagged(make_attack: MakeAttack, sshd: SSHServer) -> None:
    result = make_attack(
        {"inline": "true"}, ssh={"pem": pem_base64(sshd), "insecureIgnoreHostKeys": True}
    ).run()

    assert result["hosts"][0]["exitCode"] == 0
    assert any("host keys were not verified" in warning for warning in result["warnings"])


def test_the_key_and_known_hosts_come_from_secrets(make_attack: MakeAttack, sshd: SSHServer) -> None:
    reader = SecretReader(
        {"chaos-ssh": {"id": sshd.private_key_pem.encode(), "known_hosts": sshd.known_hosts_line.encode()}}
    )
    ssh = {
        "secretRef": {"name": "chaos-ssh", "key": "id"},
        "knownHostsSecretRef": {"name": "chaos-ssh", "key": "known_hosts"},
    }

    result = make_attack({"inline": "echo ok"}, ssh=ssh, read_secret=reader).run()

    assert result["hosts"][0]["output"] == "ok"
    assert "warnings" not in result  # nothing insecure here
    assert sorted(reader.reads) == [("chaos-ssh", "id"), ("chaos-ssh", "known_hosts")]


def test_a_secret_ref_without_a_reader_fails_clearly(make_attack: MakeAttack, sshd: SSHServer) -> None:
    ssh = {"secretRef": {"name": "chaos-ssh", "key": "id"}, "knownHosts": sshd.known_hosts_line}

    with pytest.raises(
        AttackError, match="cannot read the SSH private key from Secret chaos-ssh: no Secret reader"
    ):
        make_attack({"inline": "true"}, ssh=ssh).run()


def test_a_pem_key_works_and_is_flagged_insecure(
    make_attack: MakeAttack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="chaosmonkey"):
        result = make_attack({"inline": "true"}).run()

    assert any("INSECURE" in warning and "ssh.pem" in warning for warning in result["warnings"])
    assert any(
        "INSECURE" in record.getMessage() and "ssh.pem" in record.getMessage() for record in caplog.records
    )


def test_key_material_never_reaches_results_errors_or_logs(
    make_attack: MakeAttack, sshd: SSHServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other_pem, _ = generate_key(tmp_path / "other")
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        texts.append(repr(make_attack({"inline": "true"}).run()))
        with pytest.raises(AttackError) as wrong_key:
            make_attack(
                {"inline": "true"},
                ssh={"secretRef": {"name": "s", "key": "k"}, "knownHosts": sshd.known_hosts_line},
                read_secret=SecretReader({"s": {"k": other_pem.encode()}}),
            ).run()
        texts.append(str(wrong_key.value))
        with pytest.raises(AttackError) as not_a_key:
            make_attack({"inline": "true"}, ssh={"pem": pem_base64(sshd)[:-12], "knownHosts": "x"}).run()
        texts.append(str(not_a_key.value))
    texts.append(caplog.text)

    secrets = [*key_body_lines(sshd.private_key_pem), *key_body_lines(other_pem), pem_base64(sshd)[:40]]
    for text in texts:
        for secret in secrets:
            assert secret not in text


# -- timeout -------------------------------------------------------------------------------------


def test_a_timeout_kills_the_session_and_fails(
    make_attack: MakeAttack, sshd: SSHServer, scratch: Path
) -> None:
    pid_file = scratch / "pid"
    started = time.monotonic()

    with pytest.raises(AttackError, match=f"{sshd.address} \\(timed out after 1s; session killed\\)"):
        make_attack({"inline": f"echo $$ > {pid_file}\nsleep 30\n"}, timeout=1).run()

    assert time.monotonic() - started < 10
    pid = int(pid_file.read_text())
    assert wait_until(lambda: process_gone(pid)), f"the remote script (pid {pid}) still runs"


# -- bundled scripts -----------------------------------------------------------------------------

SCRIPTS = sorted((Path(__file__).parents[3] / "operator/chaosmonkey/attacks/scripts").glob("*.sh"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[path.name for path in SCRIPTS])
@pytest.mark.parametrize("shell", ["sh", "dash", "bash"])
def test_bundled_scripts_are_valid_posix_sh(script: Path, shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"no {shell} here")
    subprocess.run([shell, "-n", str(script)], check=True)


def test_the_bundled_scripts_are_the_schemas_choices() -> None:
    from chaosmonkey.attacks.run_script import BUNDLED_SCRIPTS, RunScript

    assert set(BUNDLED_SCRIPTS) == {path.stem for path in SCRIPTS}
    assert set(BUNDLED_SCRIPTS) >= {"burn_cpu", "burn_io", "fill_disk", "kill_process", "stop_service"}
    script_schema = RunScript.schema["properties"]["args"]["properties"]["script"]
    assert script_schema["properties"]["bundled"]["enum"] == list(BUNDLED_SCRIPTS)


def test_bundled_kill_process_kills_the_named_process(make_attack: MakeAttack, tmp_path: Path) -> None:
    name = f"cmvictim{os.getpid() % 100000}"  # under 15 characters: pkill -x matches comm
    victim_binary = tmp_path / name
    shutil.copy("/bin/sleep", victim_binary)
    victim = subprocess.Popen([str(victim_binary), "300"])
    try:
        result = make_attack({"bundled": "kill_process", "args": [name, "0"]}).run()

        assert victim.wait(timeout=10) == -signal.SIGKILL
        assert f"sent SIGKILL to processes named {name}" in result["hosts"][0]["output"]
        assert result["message"].startswith("ran kill_process.sh on ")
    finally:
        victim.kill()
        victim.wait()


def test_bundled_kill_process_fails_when_nothing_matches(make_attack: MakeAttack) -> None:
    with pytest.raises(AttackError, match="no process named cm-no-such"):
        make_attack({"bundled": "kill_process", "args": ["cm-no-such", "0"]}).run()


def test_bundled_burn_cpu_runs_for_its_duration_and_stops_its_workers(make_attack: MakeAttack) -> None:
    started = time.monotonic()

    result = make_attack({"bundled": "burn_cpu", "args": ["1", "2"]}).run()

    assert time.monotonic() - started >= 1
    assert "burn_cpu: stopped 2 worker(s)" in result["hosts"][0]["output"]


def test_bundled_fill_disk_removes_its_file(make_attack: MakeAttack, scratch: Path) -> None:
    result = make_attack({"bundled": "fill_disk", "args": ["1", str(scratch), "1"]}).run()

    assert "fill_disk: wrote 1024 KiB" in result["hosts"][0]["output"]
    assert list(scratch.glob("chaosmonkey-fill-disk.*")) == []


def test_bundled_burn_io_removes_its_file(make_attack: MakeAttack, scratch: Path) -> None:
    result = make_attack({"bundled": "burn_io", "args": ["1", str(scratch)]}).run()

    assert "burn_io: removed" in result["hosts"][0]["output"]
    assert list(scratch.glob("chaosmonkey-burn-io.*")) == []


# -- dry run -------------------------------------------------------------------------------------


def test_a_dry_run_resolves_everything_and_connects_nothing(make_attack: MakeAttack, sshd: SSHServer) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        trap = f"127.0.0.1:{listener.getsockname()[1]}"
        reader = SecretReader({})
        ssh = {"secretRef": {"name": "s", "key": "k"}, "knownHostsSecretRef": {"name": "s", "key": "kh"}}

        result = make_attack(
            {"bundled": "burn_cpu", "args": ["60"]}, ssh=ssh, hosts=[trap], dry_run=True, read_secret=reader
        ).run()

        with pytest.raises(BlockingIOError):
            listener.accept()
    assert result == {"message": f"dry run: would run burn_cpu.sh as {sshd.user} on {trap}"}
    assert reader.reads == []
