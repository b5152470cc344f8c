"""The Textual user interface: the App, its main screen, dialogs and widgets."""
