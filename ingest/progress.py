"""Progress reporting: a tqdm bar on a terminal, plain lines otherwise, nothing when quiet."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, total_files: int) -> None: ...
    def advance(self, files: int, chunks: int) -> None: ...
    def note(self, text: str) -> None:
        """Work inside one file ("scan.pdf: OCR 12 of 100 pages") between two advances."""
        ...
    def close(self) -> None: ...


class SilentProgress:
    def start(self, total_files: int) -> None: ...
    def advance(self, files: int, chunks: int) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


class BarProgress:
    """files done/total with ETA from tqdm, chunks/s in the postfix."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bar = None
        self._chunks = 0
        self._t0 = time.perf_counter()

    def start(self, total_files: int) -> None:
        from tqdm import tqdm

        self._t0 = time.perf_counter()
        self._bar = tqdm(total=total_files, unit="file", desc="ingest", file=self._stream, dynamic_ncols=True)

    def advance(self, files: int, chunks: int) -> None:
        self._chunks += chunks
        if self._bar is not None:
            rate = self._chunks / max(time.perf_counter() - self._t0, 1e-9)
            self._bar.set_postfix_str(f"{self._chunks} chunks, {rate:.1f} chunks/s", refresh=False)
            self._bar.update(files)

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self._chunks} chunks; {text}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class LineProgress:
    """For logs and pipes: one line every ``every`` seconds and one at the end."""

    def __init__(self, stream: TextIO, every: float = 5.0) -> None:
        self._stream = stream
        self._every = every
        self._total = 0
        self._files = 0
        self._chunks = 0
        self._t0 = self._last = time.perf_counter()

    def start(self, total_files: int) -> None:
        self._total = total_files
        self._t0 = self._last = time.perf_counter()
        print(f"ingest: {total_files} files to check", file=self._stream, flush=True)

    def advance(self, files: int, chunks: int) -> None:
        self._files += files
        self._chunks += chunks
        now = time.perf_counter()
        if now - self._last >= self._every:
            self._last = now
            self._print(now)

    def note(self, text: str) -> None:
        now = time.perf_counter()
        if now - self._last >= self._every:
            self._last = now
            print(f"ingest: {self._files}/{self._total} files; {text}", file=self._stream, flush=True)

    def _print(self, now: float) -> None:
        elapsed = max(now - self._t0, 1e-9)
        rate = self._files / elapsed
        eta = (self._total - self._files) / rate if rate else 0.0
        print(
            f"ingest: {self._files}/{self._total} files, {self._chunks} chunks, "
            f"{self._chunks / elapsed:.1f} chunks/s, eta {eta:.0f}s",
            file=self._stream, flush=True,
        )

    def close(self) -> None:
        self._print(time.perf_counter())


def progress_for(stream: TextIO = sys.stderr, quiet: bool = False) -> Progress:
    if quiet:
        return SilentProgress()
    return BarProgress(stream) if stream.isatty() else LineProgress(stream)
