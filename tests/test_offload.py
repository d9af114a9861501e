import pytest

from foldrag.generation.offload import GiB, ModelSizes, plan_offload

# An 8B-class model: 32 layers of 0.4 GiB, 1 GiB embeddings, 1 GiB head.
SIZES = ModelSizes(num_layers=32, layer_bytes=int(0.4 * GiB), embed_bytes=GiB, head_bytes=GiB)


def _layers(plan):
    return [plan.device_map[f"model.layers.{i}"] for i in range(32)]


def test_everything_fits_on_a_big_gpu():
    plan = plan_offload(SIZES, cuda=True, free_vram=80 * GiB)
    assert plan.gpu_layers == 32 and set(_layers(plan)) == {0}
    assert plan.device_map["lm_head"] == 0 and plan.device_map["model.embed_tokens"] == 0


def test_partial_offload_from_free_vram():
    plan = plan_offload(SIZES, cuda=True, free_vram=8 * GiB)
    # 8 GiB * 0.85 = 6.8 GiB; minus 2 GiB fixed = 4.8 GiB → 12 layers of 0.4 GiB
    assert plan.gpu_layers == 12
    assert _layers(plan) == [0] * 12 + ["cpu"] * 20
    assert plan.device_map["lm_head"] == "cpu" and plan.device_map["model.embed_tokens"] == 0


def test_max_gpu_memory_caps_free_vram_and_gpu_layers_overrides():
    assert plan_offload(SIZES, cuda=True, free_vram=80 * GiB, max_gpu_memory=4 * GiB).gpu_layers == 3
    assert plan_offload(SIZES, cuda=True, free_vram=80 * GiB, gpu_layers=5).gpu_layers == 5
    assert plan_offload(SIZES, cuda=True, free_vram=80 * GiB, gpu_layers=99).gpu_layers == 32


def test_no_cuda_falls_back_to_cpu_with_a_note():
    plan = plan_offload(SIZES, cuda=False, gpu_layers=10)
    assert plan.gpu_layers == 0 and set(plan.device_map.values()) == {"cpu"}
    assert "CUDA is not available" in plan.notes[0]


def test_tiny_gpu_runs_on_cpu():
    plan = plan_offload(SIZES, cuda=True, free_vram=GiB)
    assert plan.gpu_layers == 0 and "no decoder layer fits" in plan.notes[0]


def test_disk_offload_when_cpu_memory_is_short():
    plan = plan_offload(SIZES, cuda=True, free_vram=8 * GiB, cpu_memory=4 * GiB, offload_folder="/tmp/off")
    assert (plan.gpu_layers, plan.cpu_layers, plan.disk_layers) == (12, 10, 10)
    assert _layers(plan)[-1] == "disk" and plan.device_map["lm_head"] == "cpu"
    assert "offloaded to /tmp/off" in plan.notes[0]


def test_a_gguf_is_measured_from_its_tensor_table_for_the_planner():
    """llama.cpp's n_gpu_layers comes from the same planner, fed by the GGUF's stored sizes."""
    pytest.importorskip("gguf")
    from foldrag.generation.bundled import bundled_gguf
    from foldrag.generation.offload import measure_gguf, plan_offload

    sizes = measure_gguf(bundled_gguf("bundled:SmolLM2-135M-Instruct"))
    assert sizes.num_layers == 30 and sizes.embed_bytes == 30_081_024  # 49152 x 576 at Q8_0
    assert 2_000_000 < sizes.layer_bytes < 2_500_000  # one Q4_1 decoder layer
    budget = sizes.embed_bytes + sizes.head_bytes + 10 * sizes.layer_bytes
    plan = plan_offload(sizes, cuda=True, free_vram=int(budget / 0.85) + 1)
    assert plan.gpu_layers == 10
