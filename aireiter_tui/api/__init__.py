"""The AIReiter HTTP API: the client and how its answers map to tasks and errors."""
