"""GPU offload on a real CUDA device (skipped without CUDA; run on a lent GPU machine)."""

from __future__ import annotations

import pytest

from foldrag.core.contracts import complete

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_partial_offload_splits_layers_between_gpu_and_cpu():
    from foldrag.generation.transformers_backend import TransformersGenerator
    from foldrag.core.settings import GenerationSettings

    gen = TransformersGenerator.load(GenerationSettings(model="bundled:SmolLM2-135M-Instruct", device="cuda", gpu_layers=15))
    assert (gen.plan.gpu_layers, gen.plan.cpu_layers) == (15, 15)
    devices = {str(p.device) for p in gen.model.model.layers[0].parameters()}
    assert devices == {"cuda:0"}
    assert "Paris" in complete(gen, [{"role": "user", "content": "What is the capital of France?"}], max_tokens=16)


def test_everything_on_the_gpu_when_it_fits():
    from foldrag.generation.transformers_backend import TransformersGenerator
    from foldrag.core.settings import GenerationSettings

    gen = TransformersGenerator.load(GenerationSettings(model="bundled:SmolLM2-135M-Instruct", device="cuda"))
    assert gen.plan.gpu_layers == gen.model.config.num_hidden_layers
    assert gen.model.dtype in (torch.bfloat16, torch.float16)
