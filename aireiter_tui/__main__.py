"""``python -m aireiter_tui`` works like the ``aireiter-tui`` command."""

from aireiter_tui.cli import main

raise SystemExit(main())
