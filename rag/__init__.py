"""foldrag: local RAG over a folder of documents, as a Python library.

Example::

    import foldrag

    rag = foldrag.open("my-index")                     # an index folder (made by the first ingest)
    rag.ingest("~/notes")                              # str or PathLike; unchanged files cost nothing
    for hit in rag.search("what is RRF?", k=3):        # ranked chunks: hit.score, hit.chunk.source, .page
        print(hit.score, hit.chunk.source)
    answer = rag.ask("RRF는 무엇을 하나요?")             # Answer: .answer, .citations, .timings, .stages
    for event in rag.stream("What is RRF?"):           # status, queries, sources, token..., done
        ...
    rag.documents(); rag.remove(doc_id)

    both = foldrag.open_many(["notes-index", "papers-index"])   # one question over several collections
    both.search("형태소 분석")                           # each hit's .collection names its index

Errors are ``foldrag.FoldragError`` (``.kind``: a key of the one error table). Importing foldrag
loads nothing: models load at the first call that needs them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["AcrossCollections", "Answer", "FoldragError", "Foldrag", "Hit", "Settings", "open", "open_many"]

if TYPE_CHECKING:
    from foldrag.across_collections import AcrossCollections
    from foldrag.service import Foldrag

_LAZY = {  # name → module: imported on first use, so `import foldrag` stays cheap
    "AcrossCollections": "foldrag.across_collections",
    "Answer": "foldrag.answering.events",
    "Foldrag": "foldrag.service",
    "FoldragError": "foldrag.core.errors",
    "Hit": "foldrag.core.types",
    "Settings": "foldrag.core.settings",
}


def open(index: str | os.PathLike[str] | None = None, *, answers: bool = True, **settings: Any) -> "Foldrag":
    """A ``Foldrag`` on the index folder ``index`` (default: the configured ``index.path``).

    Settings are read as the CLI reads them (defaults < ``foldrag.toml`` < ``FOLDRAG_*`` variables);
    keyword arguments override sections, e.g. ``open("idx", retrieval={"k": 8})``. ``answers=False``
    never loads the answering model (search and ingest only). Nothing loads until it is needed.
    """
    from pathlib import Path

    from foldrag.build import build_rag
    from foldrag.core.settings import Settings

    if index is not None:
        settings["index"] = {**settings.get("index", {}), "path": Path(index).expanduser()}
    return build_rag(Settings.load(**settings), with_generator=answers)


def open_many(indexes: "list[str | os.PathLike[str]]", *, answers: bool = True,
              **settings: Any) -> "AcrossCollections":
    """Several index folders asked as one (``AcrossCollections``): a search or a question runs on
    each and their lists are fused by rank; each collection is named after its folder, and they share
    one set of models. Settings as for ``open``. InvalidInput for two folders of the same name."""
    from pathlib import Path

    from foldrag.build import build_across
    from foldrag.core.settings import Settings

    return build_across(Settings.load(**settings), [Path(index).expanduser() for index in indexes],
                        with_generator=answers)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'foldrag' has no attribute {name!r}")
