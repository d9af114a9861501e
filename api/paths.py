"""Path confinement for POST /v1/ingest: only folders inside the configured allowed roots."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from foldrag.core.errors import Forbidden, NotFound


def confine(raw: str, roots: list[Path]) -> Path:
    """The real folder ``raw`` names, if it lies inside one of ``roots``; else Forbidden (403).

    A relative path is taken from the first root. Any ``..`` part is refused outright, and
    symlinks are resolved before the check, so a link out of a root is refused too.
    """
    if not roots:
        raise Forbidden("ingest over HTTP is off: no allowed roots are configured (FOLDRAG_ALLOWED_ROOTS)")
    if not raw.strip() or "\x00" in raw:
        raise Forbidden("the path is empty or malformed")
    if ".." in PurePosixPath(raw.replace("\\", "/")).parts:
        raise Forbidden("paths with '..' are not allowed")
    candidate = Path(raw)
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    real = candidate.resolve()
    real_roots = [r.resolve() for r in roots]
    if not any(real == r or real.is_relative_to(r) for r in real_roots):
        raise Forbidden(f"{raw} is outside the allowed roots")
    if not real.is_dir():
        raise NotFound(f"folder not found: {raw}")
    return real
