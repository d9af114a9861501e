"""int4 / int8 CPU weights: exact re-packing of 4-bit grids, both kernels' numbers, and a tiny model end to end."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from foldrag.generation import packed_weights as pw  # noqa: E402

pytestmark = pytest.mark.skipif(not pw.kernels_available(), reason="this torch has no int4/int8 CPU kernels")


def _q4_1(out_features: int, in_features: int, seed: int = 0) -> torch.Tensor:
    """Weights as a GGUF Q4_1 file dequantizes them: level 0 and 15 used in each group, w = d*q + m."""
    g = torch.Generator().manual_seed(seed)
    groups = in_features // pw.GROUP
    codes = torch.randint(0, 16, (out_features, groups, pw.GROUP), generator=g).float()
    codes[..., 0], codes[..., 1] = 0, 15
    d = (torch.rand(out_features, groups, 1, generator=g) * 0.02 + 1e-3).half().float()  # fp16 in the file
    m = (-torch.rand(out_features, groups, 1, generator=g) * 0.1).half().float()
    return (codes * d + m).reshape(out_features, in_features)


def _q4_0(out_features: int, in_features: int, seed: int = 1) -> torch.Tensor:
    """Q4_0: w = d * (q - 8), the largest magnitude at level 0 (d may be negative); here the
    groups leave the top levels unused, so the 16-level fit misses them."""
    g = torch.Generator().manual_seed(seed)
    groups = in_features // pw.GROUP
    codes = torch.randint(1, 13, (out_features, groups, pw.GROUP), generator=g).float()
    codes[..., 3] = 0
    d = (torch.rand(out_features, groups, 1, generator=g) - 0.5) * 0.04
    return (d * (codes - 8)).reshape(out_features, in_features)


def _q4_k(out_features: int, in_features: int, seed: int = 4) -> torch.Tensor:
    """Q4_K sub-blocks: w = scale * q - min with an optimised scale, so a group may use levels 1..13 only."""
    g = torch.Generator().manual_seed(seed)
    groups = in_features // pw.GROUP
    top = torch.randint(9, 16, (out_features, groups, 1), generator=g)
    codes = (torch.rand(out_features, groups, pw.GROUP, generator=g) * top).floor()
    codes[..., 0], codes[..., 1] = 1, top[..., 0] - 1
    scale = torch.rand(out_features, groups, 1, generator=g) * 0.01 + 1e-3
    return (codes * scale - 0.05).reshape(out_features, in_features)


@pytest.mark.parametrize("make", [_q4_1, _q4_0, _q4_k])
def test_weights_on_a_4bit_grid_are_repacked_exactly(make):
    weight = make(64, 128)
    grid = pw.fit_grid(weight)
    assert grid.exact
    layer = pw.Int4Linear(grid, None)
    assert torch.allclose(layer.dequantized(), weight, rtol=0, atol=1e-6 * float(weight.abs().max()))
    token = torch.randn(1, 128)  # the kernel's packing holds the same grid
    expected = token @ weight.t()
    assert (layer(token) - expected).abs().max() <= 2e-2 * expected.abs().max()


def test_weights_off_the_grid_are_not_exact_and_round_to_nearest():
    weight = torch.randn(64, 128, generator=torch.Generator().manual_seed(2))
    grid = pw.fit_grid(weight)
    assert not grid.exact
    step = grid.scale.expand(-1, -1, pw.GROUP).reshape(64, 128)
    error = (pw.Int4Linear(grid, None).dequantized() - weight).abs()
    assert bool((error <= step / 2 + 1e-6).all())


def test_int4_linear_matches_its_dense_weights_for_tokens_and_prompts():
    weight = _q4_1(96, 160)
    bias = torch.randn(96)
    layer = pw.Int4Linear(pw.fit_grid(weight), bias)
    token = torch.randn(1, 1, 160)  # the kernel path (bf16 activations)
    expected = torch.nn.functional.linear(token, weight, bias)
    got = layer(token)
    assert got.shape == expected.shape and got.dtype == torch.float32
    assert (got - expected).abs().max() <= 2e-2 * expected.abs().max()
    prompt = torch.randn(1, 12, 160)  # more rows than KERNEL_MAX_ROWS: dequantized fp32 path
    assert torch.allclose(layer(prompt), torch.nn.functional.linear(prompt, weight, bias), atol=1e-5, rtol=1e-5)


def _q8_0(out_features: int, in_features: int, seed: int = 3) -> torch.Tensor:
    """Q8_0: w = d * q with q in -127..127 and the largest magnitude of each group at ±127."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(-126, 127, (out_features, in_features // pw.GROUP, pw.GROUP), generator=g).float()
    codes[..., 5] = 127
    d = (torch.rand(out_features, in_features // pw.GROUP, 1, generator=g) + 0.1) * 1e-3
    return (codes * d).reshape(out_features, in_features)


def test_int8_groups_are_exact_for_q8_0_and_close_to_fp32():
    weight = _q8_0(256, 64)
    grid = pw.fit_int8(weight)
    assert grid.exact
    assert torch.allclose(grid.codes.float() * grid.scale, weight.reshape(256, 2, 32), rtol=1e-6, atol=0)
    assert not pw.fit_int8(torch.randn(256, 64)).exact
    x = torch.randn(2, 3, 64)
    expected = x @ weight.t()
    got = pw.Int8Groups(grid)(x)
    assert got.shape == expected.shape and got.dtype == torch.float32
    assert (got - expected).abs().max() <= 1e-2 * expected.abs().max()


def _tiny_llama(on_grid: bool):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                         tie_word_embeddings=True)).eval()
    if on_grid:  # as a GGUF with Q4_1 layers and a Q8_0 (tied) embedding loads
        with torch.no_grad():
            for seed, layer in enumerate(m for m in model.model.layers.modules() if isinstance(m, torch.nn.Linear)):
                layer.weight.copy_(_q4_1(*layer.weight.shape, seed=seed) * 5)
            model.model.embed_tokens.weight.copy_(_q8_0(96, 64) * 20)
    return model


