"""Conversations kept on the server: one SQLite file (``server.conversations``, by default in
foldrag's data folder), each conversation owned by the key that made it (a hash of it; "" on a
server without keys), so one key never lists or reads another's. An assistant message keeps the
whole answer as it was given (citations with their places on the page), so a reload shows it as
it was, highlights included, whatever the index holds since.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from foldrag.core.errors import InvalidInput, NotFound

_SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    title TEXT NOT NULL,
    collections TEXT NOT NULL,  -- JSON list of collection names
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL,  -- user | assistant
    content TEXT NOT NULL,
    answer TEXT,  -- an assistant message: the answer's JSON as the client got it
    status TEXT NOT NULL DEFAULT 'done',  -- done | stopped | failed
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages(conversation, seq);
"""
MAX_TITLE = 200


class Conversations:
    """The conversation store at ``path`` (made on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
            conn.executescript(_SCHEMA)
            conn.execute("PRAGMA foreign_keys = ON")
            self._conn = conn
        return self._conn

    def create(self, owner: str, title: str, collections: list[str]) -> dict[str, Any]:
        title = _title(title)
        now = time.time()
        cid = uuid.uuid4().hex
        with self._lock, self._db() as db:
            db.execute("INSERT INTO conversations VALUES (?,?,?,?,?,?)",
                       (cid, owner, title, json.dumps(collections), now, now))
        return self.get(owner, cid, messages=False)

    def list(self, owner: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db().execute("SELECT id, title, collections, created, updated FROM conversations "
                                      "WHERE owner = ? ORDER BY updated DESC", (owner,)).fetchall()
        return [_conversation(r) for r in rows]

    def get(self, owner: str, cid: str, *, messages: bool = True) -> dict[str, Any]:
        with self._lock:
            db = self._db()
            row = db.execute("SELECT id, title, collections, created, updated FROM conversations "
                             "WHERE id = ? AND owner = ?", (cid, owner)).fetchone()
            if row is None:
                raise NotFound(f"no conversation with id {cid!r}")
            out = _conversation(row)
            if messages:
                out["messages"] = [
                    {"role": r[0], "content": r[1], "answer": json.loads(r[2]) if r[2] else None, "status": r[3],
                     "created": r[4]}
                    for r in db.execute("SELECT role, content, answer, status, created FROM messages "
                                        "WHERE conversation = ? ORDER BY seq", (cid,))]
        return out

    def rename(self, owner: str, cid: str, title: str) -> dict[str, Any]:
        with self._lock, self._db() as db:
            if db.execute("UPDATE conversations SET title = ? WHERE id = ? AND owner = ?",
                          (_title(title), cid, owner)).rowcount == 0:
                raise NotFound(f"no conversation with id {cid!r}")
        return self.get(owner, cid, messages=False)

    def delete(self, owner: str, cid: str) -> None:
        with self._lock, self._db() as db:
            if db.execute("DELETE FROM conversations WHERE id = ? AND owner = ?", (cid, owner)).rowcount == 0:
                raise NotFound(f"no conversation with id {cid!r}")

    def require(self, owner: str, cid: str) -> None:
        """NotFound unless ``cid`` is one of ``owner``'s conversations (checked before a question runs)."""
        self.get(owner, cid, messages=False)

    def add(self, owner: str, cid: str, role: str, content: str, answer: dict[str, Any] | None = None,
            status: str = "done") -> None:
        now = time.time()
        with self._lock, self._db() as db:
            if db.execute("UPDATE conversations SET updated = ? WHERE id = ? AND owner = ?",
                          (now, cid, owner)).rowcount == 0:
                raise NotFound(f"no conversation with id {cid!r}")
            if role == "user":  # an untitled conversation is named by its first question
                db.execute("UPDATE conversations SET title = ? WHERE id = ? AND title = ''",
                           (_title(content[:80]), cid))
            db.execute("INSERT INTO messages (conversation, role, content, answer, status, created) "
                       "VALUES (?,?,?,?,?,?)",
                       (cid, role, content, json.dumps(answer, ensure_ascii=False) if answer else None, status, now))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _title(title: str) -> str:
    title = " ".join((title or "").split())
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"a title has at most {MAX_TITLE} characters")
    return title


def _conversation(row) -> dict[str, Any]:
    return {"id": row[0], "title": row[1], "collections": json.loads(row[2]), "created": row[3], "updated": row[4]}
