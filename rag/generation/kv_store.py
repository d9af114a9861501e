"""Chunks' attention caches on disk: bounded, least recently used out, checked on every read.

One file per chunk and lead (``<key>.kv``): a 256-byte header (JSON: magic, dtype, shape, a
BLAKE2b digest of the data) and the keys and values of every layer as one raw array
``(2, layers, kv_heads, tokens, head_dim)`` in fp16, keys before their rotary embedding (they are
rotated to wherever the chunk lands in a prompt). A read maps the file (no copy until the caller
converts it) and checks the digest; a file that is short, foreign or whose digest differs is
removed and reported as a miss, never used. Writes go through a temporary file and a rename, so a
crash leaves either the old file or none. The folder is kept under ``limit_bytes``: after each
write the least recently read files go first (a read touches its file's mtime).

Example::

    store = KVStore(Path("~/.cache/foldrag/kv/abc123"), limit_bytes=1 << 30)
    key = store.key(lead_ids, chunk_ids)
    kv = store.get(key)            # np.ndarray view or None
    if kv is None:
        store.put(key, computed)   # (2, layers, kv_heads, tokens, head_dim)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("foldrag.generation")

MAGIC = "foldrag-kv-1"
HEADER = 256
SUFFIX = ".kv"


@dataclass(frozen=True)
class StoreStats:
    """The store's state and its reads since this process opened it."""

    entries: int
    bytes: int
    limit_bytes: int
    hits: int
    misses: int
    damaged: int  # files found broken and removed

    @property
    def hit_rate(self) -> float:
        reads = self.hits + self.misses
        return self.hits / reads if reads else 0.0


class KVStore:
    """A folder of chunk caches for one model (the caller picks the folder by the model's identity)."""

    def __init__(self, folder: Path, limit_bytes: int) -> None:
        self.folder = folder
        self.limit_bytes = limit_bytes
        self._lock = threading.Lock()
        self._hits = self._misses = self._damaged = 0

    @staticmethod
    def key(lead: tuple[int, ...] | list[int], tokens: tuple[int, ...] | list[int]) -> str:
        """The file name of a chunk's cache: its tokens and the lead it was computed after."""
        digest = hashlib.blake2b(digest_size=20)
        digest.update(np.asarray(lead, dtype=np.int64).tobytes())
        digest.update(b"|")
        digest.update(np.asarray(tokens, dtype=np.int64).tobytes())
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / (key + SUFFIX)

    def get(self, key: str) -> np.ndarray | None:
        """The cache stored under ``key`` (a read-only map of the file), or None: not stored, or
        found damaged (then removed)."""
        path = self._path(key)
        try:
            with open(path, "rb") as handle:
                head = json.loads(handle.read(HEADER).rstrip(b"\0 ").decode())
            if head.get("magic") != MAGIC or head.get("dtype") != "float16":
                raise ValueError("not a foldrag kv file")
            shape = tuple(int(n) for n in head["shape"])
            if len(shape) != 5 or shape[0] != 2:
                raise ValueError(f"bad shape {shape}")
            if path.stat().st_size != HEADER + int(np.prod(shape)) * 2:
                raise ValueError("truncated")
            data = np.memmap(path, dtype=np.float16, mode="r", offset=HEADER, shape=shape)
            if hashlib.blake2b(memoryview(data).cast("B"), digest_size=20).hexdigest() != head["digest"]:
                raise ValueError("digest differs")
        except FileNotFoundError:
            with self._lock:
                self._misses += 1
            return None
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
            log.warning("chunk cache %s is damaged (%s): removed, the chunk is computed again", path.name, exc)
            path.unlink(missing_ok=True)
            with self._lock:
                self._misses += 1
                self._damaged += 1
            return None
        try:
            os.utime(path)  # recently used: the last to go
        except OSError:
            pass
        with self._lock:
            self._hits += 1
        return data

    def put(self, key: str, kv: np.ndarray) -> None:
        """Store ``kv`` (2, layers, kv_heads, tokens, head_dim) under ``key``, then trim the folder."""
        data = np.ascontiguousarray(kv, dtype=np.float16)
        if data.nbytes + HEADER > self.limit_bytes:
            return  # larger than the whole budget: never kept
        head = json.dumps({"magic": MAGIC, "dtype": "float16", "shape": list(data.shape),
                           "digest": hashlib.blake2b(memoryview(data).cast("B"), digest_size=20).hexdigest()})
        raw = head.encode().ljust(HEADER, b" ")
        if len(raw) > HEADER:
            raise ValueError("kv header too long")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as handle:
                handle.write(raw)
                handle.write(memoryview(data).cast("B"))
            os.replace(tmp, path)
        except OSError as exc:  # a full disk or a read-only cache: answering goes on without it
            tmp.unlink(missing_ok=True)
            log.warning("could not store a chunk cache in %s: %s", self.folder, exc)
            return
        self.trim()

    def _files(self) -> list[tuple[float, int, Path]]:
        files = []
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.endswith(SUFFIX) and not entry.name.startswith("."):
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                files.append((st.st_mtime, st.st_size, Path(entry.path)))
        return files

    def trim(self) -> None:
        """Remove the least recently used files until the folder is within its limit."""
        with self._lock:
            files = sorted(self._files(), key=lambda f: f[0])
            total = sum(size for _, size, _ in files)
            for _, size, path in files:
                if total <= self.limit_bytes:
                    break
                path.unlink(missing_ok=True)
                total -= size

    def stats(self) -> StoreStats:
        files = self._files()
        with self._lock:
            return StoreStats(entries=len(files), bytes=sum(size for _, size, _ in files),
                              limit_bytes=self.limit_bytes, hits=self._hits, misses=self._misses,
                              damaged=self._damaged)