def test_auto_packs_a_4bit_model_and_its_head_and_keeps_its_outputs():
    from foldrag.generation.decoding import DecodeLoop

    model = _tiny_llama(on_grid=True)
    prompt = torch.tensor([[5, 17, 42, 8, 63, 21, 9]])
    with torch.inference_mode():
        reference = model(prompt).logits[0, -1]
    report = pw.pack_for_cpu(model, "auto")
    assert (report.int4_layers, report.kept_layers, report.head) == (14, 0, "int8")
    assert report.bytes_after < report.bytes_before / 2
    assert isinstance(model.model.layers[0].mlp.down_proj, pw.Int4Linear)
    assert isinstance(model.lm_head, pw.Int8Groups)
    assert model.model.embed_tokens.weight.dtype == torch.float32  # token lookup keeps the tied fp32 table
    with torch.inference_mode():
        got = model(prompt).logits[0, -1]
    assert (got - reference).abs().max() <= 3e-2 * reference.abs().max()
    tokens = list(DecodeLoop(model).tokens(prompt, max_new_tokens=8))  # prompt path, then kernel path
    assert len(tokens) == 8


def test_auto_leaves_a_full_precision_model_alone_and_int4_quantizes_it():
    model = _tiny_llama(on_grid=False)
    report = pw.pack_for_cpu(model, "auto")
    assert (report.int4_layers, report.kept_layers, report.head, report.packed) == (0, 14, "as loaded", False)
    assert isinstance(model.model.layers[0].mlp.down_proj, torch.nn.Linear)
    forced = pw.pack_for_cpu(model, "int4")
    assert (forced.int4_layers, forced.head) == (14, "int8")
    assert "14 linear layers int4" in forced.describe()


def test_off_changes_nothing_and_odd_shapes_are_kept():
    model = _tiny_llama(on_grid=True)
    assert not pw.pack_for_cpu(model, "off").packed
    assert isinstance(model.lm_head, torch.nn.Linear)
    odd = torch.nn.Sequential(torch.nn.Linear(40, 24))  # 40 inputs: not a multiple of the group size
    report = pw.pack_for_cpu(odd, "int4")
    assert (report.int4_layers, report.kept_layers) == (0, 1)


