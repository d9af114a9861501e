"""A GGUF's tokenizer and config written out as Hugging Face files, in a child process.

transformers builds a fast tokenizer from the GGUF's vocabulary in Python; for a 150k-token
vocabulary that takes seconds and leaves ~750 MB in the process that did it. Done in a child, the
memory goes back to the system when it exits, and the model's own load starts from a small process.

Usage (what ``write_in_child`` runs):  python -m foldrag.generation.gguf_tokenizer MODEL.gguf TARGET_DIR
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from foldrag.core.errors import ModelUnavailable


def write_in_child(gguf: Path, target: Path) -> None:
    """Write the tokenizer and config files of ``gguf`` into ``target`` (which must not exist yet)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", __name__, str(gguf), str(target)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ModelUnavailable(f"could not read GGUF {gguf}: {lines[-1] if lines else 'exit ' + str(done.returncode)}")


def write(gguf: Path, target: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    tokenizer.save_pretrained(str(target))
    config.save_pretrained(str(target))


if __name__ == "__main__":
    write(Path(sys.argv[1]), Path(sys.argv[2]))
