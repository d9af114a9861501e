"""The project's error kinds and the one table that maps them to exit codes and HTTP statuses.

Every failure a user can cause or meet is a :class:`FoldragError` with a ``kind``.
The CLI turns it into a one-line message and ``ERROR_TABLE[kind].exit_code``; the HTTP
layer into ``{"error": {"type": kind, "message": ...}}`` with ``ERROR_TABLE[kind].http_status``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSpec:
    exit_code: int
    http_status: int
    meaning: str


ERROR_TABLE: dict[str, ErrorSpec] = {
    "invalid_input": ErrorSpec(2, 400, "the request or arguments are malformed"),
    "not_found": ErrorSpec(3, 404, "a folder, file, index or collection does not exist"),
    "index_mismatch": ErrorSpec(4, 409, "the index was built by another embedder or schema"),
    "index_not_writable": ErrorSpec(5, 500, "the index folder cannot be written"),
    "index_corrupt": ErrorSpec(6, 503, "the index folder is damaged (`foldrag check --repair`, or ingest again)"),
    "index_busy": ErrorSpec(7, 409, "another process is writing the same index"),
    "model_unavailable": ErrorSpec(8, 503, "a model is not on disk or failed to load"),
    "missing_dependency": ErrorSpec(9, 500, "an optional package is not installed"),
    "unauthorized": ErrorSpec(10, 401, "an API key is required and was missing or wrong"),
    "forbidden": ErrorSpec(11, 403, "refused: a path outside the allowed roots, a foreign origin or host, a key's scope"),
    "too_large": ErrorSpec(12, 413, "an upload or a question is over its size limit"),
    "unsupported_type": ErrorSpec(13, 415, "an upload's file type is not one foldrag reads"),
    "overloaded": ErrorSpec(14, 429, "the generation queue is full; retry after the given seconds"),
    "not_ready": ErrorSpec(15, 503, "the server is still loading its models"),
    "cluster_unavailable": ErrorSpec(16, 503, "the Ray cluster cannot be reached, or lost workers past their retries"),
    "no_space": ErrorSpec(17, 507, "the disk is full: nothing was committed and the last good index is kept"),
    "conflict": ErrorSpec(18, 409, "something else (a folder, a link) is where a file would be written"),
    "internal": ErrorSpec(1, 500, "a bug in foldrag: please report it with the message"),
}


def error_table_markdown() -> str:
    """ERROR_TABLE as docs/cli.md prints it (a test keeps the two equal)."""
    rows = ["| kind | exit code | HTTP status | meaning |", "|---|---|---|---|"]
    rows += [f"| `{kind}` | {spec.exit_code} | {spec.http_status} | {spec.meaning} |" for kind, spec in ERROR_TABLE.items()]
    return "\n".join(rows)


class FoldragError(Exception):
    """Base of every error foldrag raises on purpose; ``kind`` is a key of ``ERROR_TABLE``."""

    kind = "invalid_input"

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        if self.kind not in ERROR_TABLE:  # a programming error, caught by the tests
            raise ValueError(f"unknown error kind {self.kind!r}")

    @property
    def spec(self) -> ErrorSpec:
        return ERROR_TABLE[self.kind]


class InvalidInput(FoldragError):
    kind = "invalid_input"


class NotFound(FoldragError):
    kind = "not_found"


class IndexMismatch(FoldragError):
    kind = "index_mismatch"


class IndexNotWritable(FoldragError):
    kind = "index_not_writable"


class IndexCorrupt(FoldragError):
    kind = "index_corrupt"


class IndexBusy(FoldragError):
    kind = "index_busy"


class ModelUnavailable(FoldragError):
    kind = "model_unavailable"


class MissingDependency(FoldragError):
    kind = "missing_dependency"


class ClusterUnavailable(FoldragError):
    kind = "cluster_unavailable"


class NoSpace(FoldragError):
    kind = "no_space"


class Unauthorized(FoldragError):
    kind = "unauthorized"


class Forbidden(FoldragError):
    kind = "forbidden"


class TooLarge(FoldragError):
    kind = "too_large"


class UnsupportedType(FoldragError):
    kind = "unsupported_type"


class Conflict(FoldragError):
    kind = "conflict"


class Overloaded(FoldragError):
    """The generation queue is full. ``retry_after`` is a whole number of seconds."""

    kind = "overloaded"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class NotReady(FoldragError):
    kind = "not_ready"
