"""The bundled SmolLM2-135M-Instruct through foldrag's generator: answers, citations, streaming, offload."""

from __future__ import annotations

from tests.server_support import shared_tokenizer

import json

import pytest

from foldrag.core.contracts import complete
from tests.conftest import SMOLLM, run_cli

pytestmark = pytest.mark.slow


def test_bundled_model_loads_with_its_preset(generator):
    assert generator.preset.name == "chatml"
    assert generator.plan is None  # CPU, no offload
    assert "Paris" in complete(generator, [{"role": "user", "content": "What is the capital of France?"}], max_tokens=16)


def test_stop_strings_and_max_tokens(generator):
    text = complete(generator, [{"role": "user", "content": "List three fruits, one per line, numbered."}],
                    max_tokens=40, stop=("2.",))
    assert "2." not in text and text.strip()
    stream = generator.stream([{"role": "user", "content": "Count from one to one hundred in words."}], max_tokens=8)
    stream.text()
    assert stream.stats.new_tokens <= 9


def test_foldrag_decode_loop_matches_generate_on_the_bundled_model(generator):
    import torch

    assert generator.loop is not None, "SmolLM2 is a Llama: foldrag's own loop decodes it"
    ids = generator.prompt_ids([{"role": "user", "content": "Sources:\n[1] The lighthouse was built in 1891.\n\n"
                                 "Question: When was the lighthouse built? Cite [n]."}])
    with torch.inference_mode():
        expected = generator.model.generate(ids, max_new_tokens=48, do_sample=False,
                                            pad_token_id=generator.tokenizer.eos_token_id)[0, ids.shape[1]:].tolist()
    while expected and expected[-1] in generator.stop_ids:  # generate keeps the end token; the loop stops before it
        expected.pop()
    assert len(expected) >= 10
    assert list(generator.loop.tokens(ids, 48, stop_ids=generator.stop_ids)) == expected
    stream = generator.stream([{"role": "user", "content": "Say hello in Korean."}], max_tokens=24)
    assert "\ufffd" not in stream.text() and stream.stats.engine == "transformers/foldrag-loop"


def test_bundled_model_decodes_from_exactly_repacked_int4_int8_weights(generator):
    """The GGUF's Q4_1 layers and Q8_0 head are re-packed losslessly; the kernels' bf16 activations
    keep the next-token choice of the fp32 model (teacher-forced along its own greedy text)."""
    import torch

    from foldrag.evaluation.fidelity import next_token_logits
    from foldrag.generation.decoding import DecodeLoop
    from foldrag.generation.gguf_loading import load_gguf
    from foldrag.generation.bundled import bundled_gguf
    from foldrag.generation.model_files import default_model_cache
    from foldrag.generation.packed_weights import Int4Linear, Int8Groups

    report = generator.weights
    assert (report.int4_layers, report.kept_layers, report.head) == (210, 0, "int8")
    assert isinstance(generator.model.model.layers[0].mlp.up_proj, Int4Linear)
    assert isinstance(generator.model.lm_head, Int8Groups)
    gguf = bundled_gguf("bundled:SmolLM2-135M-Instruct")
    fp32, _, _ = load_gguf(gguf, dtype=torch.float32, pack="off", cache_dir=default_model_cache())
    bf16_prompts, _, _ = load_gguf(gguf, dtype=torch.float32, pack="auto", cache_dir=default_model_cache(),
                                   prompt_dtype=torch.bfloat16)  # dtype='auto' on CPUs with fast bf16
    same, total = [0, 0], 0
    for question in ("When was the lighthouse built? [1] The lighthouse was built in 1891.",
                     "서울은 어느 나라의 수도입니까?", "Write a haiku about rain."):
        ids = generator.prompt_ids([{"role": "user", "content": question}])
        text = list(DecodeLoop(fp32).tokens(ids, 32, stop_ids=generator.stop_ids))
        sequence = torch.cat([ids, torch.tensor([text], dtype=ids.dtype)], 1)
        picks = [next_token_logits(model, sequence, ids.shape[1]).argmax(-1)
                 for model in (fp32, generator.model, bf16_prompts)]
        same = [same[0] + int((picks[0] == picks[1]).sum()), same[1] + int((picks[0] == picks[2]).sum())]
        total += len(text)
    assert total >= 30 and same[0] / total >= 0.95, f"{same[0]} of {total} next tokens agree"
    assert same[1] / total >= 0.95, f"with bf16 prompts, {same[1]} of {total} next tokens agree"


