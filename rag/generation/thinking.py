"""Separate reasoning from the answer in R1-style output: ``<think> … </think> answer``.

Works on a stream of pieces; the opening tag may be missing (some DeepSeek-R1-Distill chat
templates put it in the prompt), in which case everything before ``</think>`` is reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN, CLOSE = "<think>", "</think>"


@dataclass
class ThinkSplitter:
    """Feed pieces as they stream; get back (reasoning delta, answer delta) for each.

    ``expects_reasoning``: the model is a reasoning model, so text before a lone ``</think>`` is
    reasoning. Until ``</think>`` (or a first non-reasoning token) is seen, text is held back.
    """

    expects_reasoning: bool = True
    _buffer: str = ""
    _state: str = "start"  # start → (thinking) → answer
    reasoning: str = ""
    answer: str = ""

    def feed(self, piece: str) -> tuple[str, str]:
        self._buffer += piece
        reasoning_out, answer_out = "", ""
        while True:
            if self._state == "start":
                stripped = self._buffer.lstrip()
                if stripped.startswith(OPEN):
                    self._buffer = stripped[len(OPEN):]
                    self._state = "thinking"
                    continue
                if OPEN.startswith(stripped) and stripped:
                    break  # could still become "<think>"
                if not stripped:
                    break
                self._state = "thinking" if self.expects_reasoning else "answer"
                continue
            if self._state == "thinking":
                at = self._buffer.find(CLOSE)
                if at >= 0:
                    reasoning_out += self._buffer[:at]
                    self._buffer = self._buffer[at + len(CLOSE):].lstrip("\n")
                    self._state = "answer"
                    continue
                keep = _partial_suffix(self._buffer, CLOSE)
                reasoning_out += self._buffer[: len(self._buffer) - keep]
                self._buffer = self._buffer[len(self._buffer) - keep:]
                break
            answer_out += self._buffer
            self._buffer = ""
            break
        self.reasoning += reasoning_out
        self.answer += answer_out
        return reasoning_out, answer_out

    def finish(self) -> tuple[str, str]:
        """Flush at the end. A reasoning model that never closed its think block gave no answer."""
        rest, self._buffer = self._buffer, ""
        if self._state == "answer" or (self._state == "start" and not self.expects_reasoning):
            self.answer += rest
            return "", rest
        if self._state == "start" and not rest.strip():
            return "", ""
        self.reasoning += rest
        return rest, ""


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a proper start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


def split_thinking(text: str, expects_reasoning: bool = True) -> tuple[str, str]:
    """(reasoning, answer) of a whole output."""
    splitter = ThinkSplitter(expects_reasoning=expects_reasoning)
    splitter.feed(text)
    splitter.finish()
    return splitter.reasoning.strip(), splitter.answer.strip()
