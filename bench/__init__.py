"""Performance benchmark of aireiter-tui against its own simulator (``python -m bench``).

Not a test: it prints measured figures next to their targets. See ``bench/README.md``.
"""
