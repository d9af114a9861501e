"""POST /v1/query (answer, optionally streamed as SSE) and POST /v1/retrieve (ranked chunks, no LLM)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sse_starlette.sse import EventSourceResponse

from fastapi.concurrency import run_in_threadpool

from foldrag.api.answers import collect, query_sse
from foldrag.api.auth import owner_of
from foldrag.api.keeping import kept
from foldrag.api.routes import server
from foldrag.api.schemas import QueryRequest, RetrieveRequest
from foldrag.api.state import ServerState
from foldrag.api.streaming import run_events

router = APIRouter(tags=["query"])


@router.post("/v1/query")
async def query(body: QueryRequest, request: Request, state: ServerState = Depends(server)):
    """Answer a question with citations; ``stream: true`` for Server-Sent Events; ``conversation``
    keeps the question and its answer there."""
    name, rag, question = await state.prepare(body.collections or body.collection, body.question, mode=body.mode, k=body.k,
                                              history=[t.model_dump() for t in body.history])
    events = run_events(lambda: rag.answerer().stream(question), state.gate.admit(), state.metrics,
                        None if body.stream else request)
    if body.conversation:
        who = owner_of(request.headers.get("authorization"))
        await run_in_threadpool(state.conversations.add, who, body.conversation, "user", question.text)
        events = kept(events, state.conversations, who, body.conversation, name)
    if body.stream:
        return EventSourceResponse(query_sse(events, name))
    answer, _ = await collect(events)
    return dict(answer.to_json(), collection=name)


@router.post("/v1/retrieve")
async def retrieve(body: RetrieveRequest, state: ServerState = Depends(server)):
    """Ranked chunks with the retrieval trace; no answer generation."""
    name, result = await state.retrieve(body.collection, body.query, k=body.k, mode=body.mode)
    return {"collection": name, "hits": [h.to_json() for h in result.hits], "trace": result.trace.to_json()}
