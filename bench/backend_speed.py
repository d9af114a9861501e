"""Each generation backend on the same model and prompt: load time, peak memory, time to first token,
decode rate, and the first token of a second question that shares the prompt's start.

Usage:  .venv/bin/python bench/backend_speed.py [--model bundled:SmolLM2-135M-Instruct] [--json]

Every backend runs in its own fresh process (so peak RSS is its own): transformers (foldrag's
defaults: dtype 'auto' from the CPU probe), llamacpp (llama-cpp-python in process), direct
(llama-cpp-python called without foldrag, on the same prompt tokens: the overhead yardstick), and openai
(foldrag's client against llama.cpp's own server on 127.0.0.1; the server's peak RSS is reported).
The prompt is foldrag's RAG prompt of ~900 tokens; the second question keeps the instructions and
sources and changes only the question, as a follow-up over the same context does. Greedy decoding,
--new-tokens tokens; time to first token of the first (cold) call, decode rate the best of --repeats
(= (new tokens - 1) / (total - first token)).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.generation_speed import QUESTION, rag_prompt  # noqa: E402 - after the path is set

QUESTIONS = (QUESTION, "Which files does an index folder hold?")


def run_direct(model: str, new_tokens: int, repeats: int) -> dict:
    """llama-cpp-python called directly on the same prompt tokens: the yardstick for the llamacpp
    backend's overhead (same context size and threads as the backend)."""
    from llama_cpp import Llama

    from foldrag.core.settings import GenerationSettings
    from foldrag.generation.llamacpp_backend import LlamaCppGenerator, gguf_path

    shaper = LlamaCppGenerator.load(GenerationSettings(backend="llamacpp", model=model, device="cpu"))
    ids = shaper.prompt_ids(rag_prompt(900, shaper.prompt_tokens, QUESTIONS[0]))
    n_ctx, threads = shaper.context_window, os.cpu_count() or 1
    del shaper
    t0 = time.perf_counter()
    llm = Llama(model_path=str(gguf_path(model)), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
    load_s = time.perf_counter() - t0
    best = (0.0, 0.0)
    for _ in range(repeats):
        llm.reset()
        start, first, count = time.perf_counter(), None, 0
        for token in llm.generate(ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0):
            llm.detokenize([token])
            first = first or time.perf_counter() - start
            count += 1
            if count == new_tokens:
                break
        total = time.perf_counter() - start
        rate = (count - 1) / (total - first)
        best = max(best, (rate, first))
    return {"backend": "llama-cpp-python direct", "model": model, "load_s": round(load_s, 2), "prompt_tokens": len(ids),
            "ttft_s": round(best[1], 3), "decode_tok_s": round(best[0], 1), "new_tokens": new_tokens,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def run_one(backend: str, model: str, new_tokens: int, repeats: int, base_url: str | None) -> dict:
    from foldrag.core.settings import GenerationSettings
    from foldrag.generation.backends import load_generator

    if backend == "direct":
        return run_direct(model, new_tokens, repeats)

    t0 = time.perf_counter()
    settings = GenerationSettings(backend=backend, model=model, device="cpu", base_url=base_url)
    generator = load_generator(settings)
    load_s = time.perf_counter() - t0
    first = rag_prompt(900, generator.prompt_tokens, QUESTIONS[0])
    second = rag_prompt(900, generator.prompt_tokens, QUESTIONS[1])
    best, cold = None, None
    for _ in range(repeats):
        stream = generator.stream(first, max_tokens=new_tokens, temperature=0.0)
        stream.text()
        cold = cold or stream.stats  # the first call: nothing of this prompt is cached yet
        best = stream.stats if best is None or stream.stats.tokens_per_s > best.tokens_per_s else best
    follow = generator.stream(second, max_tokens=4, temperature=0.0)  # right after the first: its prefix is warm
    follow.text()
    return {"backend": backend, "model": model, "engine": best.engine, "load_s": round(load_s, 2),
            "prompt_tokens": generator.prompt_tokens(first), "ttft_s": round(cold.first_token_s, 3),
            "decode_tok_s": round(best.tokens_per_s, 1), "new_tokens": best.new_tokens,
            "second_question_ttft_s": round(follow.stats.first_token_s, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def serve(model_path: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "foldrag.generation.llamacpp_cpu", "--", "--model", model_path, "--host", "127.0.0.1",
                               "--port", str(port), "--n_ctx", "8192", "--n_threads", str(os.cpu_count() or 1),
                               "--n_threads_batch", str(os.cpu_count() or 1)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import httpx

    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            if httpx.get(url + "/models", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("llama.cpp's server did not start")


def peak_rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="bundled:SmolLM2-135M-Instruct")
    parser.add_argument("--backends", default="transformers,llamacpp,direct,openai")
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one backend in this process
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.model, args.new_tokens, args.repeats, args.base_url)))
        return
    rows = []
    for backend in args.backends.split(","):
        cmd = [sys.executable, __file__, "--one", backend, "--model", args.model,
               "--new-tokens", str(args.new_tokens), "--repeats", str(args.repeats)]
        server = None
        if backend == "openai":
            from foldrag.generation.llamacpp_backend import gguf_path

            server, url = serve(str(gguf_path(args.model)))
            cmd += ["--base-url", url, "--model", "served"]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            if server is not None:
                row["server_peak_rss_mb"] = peak_rss_mb(server.pid)
            rows.append(row)
        except subprocess.CalledProcessError as exc:
            rows.append({"backend": backend, "error": exc.stderr.strip().splitlines()[-1] if exc.stderr else "failed"})
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    print(json.dumps({"cpu": cpu, "cores": os.cpu_count(), "rows": rows}, indent=2 if args.json else 1))


if __name__ == "__main__":
    main()
