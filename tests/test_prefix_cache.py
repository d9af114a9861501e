"""The shared-prefix cache (prefix_cache.py): a prompt that begins as a recent one did reuses that
beginning's attention caches, exactly — the same answers as a full prefill — within a bounded
memory; on tiny Llama/Qwen2 models and a word-level tokenizer built here."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from foldrag.generation.decoding import DecodeLoop  # noqa: E402
from foldrag.generation.prefix_cache import PrefixCache  # noqa: E402
from tests.test_decoding import _tiny  # noqa: E402


def _full(loop, ids):
    keys, values = loop.new_cache(ids.shape[1])
    with torch.inference_mode():
        logits = loop._forward(ids, 0, keys, values)
    return logits, keys, values


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_a_prompt_after_a_kept_prefix_is_the_full_prefill(kind):
    loop = DecodeLoop(_tiny(kind))
    ids = torch.randint(0, 97, (1, 40), generator=torch.Generator().manual_seed(2))
    full, full_keys, _ = _full(loop, ids)
    cache = PrefixCache(loop)
    _, keys, values = _full(loop, ids[:, :12])
    runs = []
    cache.remember(ids[0, :12].tolist(), _Run(keys, values))
    keys, values = loop.new_cache(40)
    with torch.inference_mode():
        logits = cache.prefill(ids[0].tolist(), runs)(ids, keys, values)
    assert torch.allclose(logits, full, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(keys, full_keys))
    assert runs[0].cached_tokens == 12 and runs[0].prompt_tokens == 40
    assert cache.stats().hits == 1


class _Run:
    def __init__(self, keys, values):
        self.keys, self.values = keys, values


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


def _generator(reuse: str = "auto"):
    from foldrag.generation.presets import choose_preset
    from foldrag.generation.transformers_backend import TransformersGenerator

    tokenizer = _tokenizer()
    model = _tiny("qwen2")
    model.generation_config.eos_token_id = 2
    preset = choose_preset("chatml", "tiny", tokenizer.chat_template)
    return TransformersGenerator(model, tokenizer, preset, name="tiny", decode_loop="foldrag",
                                 prefix_cache=reuse != "off")


CHUNKS = [" ".join(f"w{(i * 7 + j * 3) % 60}" for j in range(24)) for i in range(3)]


def _messages(order, question="w60 w61 w62"):
    body = " \n ".join(f"[{n}] ({'abc'[c]}.md) \n {CHUNKS[c]}" for n, c in enumerate(order, start=1))
    return [{"role": "system", "content": "Answer only from sources."},
            {"role": "user", "content": f"Sources: \n {body} \n Question: {question}"}]


def _ask(gen, order, question="w60 w61 w62"):
    stream = gen.stream(_messages(order, question), max_tokens=12, temperature=0.0)
    return stream.text(), stream.stats


def test_reuse_off_computes_every_prompt_in_full():
    off = _generator("off")
    _ask(off, [0, 1])
    _, stats = _ask(off, [0, 1])
    assert stats.cached_tokens == 0 and stats.prefill_work == 1.0
    assert off.cache_stats() == {}


def test_auto_reuses_the_shared_prefix_and_answers_exactly_as_without():
    auto = _generator("auto")
    off = _generator("off")
    first, cold = _ask(auto, [0, 1, 2])
    assert cold.cached_tokens == 0
    for order, question in (([2, 0, 1], "w63 w64"), ([1], "w65 w66 w67"), ([0, 1, 2], "w60 w61 w62")):
        text, stats = _ask(auto, order, question)
        assert text == _ask(off, order, question)[0], "the prefix is exact: the same answer"
        assert stats.cached_tokens >= 8, "the system prompt and 'Sources:' reused"
        assert stats.prefill_work < 1.0
    assert first == _ask(off, [0, 1, 2])[0]
    stats = auto.cache_stats()
    assert stats["hits"] == 3 and stats["misses"] == 1 and 0 < stats["bytes"] <= stats["limit_bytes"]


def test_a_prompt_that_repeats_a_turn_reuses_its_prompt_and_reply_exactly():
    auto = _generator("auto")
    off = _generator("off")
    first = _messages([0, 1])
    reply, _ = _ask(auto, [0, 1])
    reply_ids = auto.tokenizer(reply, add_special_tokens=False)["input_ids"]
    assert len(reply_ids) >= 3
    follow_up = first + [{"role": "assistant", "content": reply},
                         {"role": "user", "content": f"Sources: \n [3] (c.md) \n {CHUNKS[2]} \n Question: w65"}]
    stream = auto.stream(follow_up, max_tokens=12, temperature=0.0)
    text, stats = stream.text(), stream.stats
    turn = auto.prompt_tokens(first)
    # the whole first prompt and every reply token fed back (all but the last) come from the cache
    assert stats.cached_tokens == turn + len(reply_ids) - 1
    assert stats.prefill_work < 0.5
    assert text == off.stream(follow_up, max_tokens=12, temperature=0.0).text(), "exact: the same answer"
    # the follow-up's own prompt and reply supersede the turn they began with; memory stays bounded
    kept = [tokens for tokens, _ in auto.prefixes._kept]
    assert len(kept) == 1 and len(kept[0]) > turn + len(reply_ids)


def test_kept_prompts_stay_within_their_count_and_bytes():
    from foldrag.generation import prefix_cache

    auto = _generator("auto")
    for question in ("w60", "w61", "w62", "w63", "w64", "w65"):
        _ask(auto, [0], question)
    cache = auto.prefixes
    assert len(cache._kept) == prefix_cache.ENTRIES
    one = prefix_cache._bytes(cache._kept[-1][1])
    cache.max_bytes = int(one * 2.5)
    _ask(auto, [1], "w66")
    assert len(cache._kept) == 2, "the oldest go until the bytes fit"
    cache.max_bytes = one // 2
    _ask(auto, [2], "w67")
    assert len(cache._kept) == 2, "a prompt larger than the whole budget is not kept"


@pytest.mark.parametrize("retired", [{"kv_recompute": 0.3}, {"kv_cache_mb": 10}, {"kv_cache_dir": "/tmp/kv"},
                                     {"kv_reuse": "on"}, {"kv_reuse": "carry"}])
def test_a_config_setting_a_retired_key_loads_with_a_warning_naming_it(tmp_path, monkeypatch, caplog, retired):
    from foldrag.core.settings import Settings

    key, value = next(iter(retired.items()))
    toml = tmp_path / "foldrag.toml"
    toml.write_text(f"[generation]\n{key} = {value!r}\n".replace("'", '"'))
    monkeypatch.chdir(tmp_path)
    with caplog.at_level("WARNING", logger="foldrag.settings"):
        settings = Settings.load()
    assert settings.generation.kv_reuse == "auto"
    warnings = [r.getMessage() for r in caplog.records if r.name == "foldrag.settings"]
    assert len(warnings) == 1 and f"generation.{key}" in warnings[0] and "retired" in warnings[0]
