"""Run a blocking answer stream (the model) from async code: one event at a time in a worker thread,
after waiting for a generation slot; a client that leaves closes the stream, which stops the model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import anyio
from starlette.requests import Request

from foldrag.api.gate import Permit
from foldrag.api.metrics import Metrics
from foldrag.answering.events import AnswerEvent, DoneEvent

_END = object()


async def run_events(start: Callable[[], Iterator[AnswerEvent]], permit: Permit, metrics: Metrics,
                     request: Request | None = None) -> AsyncIterator[AnswerEvent]:
    """Yield the events of ``start()``. With ``request``, a disconnected client ends the stream early
    (non-streaming responses need this; for SSE the response itself cancels on disconnect)."""
    iterator = None
    finished = False
    try:
        await permit.start()
        iterator = await anyio.to_thread.run_sync(start)
        while True:
            event = await anyio.to_thread.run_sync(next, iterator, _END)
            if event is _END:
                finished = True
                return
            if isinstance(event, DoneEvent):
                metrics.observe_answer(event.answer.timings, event.answer.completion_tokens)
            yield event
            if request is not None and await request.is_disconnected():
                return
    except Exception:
        finished = True  # an error is reported to the client, not counted as a cancellation
        raise
    finally:
        with anyio.CancelScope(shield=True):
            if iterator is not None:
                if not finished:
                    metrics.cancelled.inc()
                await anyio.to_thread.run_sync(iterator.close)
            permit.release()