def test_auto_keeps_a_layer_with_one_weight_off_its_grid():
    weight = _q4_1(64, 128)
    weight[40, 77] += 0.3 * float(weight[40, :].abs().max()) / 15  # a third of a step off, in a row the 8-row look skips
    layer = torch.nn.Linear(128, 64, bias=False)
    with torch.no_grad():
        layer.weight.copy_(weight)
    model = torch.nn.Sequential(layer)
    report = pw.pack_for_cpu(model, "auto")
    assert (report.int4_layers, report.kept_layers) == (0, 1)
    assert model[0] is layer


def test_a_packed_layer_holds_its_weights_once_in_the_kernel_packing():
    weight = _q4_1(128 + 16, 256)  # a full block and a short one, whatever this CPU's block size
    layer = pw.Int4Linear(pw.fit_grid(weight), None)
    assert layer.nibbles is None and pw.kernel_layout() is not None
    assert layer.scale.dtype == torch.float16  # Q4_1's scale and offset are fp16 in the file
    assert torch.allclose(layer.dequantized(), weight, rtol=0, atol=1e-6 * float(weight.abs().max()))
    weights = weight.numel()
    held = sum(t.numel() * t.element_size() for t in layer.buffers())
    assert held <= 0.75 * weights  # 4-bit codes once + bf16 kernel scales + fp16 exact scales


def test_a_q4_k_grid_keeps_fp32_scales_to_stay_exact():
    weight = _q4_k(64, 128)
    layer = pw.Int4Linear(pw.fit_grid(weight), None)
    assert layer.scale.dtype == torch.float32
    assert torch.allclose(layer.dequantized(), weight, rtol=0, atol=1e-6 * float(weight.abs().max()))


@pytest.mark.parametrize("capability", ["avx512", "avx2", "default"])
def test_every_cpu_packing_of_torch_is_read_back_exactly(capability):
    """torch lays out its int4 packing by the CPU's vector width; each one must be understood."""
    import os
    import subprocess
    import sys

    script = ("import torch; from foldrag.generation import packed_weights as pw\n"
              "w = torch.randint(0, 16, (64 * 5 + 48, 96), dtype=torch.uint8)\n"
              "p = torch._convert_weight_to_int4pack_for_cpu(w.to(torch.int32), 1)\n"
              "layout = pw.kernel_layout()\n"
              "scale, offset = torch.rand(w.shape[0], 3, 1) + 0.5, torch.randn(w.shape[0], 3, 1)\n"
              "layer = pw.Int4Linear(pw.Grid(w.reshape(-1, 3, 32), scale, offset, True), None)\n"
              "dense = (w.reshape(-1, 3, 32).float() * scale + offset).reshape(w.shape)\n"
              "print(torch.backends.cpu.get_cpu_capability(), layout,"
              " torch.equal(pw.unpack_kernel_codes(p, *w.shape, layout), w)"
              " and torch.allclose(layer.dequantized_t(torch.float32, pw._Scratch()), dense.t(), rtol=1e-6, atol=1e-6))\n")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": capability}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    reached, layout, exact = done.stdout.split(maxsplit=1)[0], done.stdout, done.stdout.strip().endswith("True")
    if reached.lower() != capability:
        pytest.skip(f"this CPU cannot run torch's {capability} kernels (it ran {reached})")
    assert exact, layout


def test_an_unknown_packing_keeps_a_second_copy_and_still_computes(monkeypatch):
    monkeypatch.setattr(pw, "kernel_layout", lambda: None)
    weight = _q4_1(96, 160)
    layer = pw.Int4Linear(pw.fit_grid(weight), None)
    assert layer.nibbles is not None
    prompt = torch.randn(1, 12, 160)
    assert torch.allclose(layer(prompt), prompt @ weight.t(), atol=1e-5, rtol=1e-5)


