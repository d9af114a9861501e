"""Token-aware chunking with overlap that keeps headings with their paragraphs (a pure function)."""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable

from foldrag.core.types import Chunk, ParsedFile

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
# Headings first, then paragraphs, lines, sentences (Latin and CJK), words, characters.
_SEPARATORS = ["\n# ", "\n## ", "\n### ", "\n#### ", "\n\n", "\n", ". ", "다. ", "。", "? ", "! ", " ", ""]


def _only_headings(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return bool(lines) and all(_HEADING.fullmatch(line.strip()) for line in lines)


def chunk_id(source: str, page: int | None, text: str, occurrence: int = 0) -> str:
    key = f"{source}\x00{page or 0}\x00{occurrence}\x00{text}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def make_splitter(token_length: Callable[[str], int], chunk_tokens: int, overlap: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    if overlap >= chunk_tokens:
        raise ValueError("chunk_overlap must be smaller than chunk_tokens")
    return RecursiveCharacterTextSplitter(
        separators=_SEPARATORS,
        keep_separator="start",
        chunk_size=chunk_tokens,
        chunk_overlap=overlap,
        length_function=token_length,
        add_start_index=True,
        strip_whitespace=True,
    )


def chunk_file(parsed: ParsedFile, splitter) -> list[Chunk]:
    """Split every section of ``parsed`` into chunks with ids, headings and character offsets."""
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for section in parsed.sections:
        headings = [(m.start(), m.group(2).strip()) for m in _HEADING.finditer(section.text)]
        starts = [pos for pos, _ in headings]
        for doc in splitter.create_documents([section.text]):
            text = doc.page_content
            if _only_headings(text):
                # A heading the splitter left alone carries no content of its own; it still
                # reaches the embedder as the title/heading of the chunks below it.
                continue
            start = int(doc.metadata.get("start_index", 0))
            if start < 0:
                start = section.text.find(text)
            at = bisect.bisect_right(starts, start) - 1
            heading = headings[at][1] if at >= 0 else None
            base = chunk_id(parsed.source, section.page, text)
            occurrence = seen.get(base, 0)
            seen[base] = occurrence + 1
            cid = base if occurrence == 0 else chunk_id(parsed.source, section.page, text, occurrence)
            chunks.append(
                Chunk(
                    id=cid, source=parsed.source, text=text,
                    page=section.layout.page_at(start) if section.layout is not None else section.page,
                    title=section.title or parsed.title, heading=heading,
                    start=start, end=start + len(text), ocr=section.ocr,
                    spans=section.layout.spans(text, start) if section.layout is not None else (),
                )
            )
    return chunks


def embedding_text(chunk: Chunk, with_headers: bool) -> str:
    """The text that is embedded: the chunk, prefixed by its title and heading when asked."""
    if not with_headers:
        return chunk.text
    head = [h for h in (chunk.title, chunk.heading) if h and not chunk.text.lstrip("# ").startswith(h)]
    if chunk.title and chunk.heading == chunk.title:
        head = [h for h in head if h != chunk.heading] or head[:1]
    return " — ".join(dict.fromkeys(head)) + "\n" + chunk.text if head else chunk.text
