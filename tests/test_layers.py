"""The layering contract (.importlinter): the ground imports nothing above it, each layer only those below.

The four source folders are installed as one package, ``foldrag`` (rag/ itself, with ingest/, indexes/
and api/ inside it). import-linter reads a package from one folder, so the check runs on a copy of
the sources laid out as installed: the same files, the layout a wheel has.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INSIDE = {"ingest": "ingest", "indexes": "indexes", "api": "api"}  # source folder → sub-package of foldrag


def installed_layout(into: Path) -> Path:
    """The sources copied as the installed package: ``into/foldrag`` (rag/) with its sub-packages."""
    package = into / "foldrag"
    shutil.copytree(REPO / "rag", package, ignore=shutil.ignore_patterns("__pycache__"))
    for folder, name in INSIDE.items():
        shutil.copytree(REPO / folder, package / name, ignore=shutil.ignore_patterns("__pycache__", "static"))
    return package


def test_import_layers_hold(tmp_path):
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is part of the test extra (pip install -e '.[test]')"
    installed_layout(tmp_path)
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    out = subprocess.run([lint, "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "2 kept, 0 broken" in out.stdout
