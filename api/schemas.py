"""Request bodies of the HTTP API (pydantic at the edge; the core works with dataclasses)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Mode = Literal["auto", "dense", "bm25", "hybrid", "multi"]


def text_problem(value: Any) -> str | None:
    """Why a JSON value cannot be text foldrag works on: a lone surrogate (valid JSON, "\\ud800",
    but no character; the tokenizers and the database refuse it) or a NUL character."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains invalid Unicode (a lone surrogate escape such as \\ud800)"
        return "contains a NUL character" if "\x00" in value else None
    if isinstance(value, dict):
        return next((p for p in map(text_problem, [*value.keys(), *value.values()]) if p), None)
    if isinstance(value, list):
        return next((p for p in map(text_problem, value) if p), None)
    return None


class Body(BaseModel):
    """A request body: every string in it, however deep, is text (checked before any field)."""

    @model_validator(mode="before")
    @classmethod
    def _valid_text(cls, data: Any) -> Any:
        problem = text_problem(data)
        if problem:
            raise ValueError(f"the request {problem}")
        return data


class Turn(Body):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=100_000)


class QueryRequest(Body):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="The question.")
    collection: str | None = Field(None, description="Collection to ask; default: the first served.")
    collections: list[str] | None = Field(None, min_length=1, max_length=20, description="Several collections to "
                                          "ask at once (their results fused); instead of ``collection``.")
    k: int | None = Field(None, ge=1, le=100, description="Chunks retrieved.")
    mode: Mode | None = Field(None, description="Retrieval mode; default: auto (settings: retrieval.mode): hybrid, its lists fused per language pair as measured, or dense on an index without BM25.")
    history: list[Turn] = Field(default_factory=list, max_length=50, description="Earlier turns, oldest first.")
    stream: bool = Field(False, description="Server-Sent Events: queries, sources, token…, done (or error).")
    conversation: str | None = Field(None, max_length=64, description="Keep the question and its answer in this "
                                     "conversation (POST /v1/conversations makes one).")


class RetrieveRequest(Body):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(description="What to look for.")
    collection: str | None = None
    k: int | None = Field(None, ge=1, le=1000)
    mode: Mode | None = Field(None, description="Default 'auto' (hybrid, fused per language pair as measured); 'multi' also asks the LLM for rewrites.")


class ChatMessage(Body):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") in ("text", "input_text"))
        return self.content or ""


class ChatCompletionRequest(Body):
    """OpenAI's chat completion request. Sampling fields other clients send are accepted and ignored:
    the collection's settings decide how the local model samples."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description="A collection name, as listed by GET /v1/models.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


class IngestRequest(Body):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="A folder inside the allowed roots (relative paths start at the first root).")
    collection: str | None = None


class ConversationCreate(Body):
    model_config = ConfigDict(extra="forbid")
    title: str = Field("", max_length=200, description="Shown in the list; empty: the first question names it.")
    collections: list[str] = Field(default_factory=list, max_length=20)


class ConversationRename(Body):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(max_length=200)


class UploadIngestRequest(Body):
    model_config = ConfigDict(extra="forbid")
    collection: str | None = None
    names: list[str] = Field(min_length=1, max_length=1000, description="Files sent by PUT /v1/uploads/{name}.")


class CollectionCreate(Body):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64, description="Letters, digits, '_', '-', '.'; Korean letters too.")
    path: str = Field(max_length=4096, description="A folder inside FOLDRAG_ALLOWED_ROOTS.")
