"""The vocabulary every other package shares, and that imports nothing of theirs.

``outcomes`` (what a row ended in, what was written), ``recorder`` (where a run's trail
goes), ``errors`` (the one exception root), ``files`` (the owner-only atomic writer and the
spreadsheet-formula guard) and ``clock`` (timestamps). ``store``, ``report`` and ``sync`` all
import from here, never from each other upward (tests/test_layers.py checks it).
"""
