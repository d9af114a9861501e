"""Uploads of the web app: PUT /v1/uploads/{name} keeps one file (the browser shows each file's
upload progress), POST /v1/uploads/ingest indexes the kept files as a job (its progress at
GET /v1/jobs/{id}); GET /v1/inventory lists a collection's files with their state. Admin keys only
for the writes (the guard)."""

from __future__ import annotations

import unicodedata
from pathlib import PurePath

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from foldrag.api.routes import server
from foldrag.api.schemas import UploadIngestRequest
from foldrag.api.state import ServerState
from foldrag.core.errors import InvalidInput, TooLarge, UnsupportedType
from foldrag.core.settings import ServerSettings

router = APIRouter(tags=["uploads"])


# The longest name a file system keeps (NAME_MAX, in UTF-8 bytes).
MAX_NAME_BYTES = 255
# Characters that make a name display as another: bidirectional embeddings, overrides and isolates.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


def upload_name(raw: str, cfg: ServerSettings) -> str:
    """A plain file name of an accepted type, in NFC (one document for ``café.txt`` however it was
    spelled), or the error that says why not."""
    name = PurePath((raw or "").replace("\\", "/")).name.strip()
    if not name or name.startswith(".") or name != raw.strip() or "\x00" in name:
        raise InvalidInput(f"{raw!r} is not a plain file name (e.g. report.pdf)")
    if "\ufffd" in name or any("\ud800" <= c <= "\udfff" for c in name):
        raise InvalidInput(f"{raw!r} is not valid UTF-8")
    if any(unicodedata.category(c) == "Cc" or c in _BIDI for c in name):
        raise InvalidInput(f"{raw!r}: a file name may not hold control characters or direction overrides")
    name = unicodedata.normalize("NFC", name)
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidInput(f"the file name is {len(name.encode('utf-8'))} bytes long; the limit is {MAX_NAME_BYTES}")
    suffix = PurePath(name).suffix.lower()
    if suffix not in cfg.upload_types:
        raise UnsupportedType(f"{name}: type {suffix or '(none)'} is not accepted; accepted: {', '.join(cfg.upload_types)}")
    return name


@router.put("/v1/uploads/{name}", status_code=201)
async def put_upload(name: str, request: Request, collection: str | None = None,
                     state: ServerState = Depends(server)) -> dict:
    coll, rag = state.collection(collection)
    cfg = state.settings.server
    name = upload_name(name, cfg)
    limit = int(cfg.upload_max_mb * 1024 * 1024)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"{name} is over the {cfg.upload_max_mb:g} MB upload limit")
    parts, size = [], 0
    async for block in request.stream():
        size += len(block)
        if size > limit:
            raise TooLarge(f"{name} is over the {cfg.upload_max_mb:g} MB upload limit")
        parts.append(block)
    if not size:
        raise InvalidInput(f"{name} is empty")
    await run_in_threadpool(rag.keep_uploads, [(name, b"".join(parts))])
    return {"collection": coll, "name": name, "size": size}


@router.post("/v1/uploads/ingest", status_code=202)
async def ingest_uploads(body: UploadIngestRequest, state: ServerState = Depends(server)):
    coll, rag = state.collection(body.collection)
    state.require_ready()
    names = [upload_name(n, state.settings.server) for n in body.names]
    job = state.jobs.submit_work(coll, f"{len(names)} uploaded files",
                                 lambda progress: rag.add_uploads(names, progress=progress))
    return JSONResponse(job.to_json(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


@router.get("/v1/inventory")
async def inventory(collection: str | None = None, state: ServerState = Depends(server)) -> dict:
    coll, rag = state.collection(collection)
    return dict(await run_in_threadpool(rag.inventory), collection=coll)
