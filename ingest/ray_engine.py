"""The Ray ingest engine (``ingest.engine = "ray"``, ``foldrag ingest FOLDER --ray [ADDRESS]``).

Files are parsed and chunked in Ray tasks spread over the cluster; chunks are embedded by a pool of
Ray actors, each of which loads the embedder once (the driver's model and runtime, so every node
makes the same vectors; a GPU each when the cluster has GPUs). What comes back goes through the same
embedding cache and the same commit as the local engine, on the driver: the same chunk ids, manifest
and incremental rules. Files the plan found unchanged by stat are never sent; with
``ingest.ray_files = "ship"`` the driver reads each file and sends its bytes only when its content
changed, with ``"shared"`` the workers read the path themselves (a folder every node mounts alike).

A worker process or node that dies is retried ``ingest.ray_retries`` times (tasks run again, actors
restart and re-run the call); past that the ingest raises ``ClusterUnavailable`` before the commit,
so the last good index stays and a re-run finishes the job from the embedding cache.

Ray core (tasks, actors, ``ray.wait``) rather than Ray Data: the pipeline is two stages with a
driver-side cache between them, and Ray Data would add pyarrow/pandas and table conversion of
chunks for no gain here.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np
import ray
import ray.exceptions

from foldrag.indexes.embedding_cache import text_key
from foldrag.ingest.chunking import embedding_text, make_splitter
from foldrag.ingest.engine import Work, by_file
from foldrag.ingest.outcomes import Failed, Indexed, Outcome, Parsed
from foldrag.ingest.plan import FileTask
from foldrag.ingest.reading import parse_options, parse_task, read_and_parse, read_task, unchanged
from foldrag.core.errors import ClusterUnavailable, FoldragError, InvalidInput
from foldrag.core.settings import IngestSettings

log = logging.getLogger("foldrag.ingest.ray")

# Calls queued per embedding actor: one running, one waiting, so an actor never idles on the driver.
_CALLS_PER_ACTOR = 2
# A parse task takes files until it holds this many, or this many bytes.
FILES_PER_TASK = 16
BYTES_PER_TASK = 8 << 20


class RayEngine:
    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings

    @classmethod
    def create(cls, settings: IngestSettings) -> "RayEngine":
        return cls(settings)

    def process(self, tasks: Sequence[FileTask], work: Work) -> Iterator[Outcome]:
        recipe = work.embedder.recipe
        if recipe is None:
            raise InvalidInput("ingest.engine = 'ray' needs an embedder that Ray workers can load from its "
                               "settings (embedding.model), not one built in this process only")
        if not tasks:  # nothing changed by stat: the cluster is not even contacted
            return
        started = connect(self.settings.ray_address)
        try:
            yield from _Run(tasks, work, self.settings, recipe).outcomes()
        finally:
            if started:
                ray.shutdown()


def connect(address: str) -> bool:
    """Join the cluster at ``address`` ('' starts a private local one, or joins RAY_ADDRESS); True when
    this call connected (so the caller disconnects), False when this process already was."""
    if ray.is_initialized():
        return False
    where = address or os.environ.get("RAY_ADDRESS") or "a new local cluster"
    _check_reachable(address or os.environ.get("RAY_ADDRESS", ""), where)
    try:
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, configure_logging=False)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError… for a bad address
        log.warning("ray.init(address=%r) failed: %s", address, exc)  # Ray's own words: the log, not the error
        raise ClusterUnavailable(f"cannot reach the Ray cluster ({where}): ray.init failed "
                                 f"({type(exc).__name__}); the log above has Ray's reason") from exc
    return True


def _check_reachable(address: str, where: str, timeout: float = 5.0) -> None:
    """Fail in seconds when a HOST:PORT (or ray://HOST:PORT) address does not answer: Ray itself
    keeps retrying a dead address for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():  # '', 'auto', 'local': Ray finds or starts the cluster
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ClusterUnavailable(f"cannot reach the Ray cluster ({where}): "
                                 f"nothing answers at {host}:{port} ({exc.strerror or exc})") from exc


class _Run:
    """One ingest's work on the cluster: parse tasks in flight, embedding groups in flight, the
    driver-side cache between them."""

    def __init__(self, tasks: Sequence[FileTask], work: Work, settings: IngestSettings, recipe) -> None:
        self.todo = deque(tasks)
        self.work = work
        self.settings = settings
        self.limit = int(settings.max_file_mb * 1024 * 1024)
        resources = ray.cluster_resources()
        cpus, gpus = int(resources.get("CPU", 1)), int(resources.get("GPU", 0))
        per_actor = settings.ray_embedder_cpus
        fits = gpus if gpus else max(1, cpus // per_actor)
        count = settings.ray_embedders or fits
        if count > fits:
            log.warning("ingest.ray_embedders = %d but the cluster holds %d (%d CPUs, %d GPUs): using %d",
                        count, fits, cpus, gpus, fits)
            count = fits
        retries = settings.ray_retries
        actor = ray.remote(_EmbedWorker).options(
            num_cpus=0 if gpus else per_actor, num_gpus=1 if gpus else 0,
            max_restarts=retries, max_task_retries=retries, scheduling_strategy="SPREAD",
        )
        self.actors = [actor.remote(recipe, per_actor) for _ in range(count)]
        self.load = [0] * count
        # Parsing holds no reserved CPU (the embedders hold them): it shares the cores as the local
        # engine's parsing thread does. Files go in batches of up to FILES_PER_TASK (fewer tasks to
        # schedule and results to wait on); at most ``window`` batches are in flight.
        self.parse = ray.remote(_parse_remote).options(num_cpus=0, max_retries=retries, scheduling_strategy="SPREAD")
        self.window = max(2, cpus)
        self.shared = ray.put((recipe, settings.chunk_tokens, settings.chunk_overlap, work.keyword_tokenizer,
                               parse_options(settings), self.limit))
        log.info("Ray ingest: %d files over %d CPUs / %d GPUs, %d embedding actors", len(tasks), cpus, gpus, count)

    def outcomes(self) -> Iterator[Outcome]:
        parsing: dict = {}  # ObjectRef → the sources of the batch it parses
        embedding: dict = {}  # ObjectRef → (actor, files, keys, found, missing keys)
        pending: list[Parsed] = []
        try:
            while self.todo or parsing or embedding or pending:
                while self.todo and len(parsing) < self.window:
                    ref, sources, settled = self._submit_parse()
                    yield from settled
                    if ref is not None:
                        parsing[ref] = sources
                flush = not self.todo and not parsing
                while pending and min(self.load) < _CALLS_PER_ACTOR and (
                        flush or sum(len(p.chunks) for p in pending) >= self.settings.encode_group):
                    group, pending = self._take_group(pending)
                    ready = self._submit_embed(group, embedding)
                    if ready is not None:
                        yield from ready
                if not parsing and not embedding:
                    continue
                ref = ray.wait(list(parsing) + list(embedding), num_returns=1)[0][0]
                if ref in parsing:
                    sources = parsing.pop(ref)
                    more = f" and {len(sources) - 1} more files" if len(sources) > 1 else ""
                    for result in self._get(ref, f"parsing {sources[0]}{more}"):
                        if isinstance(result, Parsed):
                            pending.append(result)
                        else:
                            yield result
                else:
                    yield from self._finish_embed(ref, embedding.pop(ref))
        finally:
            for ref in parsing:  # force: a task interrupted mid-import would leave its worker
                ray.cancel(ref, force=True)  # process broken for the next task; killed, it is replaced
            for actor in self.actors:
                ray.kill(actor)

    def _submit_parse(self) -> tuple[object | None, list[str], list[Outcome]]:
        """Send the next batch of files to a parse task: (its ref or None, its sources, the outcomes
        settled here — files that cannot be read, or whose content did not change)."""
        batch: list[tuple[FileTask, bytes | None]] = []
        settled: list[Outcome] = []
        size = 0
        while self.todo and len(batch) < FILES_PER_TASK and size < BYTES_PER_TASK:
            task = self.todo.popleft()
            if self.settings.ray_files == "shared":
                batch.append((task, None))
                size += task.size
                continue
            data = read_task(task, self.limit)
            # unreadable, or touched with the same content: settled here, nothing sent
            done = data if isinstance(data, Failed) else unchanged(task, hashlib.sha256(data).hexdigest())
            if done is not None:
                settled.append(done)
                continue
            batch.append((task, data))
            size += len(data)
        if not batch:
            return None, [], settled
        return self.parse.remote(batch, self.shared), [t.source for t, _ in batch], settled

    def _take_group(self, pending: list[Parsed]) -> tuple[list[Parsed], list[Parsed]]:
        """Whole files from the front of ``pending`` up to ``encode_group`` chunks (at least one file)."""
        size, cut = 0, 0
        while cut < len(pending) and (cut == 0 or size + len(pending[cut].chunks) <= self.settings.encode_group):
            size += len(pending[cut].chunks)
            cut += 1
        return pending[:cut], pending[cut:]

    def _submit_embed(self, files: list[Parsed], embedding: dict):
        """Send the group's texts that are not in the cache to the least busy actor; the finished
        outcomes at once when every vector was cached."""
        work = self.work
        texts = [embedding_text(c, work.embed_headers) for p in files for c in p.chunks]
        keys = [text_key(work.embedder.name, t) for t in texts]
        found = work.cache.get_many(keys)
        missing = dict.fromkeys((k, t) for k, t in zip(keys, texts) if k not in found)
        if not missing:
            return self._indexed(files, keys, found, 0)
        actor = min(range(len(self.actors)), key=self.load.__getitem__)
        self.load[actor] += 1
        ref = self.actors[actor].embed.remote([t for _, t in missing])
        embedding[ref] = (actor, files, keys, found, [k for k, _ in missing])
        return None

    def _finish_embed(self, ref, entry) -> Iterator[Outcome]:
        actor, files, keys, found, missing = entry
        self.load[actor] -= 1
        vectors = self._get(ref, "embedding")
        fresh = dict(zip(missing, vectors))
        self.work.cache.put_many(fresh)  # committed at once: a later failure keeps this group
        found.update(fresh)
        yield from self._indexed(files, keys, found, len(missing))

    @staticmethod
    def _indexed(files: list[Parsed], keys: list[str], found: dict, fresh: int) -> list[Indexed]:
        return by_file(files, np.stack([found[k] for k in keys]), fresh)

    def _get(self, ref, doing: str):
        try:
            return ray.get(ref)
        except FoldragError:  # raised by foldrag on the worker (a model that cannot load…): as it is
            raise
        except ray.exceptions.RayTaskError:  # any other exception on a worker is a bug: let it show
            raise
        except ray.exceptions.RayError as exc:
            raise ClusterUnavailable(
                f"a Ray worker died while {doing} and its retries (ingest.ray_retries = {self.settings.ray_retries}) "
                "ran out; the index is unchanged and a new ingest finishes the job") from exc


# --- what runs on the workers -----------------------------------------------------------------


class _EmbedWorker:
    """One embedding model, loaded once, on its node."""

    def __init__(self, recipe, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.embedder = recipe.load()

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts)

    def pid(self) -> int:
        return os.getpid()


def _parse_remote(batch: list[tuple[FileTask, bytes | None]], shared) -> list[Outcome | Parsed]:
    recipe, chunk_tokens, overlap, tokenizer, options, limit = shared
    splitter, tokenizer = _splitter(recipe, chunk_tokens, overlap), _same_tokenizer(tokenizer)
    # ingest.ray_files = "shared" sends no bytes (None): this node reads the path
    return [read_and_parse(task, limit, splitter, tokenizer, options) if data is None
            else parse_task(task, data, splitter, tokenizer, options) for task, data in batch]


@functools.lru_cache(maxsize=4)
def _splitter(recipe, chunk_tokens: int, overlap: int):
    """One splitter (and tokenizer load) per worker process, reused by every task it runs."""
    return make_splitter(recipe.token_length(), chunk_tokens, overlap)


_TOKENIZERS: dict = {}


def _same_tokenizer(tokenizer):
    """The keyword tokenizer arrives new with every task; keep one per worker process (Kiwi loads once)."""
    if tokenizer is None:
        return None
    return _TOKENIZERS.setdefault((type(tokenizer), getattr(tokenizer, "id", None)), tokenizer)

