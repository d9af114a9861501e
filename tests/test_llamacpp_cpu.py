"""llama.cpp's CPU back end in a build with runtime dispatch (rag/generation/llamacpp_cpu.py): every
variant this CPU can execute decodes; 'auto' takes the best; a variant that cannot run here, or is
not built, is a clear error. Each case runs in its own process: ggml keeps the back end it loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from foldrag.generation.llamacpp_cpu import variants

DECODE = r"""
import json, sys
from foldrag.core.settings import GenerationSettings
from foldrag.core.contracts import complete
from foldrag.generation.llamacpp_backend import LlamaCppGenerator
gen = LlamaCppGenerator.load(GenerationSettings(backend="llamacpp", model="bundled:SmolLM2-135M-Instruct",
                                                llamacpp_cpu=sys.argv[1], threads=1))
text = complete(gen, [{"role": "user", "content": "Name three colours."}], max_tokens=8, temperature=0.0)
print(json.dumps({"engine": gen.engine, "text": text}))
"""


def _decode(choice: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", DECODE, choice], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def test_a_folder_without_variants_is_a_build_with_its_cpu_back_end_built_in(tmp_path):
    assert variants(tmp_path) == []
    (tmp_path / "libggml-cpu-broken.so").write_bytes(b"not a library")
    [broken] = variants(tmp_path)
    assert broken.name == "broken" and broken.score == 0, "a library that does not load never runs"


def _built() -> list:
    pytest.importorskip("llama_cpp")
    found = variants()
    if not found:
        pytest.skip("this llama-cpp-python was built without runtime CPU dispatch (its CPU back end is built in)")
    return found


@pytest.mark.slow
def test_every_variant_this_cpu_runs_decodes_and_auto_takes_the_best():
    found = _built()
    usable = [v.name for v in found if v.score > 0]
    assert usable, [(v.name, v.score) for v in found]
    for name in usable:
        done = _decode(name)
        assert done.returncode == 0, (name, done.stderr[-2000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["engine"] == f"llama.cpp/{name}" and result["text"].strip(), (name, result)
    auto = json.loads(_decode("auto").stdout.strip().splitlines()[-1])
    assert auto["engine"] == f"llama.cpp/{usable[0]}", "auto runs the variant that scores highest here"


@pytest.mark.slow
def test_a_variant_that_cannot_run_here_or_is_not_built_is_a_clear_error():
    found = _built()
    for name in [v.name for v in found if v.score == 0][:1] + ["no_such_cpu"]:
        done = _decode(name)
        assert done.returncode != 0
        last = done.stderr.strip().splitlines()[-1]
        assert "generation.llamacpp_cpu" in last and name in last and "this CPU runs" in last, last
