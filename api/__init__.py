"""foldrag's HTTP API: ``create_app`` builds the FastAPI application; ``foldrag serve`` runs it."""
