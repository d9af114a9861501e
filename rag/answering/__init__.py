"""Answering a question: a prepared ``Question`` through the stages (``stages.py``) that ``Answerer``
runs, as the typed events of ``events.py``."""
