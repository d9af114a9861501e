"""The generation backends: ``generation.backend`` → the class that loads it.

A new backend is one file with a class that has ``load(settings: GenerationSettings)`` and meets the
``Generator`` contract (``rag/core/contracts.py``), plus one line in ``BACKENDS``. Backends are
imported only when chosen; a missing optional package is a ``MissingDependency`` with the install hint.
"""

from __future__ import annotations

from foldrag.core.contracts import Generator
from foldrag.core.plugins import Plugin, load_plugin
from foldrag.core.settings import GenerationSettings


BACKENDS: dict[str, Plugin] = {
    "transformers": Plugin("foldrag.generation.transformers_backend", "TransformersGenerator",
                           "pip install 'foldrag' (transformers and torch are part of it)"),
    "llamacpp": Plugin("foldrag.generation.llamacpp_backend", "LlamaCppGenerator", "pip install 'foldrag[llamacpp]'"),
    "openai": Plugin("foldrag.generation.openai_backend", "OpenAIGenerator", "pip install 'foldrag[openai]'"),
}


def resolve_backend(settings: GenerationSettings) -> str:
    """The backend that runs ``settings.model``: the one named; for 'auto', a server when base_url is
    set, else transformers (in the default install; it reads GGUF files and HF folders)."""
    if settings.backend != "auto":
        return settings.backend
    return "openai" if settings.base_url else "transformers"


def resolve_model(settings: GenerationSettings) -> str:
    """The model ``settings.model`` names: for 'auto', the best bundled model installed (a server
    backend takes 'auto' as the server's first model)."""
    if settings.model != "auto" or resolve_backend(settings) == "openai":
        return settings.model
    from foldrag.generation.bundled import resolve_auto

    return resolve_auto()


def load_generator(settings: GenerationSettings) -> Generator:
    """Load the configured model with its backend. Raises MissingDependency or ModelUnavailable."""
    name = resolve_backend(settings)
    settings = settings.model_copy(update={"model": resolve_model(settings)})
    return load_plugin("generation.backend", name, BACKENDS[name]).load(settings)
