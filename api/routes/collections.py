"""GET /v1/collections; POST /v1/collections (a new collection over a folder inside the allowed
roots, ingested as a job) and DELETE /v1/collections/{name} (one made that way): server-wide admin
keys only (the guard)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from foldrag.api.paths import confine
from foldrag.api.routes import server
from foldrag.api.schemas import CollectionCreate
from foldrag.api.state import ServerState

router = APIRouter(tags=["collections"])


@router.get("/v1/collections")
async def collections(state: ServerState = Depends(server)) -> dict:
    """Each collection: its index folder and what it holds; ``removable`` when made in the web app."""
    return {"collections": [dict(await run_in_threadpool(rag.describe, name), removable=state.removable(name))
                            for name, rag in state.collections.items()]}


@router.post("/v1/collections", status_code=202)
async def create_collection(body: CollectionCreate, state: ServerState = Depends(server)):
    """Make a collection over ``path`` and start its ingest; 403 for a path outside FOLDRAG_ALLOWED_ROOTS."""
    folder = confine(body.path, state.settings.server.allowed_roots)
    job = await run_in_threadpool(state.create_collection, body.name, folder)
    return JSONResponse(job.to_json(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


@router.delete("/v1/collections/{name}")
async def delete_collection(name: str, state: ServerState = Depends(server)) -> dict:
    """Remove a collection made in the web app, with its index (its folder of documents stays)."""
    await run_in_threadpool(state.delete_collection, name)
    return {"name": name, "deleted": True}
