"""``Snapshots``: the committed index of one folder, opened once per generation."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from foldrag.indexes.folder import CURRENT, IndexSnapshot, current_generation, open_snapshot


class Snapshots:
    """The current snapshot of the index at ``root``, reopened when a writer has committed a newer
    generation (seen by a stat of ``CURRENT``, which a commit replaces; nothing is read while it
    stays the same). Thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._snapshot: IndexSnapshot | None = None
        self._key: tuple[int, int, int] | None = None

    def exists(self) -> bool:
        """Whether a generation has been committed (an ingest has finished)."""
        return self.root.is_dir() and current_generation(self.root) is not None

    def current(self) -> IndexSnapshot:
        """The committed index. Raises NotFound without one, IndexCorrupt when it is damaged."""
        try:
            st = os.stat(self.root / CURRENT)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        with self._lock:
            if self._snapshot is None or key is None or key != self._key:
                # The old snapshot is not closed here: a retrieval on another thread may still hold
                # it. Its SQLite handle closes when the last reference goes.
                self._snapshot = open_snapshot(self.root)
                self._key = key
            return self._snapshot

    def forget(self) -> None:
        """Open the index again at the next ``current()`` (after a repair rewrote it)."""
        with self._lock:
            self._snapshot = None

    def close(self) -> None:
        with self._lock:
            if self._snapshot is not None:
                self._snapshot.close()
                self._snapshot = None
