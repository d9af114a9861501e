"""Names in the code and the docs match the files: a path, a ``python -m`` module, a dotted
``foldrag.…`` name or a bare ``something.py`` that a docstring, comment or page mentions exists in
the repository. (docs/retired.md names what was removed, on purpose; BENCHMARKS.md's history is
what was measured then.)"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOP = ("rag", "ingest", "indexes", "api", "bench", "tests", "scripts", "docs", "examples", ".ci")
SOURCES = ("rag", "ingest", "indexes", "api", "bench", "scripts")
# a path ends in a file's extension or a folder's slash ("docs/s" in "docs/s, chunks/s" is a rate)
PATH = re.compile(r"(?<![\w/.~$-])((?:%s)/[\w./-]*(?:\.[a-z]+\b|/))" % "|".join(re.escape(t) for t in TOP))
# a module run, imported or quoted: foldrag's (the installed name; ``rag.…`` is never one)
MODULE = re.compile(r"(?:python -m |from |import )((?:foldrag|rag)(?:\.\w+)+)|``(foldrag(?:\.\w+)+)``")
FILE_NAMES = ("toml", "json", "md", "py", "txt")  # ``foldrag.toml`` is a file, not a module
BARE = re.compile(r"(?<![\w/.-])([a-z_][a-z0-9_]*\.py)\b")
HISTORY = re.compile(r"^#+ .*\bhistory\b", re.IGNORECASE | re.MULTILINE)


def _texts() -> list[tuple[str, str]]:
    files = [p for d in SOURCES for p in sorted((REPO / d).rglob("*.py"))]
    files += [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    out = []
    for path in files:
        name = path.relative_to(REPO).as_posix()
        if name == "docs/retired.md":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if name == "docs/BENCHMARKS.md" and (history := HISTORY.search(text)):
            text = text[:history.start()]
        out.append((name, text))
    return out


def _exists(module: str) -> bool:
    """A module, or a name defined in one (``foldrag.open``), found without importing anything."""
    parts = module.split(".")
    if parts[0] != "foldrag":
        return False
    if parts[-1] in FILE_NAMES:
        return True
    try:
        if importlib.util.find_spec(module) is not None:
            return True
    except (ModuleNotFoundError, ValueError):
        pass  # a name inside a module: ``foldrag.collection.check.check_index``
    try:
        spec = importlib.util.find_spec(".".join(parts[:-1]))
    except (ModuleNotFoundError, ValueError):
        return False
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return False
    source = Path(spec.origin).read_text(encoding="utf-8")
    name = parts[-1]  # defined, imported, or exported lazily (a package's __all__)
    return re.search(rf"^(?:def|class) {name}\b|^{name}\s*[:=]|\bimport .*\b{name}\b|^__all__ = .*\"{name}\"",
                     source, re.MULTILINE) is not None


def test_every_named_path_module_and_file_exists():
    python_files = {p.name for d in (*SOURCES, "tests", "examples") for p in (REPO / d).rglob("*.py")}
    wrong = []
    for name, text in _texts():
        for match in PATH.finditer(text):
            path = match.group(1).rstrip(".")
            if not any(ch in path for ch in "*{<") and not (REPO / path).exists():
                wrong.append(f"{name}: {path}")
        for match in MODULE.finditer(text):
            module = match.group(1) or match.group(2)
            if not _exists(module):
                wrong.append(f"{name}: module {module}")
        for match in BARE.finditer(text):
            if match.group(1) not in python_files:
                wrong.append(f"{name}: file {match.group(1)}")
    assert not wrong, "names that match no file:\n" + "\n".join(sorted(set(wrong)))


@pytest.mark.parametrize("text, stale", [("see ``rag/no_such.py``", True), ("``foldrag.no_such``", True),
                                         ("python -m rag.generation.gguf_tokenizer", True),
                                         ("``foldrag.open``", False), ("rag/service.py", False)])
def test_the_check_tells_a_stale_name(text, stale):
    found = ([m.group(1) for m in PATH.finditer(text) if not (REPO / m.group(1)).exists()]
             + [m.group(0) for m in MODULE.finditer(text) if not _exists(m.group(1) or m.group(2))])
    assert bool(found) == stale
