"""Index parts: what a generation holds beside the chunk store (the vectors, the keyword index).

A part records in the manifest the fields its build depends on (``manifest_entry``); when those
differ from the committed manifest's, the index is rebuilt (``needs_rebuild``). A new part is one
file with a class of this shape plus one line in ``PARTS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from foldrag.indexes.chunk_store import ChunkStore
from foldrag.indexes.keyword_part import KeywordPart
from foldrag.indexes.manifest import Manifest
from foldrag.indexes.vector_part import VectorPart
from foldrag.core.settings import IndexSettings


class IndexPart(Protocol):
    name: str  # the key of what it loads in ``IndexSnapshot.parts``

    def manifest_entry(self, chunks: int) -> dict[str, Any]:
        """Manifest fields (names of ``Manifest``) this part's build depends on, for ``chunks`` chunks."""
        ...

    def build(self, folder: Path, store: ChunkStore, entry: dict[str, Any], previous: Path | None) -> None:
        """Write this part's files for the chunks of ``store`` into the generation ``folder``;
        ``previous`` is the last good generation's folder (files that did not change may be linked
        from it), or None."""
        ...

    # and, on the class: ``for_settings(settings, *, dimension, tokenizer) -> part | None`` (a writer's
    # part, or None when these settings want none) and ``load(folder, manifest) -> loaded | None``.


PARTS: tuple[type, ...] = (VectorPart, KeywordPart)  # built in this order; each: for_settings, load


def parts_for(settings: IndexSettings, dimension: int, tokenizer) -> list[IndexPart]:
    """The parts a writer builds for these settings (a part may decline: no tokenizer, no BM25)."""
    made = (cls.for_settings(settings, dimension=dimension, tokenizer=tokenizer) for cls in PARTS)
    return [part for part in made if part is not None]


def load_parts(folder: Path, manifest: Manifest) -> dict[str, Any]:
    """Every part present in the generation ``folder``, by name."""
    loaded = {cls.name: cls.load(folder, manifest) for cls in PARTS}
    return {name: part for name, part in loaded.items() if part is not None}
