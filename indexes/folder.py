"""An index folder on disk, with atomic generations.

Layout::

    INDEX/
      CURRENT              name of the committed generation (replaced atomically)
      gen-000007/          one immutable generation
        manifest.json
        chunks.sqlite      chunk texts, metadata, vectors, per-file hashes
        vectors.faiss      the vectors part: FAISS over the vectors, ids = chunk rowids
        bm25/              the keywords part: BM25 over chunks and passages
        (each part of indexes/parts.py writes its own files)
      work/                the embedding cache of an unfinished ingest
      .lock                held by the one writer

A writer copies the current generation into ``gen-N.tmp``, changes it, writes FAISS and the
manifest, fsyncs, renames it to ``gen-N`` and then replaces ``CURRENT``. A crash at any
moment leaves ``CURRENT`` naming a complete generation; readers never see a half-written one.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foldrag.indexes.chunk_store import ChunkStore
from foldrag.indexes.embedding_cache import EmbeddingCache
from foldrag.indexes.integrity import damage, digests, store_intact
from foldrag.indexes.keyword_store import KeywordIndex
from foldrag.indexes.manifest import Manifest
from foldrag.indexes.parts import IndexPart, load_parts, parts_for
from foldrag.core.errors import IndexBusy, IndexCorrupt, IndexNotWritable, NotFound
from foldrag.core.settings import IndexSettings

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHUNKS = "chunks.sqlite"
KEEP_GENERATIONS = 2  # the current one and the one before, for readers that opened it just now


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for child in path.iterdir():
        if child.is_file():
            with open(child, "rb") as handle:
                os.fsync(handle.fileno())
        elif child.is_dir():
            _fsync_tree(child)
    _fsync_dir(path)


def current_generation(root: Path, *, complete: bool = True) -> Path | None:
    """The committed generation folder, or None for a folder with no index yet. With ``complete``,
    IndexCorrupt when it has no manifest (a writer, repairing, takes it as it is)."""
    pointer = root / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorrupt(f"cannot read {pointer}: {exc}") from exc
    generation = root / name
    if complete and not (generation / MANIFEST).exists():
        raise IndexCorrupt(f"index file {generation / MANIFEST} is missing ({pointer} names {name}); "
                           f"run `foldrag check --index {root} --repair`, or ingest the folder again")
    return generation


@dataclass(frozen=True)
class IndexSnapshot:
    """One committed generation, open for reading: its parts in memory, SQLite read-only."""

    path: Path
    manifest: Manifest
    store: ChunkStore
    parts: dict[str, Any]  # part name → what it loaded (indexes/parts.py)

    @property
    def faiss_index(self):
        return self.parts["vectors"]

    @property
    def keyword_index(self) -> KeywordIndex | None:
        return self.parts.get("keywords")

    def close(self) -> None:
        self.store.close()


def newest_manifest(root: Path) -> Manifest | None:
    """The manifest of the newest generation whose manifest can be read (None: none can)."""
    for generation in sorted((g for g in root.glob("gen-*") if g.is_dir() and not g.name.endswith(".tmp")),
                             reverse=True):
        try:
            return Manifest.read(generation / MANIFEST)
        except IndexCorrupt:
            continue
    return None


def open_snapshot(root: Path, embedder: str | None = None, dimension: int | None = None) -> IndexSnapshot:
    """Open the committed generation of ``root``; checks the embedder when given."""
    if not root.is_dir():
        raise NotFound(f"no index at {root} (run `foldrag ingest FOLDER --index {root}` first)")
    generation = current_generation(root)
    if generation is None:
        raise NotFound(f"{root} holds no committed index yet (run `foldrag ingest` first)")
    manifest = Manifest.read(generation / MANIFEST)
    if embedder is not None and dimension is not None:
        manifest.check(embedder, dimension)
    found = damage(generation, manifest.checksums)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise IndexCorrupt(f"index file {generation / found[0].file} is damaged: {found[0].reason}{more}; "
                           f"run `foldrag check --index {root} --repair`, or ingest the folder again")
    try:
        store = ChunkStore.open_readonly(generation / CHUNKS)
        parts = load_parts(generation, manifest)
    except Exception as exc:
        raise IndexCorrupt(f"index generation {generation} cannot be read: {exc}; "
                           f"run `foldrag check --index {root} --repair`") from exc
    return IndexSnapshot(path=generation, manifest=manifest, store=store, parts=parts)


class IndexWriter:
    """The single writer of an index folder. Use as a context manager.

    Example::

        with IndexWriter.open(root, "bundled:all-MiniLM-L6-v2", 384, settings.index) as writer:
            writer.begin().replace_file(record, chunks, vectors)
            writer.commit()
    """

    def __init__(self, root: Path, embedder: str, dimension: int, settings: IndexSettings,
                 parts: list[IndexPart] | None = None, tokenizer=None, backend: str = "", fresh: bool = False) -> None:
        self.root = root
        # Start from nothing (re-embedding with another model): the committed index is neither
        # checked against this embedder nor copied; it stays current until this writer commits.
        self.fresh = fresh
        self.embedder = embedder
        self.backend = backend  # the embedding runtime, recorded in the manifest
        self.dimension = dimension
        self.settings = settings
        # The keyword tokenizer (callable text → tokens, with an ``id``), or None for no BM25 index.
        self.tokenizer = tokenizer if settings.keyword else None
        self.parts = parts if parts is not None else parts_for(settings, dimension, self.tokenizer)
        self._lock_handle = None
        self._tmp: Path | None = None
        self._store: ChunkStore | None = None
        self.base_manifest: Manifest | None = None
        self.cache: EmbeddingCache | None = None
        self.base: Path | None = None  # the generation whose chunk store the new one starts from
        self.damage: list[str] = []  # what is wrong with the current generation; a commit repairs it

    @staticmethod
    def check_free(root: Path) -> None:
        """Raise IndexBusy at once when another writer holds ``root``'s lock — before the caller spends
        a model load on an ingest that would be refused. (``open`` takes the lock for real.)"""
        try:
            handle = open(root / ".lock", "a+")
        except OSError:
            return  # open() reports what is wrong with the folder
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexBusy(f"another foldrag process is writing {root}") from exc
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @classmethod
    def open(cls, root: Path, embedder: str, dimension: int, settings: IndexSettings,
             parts: list[IndexPart] | None = None, tokenizer=None, backend: str = "", fresh: bool = False) -> "IndexWriter":
        writer = cls(root, embedder, dimension, settings, parts, tokenizer, backend, fresh)
        writer._enter()
        return writer

    def __enter__(self) -> "IndexWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _enter(self) -> None:
        try:
            (self.root / "work").mkdir(parents=True, exist_ok=True)
            self._lock_handle = open(self.root / ".lock", "a+")
        except OSError as exc:
            raise IndexNotWritable(f"cannot write index folder {self.root}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_handle.close()
            raise IndexBusy(f"another foldrag process is writing {self.root}") from exc
        for stale in self.root.glob("gen-*.tmp"):  # left by a writer that was killed
            shutil.rmtree(stale, ignore_errors=True)
        current = current_generation(self.root, complete=False)
        if current is not None and not self.fresh:
            self._choose_base(current)
        if self.base_manifest is not None:
            self.base_manifest.check(self.embedder, self.dimension)
        self.cache = EmbeddingCache(self.root / "work" / "embeddings.sqlite")

    def _choose_base(self, current: Path) -> None:
        """Start from the current generation; when it is damaged, note what is wrong (the next commit
        rebuilds every part) and take the chunk store of the newest generation whose store is intact."""
        try:
            manifest = Manifest.read(current / MANIFEST)
        except IndexCorrupt as exc:
            self.damage.append(str(exc))
            manifest = None
        if manifest is not None:
            self.damage += [str(d) for d in damage(current, manifest.checksums)]
        candidates = [current] + sorted((g for g in self.root.glob("gen-*") if g.is_dir() and g != current
                                         and not g.name.endswith(".tmp")), reverse=True)
        for generation in candidates:
            try:
                found = manifest if generation == current and manifest is not None else Manifest.read(generation / MANIFEST)
            except IndexCorrupt:
                continue
            if store_intact(generation, found):
                self.base, self.base_manifest = generation, found
                return
        self.base_manifest = manifest  # nothing to start from: the next ingest reads every file again

    def begin(self) -> ChunkStore:
        """The chunk store of the generation being written: on the first call, the new generation's
        folder is created and the store copied from the base (or created empty); later calls return it."""
        if self._store is None:
            numbers = [int(g.name[4:10]) for g in self.root.glob("gen-*") if g.name[4:10].isdigit()]
            number = max(numbers + [self.base_manifest.generation if self.base_manifest else 0]) + 1
            self._tmp = self.root / f"gen-{number:06d}.tmp"
            self._tmp.mkdir()
            if self.base is None:
                self._store = ChunkStore.create(self._tmp / CHUNKS)
            else:
                source = ChunkStore.open_readonly(self.base / CHUNKS)
                try:
                    self._store = source.copy_to(self._tmp / CHUNKS)
                finally:
                    source.close()
                if self.tokenizer is not None and self.base_manifest and self.base_manifest.tokenizer != self.tokenizer.id:
                    self._store.clear_tokens()  # another tokenizer made these: tokenize again at commit
        return self._store

    @property
    def needs_rebuild(self) -> bool:
        """True when the committed index lacks what these settings ask for (a part added or dropped,
        or a part's manifest entry changed: another tokenizer, passage size or FAISS kind), or when
        it is damaged: the next commit rebuilds every part."""
        if self.damage:
            return True
        base = self.base_manifest
        if base is None:
            return False
        return base.parts != self._entries(base.chunks)

    def _entries(self, chunks: int) -> dict[str, dict[str, Any]]:
        """Part name → the manifest entry of each part, for an index of ``chunks`` chunks."""
        return {part.name: part.manifest_entry(chunks) for part in self.parts}

    def committed_store(self) -> ChunkStore | None:
        """A read-only view of the chunk store this run starts from (the last committed generation's,
        or an older intact one's when that is damaged)."""
        return ChunkStore.open_readonly(self.base / CHUNKS) if self.base else None

    def commit(self) -> Manifest:
        """Finish the new generation and make it current atomically."""
        store = self.begin()
        store.commit()
        assert self._tmp is not None
        chunks = store.count()
        previous = None if self.damage else self.base  # what a part may reuse (never from a damaged one)
        for part in self.parts:
            part.build(self._tmp, store, part.manifest_entry(chunks), previous)
        number = int(self._tmp.name[4:10])
        files = store.file_count()
        store.close()
        self._store = None
        manifest = Manifest(
            embedder=self.embedder, dimension=self.dimension, parts=self._entries(chunks),
            generation=number, files=files, chunks=chunks,
            updated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), checksums=digests(self._tmp),
            embedder_backend=self.backend,
        )
        (self._tmp / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        _fsync_tree(self._tmp)
        final = self.root / self._tmp.name[:-4]
        if final.exists():  # an orphan of a crash between rename and pointer switch
            shutil.rmtree(final)
        os.rename(self._tmp, final)
        self._tmp = None
        pointer_tmp = self.root / f"{CURRENT}.tmp"
        with open(pointer_tmp, "w", encoding="utf-8") as handle:
            handle.write(final.name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(pointer_tmp, self.root / CURRENT)
        _fsync_dir(self.root)
        self.base_manifest, self.base, self.damage = manifest, final, []
        self._collect_garbage()
        if self.cache is not None:
            self.cache.clear()
        return manifest

    def _collect_garbage(self) -> None:
        generations = sorted(p for p in self.root.glob("gen-*") if p.is_dir() and not p.name.endswith(".tmp"))
        for old in generations[:-KEEP_GENERATIONS]:
            shutil.rmtree(old, ignore_errors=True)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        if self.cache is not None:
            self.cache.close()
            self.cache = None
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None
