"""The generated documentation is up to date with the code, and every entry point helps."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.conftest import ROOT


def test_generated_docs_are_current() -> None:
    out = subprocess.run(
        [sys.executable, "tools/gen_docs.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, "run python tools/gen_docs.py:\n" + out.stdout + out.stderr


def test_every_tool_has_help() -> None:
    for tool in sorted((ROOT / "tools").rglob("*.py")):
        out = subprocess.run(
            [sys.executable, str(tool), "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0 and "usage" in out.stdout.lower(), tool


def test_every_installed_command_has_help() -> None:
    with open(ROOT / "pyproject.toml", "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert {"diskredis-server", "diskredis-check", "diskredis-restore", "diskredis-dump"} <= set(
        scripts
    )
    for name, target in sorted(scripts.items()):
        module = target.split(":")[0]
        module = "diskredis" if module == "diskredis.cli" else module
        out = subprocess.run(
            [sys.executable, "-m", module, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0 and "usage" in out.stdout.lower(), name


def _imports_said_and_done() -> list[str]:
    """Modules whose docstring's "Imports:" sentence leaves out a part of diskredis they
    import. A part is named by its dotted path below `diskredis` or any prefix of it
    (`keyspace` covers `keyspace.space`), or, for the module's own package, "this
    package"."""
    import ast
    import re
    from pathlib import Path

    wrong = []
    for path in sorted(Path(ROOT, "diskredis").rglob("*.py")):
        tree = ast.parse(path.read_text())
        doc = ast.get_docstring(tree) or ""
        said = re.search(r"Imports?:(.*?)(?:\.\s|\.$|\n\n)", doc, re.S)
        if said is None:
            if path.name not in ("__init__.py", "__main__.py"):  # those map, or only run
                wrong.append('%s: no "Imports:" sentence' % path.relative_to(ROOT))
            continue
        words = set(re.findall(r"[\w.]+", said.group(1).replace("`", " ")))
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[1:-1])
        if path.name == "__init__.py":
            package = ".".join(path.relative_to(ROOT).parts[1:-1])
        used = set()
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module is not None
                and node.module.split(".")[0] == "diskredis"
            ):
                base = node.module.split(".", 1)[1] if "." in node.module else ""
                for alias in node.names:  # a module imported from its package is itself
                    sub = (base + "." + alias.name).lstrip(".")
                    as_module = Path(ROOT, "diskredis", *sub.split("."))
                    if as_module.with_suffix(".py").exists() or as_module.is_dir():
                        used.add(sub)
                    elif base:
                        used.add(base)
        for name in sorted(used):
            parts = name.split(".")
            prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
            own = package and (name == package or name.startswith(package + "."))
            if own and path.name == "__init__.py":
                continue
            if not (
                prefixes & words
                or (own and "this package" in said.group(1))
                or name.split(".")[-1] in words
            ):
                wrong.append("%s: imports %s" % (path.relative_to(ROOT), name))
    return wrong


def test_module_docstrings_say_what_they_import() -> None:
    """Each module's docstring opens with its room and what it imports (style.md); the
    import-linter contracts say what it may import, this keeps the sentence true."""
    assert _imports_said_and_done() == []


def test_an_error_text_given_by_two_modules_lives_in_errors_py() -> None:
    """errors.py holds the texts more than one module gives; the others live beside
    their command (errors.py's docstring)."""
    import re
    from pathlib import Path

    where: dict[str, set[str]] = {}
    for path in Path(ROOT, "diskredis").rglob("*.py"):
        if path.name == "errors.py":
            continue
        text = path.read_text()
        for m in re.finditer(r'(?:RedisError|errors\.err|CountedError)\(\s*"([^"]+)"', text):
            where.setdefault(m.group(1).removeprefix("ERR "), set()).add(path.name)
        for m in re.finditer(r'"ERR ([^"]+)"', text):
            where.setdefault(m.group(1), set()).add(path.name)
    shared = {text: sorted(files) for text, files in where.items() if len(files) > 1}
    assert shared == {}, "move these to diskredis/errors.py"
    import ast

    names = [
        target.id
        for node in ast.parse(Path(ROOT, "diskredis", "errors.py").read_text()).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    assert sorted({n for n in names if names.count(n) > 1}) == [], "a name given twice"
