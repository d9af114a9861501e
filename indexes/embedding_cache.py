"""A resumable cache of embeddings keyed by a hash of the embedded text.

Ingest writes each embedded batch here and commits it at once, so an ingest that is
killed midway keeps the work it finished: the rerun embeds only what is missing.
The cache is emptied after every successful commit (the generation holds the vectors).
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np


def text_key(embedder: str, text: str) -> str:
    return hashlib.sha256(f"{embedder}\x00{text}".encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._conn.commit()

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            for key, blob in self._conn.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        self._conn.executemany(
            "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
            [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
        )
        self._conn.commit()

    def clear(self) -> None:
        self._conn.execute("DELETE FROM vectors")
        self._conn.commit()
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._conn.close()
