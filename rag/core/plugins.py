"""What the registries of variants share (generation backends, ingest engines): a class named by a
module path, imported only when chosen, with the install hint when its package is missing."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from foldrag.core.errors import MissingDependency


@dataclass(frozen=True)
class Plugin:
    module: str  # imported on first use
    cls: str  # the class in it
    install: str  # what to install when the import fails


def load_plugin(setting: str, name: str, plugin: Plugin) -> type:
    """The class ``plugin`` names; ``setting = name`` is what the user chose (for the message).
    Raises MissingDependency with the install hint when its module cannot be imported."""
    try:
        module = importlib.import_module(plugin.module)
    except ImportError as exc:
        raise MissingDependency(
            f"{setting} = {name!r} needs a package that is not installed ({exc.name}): {plugin.install}"
        ) from exc
    return getattr(module, plugin.cls)
