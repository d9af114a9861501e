"""Which of llama.cpp's CPU back ends runs here.

scripts/run.sh builds llama-cpp-python with runtime CPU dispatch (``GGML_BACKEND_DL``,
``GGML_CPU_ALL_VARIANTS``): one ``libggml-cpu-<variant>.so`` per x86-64 level (x64, sse42, haswell,
skylakex, icelake, zen4, sapphirerapids, …), so one wheel runs on every CPU and uses AVX-512,
VNNI or AMX where the CPU has them. llama-cpp-python loads none of them (llama-cpp-python issue
#2069: "no backends are loaded"), so foldrag does, once per process, before the first model:
the variant that scores highest on this CPU (each variant checks the CPU itself; 0 = it cannot
run here), or the one ``generation.llamacpp_cpu`` names. A build without dispatch has its CPU
back end built in, and this does nothing.

Usage, for llama.cpp's own server on such a build (what the tests and benches run)::

    python -m foldrag.generation.llamacpp_cpu [--cpu VARIANT] -- --model M.gguf --port 8080
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from foldrag.core.errors import InvalidInput, ModelUnavailable

log = logging.getLogger("foldrag.generation")

PREFIX = "libggml-cpu-"
_lock = threading.Lock()
_loaded: list[str] = []  # the variant this process loaded (one: ggml keeps what it registered)


@dataclass(frozen=True)
class Variant:
    name: str
    path: Path
    score: int  # 0: this CPU cannot run it


def installed_folders() -> tuple[Path, Path] | None:
    """(llama-cpp-python's own library folder, the folder its CPU variants were installed in: the
    wheel puts them in ``bin/`` beside the package), or None without llama-cpp-python."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "lib", package.parent / "bin"


def _ggml(libs: Path):
    """llama.cpp's own ggml, loaded globally from ``libs``: the files its libllama names
    (``libggml.so.0``; a wheel holds ``libggml.so`` as a separate copy, whose back-end registry
    llama.cpp would never see), so the variants' base library and the registry are llama.cpp's."""
    def named(stem: str) -> str:
        return str(next((p for p in (libs / f"{stem}.so.0", libs / f"{stem}.so") if p.exists()), libs / f"{stem}.so"))

    ctypes.CDLL(named("libggml-base"), mode=ctypes.RTLD_GLOBAL)
    return ctypes.CDLL(named("libggml"), mode=ctypes.RTLD_GLOBAL)


def variants(folder: Path | None = None, libs: Path | None = None) -> list[Variant]:
    """The CPU variants a dispatch build installed in ``folder``, best first (empty for a build
    without them). Each is scored by its own ``ggml_backend_score``, which reads this CPU's features."""
    if folder is None:
        installed = installed_folders()
        if installed is None:
            return []
        libs, folder = installed
    if not folder.is_dir():
        return []
    paths = sorted(folder.glob(f"{PREFIX}*.so"))
    if paths and libs is not None:
        _ggml(libs)
    found = []
    for path in paths:
        name = path.name[len(PREFIX):-len(".so")]
        try:
            score = int(ctypes.CDLL(str(path)).ggml_backend_score())
        except (OSError, AttributeError) as exc:
            log.warning("llama.cpp CPU variant %s not usable: %s", name, exc)
            score = 0
        found.append(Variant(name, path, score))
    return sorted(found, key=lambda v: -v.score)


def load_cpu_backend(choice: str = "auto") -> str:
    """Load the CPU back end ``choice`` ('auto': the best this CPU runs) into this process's
    llama.cpp, once; the name of the variant running ('built-in' for a build without dispatch).
    InvalidInput for a variant that does not exist or cannot run on this CPU."""
    with _lock:
        if _loaded:
            if choice not in ("auto", _loaded[0]):
                log.warning("llama.cpp already runs the %s CPU variant in this process; %s is not loaded",
                            _loaded[0], choice)
            return _loaded[0]
        installed = installed_folders()
        found = variants(installed[1], installed[0]) if installed is not None else []
        if not found:
            _loaded.append("built-in")
            return "built-in"
        usable = [v for v in found if v.score > 0]
        if choice == "auto":
            if not usable:
                raise ModelUnavailable("no llama.cpp CPU variant runs on this CPU")
            chosen = usable[0]
        else:
            chosen = next((v for v in found if v.name == choice), None)
            if chosen is None or chosen.score <= 0:
                names = ", ".join(v.name for v in usable)
                why = "is not in this build" if chosen is None else "cannot run on this CPU"
                raise InvalidInput(f"generation.llamacpp_cpu = {choice!r} {why}; this CPU runs: {names}")
        ggml = _ggml(installed[0])
        ggml.ggml_backend_load.restype = ctypes.c_void_p
        ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
        if not ggml.ggml_backend_load(str(chosen.path).encode()):
            raise ModelUnavailable(f"llama.cpp could not load its CPU back end {chosen.path}")
        log.info("llama.cpp runs its %s CPU variant (of %s)", chosen.name, ", ".join(v.name for v in usable))
        _loaded.append(chosen.name)
        return chosen.name


def main(argv: list[str]) -> None:
    """llama.cpp's OpenAI-compatible server (``llama_cpp.server``) with the CPU back end loaded."""
    import runpy

    choice = "auto"
    if argv[:1] == ["--cpu"]:
        choice, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    load_cpu_backend(choice)
    sys.argv = ["llama_cpp.server", *argv]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
