"""``check_index``: what is wrong with a committed index, and its repair."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from foldrag.core.contracts import KeywordTokenizer
from foldrag.core.errors import IndexCorrupt, NotFound
from foldrag.core.settings import IndexSettings
from foldrag.indexes.folder import IndexWriter, current_generation, newest_manifest, open_snapshot


@dataclass(frozen=True)
class CheckReport:
    """The state of one index: ``ok`` when nothing is damaged; ``repaired`` the number of the
    generation a repair wrote (None without one)."""

    index: str
    generation: str
    ok: bool
    damage: tuple[str, ...]
    repaired: int | None = None
    restored_from: str | None = None  # the older generation whose chunk store a repair started from
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "generation": self.generation, "ok": self.ok,
                               "damage": list(self.damage), "repaired": self.repaired or False}
        if self.restored_from:
            out["restored_from"] = self.restored_from
        if self.note:
            out["note"] = self.note
        return out


def check_index(root: Path, settings: IndexSettings, tokenizer: KeywordTokenizer, *, repair: bool = False) -> CheckReport:
    """Every file of the committed index checked against its recorded checksum and every part loaded;
    with ``repair``, a new generation rebuilt from the newest intact chunk store (no model is loaded:
    vectors and keyword tokens are in the store). Raises NotFound without an index, IndexCorrupt when
    nothing can be read to repair from."""
    current = current_generation(root, complete=False) if root.is_dir() else None
    if current is None:
        raise NotFound(f"no index at {root}")
    manifest = newest_manifest(root)
    if manifest is None:
        raise IndexCorrupt(f"no generation of {root} has a readable manifest; ingest into a new --index folder")
    note = None if manifest.checksums else \
        "written before foldrag recorded checksums: --repair (or an ingest) records them"
    with IndexWriter.open(root, manifest.embedder, manifest.dimension, settings, tokenizer=tokenizer,
                          backend=manifest.embedder_backend) as writer:
        damage = list(writer.damage)
        if not damage:
            try:
                open_snapshot(root).close()
            except (IndexCorrupt, OSError) as exc:
                damage.append(str(exc))
        report = CheckReport(index=str(root), generation=current.name, ok=not damage, damage=tuple(damage), note=note)
        if (report.ok and manifest.checksums) or not repair:
            return report
        if writer.base is None:
            raise IndexCorrupt(f"no intact chunk store in {root} to repair from: ingest the folder again "
                               "(every file is read and embedded again)")
        restored_from = None
        if writer.base != current:
            restored_from = writer.base.name
            note = (f"the chunk store of {current.name} is damaged; {writer.base.name}'s was taken: "
                    "ingest the folder again to bring back what changed since")
        writer.begin()  # the new generation starts from the intact store; commit rebuilds every part
        generation = writer.commit().generation
    return replace(report, repaired=generation, restored_from=restored_from, note=note)
