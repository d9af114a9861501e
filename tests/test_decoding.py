"""foldrag's decode loop against ``model.generate`` on tiny Llama and Qwen2 models built here."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from foldrag.generation.decoding import DecodeLoop, Sampling, unsupported_reason  # noqa: E402


def _tiny(kind: str):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    common = dict(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    if kind == "llama":
        model = LlamaForCausalLM(LlamaConfig(**common, rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                                                        "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                                        "original_max_position_embeddings": 64}))
    else:
        model = Qwen2ForCausalLM(Qwen2Config(**common))  # q/k/v carry biases
        with torch.no_grad():
            for layer in model.model.layers:
                layer.self_attn.q_proj.bias.normal_(0, 0.5)
                layer.self_attn.k_proj.bias.normal_(0, 0.5)
    return model.eval()


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_greedy_tokens_match_generate(kind):
    model = _tiny(kind)
    prompt = torch.tensor([[5, 17, 42, 8, 63, 21, 9, 77, 30, 2, 11]])
    with torch.inference_mode():
        expected = model.generate(prompt, max_new_tokens=40, min_new_tokens=40, do_sample=False,
                                  pad_token_id=0)[0, prompt.shape[1]:].tolist()
    got = list(DecodeLoop(model).tokens(prompt, max_new_tokens=40))
    assert got == expected


def test_stop_ids_end_the_stream_and_close_stops_it():
    model = _tiny("llama")
    prompt = torch.tensor([[3, 4, 5]])
    full = list(DecodeLoop(model).tokens(prompt, max_new_tokens=20))
    stop = full[6]
    cut = list(DecodeLoop(model).tokens(prompt, max_new_tokens=20, stop_ids=frozenset({stop})))
    assert cut == full[: full.index(stop)]
    stream = DecodeLoop(model).tokens(prompt, max_new_tokens=20)
    assert [next(stream), next(stream)] == full[:2]
    stream.close()
    with pytest.raises(StopIteration):
        next(stream)


def test_sampling_is_seeded_and_top_p_keeps_the_head():
    model = _tiny("qwen2")
    prompt = torch.tensor([[3, 4, 5]])
    sampling = Sampling(temperature=1.0, top_p=0.9)
    a = list(DecodeLoop(model).tokens(prompt, 15, sampling=sampling, seed=7))
    b = list(DecodeLoop(model).tokens(prompt, 15, sampling=sampling, seed=7))
    assert a == b
    logits = torch.tensor([5.0, 4.0, -10.0, -10.0])  # the head holds ~100% of the mass
    picks = {Sampling(temperature=1.0, top_p=0.5).pick(logits, torch.Generator().manual_seed(i)) for i in range(30)}
    assert picks == {0}, "top-p 0.5 keeps only the best token here"
    assert Sampling().pick(logits) == 0


def test_unsupported_models_fall_back():
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50))
    assert "not one of" in unsupported_reason(gpt2)
    llama = _tiny("llama")
    llama.hf_device_map = {"model.layers.0": 0, "model.layers.1": "cpu"}
    assert "several devices" in unsupported_reason(llama)
    from foldrag.generation.transformers_backend import _choose_loop

    assert _choose_loop(llama, "auto") is None