def test_layers_read_from_gguf_blocks_equal_the_dequantized_and_fitted_ones(monkeypatch):
    """The fast load reads 4-bit codes straight from the blocks, rows reordered as transformers
    reorders Llama's Q/K; the slow one dequantizes and fits. Same weights, layer by layer."""
    import torch

    from foldrag.generation import gguf_loading
    from foldrag.generation.bundled import bundled_gguf
    from foldrag.generation.model_files import default_model_cache
    from foldrag.generation.packed_weights import Int4Linear

    gguf = bundled_gguf("bundled:SmolLM2-135M-Instruct")
    fast, _, fast_report = gguf_loading.load_gguf(gguf, dtype=torch.float32, pack="auto",
                                                  cache_dir=default_model_cache())
    monkeypatch.setattr(gguf_loading, "grid_from_blocks", lambda *args: None)
    slow, _, slow_report = gguf_loading.load_gguf(gguf, dtype=torch.float32, pack="auto",
                                                  cache_dir=default_model_cache())
    assert fast_report.int4_layers == slow_report.int4_layers == 210
    slow_layers = dict(slow.named_modules())
    for name, layer in fast.named_modules():
        if isinstance(layer, Int4Linear):
            expected = slow_layers[name].dequantized()
            assert torch.allclose(layer.dequantized(), expected, rtol=0, atol=1e-6 * float(expected.abs().max())), name


def test_auto_dtype_follows_the_cpu_probe(tmp_path, monkeypatch, generator):
    """dtype='auto' on the CPU: the probe's choice (cached per machine) decides the load dtype, the
    packing and the prompt dtype; here with the probe's answer for a CPU with fast bf16. The text is
    not compared: on a CPU without native bf16 the emulated bf16 prompt can turn the 135M model's
    greedy answer (a Xeon with AVX512-BF16 said "Paris", an AVX2 EPYC "L'Étoile, ..."); the next
    token's logits are compared with the fp32 prompt's instead."""
    import torch

    from foldrag.generation import cpu_probe
    from foldrag.generation.transformers_backend import TransformersGenerator
    from foldrag.core.settings import GenerationSettings

    fast_bf16 = cpu_probe.CpuTimings(decode_fp32=1.9, decode_bf16=1.3, decode_int4=0.4, prefill_fp32=17.5,
                                     prefill_bf16=2.7)
    from foldrag.generation.model_files import default_model_cache

    models = str(default_model_cache())  # the converted model stays where it is; the probe cache moves
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cpu_probe.cached_timings(cpu_probe.default_probe_dir(), 8, lambda layers: fast_bf16)
    gen = TransformersGenerator.load(GenerationSettings(model=SMOLLM, device="cpu", transformers={"cache_dir": models}))
    assert gen.model.dtype == torch.float32 and gen.weights.int4_layers == 210
    assert gen.model.model.layers[0].mlp.up_proj.prompt_dtype == torch.bfloat16
    ids = gen.tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        bf16_prompt = gen.model(ids).logits[0, -1].float()
        fp32_prompt = generator.model(ids).logits[0, -1].float()
    assert torch.nn.functional.cosine_similarity(bf16_prompt, fp32_prompt, dim=0) > 0.98
    top = set(bf16_prompt.topk(5).indices.tolist()) & set(fp32_prompt.topk(5).indices.tolist())
    assert len(top) >= 3, "the bf16 prompt path predicts other next tokens than fp32"
    assert complete(gen, [{"role": "user", "content": "What is the capital of France?"}], max_tokens=16).strip()


def test_cpu_quantize_off_keeps_the_loaded_weights():
    import torch

    from foldrag.generation.transformers_backend import TransformersGenerator
    from foldrag.core.settings import GenerationSettings

    gen = TransformersGenerator.load(GenerationSettings(model=SMOLLM, device="cpu", transformers={"cpu_quantize": "off"}))
    assert not gen.weights.packed
    assert type(gen.model.lm_head) is torch.nn.Linear and type(gen.model.model.layers[0].mlp.up_proj) is torch.nn.Linear
    assert "Paris" in complete(gen, [{"role": "user", "content": "What is the capital of France?"}], max_tokens=16)


def test_closing_the_stream_stops_generation(generator):
    stream = generator.stream([{"role": "user", "content": "Count from one to one hundred in words."}], max_tokens=300)
    pieces = [next(stream) for _ in range(3)]
    stream.close()
    # Closing ended the call there and then: its stats are final, it stopped long before max_tokens,
    # and nothing more comes out.
    assert pieces and stream.stats is not None and stream.stats.new_tokens < 40
    assert 0 < stream.stats.first_token_s <= stream.stats.total_s
    with pytest.raises(StopIteration):
        next(stream)


