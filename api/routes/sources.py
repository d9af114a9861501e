"""What the web app's source pane reads: GET /v1/passages/{chunk_id} (a chunk with its stored
places and its document's state), GET /v1/documents/{id}/text (the text as indexed) and
GET /v1/documents/{id}/pages/{n} (a PDF page as PNG). A query key reaches them for its collections.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from foldrag.api.routes import server
from foldrag.api.state import ServerState

router = APIRouter(tags=["sources"])


@router.get("/v1/passages/{chunk_id}")
async def passage(chunk_id: str, collection: str | None = None, state: ServerState = Depends(server)) -> dict:
    name, rag = state.collection(collection)
    found = await run_in_threadpool(rag.passage, chunk_id)
    return dict(found.to_json(), collection=name)


@router.get("/v1/documents/{doc_id}/text")
async def document_text(doc_id: str, collection: str | None = None, state: ServerState = Depends(server)) -> dict:
    name, rag = state.collection(collection)
    return dict(await run_in_threadpool(rag.document_text, doc_id), collection=name)


@router.get("/v1/documents/{doc_id}/pages/{page}")
async def page_image(doc_id: str, page: int, collection: str | None = None,
                     width: int = Query(1200, ge=100, le=2400), state: ServerState = Depends(server)) -> Response:
    _, rag = state.collection(collection)
    png = await run_in_threadpool(rag.page_image, doc_id, page, width)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})
