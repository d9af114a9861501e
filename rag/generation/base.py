"""The generator contract. A vLLM/OpenAI-compatible server is another class with these methods."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class Generator(Protocol):
    """Turns chat messages into text."""

    name: str

    def generate(self, messages: list[dict[str, str]], *, max_tokens: int = 256,
                 temperature: float = 0.0, stop: tuple[str, ...] = ()) -> str: ...

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int = 256,
               temperature: float = 0.0, stop: tuple[str, ...] = ()) -> Iterator[str]: ...