def test_prompts_unpack_weights_into_the_threads_reused_buffers():
    """A prompt unpacks each layer's weights into buffers the thread keeps (fresh 50 MB tensors per
    layer cost more in page faults than the arithmetic), and the numbers are the dense layer's."""
    big, small = _q4_1(128, 192), _q4_0(96, 160)
    layers = [pw.Int4Linear(pw.fit_grid(w), None) for w in (big, small)]
    prompt = torch.randn(12, 192)
    with torch.inference_mode():
        assert torch.allclose(layers[0](prompt), prompt @ big.t(), atol=1e-5, rtol=1e-5)
        buffers = {name: flat.data_ptr() for name, flat in pw._scratch()._flat.items()}
        assert torch.allclose(layers[1](prompt[:, :160]), prompt[:, :160] @ small.t(), atol=1e-5, rtol=1e-5)
    assert buffers and {name: flat.data_ptr() for name, flat in pw._scratch()._flat.items()} == buffers
    # outside inference mode too (the buffers were made inside it)
    assert torch.allclose(layers[1](prompt[:, :160]), prompt[:, :160] @ small.t(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kept_prompt_weights_give_the_same_prompts_and_say_their_cost(dtype):
    from foldrag.generation.decoding import DecodeLoop

    model = _tiny_llama(on_grid=True)
    pw.pack_for_cpu(model, "auto", prompt_dtype=dtype)
    prompt = torch.tensor([[5, 17, 42, 8, 63, 21, 9, 30, 2, 11]])
    with torch.inference_mode():
        unpacked_each_time = model(prompt).logits[0]
    tokens = list(DecodeLoop(model).tokens(prompt, max_new_tokens=8))
    layers = [m for m in model.modules() if isinstance(m, pw.Int4Linear)]
    added = pw.keep_prompt_weights(model)
    assert added == sum(m.in_features * m.out_features for m in layers) * (4 if dtype == torch.float32 else 2)
    assert all(m.prompt_weight is not None and m.prompt_weight.dtype == dtype for m in layers)
    assert pw.keep_prompt_weights(model) == 0, "kept once"
    with torch.inference_mode():
        kept = model(prompt).logits[0]
    assert torch.equal(kept, unpacked_each_time), "the same weights: the same numbers"
    assert list(DecodeLoop(model).tokens(prompt, max_new_tokens=8)) == tokens


@pytest.mark.parametrize("choice, available, kept", [
    ("dequantize", 64 << 30, False), ("keep", 0, True),
    ("auto", 64 << 30, True),  # memory to spare: the faster prompts
    ("auto", pw.KEEP_RESERVE, False),  # the weights would eat into the reserve
    ("auto", None, False),  # memory unknown
])
def test_the_setting_keeps_prompt_weights_as_asked_and_auto_by_available_memory(monkeypatch, choice, available, kept):
    from foldrag.core import hardware
    from foldrag.core.settings import TransformersSettings
    from foldrag.generation.transformers_backend import _keep_prompt_weights

    monkeypatch.setattr(hardware, "available_memory", lambda: available)
    assert TransformersSettings().prompt_weights == "auto"
    model = _tiny_llama(on_grid=True)
    pw.pack_for_cpu(model, "auto")
    needed = pw.prompt_weights_bytes(model)
    _keep_prompt_weights(model, TransformersSettings(prompt_weights=choice))
    layers = [m for m in model.modules() if isinstance(m, pw.Int4Linear)]
    assert layers and all((m.prompt_weight is not None) == kept for m in layers)
    assert needed == sum(m.in_features * m.out_features * 4 for m in layers)  # fp32 prompts here
    assert pw.prompt_weights_bytes(model) == (0 if kept else needed)


def test_available_memory_is_the_kernels_figure_lowered_by_a_cgroup_limit(monkeypatch, tmp_path):
    from foldrag.core import hardware

    files = {"/proc/meminfo": "MemTotal: 100 kB\nMemAvailable:    8000000 kB\n",
             "/sys/fs/cgroup/memory.max": "4294967296\n", "/sys/fs/cgroup/memory.current": "1073741824\n"}

    class FakePath(type(tmp_path)):
        def read_text(self, *args, **kwargs):
            if str(self) not in files:
                raise FileNotFoundError(str(self))
            return files[str(self)]

    monkeypatch.setattr(hardware, "Path", FakePath)
    assert hardware.available_memory() == 3 << 30  # the container's 4 GiB less the 1 GiB it uses
    files["/sys/fs/cgroup/memory.max"] = "max\n"
    assert hardware.available_memory() == 8_000_000 * 1024
    del files["/proc/meminfo"]
    assert hardware.available_memory() is None
