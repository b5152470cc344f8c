"""The dashboard's modal and full screens, one per module."""
