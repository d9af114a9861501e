"""Reused attention caches (issue 29): the blended prefill against a full one, the chunk store on
disk (bounded, self-healing), and the transformers generator reusing chunks across prompts — on
tiny Llama/Qwen2 models and a word-level tokenizer built here."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from foldrag.generation.blending import Placed, Reuse, blend_prefill, chunk_alone, lead_cache  # noqa: E402
from foldrag.generation.decoding import DecodeLoop  # noqa: E402
from foldrag.generation.kv_store import KVStore  # noqa: E402
from tests.test_decoding import _tiny  # noqa: E402


def _full(loop, ids):
    keys, values = loop.new_cache(ids.shape[1])
    with torch.inference_mode():
        logits = loop._forward(ids, 0, keys, values)
    return logits, keys, values


def _blended(loop, ids, lead: int, spans, recompute: float):
    with torch.inference_mode():
        lead_kv = lead_cache(loop, ids[:, :lead])
        placed = tuple(Placed(s, chunk_alone(loop, lead_kv, lead, ids[:, s:e])) for s, e in spans)
        keys, values = loop.new_cache(ids.shape[1])
        logits, report = blend_prefill(loop, ids, keys, values,
                                       Reuse(exact=lead, exact_kv=lead_kv, placed=placed, recompute=recompute))
    return logits, keys, report


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_blending_everything_is_the_full_prefill_and_less_is_an_approximation(kind):
    loop = DecodeLoop(_tiny(kind))
    ids = torch.randint(0, 97, (1, 60), generator=torch.Generator().manual_seed(1))
    full, full_keys, _ = _full(loop, ids)
    spans = [(10, 25), (30, 50)]
    # every chunk token recomputed: the same caches and logits as computing the prompt in full
    logits, keys, report = _blended(loop, ids, 5, spans, 1.0)
    assert torch.allclose(logits, full, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(keys, full_keys))
    assert (report.exact, report.placed, report.recomputed) == (5, 35, 35)
    # none recomputed: chunks never see each other, so the result deviates; 15% recomputed is closer
    errors = {r: float((_blended(loop, ids, 5, spans, r)[0] - full).abs().max()) for r in (0.0, 0.15, 0.5)}
    assert errors[0.0] > errors[0.5] > 1e-4
    assert errors[0.15] <= errors[0.0]
    report = _blended(loop, ids, 5, spans, 0.15)[2]
    assert report.recomputed == 6  # ceil(0.15 × 35)
    assert report.work < 0.8  # layer 0 for all 55 tokens, then 25 fresh + 6 recomputed of 60 per layer


def test_an_exact_prefix_alone_is_the_full_prefill():
    loop = DecodeLoop(_tiny("qwen2"))
    ids = torch.randint(0, 97, (1, 40), generator=torch.Generator().manual_seed(2))
    full, _, _ = _full(loop, ids)
    with torch.inference_mode():
        prefix = lead_cache(loop, ids[:, :12])
        keys, values = loop.new_cache(40)
        logits, report = blend_prefill(loop, ids, keys, values, Reuse(exact=12, exact_kv=prefix))
    assert torch.allclose(logits, full, atol=1e-5)
    assert report.cached == 12 and report.recomputed == 0
    assert report.work == pytest.approx(28 / 40)


# -- the store


def _kv(tokens: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((2, 3, 2, tokens, 8)).astype(np.float16)


def test_store_round_trip_keys_and_bound(tmp_path):
    store = KVStore(tmp_path, limit_bytes=1 << 20)
    key = store.key((1, 2, 3), (4, 5, 6))
    assert key != store.key((1, 2), (3, 4, 5, 6)), "the lead and the chunk are told apart"
    assert key != store.key((1, 2, 3), (4, 5, 7))
    assert store.get(key) is None
    data = _kv(10)
    store.put(key, data)
    got = store.get(key)
    assert np.array_equal(np.asarray(got), data)
    stats = store.stats()
    assert (stats.entries, stats.hits, stats.misses) == (1, 1, 1)
    assert stats.hit_rate == 0.5


def test_store_keeps_within_its_limit_least_recently_used_out(tmp_path):
    one = _kv(64).nbytes + 256
    store = KVStore(tmp_path, limit_bytes=3 * one)
    keys = [store.key((), (i,)) for i in range(5)]
    import os

    for i, key in enumerate(keys[:3]):
        store.put(key, _kv(64, i))
        os.utime(tmp_path / f"{key}.kv", (1000 + i, 1000 + i))  # put in a known order of use
    store.get(keys[0])  # read: now the most recent
    store.put(keys[3], _kv(64, 3))
    present = {k for k in keys if (tmp_path / f"{k}.kv").exists()}
    assert present == {keys[0], keys[2], keys[3]}, "the least recently used (1) went first"
    assert store.stats().bytes <= 3 * one
    store.put(keys[4], _kv(4096))  # larger than the whole budget: never kept
    assert not (tmp_path / f"{keys[4]}.kv").exists()


@pytest.mark.parametrize("damage", ["flip", "truncate", "header"])
def test_a_damaged_cache_file_is_removed_and_never_used(tmp_path, damage):
    store = KVStore(tmp_path, limit_bytes=1 << 20)
    key = store.key((1,), (2, 3))
    store.put(key, _kv(16))
    path = tmp_path / f"{key}.kv"
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[-5] ^= 0x40
    elif damage == "truncate":
        raw = raw[:-100]
    else:
        raw[:12] = b"not-a-header"
    path.write_bytes(bytes(raw))
    assert store.get(key) is None
    assert not path.exists()
    assert store.stats().damaged == 1


# -- the generator


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "system", "user", "assistant", "\n", "Sources:",
             "Question:", "[1]", "[2]", "[3]", "(a.md)", "(b.md)", "(c.md)", "Answer", "only", "from", "sources."]
    words += [f"w{i}" for i in range(97 - len(words))]
    vocab = {w: i for i, w in enumerate(words)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit()])
    tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", eos_token="</s>",
                                  additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    tok.chat_template = ("{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> "
                         "{% endfor %}{% if add_generation_prompt %}<|im_start|> assistant {% endif %}")
    return tok


def _generator(tmp_path, recompute: float, reuse: str = "on", limit_mb: int = 64):
    from foldrag.core.settings import GenerationSettings
    from foldrag.generation.presets import choose_preset
    from foldrag.generation.transformers_backend import TransformersGenerator, _chunk_reuse

    cfg = GenerationSettings(kv_reuse=reuse, kv_recompute=recompute, kv_cache_mb=limit_mb,
                             kv_cache_dir=str(tmp_path / "kv"))
    tokenizer = _tokenizer()
    model = _tiny("qwen2")
    model.generation_config.eos_token_id = 2
    preset = choose_preset("chatml", "tiny", tokenizer.chat_template)
    return TransformersGenerator(model, tokenizer, preset, name="tiny", decode_loop="foldrag",
                                 reuse=_chunk_reuse(cfg, tmp_path, tokenizer, None, "fp32"))


CHUNKS = [" ".join(f"w{(i * 7 + j * 3) % 60}" for j in range(24)) for i in range(3)]


def _messages(order, question="w60 w61 w62"):
    body = " \n ".join(f"[{n}] ({'abc'[c]}.md) \n {CHUNKS[c]}" for n, c in enumerate(order, start=1))
    return [{"role": "system", "content": "Answer only from sources."},
            {"role": "user", "content": f"Sources: \n {body} \n Question: {question}"}]


def _ask(gen, order, question="w60 w61 w62"):
    stream = gen.stream(_messages(order, question), max_tokens=12, temperature=0.0,
                        passages=tuple(CHUNKS[c] for c in order))
    return stream.text(), stream.stats


def test_the_generator_reuses_chunks_across_prompts_in_any_order(tmp_path):
    exact = _generator(tmp_path / "a", recompute=1.0)
    baseline = _generator(tmp_path / "b", recompute=1.0, reuse="off")
    assert exact.reuse is not None and baseline.reuse is None
    text0, cold = _ask(exact, [0, 1, 2])
    assert cold.cached_tokens == 0 and cold.prefill_work == 1.0, "nothing cached yet: computed in full"
    assert len(list((tmp_path / "a" / "kv").rglob("*.kv"))) == 3, "each chunk stored after the answer"
    # the same chunks in another order, after the same system prompt: all three chunks placed
    text1, warm = _ask(exact, [2, 0, 1], "w63 w64")
    assert warm.cached_tokens >= 3 * 24 + 5  # three chunks and the shared prefix
    assert warm.recomputed_tokens == 3 * 24
    # everything recomputed: the very answer of a prompt computed in full
    assert text1 == _ask(baseline, [2, 0, 1], "w63 w64")[0]
    assert text0 == _ask(baseline, [0, 1, 2])[0]


def test_default_share_reuses_most_of_the_prompt_and_reports_it(tmp_path):
    gen = _generator(tmp_path, recompute=0.15)
    _ask(gen, [0, 1])
    _, stats = _ask(gen, [1, 0], "w65")
    assert stats.cached_tokens >= 2 * 24
    assert stats.recomputed_tokens == 2 * 4  # ceil(0.15 × 24) per chunk, chosen over both chunks: 8 of 48
    assert stats.computed_tokens == stats.prompt_tokens - stats.cached_tokens + stats.recomputed_tokens
    assert 0 < stats.prefill_work < 0.7
    assert stats.prefill_saved_s >= 0


def test_a_changed_chunk_misses_and_a_damaged_cache_is_computed_again(tmp_path):
    gen = _generator(tmp_path, recompute=1.0)
    baseline = _generator(tmp_path / "off", recompute=1.0, reuse="off")
    _ask(gen, [0, 1])
    files = sorted((tmp_path / "kv").rglob("*.kv"))
    assert len(files) == 2
    raw = bytearray(files[0].read_bytes())
    raw[-3] ^= 0x10
    files[0].write_bytes(bytes(raw))
    # the other order: the first prompt kept whole covers none of the chunks, so both are looked up
    text, stats = _ask(gen, [1, 0], "w66")
    assert stats.cached_tokens < 2 * 24 + 20, "the damaged chunk was not placed"
    assert text == _ask(baseline, [1, 0], "w66")[0]
    assert gen.reuse.store.stats().damaged == 1
    assert len(list((tmp_path / "kv").rglob("*.kv"))) == 2, "and stored again, whole"
    CHUNKS_BEFORE = list(CHUNKS)
    try:
        CHUNKS[0] = CHUNKS[0].replace("w0", "w1")  # an edited chunk: a different key, a miss
        _, edited = _ask(gen, [0], "w67")
        assert edited.cached_tokens < 24
    finally:
        CHUNKS[:] = CHUNKS_BEFORE


def test_reuse_off_and_a_zero_budget(tmp_path):
    off = _generator(tmp_path / "off", recompute=0.15, reuse="off")
    _ask(off, [0, 1])
    _, stats = _ask(off, [0, 1])
    assert stats.cached_tokens == 0 and stats.prefill_work == 1.0
    assert not (tmp_path / "off" / "kv").exists()
    none = _generator(tmp_path / "zero", recompute=0.15, limit_mb=0)
    _ask(none, [0, 1])
    _, stats = _ask(none, [0, 1])
    assert not list((tmp_path / "zero" / "kv").rglob("*.kv")), "a zero budget keeps no chunk"
    assert stats.cached_tokens > 0, "the shared prefix is still reused"


def test_auto_reuses_the_shared_prefix_only_and_answers_exactly_as_without(tmp_path):
    auto = _generator(tmp_path / "auto", recompute=0.15, reuse="auto")
    off = _generator(tmp_path / "off", recompute=0.15, reuse="off")
    first, cold = _ask(auto, [0, 1, 2])
    assert cold.cached_tokens == 0
    for order, question in (([2, 0, 1], "w63 w64"), ([1], "w65 w66 w67"), ([0, 1, 2], "w60 w61 w62")):
        text, stats = _ask(auto, order, question)
        assert text == _ask(off, order, question)[0], "the prefix is exact: the same answer"
        assert stats.cached_tokens >= 8 and stats.recomputed_tokens == 0, "the system prompt and 'Sources:' reused"
        assert stats.prefill_work < 1.0
    assert first == _ask(off, [0, 1, 2])[0]
    assert not list((tmp_path / "auto" / "kv").rglob("*.kv")), "auto stores no chunk caches"


def test_a_follow_up_carrying_its_turn_reuses_the_prompt_and_the_reply_exactly(tmp_path):
    auto = _generator(tmp_path / "auto", recompute=0.15, reuse="auto")
    off = _generator(tmp_path / "off", recompute=0.15, reuse="off")
    first = _messages([0, 1])
    reply, _ = _ask(auto, [0, 1])
    reply_ids = auto.tokenizer(reply, add_special_tokens=False)["input_ids"]
    assert len(reply_ids) >= 3
    follow_up = first + [{"role": "assistant", "content": reply},
                         {"role": "user", "content": f"Sources: \n [3] (c.md) \n {CHUNKS[2]} \n Question: w65"}]
    stream = auto.stream(follow_up, max_tokens=12, temperature=0.0, passages=(CHUNKS[0], CHUNKS[1], CHUNKS[2]))
    text, stats = stream.text(), stream.stats
    turn = auto.prompt_tokens(first)
    # the whole first prompt and every reply token fed back (all but the last) come from the cache
    assert stats.cached_tokens == turn + len(reply_ids) - 1
    assert stats.recomputed_tokens == 0 and stats.prefill_work < 0.5
    assert text == off.stream(follow_up, max_tokens=12, temperature=0.0).text(), "exact: the same answer"
    # the follow-up's own prompt and reply supersede the turn they began with; memory stays bounded
    kept = [tokens for tokens, _ in auto.reuse._prefixes]
    assert len(kept) == 1 and len(kept[0]) > turn + len(reply_ids)


def test_kept_prompts_stay_within_their_count_and_bytes(tmp_path, monkeypatch):
    from foldrag.generation import chunk_cache

    auto = _generator(tmp_path, recompute=0.15, reuse="auto")
    for question in ("w60", "w61", "w62", "w63", "w64", "w65"):
        _ask(auto, [0], question)
    assert len(auto.reuse._prefixes) == chunk_cache.PREFIXES
    one = chunk_cache._bytes(auto.reuse._prefixes[-1][1])
    monkeypatch.setattr(chunk_cache, "PREFIX_BYTES", int(one * 2.5))
    _ask(auto, [1], "w66")
    assert len(auto.reuse._prefixes) == 2, "the oldest go until the bytes fit"
    monkeypatch.setattr(chunk_cache, "PREFIX_BYTES", one // 2)
    _ask(auto, [2], "w67")
    assert len(auto.reuse._prefixes) == 2, "a prompt larger than the whole budget is not kept"
