"""POST /v1/ingest (a job over a folder inside the allowed roots) and GET /v1/jobs/{id}."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from foldrag.api.paths import confine
from foldrag.api.routes import server
from foldrag.api.schemas import IngestRequest
from foldrag.api.state import ServerState

router = APIRouter(tags=["ingest"])


@router.post("/v1/ingest", status_code=202)
async def ingest(body: IngestRequest, state: ServerState = Depends(server)):
    """Start an ingest job; 403 for a path outside FOLDRAG_ALLOWED_ROOTS."""
    name, rag = state.collection(body.collection)
    roots = state.settings.server.allowed_roots
    folder = confine(body.path, roots)
    job = state.jobs.submit(name, rag, folder, within=tuple(roots))
    return JSONResponse(job.to_json(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})


@router.get("/v1/jobs/{job_id}")
async def job(job_id: str, state: ServerState = Depends(server)) -> dict:
    """Progress of an ingest job: files done/total, chunks, failures with reasons, the summary."""
    return state.job(job_id).to_json()
