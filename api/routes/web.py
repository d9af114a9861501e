"""The web app: ``/`` is its page, ``/app/NAME`` its scripts, styles and the browser libraries it
ships with (``vendor/``, with their licences). Static and keyless: they hold no data, and what they
call needs the key the person gives the app."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from foldrag.core.errors import NotFound

APP = Path(__file__).resolve().parent.parent / "static" / "app"
_NAME = re.compile(r"^(vendor/)?[a-z0-9][a-z0-9._-]*$")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
          ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8"}

router = APIRouter(tags=["web"])


@router.get("/", include_in_schema=False)
async def app_page() -> FileResponse:
    return FileResponse(APP / "index.html", media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})


@router.get("/app/{name:path}", include_in_schema=False)
async def app_file(name: str) -> FileResponse:
    path = APP / name
    if not _NAME.match(name) or path.suffix not in _TYPES or not path.is_file():
        raise NotFound(f"no file {name!r} in the web app")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})