def test_answers_from_an_indexed_folder_and_cites_the_right_source(tmp_path, generator, real_embedder):
    from foldrag.build import build_rag
    from foldrag.core.settings import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lighthouse.md").write_text("# Lighthouse\n\nThe Pelican Point lighthouse was built in 1891 and painted red.")
    (docs / "bakery.md").write_text("# Bakery\n\nThe corner bakery sells sourdough bread every morning.")
    settings = Settings.load(index={"path": tmp_path / "idx"}, retrieval={"mode": "hybrid"})
    rag = build_rag(settings, embedder=real_embedder, generator=generator, tokenizer=shared_tokenizer())
    rag.ingest(docs)
    answer = rag.ask("When was the Pelican Point lighthouse built?", k=2)
    assert "1891" in answer.answer
    assert [c.source for c in answer.citations] == ["lighthouse.md"]
    assert answer.timings["tokens_per_s"] > 0


def test_disk_offload_on_the_cpu(tmp_path):
    from foldrag.generation.transformers_backend import TransformersGenerator
    from foldrag.core.settings import GenerationSettings

    gen = TransformersGenerator.load(GenerationSettings(model=SMOLLM, device="cpu", transformers={
        "offload_folder": str(tmp_path / "off"), "cpu_memory": "60MB"}))
    assert gen.plan.disk_layers > 0
    assert gen.loop is None, "layers split over devices decode through model.generate and accelerate's hooks"
    assert "disk" in set(gen.plan.device_map.values())
    assert "Paris" in complete(gen, [{"role": "user", "content": "What is the capital of France?"}], max_tokens=16)


def test_missing_local_model_is_a_clear_error(tmp_path):
    out = run_cli("ask", "hi", "--index", str(tmp_path / "idx"),
                  env={"FOLDRAG_GENERATION__MODEL": str(tmp_path / "no-model")})
    # the index check comes first (no model is loaded for it); give it an index so the model check is what fails
    assert out.returncode == 3 and "no index at" in out.stderr and out.stderr.count("\n") == 1
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello world")
    assert run_cli("ingest", str(docs), "--index", str(tmp_path / "idx")).returncode == 0
    out = run_cli("ask", "hi", "--index", str(tmp_path / "idx"), "--mode", "hybrid",
                  env={"FOLDRAG_GENERATION__MODEL": str(tmp_path / "no-model")})
    assert out.returncode == 8
    assert "generation model not found" in out.stderr and str(tmp_path / "no-model") in out.stderr


def test_ask_cli_json(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lighthouse.md").write_text("# Lighthouse\n\nThe Pelican Point lighthouse was built in 1891 and painted red.")
    assert run_cli("ingest", str(docs), "--index", str(tmp_path / "idx")).returncode == 0
    out = run_cli("ask", "When was the Pelican Point lighthouse built?", "--index", str(tmp_path / "idx"),
                  "--mode", "hybrid", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"answer", "reasoning", "citations", "queries", "timings"}
    assert "1891" in data["answer"] and data["citations"][0]["source"] == "lighthouse.md"
    assert data["model"] == "bundled:SmolLM2-135M-Instruct" and data["engine"].startswith("transformers/")
    assert set(data["citations"][0]) == {"n", "chunk_id", "source", "page", "pages", "snippet", "score", "start", "end",
                                         "spans", "signals", "support"}


def test_the_server_answers_with_the_real_models(tmp_path, generator, real_embedder, settings):
    """The whole HTTP path with the bundled models: the official openai client against uvicorn."""
    openai = pytest.importorskip("openai")
    import httpx

    from foldrag.api.app import create_app
    from foldrag.build import build_collections
    from tests.server_support import live_server, wait_ready

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lighthouse.md").write_text("# Lighthouse\n\nThe Pelican Point lighthouse was built in 1891 and painted red.")
    (docs / "bakery.md").write_text("# Bakery\n\nThe corner bakery sells sourdough bread every morning.")
    cfg = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"mode": "hybrid", "k": 2})})
    rags = build_collections(cfg, {"notes": tmp_path / "idx"}, embedder=real_embedder, generator=generator,
                             tokenizer=shared_tokenizer())
    rags["notes"].ingest(docs)
    with live_server(create_app(cfg, rags)) as url:
        wait_ready(httpx.Client(base_url=url))
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=120)
        reply = client.chat.completions.create(
            model="notes", messages=[{"role": "user", "content": "When was the Pelican Point lighthouse built?"}])
        assert "1891" in reply.choices[0].message.content
        cited = [r["source"] for r in reply.model_extra["search_results"] if r["cited"]]
        assert cited == ["lighthouse.md"]
        assert reply.usage.completion_tokens > 0
