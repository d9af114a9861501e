"""What the routes share: collections, the generation gate, ingest jobs, metrics, readiness."""

from __future__ import annotations

import copy
import logging
import shutil
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

from fastapi.concurrency import run_in_threadpool

from foldrag.across_collections import AcrossCollections
from foldrag.answering.question import Question
from foldrag.api.added_collections import AddedCollections, check_name
from foldrag.api.conversations import Conversations
from foldrag.api.gate import GenerationGate
from foldrag.api.jobs import JobRunner
from foldrag.api.metrics import Metrics
from foldrag.build import CollectionBuilder, concurrent_generations
from foldrag.core.errors import FoldragError, Forbidden, IndexBusy, InvalidInput, NotFound, NotReady, TooLarge
from foldrag.core.settings import Settings, default_conversations_path
from foldrag.retrieval.hybrid import Retrieval, fusion_of
from foldrag.service import Foldrag

log = logging.getLogger("foldrag.api")


class ServerState:
    def __init__(self, settings: Settings, collections: dict[str, Foldrag], job_records: Path | None = None, *,
                 builder: CollectionBuilder | None = None, added: AddedCollections) -> None:
        if not collections:
            raise InvalidInput("the server needs at least one collection")
        unknown = sorted(set(settings.server.collection_keys) - set(collections))
        if unknown:
            raise InvalidInput(f"server.collection_keys names {', '.join(map(repr, unknown))}, not served here "
                               f"(served: {', '.join(collections)})")
        self.settings = settings
        self.collections = collections
        self.gate = GenerationGate(concurrent_generations(settings), settings.server.max_queued_generations)
        self.jobs = JobRunner(job_records)
        self.metrics = Metrics()
        self.conversations = Conversations(settings.server.conversations or default_conversations_path())
        self.builder = builder
        self.added = added  # the collections made over HTTP (create_app reads them to serve them)
        self._changing = threading.Lock()  # one collection made or deleted at a time
        self.ready = threading.Event()
        self.load_error: str | None = None

    def within(self, names: Collection[str]) -> "ServerState":
        """This state with only the collections ``names`` (those a request's key reaches); the
        gate, jobs, metrics and readiness stay shared. Raises NotFound when none of them is served."""
        view = copy.copy(self)
        view.collections = {name: rag for name, rag in self.collections.items() if name in names}
        if not view.collections:
            raise NotFound("this key's collections are not served here")
        return view

    def removable(self, name: str) -> bool:
        """Whether ``name`` was made in the web app (so it may be deleted there): listed as made, and
        served from the index folder made for it (a configured collection of that name wins)."""
        rag = self.collections.get(name)
        return rag is not None and name in self.added.load() and rag.index_path == self.added.index_of(name)

    def create_collection(self, name: str, folder: Path):
        """A new collection ``name`` over ``folder`` (already confined to the allowed roots), its
        index in ``server.collections_dir``, and the job that ingests it. Raises InvalidInput for a
        bad or taken name, Forbidden when this server cannot make collections."""
        if self.builder is None:
            raise Forbidden("this server was given its collections and cannot make new ones")
        name = check_name(name)
        with self._changing:
            if name in self.collections:
                raise InvalidInput(f"there is already a collection named {name!r}")
            index = self.added.index_of(name)
            if index.exists():
                raise InvalidInput(f"{index} exists already; choose another name")
            rag = self.builder.make(index)
            self.added.add(name)
            self.collections[name] = rag
        return self.jobs.submit(name, rag, folder, within=tuple(self.settings.server.allowed_roots))

    def delete_collection(self, name: str) -> None:
        """Remove a collection made in the web app, with its index folder (its uploads too)."""
        with self._changing:
            _, rag = self.collection(name)
            if not self.removable(name):
                raise Forbidden(f"{name!r} is served from the settings or the command line; remove it there")
            if self.jobs.active(name):
                raise IndexBusy(f"an ingest job of {name!r} is still queued or running; delete it when it ends")
            rag.check_writable()  # an upload or another process still writing it: IndexBusy
            del self.collections[name]
            self.added.remove(name)
            rag.close()
            shutil.rmtree(rag.index_path, ignore_errors=True)

    def job(self, job_id: str):
        """An ingest job of one of these collections (NotFound otherwise)."""
        job = self.jobs.get(job_id)
        if job.collection not in self.collections:
            raise NotFound(f"no job with id {job_id!r}")
        return job

    @property
    def default_collection(self) -> str:
        return next(iter(self.collections))

    def collection(self, name: str | None) -> tuple[str, Foldrag]:
        name = name or self.default_collection
        rag = self.collections.get(name)
        if rag is None:
            raise NotFound(f"unknown collection {name!r}; served: {', '.join(self.collections)}")
        return name, rag

    def require_ready(self) -> None:
        if self.load_error is not None:
            raise NotReady(f"models failed to load: {self.load_error}")
        if not self.ready.is_set():
            raise NotReady("the server is still loading its models; retry shortly (GET /readyz tells when)")

    async def prepare(self, collection: str | Sequence[str] | None, text: str, *, mode: str | None = None,
                      k: int | None = None, history=(), answering: bool = True,
                      what: str = "question") -> tuple[str, Foldrag, Question]:
        """Every check that can fail fast, before the request takes a place in the generation queue:
        the collection, readiness, the server's length limit (413), then the collection's own checks
        (``Foldrag.prepare``), and for an answer a model to write it (ModelUnavailable). Several
        collections: asked of all (``AcrossCollections``); the name is theirs joined by commas."""
        names = [collection] if collection is None or isinstance(collection, str) else list(dict.fromkeys(collection))
        picked = [self.collection(name) for name in names or [None]]
        self.require_ready()
        limit = self.settings.server.max_question_chars
        if len(text) > limit:
            raise TooLarge(f"the {what} has {len(text)} characters; the limit is {limit}")

        asked = AcrossCollections(dict(picked), fusion_of(self.settings.retrieval.fusion))

        def check() -> Question:
            question = asked.prepare(text, mode=mode, k=k, history=history, what=what)
            if answering:
                asked.answerer()  # built once (the reranker with it, when configured): off the event loop
            return question

        question = await run_in_threadpool(check)
        return asked.name, asked.first(), question

    async def retrieve(self, collection: str | Sequence[str] | None, query: str, *, k: int | None, mode: str) -> tuple[str, Retrieval]:
        """Retrieval in a worker thread; 'multi' uses the LLM, so it waits for a generation slot."""
        name, rag, question = await self.prepare(collection, query, mode=mode, k=k, answering=False, what="query")
        if question.mode != "multi":
            return name, await run_in_threadpool(rag.retrieve, question)
        permit = self.gate.admit()
        try:
            await permit.start()
            return name, await run_in_threadpool(rag.retrieve, question)
        finally:
            permit.release()

    def load_models(self) -> None:
        """Load the shared embedder (warmed up) and generator; run in a thread at start-up."""
        try:
            rag = next(iter(self.collections.values()))
            rag.load_embedder().embed(["warm up"], query=True)
            for name, collection in self.collections.items():
                try:
                    collection.warm_up()
                except FoldragError as exc:  # that collection's searches say so; the others serve
                    log.warning("collection %s not warmed up: %s", name, exc)
            rag.load_generator()  # None when generation.model is 'none'

            self.ready.set()
            log.info("models loaded; ready")
        except FoldragError as exc:
            self.load_error = str(exc)
            log.error("models failed to load: %s", exc)
        except Exception as exc:  # surfaced on /readyz rather than lost in a thread
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("models failed to load")

    def cache_stats(self) -> dict[str, float]:
        """The shared answering model's attention-cache figures, once the models are loaded."""
        if not self.ready.is_set() or not self.collections:
            return {}
        generator = next(iter(self.collections.values())).load_generator()
        return generator.cache_stats() if generator is not None else {}

    def close(self) -> None:
        self.jobs.shutdown()
        self.conversations.close()
        for rag in self.collections.values():
            rag.close()
