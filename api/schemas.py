"""Request bodies of the HTTP API (pydantic at the edge; the core works with dataclasses)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["dense", "bm25", "hybrid", "multi"]


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=100_000)


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="The question.")
    collection: str | None = Field(None, description="Collection to ask; default: the first served.")
    k: int | None = Field(None, ge=1, le=100, description="Chunks retrieved.")
    mode: Mode | None = Field(None, description="Retrieval mode; default: multi with a generator.")
    history: list[Turn] = Field(default_factory=list, max_length=50, description="Earlier turns, oldest first.")
    stream: bool = Field(False, description="Server-Sent Events: queries, sources, token…, done (or error).")


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(description="What to look for.")
    collection: str | None = None
    k: int | None = Field(None, ge=1, le=1000)
    mode: Mode | None = Field(None, description="Default 'hybrid'; 'multi' also asks the LLM for rewrites.")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") in ("text", "input_text"))
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request. Sampling fields other clients send are accepted and ignored:
    the collection's settings decide how the local model samples."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description="A collection name, as listed by GET /v1/models.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="A folder inside the allowed roots (relative paths start at the first root).")
    collection: str | None = None
