"""foldrag core: types, settings, embedders, the object factory and the CLI."""

__version__ = "0.1.0"
