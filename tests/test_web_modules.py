"""The web app as native ES modules (api/static/app/): every file ships in the wheel, every import names
a module that exists and is served, every imported name is exported, and each module stays small."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO

APP = REPO / "api" / "static" / "app"
SERVED = re.compile(r"^[a-z0-9][a-z0-9._-]*$")  # the names api/routes/web.py serves under /app/
MAX_LINES = 250

# import {a, b as c} from "./x.js" · import x from "./x.js" · import "./x.js" · export {a} from "./x.js" · import("./x.js")
FROM = re.compile(r"""^\s*(?:import|export)\s+(?:\{([^}]*)\}|[\w$*\s]+?)?\s*(?:from\s*)?["']([^"']+)["']""", re.M)
DYNAMIC = re.compile(r"""\bimport\(\s*["']([^"']+)["']\s*\)""")
EXPORTED = re.compile(r"^export\s+(?:async\s+)?(?:function\*?|const|let|var|class)\s+([\w$]+)", re.M)


def modules() -> list[Path]:
    return sorted(APP.glob("*.js"))


def target(module: Path, spec: str) -> Path:
    assert spec.startswith(("./", "/app/")), f"{module.name}: {spec!r} is not a file of the app (no bare names, no build step)"
    return (module.parent / spec).resolve() if spec.startswith("./") else APP / spec.removeprefix("/app/")


def test_every_file_of_the_web_app_is_in_the_wheel(tmp_path):
    """A wheel built from a copy of the sources (the working tree gets no build/ nor egg-info) holds
    every file under api/static/app/, vendor/ included, at foldrag/api/static/app/."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for folder in ("rag", "ingest", "indexes", "api"):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(tmp_path / "out"), str(src)], check=True, capture_output=True, timeout=300)
    [wheel] = (tmp_path / "out").glob("foldrag-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        inside = {n.removeprefix("foldrag/api/static/app/") for n in zf.namelist() if n.startswith("foldrag/api/static/app/")}
    on_disk = {p.relative_to(APP).as_posix() for p in APP.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert {"index.html", "main.js", "store.js", "vendor/marked.umd.js", "vendor/purify.min.js"} <= on_disk
    assert on_disk - inside == set()


def test_every_import_names_a_served_module_that_exports_what_is_imported():
    exports = {m: set(EXPORTED.findall(m.read_text(encoding="utf-8"))) for m in modules()}
    seen = 0
    for module in modules():
        text = module.read_text(encoding="utf-8")
        for names, spec in FROM.findall(text) + [("", s) for s in DYNAMIC.findall(text)]:
            path = target(module, spec)
            assert path.is_file(), f"{module.name} imports {spec!r}: no such file"
            assert path.parent == APP and SERVED.match(path.name), f"{module.name} imports {spec!r}: /app/ does not serve it"
            for name in filter(None, (n.split(" as ")[0].strip() for n in names.split(","))):
                assert name in exports[path], f"{module.name} imports {name} from {spec!r}, which does not export it"
            seen += 1
    assert seen >= 10  # the patterns above do find the app's imports


def test_the_page_loads_the_vendored_libraries_then_the_modules():
    page = (APP / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script([^>]*)\bsrc="([^"]+)"', page)
    assert [src for _, src in scripts] == ["/app/vendor/marked.umd.js", "/app/vendor/purify.min.js", "/app/main.js"]
    for _, src in scripts:
        assert (APP / src.removeprefix("/app/")).is_file(), src
    # the vendored libraries are classic scripts (they set window.marked, window.DOMPurify); the app is a module
    assert [attrs.strip() for attrs, _ in scripts] == ["", "", 'type="module"']


def test_the_modules_share_state_through_the_store_not_window():
    for module in modules():
        text = module.read_text(encoding="utf-8")
        assert not re.search(r"\bwindow\.[\w$]+\s*=[^=]", text), f"{module.name} sets a global"
        assert not re.search(r"^(?:var|let)\s", text, re.M) or module.name in {"i18n.js"}, \
            f"{module.name} keeps mutable module-level state: put it in store.js"


def test_each_module_stays_small():
    for module in modules():
        lines = module.read_text(encoding="utf-8").count("\n")
        assert lines <= MAX_LINES, f"{module.name} has {lines} lines (at most {MAX_LINES}): split it"
