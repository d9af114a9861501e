"""`foldrag eval`: retrieval quality on public benchmarks (BEIR layout, KorQuAD 1.0)."""
