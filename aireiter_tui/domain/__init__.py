"""The domain: task model, parsing, config, watchlist and poll scheduling.

Nothing under this package imports Textual; it is usable from a plain script and
tested without a terminal (see ``tests/test_layering.py``).
"""
