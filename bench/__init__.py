"""Performance benchmark of aireiter-tui against its own simulator (``python -m bench``).

Not a test: it prints measured figures next to their targets. See ``bench/README.md``.
"""

# The app's frame rate, as the command sets it, before any bench module imports Textual.
import aireiter_tui.ui  # noqa: F401
