"""The documentation site (`./dev docs`, mkdocs.yml): it builds in strict mode (every
link and anchor resolves), headless Chromium renders the home page and the command
matrix with their navigation and content, and the command lines the pages show for
diskredis's own programs use options those programs have."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diskredis.config import PARAMS
from tests.conftest import ROOT

DOCS = Path(ROOT) / "docs"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def test_every_page_is_in_the_site_and_its_navigation(site: Path) -> None:
    nav = (Path(ROOT) / "mkdocs.yml").read_text()
    home = (site / "index.html").read_text()
    for page in sorted(DOCS.glob("*.md")):
        assert page.name in nav, "%s is not in mkdocs.yml's nav" % page.name
        built = site / ("index.html" if page.stem == "index" else page.stem + "/index.html")
        assert built.exists(), built
        href = "" if page.stem == "index" else page.stem + "/"
        assert 'href="%s"' % href in home or page.stem == "index", page.stem
    commands = (site / "commands" / "index.html").read_text()
    for name in ("HEXPIRE", "HGETDEL", "XREADGROUP", "FUNCTION LOAD"):
        assert "<code>%s</code>" % name in commands, name


def _screenshot(page: Path, png: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run ./dev test, which installs it")
    shot = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # (as root, in a container)
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,900",
            "--screenshot=%s" % png,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.returncode == 0 and png.exists(), shot.stderr


@pytest.mark.parametrize(
    ("page", "heading"), [("index.html", "diskredis"), ("commands/index.html", "Commands")]
)
def test_chromium_renders_the_pages(site: Path, tmp_path: Path, page: str, heading: str) -> None:
    """Not blank: the navigation bar across the top (the theme's colour, its links
    drawn in white), the page's heading and text below it."""
    from matplotlib import image

    png = tmp_path / "page.png"
    _screenshot(site / page, png)
    pixels = image.imread(str(png))[:, :, :3]
    assert pixels.shape[:2] == (900, 1280)
    bar = pixels[5:50, :, :]
    body = pixels[80:, 360:, :]
    white = (body.min(axis=2) > 0.95).mean()
    ink = (body.max(axis=2) < 0.45).mean()  # text: dark pixels
    assert bar[:, :, 2].mean() > 0.6 > bar[:, :, 0].mean()  # blue, not white
    assert (bar.min(axis=2) > 0.9).mean() > 0.002  # the links' white letters
    assert white > 0.3 and ink > 0.01, (white, ink)
    assert heading in (site / page).read_text()


# -- the command lines the pages show ----------------------------------------------------
_PROGRAMS = ("diskredis-server", "diskredis-check", "diskredis-restore", "diskredis-dump")
_PROGRAMS += ("diskredis-backup",)
_INVOCATION = re.compile(
    r"(?:^|[\s/`])(diskredis-(?:server|check|restore|dump|backup)|python3? -m diskredis"
    r"|\./dev (?:serve|test|check|bench|docs)|\./dev \w+)\b([^`|#\n]*)"
)


def _code_lines(text: str) -> list[str]:
    """The lines of a page's code blocks (indented by four, or fenced) and its inline
    code spans."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced or line.startswith("    "):
            lines.append(line.strip())
    lines += re.findall(r"`([^`\n]+)`", text)
    return lines


def _options(program: str) -> set[str]:
    if program in ("diskredis-server", "python -m diskredis", "./dev serve"):
        names = {"--check-config", "--version", "--help"}
        for p in PARAMS.values():
            names.add("--" + p.name)
            if p.alias:
                names.add("--" + p.alias)
        return names
    if program.startswith("./dev"):
        return set()  # pytest's and the bench's options: checked by their own tests
    helped = subprocess.run([str(BIN / program), "--help"], capture_output=True, text=True)
    return set(re.findall(r"--[a-z0-9][a-z0-9-]*", helped.stdout))


def test_command_lines_in_the_pages_use_real_options() -> None:
    known: dict[str, set[str]] = {}
    wrong = []
    for page in sorted(DOCS.glob("*.md")):
        for line in _code_lines(page.read_text()):
            for program, rest in _INVOCATION.findall(line):
                program = program.replace("python3 ", "python ")
                if program.startswith("./dev") and program.split()[1] not in (
                    "serve",
                    "test",
                    "check",
                    "bench",
                    "docs",
                ):
                    wrong.append("%s: %s (no such ./dev command)" % (page.name, program))
                    continue
                if program.startswith("./dev") and program != "./dev serve":
                    continue
                options = known.setdefault(program, _options(program))
                for used in re.findall(r"(?:^|\s)(--[a-z0-9][a-z0-9-]*)", rest):
                    if used not in options:
                        wrong.append("%s: %s %s" % (page.name, program, used))
    assert not wrong, "\n".join(wrong)
