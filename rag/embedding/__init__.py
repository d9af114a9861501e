"""Runtimes for the embedder: the model's ONNX export, onnxruntime / OpenVINO encoders, and the measured
choice between them and torch (used by ``rag/embedders.py``)."""
