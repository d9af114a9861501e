"""What the MCP tools return (their output schemas) and take beyond plain values: pydantic at the edge."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class PassageOut(BaseModel):
    n: int = Field(description="Rank, 1 = best.")
    chunk_id: str
    text: str
    source: str = Field(description="The document's path inside its collection.")
    page: int | None = Field(None, description="PDF page, slide or sheet number, when there is one (where it starts).")
    pages: list[int] = Field(default_factory=list, description="Every page the passage spans (a PDF passage can "
                             "cross a page break).")
    heading: str | None = None
    score: float
    collection: str


class SearchResult(BaseModel):
    query: str
    mode: str
    passages: list[PassageOut]
    seconds: float = Field(description="The time foldrag took to retrieve them.")


class CitationOut(BaseModel):
    n: int = Field(description="The number the answer writes as [n].")
    chunk_id: str
    source: str
    page: int | None = Field(None, description="The page of the supporting sentence (else where the passage starts).")
    text: str = Field(description="The cited passage.")
    support: str | None = Field(None, description="The passage's sentence that best supports the answer.")


class EvidenceOut(BaseModel):
    n: int = Field(description="The citation number of its passage, as [n] in the answer.")
    chunk_id: str
    source: str
    page: int | None = Field(None, description="The page the sentence is on.")
    text: str = Field(description="The sentence as written (a table row as 'header: value' pairs).")
    score: float


class AskResult(BaseModel):
    answer: str = Field(description="The answer, with [n] markers pointing at citations.")
    evidence: list[EvidenceOut] = Field(default_factory=list, description="The supporting sentences, best first, "
                                        "found before the model wrote (근거 문장).")
    citations: list[CitationOut]
    collection: str
    model: str
    citation_method: str = Field(description="model: written by the model; inferred; evidence: the evidence "
                                 "sentences quoted (quote mode, or an answer worse than its evidence replaced); "
                                 "extractive: quoted by the floor; none.")
    timings: dict[str, float]


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=100_000)


class CollectionOut(BaseModel):
    name: str
    documents: int
    chunks: int
    embedder: str
    resource_prefix: str = Field(description="Its documents are resources under this URI prefix.")


class Collections(BaseModel):
    collections: list[CollectionOut]


class PassageWithContext(BaseModel):
    passage: PassageOut
    before: list[PassageOut] = Field(description="The chunks just before it in the document, nearest last.")
    after: list[PassageOut] = Field(description="The chunks just after it, nearest first.")


class PageText(BaseModel):
    page: int | None
    text: str


class DocumentOut(BaseModel):
    collection: str
    source: str
    pages: list[PageText] = Field(description="The text as indexed, by section (a run of PDF pages, a slide, a sheet).")
    truncated: bool = Field(description="True when the text was cut at max_chars; ask for a page to read further.")
