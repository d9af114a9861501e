"""An answer stream that keeps its question and answer in a conversation as it passes: the answer
as the client got it when it ends, what was written so far when the client stops it ("stopped"),
or the error's kind when it fails ("failed")."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio

from foldrag.api.conversations import Conversations
from foldrag.answering.events import AnswerEvent, DoneEvent, SourcesEvent, TokenEvent
from foldrag.core.errors import FoldragError


async def kept(events: AsyncIterator[AnswerEvent], conversations: Conversations, owner: str, cid: str,
               collection: str) -> AsyncIterator[AnswerEvent]:
    sources: list[dict] = []
    text, status, answer = "", "stopped", None
    try:
        async for event in events:
            if isinstance(event, SourcesEvent):
                sources = [c.to_json() for c in event.citations]
            elif isinstance(event, TokenEvent):
                text += event.text
            elif isinstance(event, DoneEvent):
                answer, status = event.answer, "done"
            yield event
    except Exception as exc:  # a FoldragError's message is for the user; a bug's text stays in the log
        status = "failed"
        text = text or (str(exc) if isinstance(exc, FoldragError) else "")
        raise
    finally:
        body = dict(answer.to_json(), sources=sources, collection=collection) if answer is not None else \
            {"answer": text, "citations": [], "sources": sources, "collection": collection}
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: conversations.add(
                owner, cid, "assistant", body["answer"], body, status))
