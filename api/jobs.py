"""Ingest jobs: run in a worker thread, one at a time, with progress a client can poll.

Queries keep answering from the last committed index while a job runs: the job writes a new
generation and switches the CURRENT pointer only when it is complete.

Each job's JSON is also written to a folder on disk (``records``; shared by the workers of
``foldrag serve --workers N``, where a poll may reach another process than the one running the
job), atomically, on every change (a small file per ingested file: nothing beside parsing and
embedding it). A server that starts finds there the jobs a killed one left queued or running and
marks them ``interrupted``, with what they had done.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foldrag.api.errors import INTERNAL
from foldrag.core.errors import FoldragError, NotFound
from foldrag.core.types import IngestSummary

log = logging.getLogger("foldrag.api")

KEEP_JOBS = 200  # finished jobs remembered for GET /v1/jobs/{id}
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class Job:
    """The live state of one ingest job; ``to_json`` is what GET /v1/jobs/{id} returns."""

    def __init__(self, collection: str, path: Path | str, records: Path | None = None) -> None:
        self.id = uuid.uuid4().hex
        self.records = records
        self.collection = collection
        self.path = path
        self.status = "queued"  # queued → running → done | failed; interrupted (the process died)
        self.files_total = 0
        self.files_done = 0
        self.chunks = 0
        self.working = ""  # inside a long file: "scan.pdf: OCR: 12 of 40 pages read"
        self.summary: dict[str, Any] | None = None
        self.error: dict[str, str] | None = None
        self.created = time.time()
        self.process = process_id(os.getpid())  # read once: to_json runs on every file and poll
        self.started: float | None = None
        self.finished: float | None = None
        self._lock = threading.Lock()

    # the ingest Progress protocol
    def start(self, total_files: int) -> None:
        with self._lock:
            self.files_total = total_files
        self.record()

    def advance(self, files: int, chunks: int) -> None:
        with self._lock:
            self.files_done += files
            self.chunks += chunks
        self.record()

    def note(self, text: str) -> None:
        with self._lock:
            self.working = text
        self.record()

    def record(self) -> None:
        """Write this job's JSON where the other workers read it (no-op with one worker)."""
        if self.records is None:
            return
        target = self.records / f"{self.id}.json"
        tmp = target.with_suffix(f".tmp-{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(json.dumps(self.to_json()), encoding="utf-8")
        os.replace(tmp, target)

    def close(self) -> None:
        pass

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "id": self.id, "collection": self.collection, "path": str(self.path), "status": self.status,
                "files_total": self.files_total, "files_done": self.files_done, "chunks_written": self.chunks,
                "working": self.working,
                "elapsed_s": round(((self.finished or time.time()) - self.started) if self.started else 0.0, 3),
                "failures": (self.summary or {}).get("failed", []), "summary": self.summary, "error": self.error,
                "created": self.created, "started": self.started, "finished": self.finished,
                "process": self.process,
            }


@dataclass(frozen=True)
class RecordedJob:
    """A job another worker runs, as it last recorded itself."""

    collection: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.data


class JobRunner:
    """Runs ingest jobs one at a time; ``records``: the folder shared by the server's workers."""

    def __init__(self, records: Path | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="foldrag-ingest")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self.records = records
        if records is not None:
            records.mkdir(parents=True, exist_ok=True)
            interrupted(records)

    def submit(self, collection: str, rag, path: Path, within: tuple[Path, ...]) -> Job:
        """A job ingesting the folder ``path`` (confined to ``within``)."""
        return self.submit_work(collection, path, lambda job: rag.ingest(path, progress=job, within=within))

    def submit_work(self, collection: str, label: Path | str, work: Callable[[Job], IngestSummary]) -> Job:
        """A job running ``work(job)`` (the job is its progress) to an ingest summary."""
        job = Job(collection, label, self.records)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                self._jobs.popitem(last=False)
        job.record()
        self._pool.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Job], IngestSummary]) -> None:
        job.status, job.started = "running", time.time()
        job.record()
        # the outcome is set last, after its time: a reader never sees an ended job without one
        try:
            summary = work(job)
            job.finished = time.time()
            job.summary, job.status = summary.to_json(), "done"
        except FoldragError as exc:
            job.finished = time.time()
            job.error, job.status = {"type": exc.kind, "message": str(exc)}, "failed"
        except Exception:  # reported on the job (its text only in the log), never lost in a thread
            log.exception("ingest job %s failed", job.id)
            job.finished = time.time()
            job.error, job.status = {"type": "internal", "message": INTERNAL}, "failed"
        finally:
            job.finished = job.finished or time.time()
            job.record()

    def active(self, collection: str) -> bool:
        """Whether a job of ``collection`` is queued or running (in this process)."""
        with self._lock:
            return any(j.collection == collection and j.status in ("queued", "running") for j in self._jobs.values())

    def get(self, job_id: str) -> Job | RecordedJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            return job
        if self.records is not None and _JOB_ID.match(job_id):
            try:
                data = json.loads((self.records / f"{job_id}.json").read_text(encoding="utf-8"))
                return RecordedJob(data["collection"], data)
            except (OSError, ValueError, KeyError):
                pass
        raise NotFound(f"no job with id {job_id!r}")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def interrupted(records: Path) -> list[str]:
    """Mark the jobs in ``records`` whose process is gone while they were queued or running as
    ``interrupted`` (what they had done kept); returns their ids."""
    marked = []
    for path in records.glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("status") not in ("queued", "running") or _alive(data.get("process")):
            continue
        data.update(status="interrupted", finished=data.get("finished") or time.time(),
                    error={"type": "internal", "message": "the server stopped while this job ran; what it had "
                           "committed is kept: run it again to finish"})
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
        marked.append(data["id"])
    return marked


def process_id(pid: int) -> str:
    """``pid`` with its start time where the system says it (Linux): a process that reuses the
    number of a dead one (a container's server is often pid 1 again) is another process."""
    try:
        started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        started = ""
    return f"{pid}:{started}"


def _alive(recorded: Any) -> bool:
    """Whether the process ``process_id`` described is still running."""
    try:
        pid = int(str(recorded).split(":", 1)[0])
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return process_id(pid) == recorded
