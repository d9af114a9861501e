"""foldrag as a Model Context Protocol server (the official ``mcp`` SDK): tools an agent calls to
search the user's documents and cite them itself, or to get foldrag's own cited answer.

One server over both transports: ``foldrag mcp`` runs it on stdio (what desktop apps launch) and
``foldrag serve`` mounts it at ``/mcp`` (streamable HTTP), where the server's guard has already
checked the Host, the Origin and the key, and put the collections the key reaches in the request's
scope; a stdio server reaches every collection it serves.

Tools: ``search``, ``ask``, ``list_collections``, ``get_passage``, ``get_document``; resources:
each collection's documents as ``foldrag://COLLECTION/PATH`` (listed and read; read-only).
Failures are the tool's error text in one line, ``kind: message`` (the error table's kind):
foldrag's own errors, and arguments the schema refuses as ``invalid_input: <field>: <reason>``;
a crash is the SDK's bare "Error executing tool" — never exception text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import aclosing, asynccontextmanager, contextmanager
from typing import Annotated, Any, Literal
from urllib.parse import quote, unquote

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError, UnexpectedToolError
from mcp_types import ListResourcesResult, Resource, ToolAnnotations
from pydantic import Field, ValidationError

from foldrag.answering.events import DoneEvent, EvidenceEvent, SourcesEvent, StatusEvent, TokenEvent
from foldrag.api.mcp_schemas import (
    AskResult, CitationOut, CollectionOut, Collections, DocumentOut, EvidenceOut, PageText, PassageOut,
    PassageWithContext,
    SearchResult, Turn,
)
from foldrag.api.schemas import text_problem
from foldrag.api.state import ServerState
from foldrag.api.streaming import run_events
from foldrag.core.errors import FoldragError, InvalidInput, NotFound

SCHEME = "foldrag"
READY_WAIT_S = 600.0  # a tool called while the models load waits for them (stdio starts loading at once)
MAX_DOCUMENT_CHARS = 100_000
INSTRUCTIONS = (
    "foldrag searches the user's own documents (PDF, Word, HWP, slides, sheets, notes; Korean and English) on "
    "this machine. Use `search` to find passages and cite them by source and page; `get_passage` and "
    "`get_document` read more around a passage; `ask` returns foldrag's own answer written by a small local "
    "model, with numbered citations. 사용자의 문서(한국어·영어)를 검색합니다: 질문은 어느 언어로든 됩니다."
)

Query = Annotated[str, Field(min_length=1, max_length=4000, description="What to look for, in Korean or English.")]
CollectionName = Annotated[str | None, Field(max_length=64,
                                             description="A collection from list_collections; default: the first.")]
OneName = Annotated[str, Field(min_length=1, max_length=64)]
CollectionNames = Annotated[OneName | list[OneName] | None, Field(
    description="A collection from list_collections, or a list of them to search as one; default: the first.")]


StateFor = Callable[[Any], ServerState]  # the request (None on stdio) → the state as its key sees it


@contextmanager
def _as_tool_errors():
    """foldrag's errors as the tool's error text, ``kind: message`` (no traceback, no other text)."""
    try:
        yield
    except FoldragError as exc:
        raise ToolError(f"{exc.kind}: {exc}") from None


class _Server(MCPServer):
    """The SDK's server with every tool failure as one line, ``kind: message``: argument errors as
    ``invalid_input: <field>: <reason>`` (not the validator's text with the value and a link), no
    "Error executing tool" before foldrag's own."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None):
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise  # a crash: the SDK logs it and answers without its text
        except ToolError as exc:
            raise ToolError(_one_line(name, exc)) from exc.__cause__


def _one_line(tool: str, exc: ToolError) -> str:
    if isinstance(exc.__cause__, ValidationError):
        error = exc.__cause__.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "arguments"
        return f"invalid_input: {field}: {error['msg']}"
    return " ".join(str(exc).removeprefix(f"Error executing tool {tool}: ").split())


def _check_text(**values: Any) -> None:
    for name, value in values.items():
        problem = text_problem(value)
        if problem:
            raise InvalidInput(f"{name} {problem}")


def _passage(n: int, chunk, score: float, collection: str) -> PassageOut:
    return PassageOut(n=n, chunk_id=chunk.id, text=chunk.text, source=chunk.source, page=chunk.page,
                      pages=list(chunk.pages()),
                      heading=chunk.heading, score=round(float(score), 6), collection=collection)


def _request(ctx: Context | None):
    try:
        return ctx.request_context.request if ctx is not None else None
    except ValueError:
        return None


async def _ready(state: ServerState, ctx: Context) -> None:
    if not state.ready.is_set() and state.load_error is None:
        await ctx.report_progress(0, None, "loading the models")
        await anyio.to_thread.run_sync(state.ready.wait, READY_WAIT_S)
    state.require_ready()


def build_mcp(state_for: StateFor) -> MCPServer:
    """The MCP server over the collections ``state_for(request)`` gives each request."""

    async def list_documents(ctx, call_next):
        if ctx.method != "resources/list":
            return await call_next(ctx)
        state = state_for(ctx.request)
        resources = []
        for name, rag in state.collections.items():
            docs = await anyio.to_thread.run_sync(rag.documents)
            resources += [Resource(uri=f"{SCHEME}://{quote(name)}/{quote(d.source)}", name=d.source,
                                   title=f"{d.source} ({name})", mime_type="text/plain") for d in docs]
        return ListResourcesResult(resources=resources)

    # log_level: the SDK configures the root logger (if nothing has); WARNING keeps what a foldrag
    # process printed before (warnings and errors on stderr) — never on stdout, stdio's channel
    mcp = _Server(name="foldrag", title="foldrag: your documents", instructions=INSTRUCTIONS, version="0.1.0",
                  middleware=[list_documents], log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @mcp.tool(annotations=read_only, description=(
        "Search the user's documents and return the best passages with their source, page and score, best "
        "first. Ask in Korean or English: e.g. 'How does GPU offload place layers?' or '병가는 며칠인가요?'. "
        "Cite what you use by source and page. mode: auto (default: keywords + meaning, weighed as measured for "
        "the question's language), hybrid, dense, bm25."))
    async def search(query: Query, ctx: Context, collection: CollectionNames = None,
                     k: Annotated[int, Field(ge=1, le=50, description="How many passages.")] = 5,
                     mode: Literal["auto", "hybrid", "dense", "bm25"] | None = None) -> SearchResult:
        with _as_tool_errors():
            _check_text(query=query)
            state = state_for(_request(ctx))
            await _ready(state, ctx)
            started = time.perf_counter()  # no progress: a search takes milliseconds
            name, result = await state.retrieve(collection, query, k=k, mode=mode or "auto")
            seconds = time.perf_counter() - started
        return SearchResult(query=query, mode=result.trace.mode, seconds=round(seconds, 6),
                            passages=[_passage(n, h.chunk, h.score, h.collection or name)
                                      for n, h in enumerate(result.hits, start=1)])

    @mcp.tool(annotations=read_only, description=(
        "foldrag's own answer to a question, written by the local model from the user's documents, with "
        "numbered citations [n] (each with its source, page and passage). Slower than search (seconds to a "
        "minute on a laptop); progress is reported. e.g. 'What did we decide about GPU offload?' or "
        "'형태소 분석기는 무엇을 하나요?'. history: earlier turns, oldest first, for a follow-up question."))
    async def ask(question: Query, ctx: Context, collection: CollectionNames = None,
                  history: Annotated[list[Turn] | None, Field(max_length=50, description="Earlier turns.")] = None
                  ) -> AskResult:
        history = history or []
        with _as_tool_errors():
            _check_text(question=question, history=[t.content for t in history])
            state = state_for(_request(ctx))
            await _ready(state, ctx)
            name, rag, prepared = await state.prepare(collection, question,
                                                      history=[t.model_dump() for t in history])
            answer, hits, tokens, step = None, (), 0, 0
            events = run_events(lambda: rag.answerer().stream(prepared), state.gate.admit(), state.metrics)
            async with aclosing(events):  # a cancelled call closes the stream: the model stops
                async for event in events:
                    if isinstance(event, StatusEvent):
                        step += 1
                        await ctx.report_progress(step, None, event.stage)
                    elif isinstance(event, TokenEvent):
                        tokens += 1
                        if tokens % 16 == 1:
                            await ctx.report_progress(step + tokens / 1000, None, f"generating: {tokens} pieces")
                    elif isinstance(event, EvidenceEvent) and event.evidence:
                        step += 1
                        await ctx.report_progress(step, None, f"evidence: {event.evidence[0].text[:300]}")
                    elif isinstance(event, SourcesEvent):
                        hits = event.hits
                    elif isinstance(event, DoneEvent):
                        answer = event.answer
        if answer is None:
            raise ToolError("internal: the answer ended without a result")
        return AskResult(answer=answer.answer, collection=name, model=answer.model,
                         evidence=[EvidenceOut(n=e.n, chunk_id=e.chunk_id, source=e.source, page=e.page, text=e.text,
                                               score=round(e.score, 4)) for e in answer.evidence],
                         citation_method=answer.citation_method,
                         timings={k: round(v, 4) for k, v in answer.timings.items()},
                         citations=[_citation(c, hits) for c in answer.citations])

    @mcp.tool(annotations=read_only, description=(
        "The document collections this server searches, with their sizes (검색할 수 있는 문서 모음)."))
    async def list_collections(ctx: Context) -> Collections:
        with _as_tool_errors():
            state = state_for(_request(ctx))
            described = [await anyio.to_thread.run_sync(rag.describe, name) for name, rag in state.collections.items()]
        return Collections(collections=[CollectionOut(name=d["name"], documents=d.get("documents", 0),
                                                      chunks=d.get("chunks", 0), embedder=d.get("embedder", ""),
                                                      resource_prefix=f"{SCHEME}://{quote(d['name'])}/")
                                        for d in described])

    @mcp.tool(annotations=read_only, description=(
        "A passage (by the chunk_id that search or ask returned) with the passages around it in its document, "
        "to read more context before citing it (인용하기 전에 앞뒤 문맥 읽기)."))
    async def get_passage(chunk_id: Annotated[str, Field(min_length=1, max_length=128)], ctx: Context,
                          collection: CollectionName = None,
                          context: Annotated[int, Field(ge=0, le=5, description="Passages on each side.")] = 1
                          ) -> PassageWithContext:
        with _as_tool_errors():
            _check_text(chunk_id=chunk_id)
            state = state_for(_request(ctx))
            name, rag = state.collection(collection)
            return await anyio.to_thread.run_sync(_with_neighbours, rag, name, chunk_id, context)

    @mcp.tool(annotations=read_only, description=(
        "A document's text as foldrag indexed it, by page or section (source: its path as search returned it, "
        "e.g. 'gpu-offload.pdf' or '휴가규정.hwpx'). Long documents are cut at max_chars; pass page to read one page."))
    async def get_document(source: Annotated[str, Field(min_length=1, max_length=4096)], ctx: Context,
                           collection: CollectionName = None,
                           page: Annotated[int | None, Field(ge=1, description="Only this page.")] = None,
                           max_chars: Annotated[int, Field(ge=100, le=MAX_DOCUMENT_CHARS)] = 20_000) -> DocumentOut:
        with _as_tool_errors():
            _check_text(source=source)
            state = state_for(_request(ctx))
            name, rag = state.collection(collection)
            return await anyio.to_thread.run_sync(_document, rag, name, source, page, max_chars)

    @mcp.resource(f"{SCHEME}://{{collection}}/{{+path}}", name="document", mime_type="text/plain",
                  description="A document's text as indexed, from one collection (read-only).")
    async def document(collection: str, path: str, ctx: Context) -> str:
        state = state_for(_request(ctx))
        try:
            name, rag = state.collection(unquote(collection))
            doc = await anyio.to_thread.run_sync(_document, rag, name, unquote(path), None, MAX_DOCUMENT_CHARS)
        except NotFound as exc:
            raise ResourceNotFoundError(f"{exc.kind}: {exc}") from None
        except FoldragError as exc:
            raise ResourceError(f"{exc.kind}: {exc}") from None
        return "\n\n".join(p.text for p in doc.pages)

    return mcp


def _citation(c, hits) -> CitationOut:
    text = hits[c.n - 1].chunk.text if 0 < c.n <= len(hits) else c.snippet
    support = text[c.support[0]:c.support[1]] if c.support and text is not c.snippet else None
    return CitationOut(n=c.n, chunk_id=c.chunk_id, source=c.source, page=c.page, text=text, support=support)


def _doc_id(rag, source: str) -> str:
    match = next((d for d in rag.documents() if d.source == source), None)
    if match is None:
        raise NotFound(f"no document {source!r} in this collection")
    return match.id


def _with_neighbours(rag, name: str, chunk_id: str, context: int) -> PassageWithContext:
    found = rag.passage(chunk_id)
    text = rag.document_text(found.source.document.id)
    order = [c["id"] for c in text["chunks"]]
    at = order.index(chunk_id) if chunk_id in order else -1

    def out(ids: list[str]) -> list[PassageOut]:
        return [_passage(0, rag.passage(i).chunk, 0.0, name) for i in ids]

    return PassageWithContext(passage=_passage(1, found.chunk, 0.0, name),
                              before=out(order[max(0, at - context):at]) if at >= 0 else [],
                              after=out(order[at + 1:at + 1 + context]) if at >= 0 else [])


def _page_ranges(rag, placed: list[dict], page: int) -> list[tuple[int, int, int]]:
    """(section, start, end) of a page's text in the document's sections: the sentences whose boxes
    lie on the page (a section can be a run of PDF pages, a chunk can cross a page break); for a
    document without boxes (a slide, a sheet, an index from before locations), its chunks that start
    on the page."""
    ranges = []
    for item in placed:
        for span in rag.passage(item["id"]).chunk.spans:
            if any(b.page == page for b in span.boxes):
                ranges.append((item["section"], item["start"] + span.start, item["start"] + span.end))
    return ranges or [(c["section"], c["start"], c["end"]) for c in placed if c["page"] == page]


def _document(rag, name: str, source: str, page: int | None, max_chars: int) -> DocumentOut:
    text = rag.document_text(_doc_id(rag, source))
    sections = text["sections"]
    if page is not None:
        ranges = _page_ranges(rag, text["chunks"], page)
        if not ranges:
            raise NotFound(f"{source} has no page {page} (or no text on it)")
        first = ranges[0][0]
        within = [r for r in ranges if r[0] == first]
        body = sections[first]["text"][min(r[1] for r in within):max(r[2] for r in within)]
        sections = [{"page": page, "text": body}]
    pages, left, truncated = [], max_chars, False
    for section in sections:
        body = section["text"]
        if len(body) > left:
            body, truncated = body[:left], True
        pages.append(PageText(page=section["page"], text=body))
        left -= len(body)
        if left <= 0:
            truncated = truncated or section is not sections[-1]
            break
    return DocumentOut(collection=name, source=source, pages=pages, truncated=truncated)


@asynccontextmanager
async def http_session(mcp: MCPServer):
    """A fresh streamable-HTTP session manager for ``mcp``, running while the app runs (each start of
    the app gets its own: a manager runs once). Host and Origin are the app's guard's to check."""
    from mcp.server.transport_security import TransportSecuritySettings

    mcp.streamable_http_app(streamable_http_path="/", host="",
                            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
    async with mcp.session_manager.run():
        yield


class HttpEndpoint:
    """The ASGI endpoint of ``/mcp``: the current session manager handles the request."""

    def __init__(self, mcp: MCPServer) -> None:
        self.mcp = mcp

    async def __call__(self, scope, receive, send) -> None:
        await self.mcp.session_manager.handle_request(scope, receive, send)


def stdio_state(settings, indexes) -> ServerState:
    """The state a stdio server runs over: the collections of ``foldrag serve`` (``server.collections``
    or the ``--index`` folders), their models loading in a thread from the start."""
    import threading

    from foldrag.api.added_collections import AddedCollections
    from foldrag.build import CollectionBuilder, collection_paths
    from foldrag.core.settings import default_data_path

    builder = CollectionBuilder(settings)
    rags = {name: builder.make(path) for name, path in collection_paths(settings, indexes).items()}
    state = ServerState(settings, rags, builder=builder,
                        added=AddedCollections(settings.server.collections_dir or default_data_path() / "collections"))
    threading.Thread(target=state.load_models, name="foldrag-load", daemon=True).start()
    return state


def serve_stdio(settings, indexes) -> None:
    """``foldrag mcp``: the MCP server on stdin/stdout until the client closes it."""
    state = stdio_state(settings, indexes)
    try:
        anyio.run(build_mcp(lambda request: state).run_stdio_async)
    finally:
        state.close()
