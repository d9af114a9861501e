"""Text from a document, a question, a history turn or a file name is letters, never a model's
control tokens: a passage holding ``<|im_end|>\\n<|im_start|>system`` must not open a turn.

A local backend renders the chat template with each message's content replaced by a marker, then
tokenizes the template's own text with its special tokens and every content as plain text
(``in_pieces``). A model server applies the template itself: there the strings that look like
control tokens are broken with a zero-width space after their first character (``defused``), so
the server's tokenizer cannot read them as one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Messages = list[dict[str, str]]

_MARK = "\ue000{}\ue001"  # private-use characters around the message's number
_MARKED = re.compile("\ue000(\\d+)\ue001")
# ChatML and Llama 3 (<|im_start|>, <|eot_id|>), DeepSeek's full-width bars (<｜User｜>), Llama 2 and
# Mistral ([INST], <<SYS>>, <s>, </s>), Gemma (<start_of_turn>, <end_of_turn>).
_CONTROL = re.compile(r"<\|[^|<>\s]{1,48}\|>|<｜[^｜<>]{1,48}｜>|\[/?INST\]|<</?SYS>>|</?s>|<(?:start|end)_of_turn>")


def in_pieces(render: Callable[[Messages], str], messages: Messages) -> list[tuple[str, bool]]:
    """The prompt ``render`` makes of ``messages``, cut into (text, is_content) pieces: the
    template's own text, to be tokenized with its special tokens, and each message's content, to
    be tokenized as plain text. A content's text never passes through the template (a marker
    does), so nothing in it can be mistaken for the template's."""
    marked = [{**message, "content": _MARK.format(n)} for n, message in enumerate(messages)]
    rendered = render(marked)
    pieces: list[tuple[str, bool]] = []
    at = 0
    for found in _MARKED.finditer(rendered):
        if found.start() > at:
            pieces.append((rendered[at:found.start()], False))
        pieces.append((messages[int(found.group(1))]["content"], True))
        at = found.end()
    if at < len(rendered):
        pieces.append((rendered[at:], False))
    return pieces


def defused(text: str) -> str:
    """``text`` with every string that looks like a control token broken by a zero-width space."""
    return _CONTROL.sub(lambda m: m.group(0)[0] + "\u200b" + m.group(0)[1:], text)


def defused_messages(messages: Messages) -> Messages:
    return [{**message, "content": defused(message["content"])} for message in messages]
