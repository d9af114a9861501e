"""Answer events as HTTP payloads: foldrag's own JSON and SSE, and OpenAI's chat completion shapes."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from foldrag.api.errors import INTERNAL, error_body
from foldrag.api.openai_citations import Renumbering
from foldrag.answering.events import (
    Answer, AnswerEvent, DoneEvent, EvidenceEvent, QueriesEvent, ReasoningEvent, SourcesEvent, StatusEvent,
    TokenEvent,
)
from foldrag.core.errors import FoldragError, InvalidInput
from foldrag.generation.citations import Citation

log = logging.getLogger("foldrag.api")


async def collect(events: AsyncIterator[AnswerEvent]) -> tuple[Answer, tuple[Citation, ...]]:
    """The answer and the numbered sources of its prompt."""
    answer, sources = None, ()
    async for event in events:
        if isinstance(event, SourcesEvent):
            sources = event.citations
        elif isinstance(event, DoneEvent):
            answer = event.answer
    if answer is None:  # the client left before the end
        raise InvalidInput("the request was cancelled")
    return answer, sources


def _event_data(event: AnswerEvent) -> Any:
    match event:
        case StatusEvent(stage=stage):
            return {"stage": stage}
        case QueriesEvent(queries=queries):
            return {"queries": list(queries)}
        case EvidenceEvent(evidence=evidence):
            return {"evidence": [e.to_json() for e in evidence]}
        case SourcesEvent(citations=citations):
            return {"sources": [c.to_json() for c in citations]}
        case TokenEvent(text=text) | ReasoningEvent(text=text):
            return {"text": text}
        case DoneEvent(answer=answer):
            return answer.to_json()
    raise TypeError(f"not an answer event: {event!r}")


async def query_sse(events: AsyncIterator[AnswerEvent], collection: str) -> AsyncIterator[dict]:
    """SSE events for POST /v1/query: status, queries, evidence, sources, status, token (many), done; or
    error.
    ``done`` carries the final answer, which replaces the streamed text when they differ (an
    extractive fallback, inferred citation markers, a loop cut short)."""
    try:
        async for event in events:
            data = _event_data(event)
            if isinstance(event, DoneEvent):
                data["collection"] = collection
            yield {"event": event.kind, "data": json.dumps(data, ensure_ascii=False)}
    except Exception as exc:
        yield {"event": "error", "data": stream_error(exc)}


# --- OpenAI chat completions -------------------------------------------------------------------

def split_messages(messages) -> tuple[str, list[dict[str, str]]]:
    """The last user message is the question; earlier user/assistant messages are the history.
    System messages are not passed on: foldrag's grounded prompt is the system prompt."""
    if messages[-1].role != "user" or not messages[-1].text().strip():
        raise InvalidInput("the last message must be a non-empty 'user' message")
    history = [{"role": m.role, "content": m.text()} for m in messages[:-1]
               if m.role in ("user", "assistant") and m.text().strip()]
    return messages[-1].text(), history


def _citation_fields(sources: tuple[Citation, ...], answer: Answer, numbers: Renumbering) -> dict[str, Any]:
    """``citations``: one label per distinct cited source, ``[k]`` in the text being the k-th;
    ``search_results``: every source of the prompt, ``cited`` when the text the client got cites it,
    with the ``citation`` number it has there."""
    return {
        "citations": list(numbers.labels),
        "search_results": [dict(c.to_json(), cited=numbers.number_of(c) is not None, citation=numbers.number_of(c))
                           for c in sources],
        "citation_method": answer.citation_method,
    }


def completion(answer: Answer, sources: tuple[Citation, ...], model: str) -> dict[str, Any]:
    numbers = Renumbering(sources)
    message: dict[str, Any] = {"role": "assistant", "content": numbers.feed(answer.answer) + numbers.flush()}
    if answer.reasoning:
        message["reasoning_content"] = answer.reasoning
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
                  "total_tokens": answer.prompt_tokens + answer.completion_tokens},
        **_citation_fields(sources, answer, numbers),
        "foldrag": {"evidence": [e.to_json() for e in answer.evidence]},
    }


async def completion_chunks(events: AsyncIterator[AnswerEvent], model: str) -> AsyncIterator[dict]:
    """``chat.completion.chunk`` SSE data, then ``[DONE]``; the last chunk carries the citations.

    The first chunk with content is sent as soon as the evidence is found: its delta is empty and a
    ``foldrag`` field carries ``{"evidence": [...]}`` (clients that do not know it see nothing new).
    Streamed text cannot be taken back: when the final answer replaced it (the evidence or the
    extractive floor), the replacement follows as one more piece of content, after a blank line."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model}

    def chunk(delta: dict, finish: str | None = None, **extra) -> dict:
        body = dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish}], **extra)
        return {"data": json.dumps(body, ensure_ascii=False)}

    sources: tuple[Citation, ...] = ()
    numbers = Renumbering(())
    sent = ""
    try:
        yield chunk({"role": "assistant", "content": ""})
        async for event in events:
            if isinstance(event, EvidenceEvent):
                yield chunk({"content": ""}, foldrag={"evidence": [e.to_json() for e in event.evidence]})
            elif isinstance(event, SourcesEvent):
                sources = event.citations
                numbers = Renumbering(sources)
            elif isinstance(event, TokenEvent):
                sent += event.text
                if text := numbers.feed(event.text):
                    yield chunk({"content": text})
            elif isinstance(event, ReasoningEvent):
                yield chunk({"reasoning_content": event.text})
            elif isinstance(event, DoneEvent):
                answer = event.answer
                extra = numbers.flush()
                if answer.citation_method in ("evidence", "extractive") and answer.answer not in sent:
                    extra += ("\n\n" if sent else "") + numbers.feed(answer.answer) + numbers.flush()
                if extra:
                    yield chunk({"content": extra})
                yield chunk({}, "stop", **_citation_fields(sources, answer, numbers))
    except Exception as exc:
        yield {"data": stream_error(exc)}
    yield {"data": "[DONE]"}


def stream_error(exc: Exception) -> str:
    """An error in the middle of a stream, as the one error body (JSON): a FoldragError with its kind
    and message; a bug logged here and reported without its text (it may hold data)."""
    if isinstance(exc, FoldragError):
        return json.dumps(error_body(exc.kind, str(exc)), ensure_ascii=False)
    log.error("unexpected error in an answer stream", exc_info=exc)
    return json.dumps(error_body("internal", INTERNAL), ensure_ascii=False)
