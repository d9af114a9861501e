"""Evaluation: retrieval quality on public benchmarks (`foldrag eval`: BEIR layout, KorQuAD 1.0) and generation fidelity."""
