"""Collections made in the web app (``POST /v1/collections``): their index folders live in
``server.collections_dir`` (by default foldrag's data folder, ``collections/``), and the list of
them in ``collections.json`` there, so they are served again after a restart. Collections named in
the settings or on the command line are not listed here and cannot be deleted over HTTP.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

from foldrag.core.errors import InvalidInput

NAME = re.compile(r"^[0-9A-Za-z가-힣][0-9A-Za-z가-힣_.-]{0,63}$")
LIST = "collections.json"


def check_name(name: str) -> str:
    if not NAME.match(name or "") or name.endswith("."):
        raise InvalidInput("a collection name is 1–64 letters, digits, '_', '-' or '.', starting with a letter or digit")
    return name


class AddedCollections:
    """The collections made over HTTP, kept in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def index_of(self, name: str) -> Path:
        return self.folder / check_name(name)

    def load(self) -> dict[str, Path]:
        """Name → index folder of every collection made here."""
        try:
            names = json.loads((self.folder / LIST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {name: self.folder / name for name in names if isinstance(name, str) and NAME.match(name)}

    def add(self, name: str) -> None:
        with self._lock:
            self._write(sorted({*self.load(), check_name(name)}))

    def remove(self, name: str) -> None:
        with self._lock:
            self._write(sorted(set(self.load()) - {name}))

    def _write(self, names: list[str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{LIST}.tmp-{os.getpid()}"
        tmp.write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.folder / LIST)
