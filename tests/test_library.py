"""foldrag as a library: ``import foldrag`` beside a project's own packages, and the README's example."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.conftest import EMBED_BACKEND, REPO, SMOLLM
from tests.fakes import HashEmbedder
from tests.server_support import shared_tokenizer, write_docs

SOURCE_FOLDERS = {"rag": "foldrag", "ingest": "foldrag.ingest", "indexes": "foldrag.indexes", "api": "foldrag.api"}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDRAG_")}
    env.update({"FOLDRAG_CONFIG": str(tmp_path / "no-such.toml"), "FOLDRAG_GENERATION__MODEL": SMOLLM,
                "FOLDRAG_EMBEDDING__BACKEND": EMBED_BACKEND, "XDG_DATA_HOME": str(tmp_path / "data")})
    env.update(extra)
    return env


def test_every_source_package_is_installed_under_foldrag():
    """pyproject lists the packages by hand (the four folders map into one): none may be missing."""
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert tool["package-dir"] == {"foldrag": "rag", "foldrag.ingest": "ingest", "foldrag.indexes": "indexes",
                                   "foldrag.api": "api"}
    found = set()
    for folder, name in SOURCE_FOLDERS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            found.add(name if rel == Path(".") else f"{name}." + ".".join(rel.parts))
    assert set(tool["packages"]) == found


@pytest.mark.slow
def test_foldrag_imports_beside_a_project_with_its_own_api_and_ingest(tmp_path):
    """A chatbot project with its own ``api``, ``ingest``, ``indexes`` and ``rag`` packages keeps them,
    and foldrag (library, CLI module and HTTP app) works beside them."""
    for name in ("api", "ingest", "indexes", "rag"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"OWNER = 'my project: {name}'\n")
    docs = write_docs(tmp_path / "docs", {"france.md": "# France\n\nThe capital of France is Paris."})
    script = textwrap.dedent(f"""
        import api, ingest, indexes, rag
        import foldrag
        from foldrag.api.app import create_app
        import foldrag.cli, foldrag.ingest.pipeline, foldrag.indexes.folder
        assert [m.OWNER for m in (api, ingest, indexes, rag)] == [
            "my project: api", "my project: ingest", "my project: indexes", "my project: rag"]
        lib = foldrag.open({str(tmp_path / 'idx')!r}, answers=False)
        assert lib.documents() == []
        summary = lib.ingest({str(docs)!r})
        assert summary.added == 1, summary
        print(lib.search("capital of France", k=1)[0].chunk.source)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         env=_env(tmp_path, PYTHONPATH=str(tmp_path)), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "france.md"


def test_foldrag_never_imports_the_source_folders_as_top_level_packages():
    """Run from the repository root (where rag/, api/, ingest/, indexes/ are on sys.path), the whole
    of foldrag imports only as ``foldrag.*``: no module is loaded twice under two names."""
    script = textwrap.dedent("""
        import pkgutil, sys, importlib
        import foldrag
        for info in pkgutil.walk_packages(foldrag.__path__, "foldrag."):
            if info.name.endswith(("ray_engine", "_backend")) or ".generation." in info.name:
                continue  # optional engines and backends: their packages may be absent
            importlib.import_module(info.name)
        import foldrag.api.app, foldrag.ingest.pipeline, foldrag.indexes.folder
        print(sorted(name for name in sys.modules if name.split(".")[0] in ("rag", "api", "ingest", "indexes")))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"


def test_paths_may_be_str_or_pathlike(settings, tmp_path):
    from foldrag.build import build_rag

    docs = write_docs(tmp_path / "docs", {"france.md": "# France\n\nThe capital of France is Paris."})
    rag = build_rag(settings, embedder=HashEmbedder(), tokenizer=shared_tokenizer())
    assert rag.ingest(str(docs)).added == 1
    assert rag.ingest(docs).unchanged == 1  # a Path, the same folder
    [doc] = rag.documents()
    assert rag.remove(doc.id) == doc and rag.documents() == []


def test_import_foldrag_loads_nothing_heavy():
    script = "import sys, foldrag; print(sorted(m for m in ('torch', 'transformers', 'faiss', 'fastapi') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def _readme_example() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


@pytest.mark.slow
def test_the_readme_python_example_runs(tmp_path):
    """The README's example, as printed there, from a folder holding the demo documents."""
    (tmp_path / "examples").symlink_to(REPO / "examples")
    out = subprocess.run([sys.executable, "-c", _readme_example()], cwd=tmp_path, capture_output=True, text=True,
                         env=_env(tmp_path, FOLDRAG_GENERATION__MAX_NEW_TOKENS="48"), timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert any("gpu-offload" in line for line in lines[:3]), out.stdout  # the search's best source
    assert "answered with" in out.stdout and "citations" in out.stdout, out.stdout
