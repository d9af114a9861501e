"""GET/POST /v1/documents and DELETE /v1/documents/{id}: the documents of a collection."""

from __future__ import annotations

from pathlib import PurePath

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool

from foldrag.api.routes import server
from foldrag.api.state import ServerState
from foldrag.core.errors import InvalidInput, TooLarge, UnsupportedType

router = APIRouter(tags=["documents"])


@router.get("/v1/documents")
async def list_documents(collection: str | None = None, state: ServerState = Depends(server)) -> dict:
    name, rag = state.collection(collection)
    docs = await run_in_threadpool(rag.documents)
    return {"collection": name, "documents": [d.to_json() for d in docs]}


@router.post("/v1/documents", status_code=201)
async def upload_document(file: UploadFile = File(...), collection: str | None = Form(None),
                          state: ServerState = Depends(server)) -> dict:
    """Index one uploaded file (multipart field ``file``) as ``upload://NAME`` in the collection."""
    name, rag = state.collection(collection)
    state.require_ready()
    filename, data = await _read_upload(file, state)
    doc = await run_in_threadpool(rag.add_document, filename, data)
    return dict(doc.to_json(), collection=name)


@router.delete("/v1/documents/{doc_id}")
async def delete_document(doc_id: str, collection: str | None = None, state: ServerState = Depends(server)) -> dict:
    """Remove a document and its chunks (a folder's file returns at that folder's next ingest)."""
    name, rag = state.collection(collection)
    state.require_ready()
    doc = await run_in_threadpool(rag.remove, doc_id)
    return dict(doc.to_json(), collection=name, deleted=True)


async def _read_upload(file: UploadFile, state: ServerState) -> tuple[str, bytes]:
    cfg = state.settings.server
    filename = PurePath((file.filename or "").replace("\\", "/")).name.strip()
    if not filename or filename.startswith("."):
        raise InvalidInput("the upload needs a file name (e.g. report.pdf)")
    suffix = PurePath(filename).suffix.lower()
    if suffix not in cfg.upload_types:
        raise UnsupportedType(f"{filename}: type {suffix or '(none)'} is not accepted; "
                              f"accepted: {', '.join(cfg.upload_types)}")
    limit = int(cfg.upload_max_mb * 1024 * 1024)
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{filename} is over the {cfg.upload_max_mb:g} MB upload limit")
    return filename, data
