"""The Textual user interface: the App, its main screen, dialogs and widgets."""

import os

# Up to 120 frames a second, not Textual's 60: Textual paints a change on its next frame
# tick, so a key's effect waited up to 17 ms after it was handled, now up to 8 ms. Only
# what changed is painted, and only when something did. Read when Textual is first
# imported (the command imports this package first); a TEXTUAL_FPS of the user's wins.
os.environ.setdefault("TEXTUAL_FPS", "120")
