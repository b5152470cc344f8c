"""Where the config file and the watchlist live (XDG base directories, env overrides),
and how files there are replaced atomically.

Each function takes the environment as a mapping so tests pass their own instead of
patching ``os.environ``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Final

APP_DIR: Final = "aireiter-tui"
CONFIG_ENV: Final = "AIREITER_TUI_CONFIG"
WATCHLIST_ENV: Final = "AIREITER_TUI_WATCHLIST"


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def _xdg_dir(env: Mapping[str, str], name: str, fallback: str) -> Path:
    # The XDG spec says relative values are invalid and must be ignored.
    value = env.get(name, "")
    if value and Path(value).is_absolute():
        return Path(value)
    return _home(env) / fallback


def _explicit(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "")
    return Path(value).expanduser() if value else None


def config_path(env: Mapping[str, str] = os.environ) -> Path:
    """``$AIREITER_TUI_CONFIG``, else ``$XDG_CONFIG_HOME/aireiter-tui/config.toml``.

    ``XDG_CONFIG_HOME`` defaults to ``~/.config``.
    """
    explicit = _explicit(env, CONFIG_ENV)
    if explicit is not None:
        return explicit
    return _xdg_dir(env, "XDG_CONFIG_HOME", ".config") / APP_DIR / "config.toml"


def data_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_DATA_HOME/aireiter-tui`` (``XDG_DATA_HOME`` defaults to ``~/.local/share``)."""
    return _xdg_dir(env, "XDG_DATA_HOME", ".local/share") / APP_DIR


def cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_CACHE_HOME/aireiter-tui`` (``XDG_CACHE_HOME`` defaults to ``~/.cache``)."""
    return _xdg_dir(env, "XDG_CACHE_HOME", ".cache") / APP_DIR


def watchlist_path(env: Mapping[str, str] = os.environ) -> Path:
    """``$AIREITER_TUI_WATCHLIST``, else ``$XDG_DATA_HOME/aireiter-tui/watchlist.toml``."""
    explicit = _explicit(env, WATCHLIST_ENV)
    if explicit is not None:
        return explicit
    return data_dir(env) / "watchlist.toml"


def demo_watchlist_path(env: Mapping[str, str] = os.environ) -> Path:
    """The watchlist used by ``--demo``: always a different file from the real one."""
    demo = data_dir(env) / "demo-watchlist.toml"
    if demo == watchlist_path(env):
        # Someone pointed AIREITER_TUI_WATCHLIST at the demo file; still never share it.
        demo = demo.with_name("demo-watchlist.demo.toml")
    return demo


_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFile(OSError):
    """The path names something other than a regular file; ``kind`` says what, in words."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"it is {kind}, not a regular file")
        self.kind = kind


def _require_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((words for test, words in _KINDS if test(mode)), "not a regular file")
        raise NotRegularFile(kind)


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (through symlinks).

    Opening a FIFO for reading blocks until a writer comes, and opening a device can do
    things (rewind a tape): so ``stat`` first and refuse anything else, then open with
    ``O_NONBLOCK`` (no effect on a regular file's reads) in case it was swapped for a FIFO
    in between, and check the descriptor again.

    Raises:
        NotRegularFile: a directory, FIFO, device or socket (never opened, or closed at once).
        OSError: it cannot be opened (``FileNotFoundError`` when it does not exist).
    """
    _require_regular(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        _require_regular(os.fstat(fd).st_mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` while the block runs; other processes
    taking it wait. The file (0600) and its folder (0700) are made when missing.

    Raises:
        OSError: the folder or the lock file cannot be made or opened, before the block.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(
    target: Path, blob: bytes, prefix: str, *, durable: bool, mode: int | None = None
) -> None:
    """Write ``blob`` to a temp file beside ``target`` and rename it over ``target``.

    ``mkstemp`` creates the temp file 0600, so the content is never readable by others on
    the way; ``mode``, when given, is then set exactly (whatever the umask) before the
    rename. ``durable`` fsyncs the file, and the folder after the rename. If writing or
    renaming fails, the temp file is removed, ``target`` is left as it was, and the error
    propagates.
    """
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(target.parent)
