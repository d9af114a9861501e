"""The index folder: FAISS vectors, a SQLite chunk store and a manifest, written atomically."""
