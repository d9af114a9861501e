"""The HTTP API (FastAPI). Not built yet: see the open HTTP API issue. `rag.build.build_rag` is
the object it will serve; routes will stay thin and map errors through `rag.errors.ERROR_TABLE`."""
