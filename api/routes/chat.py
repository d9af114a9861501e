"""OpenAI-compatible POST /v1/chat/completions and GET /v1/models: a collection is a model."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sse_starlette.sse import EventSourceResponse

from foldrag.api.answers import collect, completion, completion_chunks, split_messages
from foldrag.api.routes import server
from foldrag.api.schemas import ChatCompletionRequest
from foldrag.api.state import ServerState
from foldrag.api.streaming import run_events

router = APIRouter(tags=["openai"])


@router.get("/v1/models")
async def models(state: ServerState = Depends(server)) -> dict:
    """The collections, as OpenAI models."""
    return {"object": "list",
            "data": [{"id": name, "object": "model", "created": 0, "owned_by": "foldrag"} for name in state.collections]}


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request, state: ServerState = Depends(server)):
    """Answer the last user message from the collection named by ``model``, with citations."""
    text, history = split_messages(body.messages)
    name, rag, question = await state.prepare(body.model, text, history=history)
    events = run_events(lambda: rag.answerer().stream(question), state.gate.admit(), state.metrics,
                        None if body.stream else request)
    if body.stream:
        return EventSourceResponse(completion_chunks(events, name))
    answer, sources = await collect(events)
    return completion(answer, sources, name)
