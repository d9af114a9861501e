"""Conversations of the web app, each owned by the key that made it: list, make, read, rename, delete.
Messages are added by POST /v1/query when it names the conversation."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from foldrag.api.auth import owner_of
from foldrag.api.routes import server
from foldrag.api.schemas import ConversationCreate, ConversationRename
from foldrag.api.state import ServerState

router = APIRouter(tags=["conversations"])


def owner(request: Request) -> str:
    return owner_of(request.headers.get("authorization"))


@router.get("/v1/conversations")
async def list_conversations(who: str = Depends(owner), state: ServerState = Depends(server)) -> dict:
    return {"conversations": await run_in_threadpool(state.conversations.list, who)}


@router.post("/v1/conversations", status_code=201)
async def create_conversation(body: ConversationCreate, who: str = Depends(owner),
                              state: ServerState = Depends(server)) -> dict:
    names = [state.collection(name)[0] for name in body.collections] or [state.default_collection]
    return await run_in_threadpool(state.conversations.create, who, body.title, names)


@router.get("/v1/conversations/{cid}")
async def get_conversation(cid: str, who: str = Depends(owner), state: ServerState = Depends(server)) -> dict:
    return await run_in_threadpool(state.conversations.get, who, cid)


@router.patch("/v1/conversations/{cid}")
async def rename_conversation(cid: str, body: ConversationRename, who: str = Depends(owner),
                              state: ServerState = Depends(server)) -> dict:
    return await run_in_threadpool(state.conversations.rename, who, cid, body.title)


@router.delete("/v1/conversations/{cid}")
async def delete_conversation(cid: str, who: str = Depends(owner), state: ServerState = Depends(server)) -> dict:
    await run_in_threadpool(state.conversations.delete, who, cid)
    return {"id": cid, "deleted": True}
