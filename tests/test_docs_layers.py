"""docs/architecture.md's layer picture names the layers of .importlinter, in the same order."""

from __future__ import annotations

import configparser
import re

from tests.conftest import REPO

MARKER = "<!-- layers:"
LAYER_ROW = re.compile(r"^  ([a-z_]+(?: [:|] [a-z_]+)*)(?:\s{2,}|$)")


def importlinter_layers() -> list[str]:
    """The `layers` contract's rows, top first, without the ``foldrag.`` prefix."""
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter", encoding="utf-8")
    rows = [row.strip() for row in config["importlinter:contract:layers"]["layers"].splitlines() if row.strip()]
    return [re.sub(r"\s*([:|])\s*", r" \1 ", row.replace("foldrag.", "")) for row in rows]


def pictured_layers() -> list[str]:
    """The first column of the fenced block after the marker in docs/architecture.md."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert MARKER in text, "docs/architecture.md lost its layer picture's marker"
    block = re.search(r"```text\n(.*?)```", text.split(MARKER, 1)[1], re.S)
    assert block, "the marker is not followed by a ```text block"
    return [m.group(1) for line in block.group(1).splitlines() if (m := LAYER_ROW.match(line))]


def test_the_layer_picture_agrees_with_importlinter():
    assert pictured_layers() == importlinter_layers()


def test_the_picture_parser_reads_every_row():
    layers = importlinter_layers()
    assert len(layers) >= 8 and layers[0] == "cli" and layers[-1] == "core"
