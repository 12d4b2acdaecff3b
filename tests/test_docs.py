"""The generated documentation is up to date with the code, and every entry point helps."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.conftest import ROOT


def test_generated_docs_are_current() -> None:
    out = subprocess.run([sys.executable, "tools/gen_docs.py", "--check"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, "run python tools/gen_docs.py:\n" + out.stdout + out.stderr


def test_every_tool_has_help() -> None:
    for tool in sorted((ROOT / "tools").rglob("*.py")):
        out = subprocess.run([sys.executable, str(tool), "--help"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "usage" in out.stdout.lower(), tool


def test_every_installed_command_has_help() -> None:
    with open(ROOT / "pyproject.toml", "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert {"diskredis-server", "diskredis-check", "diskredis-restore",
            "diskredis-dump"} <= set(scripts)
    for name, target in sorted(scripts.items()):
        module = target.split(":")[0]
        module = "diskredis" if module == "diskredis.cli" else module
        out = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "usage" in out.stdout.lower(), name
