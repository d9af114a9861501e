"""The chat page (/chat) and the embeddable script (/widget.js). Static and keyless: a ``<script src>``
cannot send an Authorization header, and neither file holds data; the API calls they make need the key."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["widget"])


@router.get("/chat", include_in_schema=False)
async def chat_page() -> FileResponse:
    return FileResponse(STATIC / "chat.html", media_type="text/html; charset=utf-8")


@router.get("/chat.js", include_in_schema=False)
async def chat_script() -> FileResponse:
    return FileResponse(STATIC / "chat.js", media_type="text/javascript; charset=utf-8")


@router.get("/widget.js", include_in_schema=False)
async def widget_script() -> FileResponse:
    return FileResponse(STATIC / "widget.js", media_type="text/javascript; charset=utf-8")
