"""The parts of one collection that ``Foldrag`` is a facade over, each with one job: its committed
snapshots (``snapshots.py``), its documents (``documents.py``), writing to its index
(``writing.py``), and checking or repairing that index (``check.py``)."""
