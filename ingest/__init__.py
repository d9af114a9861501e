"""Turn a folder of documents into chunks and vectors: discover, parse, chunk, embed."""
