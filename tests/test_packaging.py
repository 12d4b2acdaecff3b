"""Packaging: one version everywhere it shows, a wheel built from the checkout with
the right metadata (version, extras, entry points, no tests inside) whose code runs
once installed, and the error that names the extra when `engine leveldb` is chosen
without it."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from diskredis import __version__
from tests.conftest import ROOT

BIN = Path(sys.executable).parent
TOOLS = ("diskredis-check", "diskredis-restore", "diskredis-dump", "diskredis-backup")


def _run(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, **kw)


def test_one_version_everywhere(dr_factory: Any) -> None:
    assert importlib.metadata.version("diskredis") == __version__
    server = _run(str(BIN / "diskredis-server"), "--version")
    module = _run(sys.executable, "-m", "diskredis", "--version")
    assert (
        server.stdout
        == module.stdout
        == ("diskredis server v=%s (Redis 7.0.15 compatible)\n" % __version__)
    )
    for tool in TOOLS:
        out = _run(str(BIN / tool), "--version")
        assert out.returncode == 0 and out.stdout == "%s %s\n" % (tool, __version__), out
    info = dr_factory().client().info("server")
    assert info["diskredis_version"] == __version__ and info["redis_version"] == "7.0.15"


def test_the_wheel_has_the_metadata_and_runs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(Path(ROOT) / name, src / name)
    shutil.copytree(
        Path(ROOT) / "diskredis", src / "diskredis", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = _run(
        sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "w"),
        str(src),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = (tmp_path / "w").glob("diskredis-*.whl")
    assert wheel.name.startswith("diskredis-%s-py3-none-any" % __version__), wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        dist = "diskredis-%s.dist-info" % __version__
        meta = z.read(dist + "/METADATA").decode()
        entry_points = z.read(dist + "/entry_points.txt").decode()
    assert "Version: %s" % __version__ in meta
    for line in (
        "Name: diskredis",
        "Requires-Python: >=3.11",
        "Provides-Extra: leveldb",
        "Provides-Extra: bench",
        "Requires-Dist: lmdb",
        "Requires-Dist: plyvel",
    ):
        assert line in meta, line
    for script in ("diskredis-server", *TOOLS):
        assert "%s = " % script in entry_points, script
    assert "diskredis/keyspace/types/hashes.py" in names
    assert not any(n.startswith("tests/") for n in names)
    target = tmp_path / "site"
    out = _run(
        sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
        "--target", str(target), str(wheel),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    ran = _run(
        sys.executable,
        "-c",
        "import diskredis, diskredis.cli; print(diskredis.__file__); diskredis.cli.main(['-v'])",
        env=env,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(str(target)), ran.stdout  # the wheel's code, installed
    assert "v=%s" % __version__ in ran.stdout


def test_a_missing_extra_is_named(tmp_path: Path) -> None:
    """`engine leveldb` without plyvel (an import that fails as a missing package does):
    the start and --check-config say which extra installs it."""
    fake = tmp_path / "fake" / "plyvel"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'plyvel'\", name='plyvel')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "fake")}
    start = _run(
        sys.executable, "-m", "diskredis", "--engine", "leveldb", "--port", "0",
        "--dir", str(tmp_path / "data"), env=env, cwd=ROOT,
    )  # fmt: skip
    said = "pip install 'diskredis[leveldb]'"
    assert start.returncode == 1 and said in start.stdout + start.stderr, start
    conf = tmp_path / "c.conf"
    conf.write_text("engine leveldb\n")
    check = _run(str(BIN / "diskredis-server"), "--check-config", str(conf), env=env)
    assert check.returncode == 1 and said in check.stderr, check
