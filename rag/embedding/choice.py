"""Which embedding model an index uses when ``embedding.model = "auto"``.

The rule, from the table in docs/BENCHMARKS.md ("Multilingual embedder"): a new index gets the
multilingual e5-small — a Korean question finds English passages and the reverse, and Korean
retrieval gets a dense list of its own — at about half MiniLM's ingest speed on English text (Korean
text ingests faster: its tokenizer needs ~2.4× fewer tokens for Korean). An index that exists keeps
the embedder its manifest names, so upgrading foldrag never makes an index unsearchable; `foldrag
ingest --reembed` moves it to the default.

Example::

    model = embedding_model(settings.embedding.model, Path("~/.local/share/foldrag/index"))
"""

from __future__ import annotations

from pathlib import Path

from foldrag.core.errors import IndexCorrupt
from foldrag.embedding.names import BUNDLED, MINILM, MULTILINGUAL_E5

AUTO = "auto"
DEFAULT = MULTILINGUAL_E5


def built_with(index: Path) -> str | None:
    """The embedder named by the current manifest of the index at ``index``; None when there is none
    (or it cannot be read: the writer reports that, and a new build starts from the default)."""
    from foldrag.indexes.folder import MANIFEST, current_generation
    from foldrag.indexes.manifest import Manifest

    try:
        current = current_generation(index) if index.is_dir() else None
        return Manifest.read(current / MANIFEST).embedder if current is not None else None
    except IndexCorrupt:
        return None


def embedding_model(model: str, index: Path, *, reembed: bool = False) -> str:
    """``model`` itself unless it is "auto": then the bundled embedder the index was built with, or
    the default — for a new index, one being re-embedded, or one built with a model "auto" cannot
    load (a local folder): opening that one then fails where the embedder is first used, with
    IndexMismatch (the manifest's check), not here, so commands that need no embedder still run."""
    if model != AUTO:
        return model
    built = None if reembed else built_with(index)
    return built if built in BUNDLED else DEFAULT


def reembed_hint(model: str) -> str | None:
    """What to tell a user whose index "auto" kept on the English-only embedder."""
    if model != MINILM:
        return None
    return (f"this index uses {MINILM} (English only): Korean questions are found by keywords alone and "
            f"questions do not cross languages; `foldrag ingest FOLDER --reembed` moves it to {DEFAULT}")
