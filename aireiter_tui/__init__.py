"""aireiter-tui: a terminal dashboard for AIReiter generation tasks."""

__version__ = "0.1.0"
