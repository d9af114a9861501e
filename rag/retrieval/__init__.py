"""Retrievers: dense (FAISS), keyword (BM25), their fusion, and multi-query."""
