"""Where output files are saved and under which names: the download folder, a name per
task and output, and finding a file saved before (whatever extension its bytes gave it).

Names come from the task ID and the output's position only: nothing the output host
says (its URL path, a ``Content-Disposition``) reaches the file system, so no server can
write outside the folder or hide a control character in a file name.

Plain paths, no network: the detail pane asks here which outputs are on disk on the
frame after its first, without importing the HTTP client (which
:mod:`~aireiter_tui.domain.downloads`, the streaming, needs).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from aireiter_tui.domain.media_info import EXTENSIONS

#: The folder under the user's download folder.
FOLDER_NAME: Final = "aireiter"
#: The longest task-ID part of a file name; longer IDs are cut (and given a hash).
MAX_STEM: Final = 120
_PART: Final = ".part"
_UNSAFE_RE: Final = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS_RE: Final = re.compile(r"\.{2,}")
_UNDERSCORES_RE: Final = re.compile(r"_{2,}")
_KNOWN_EXTENSIONS: Final = frozenset(EXTENSIONS.values()) - {"bin"}
_EXTENSION_ALIASES: Final = {"jpeg": "jpg"}
_USER_DIRS_RE: Final = re.compile(r'^XDG_DOWNLOAD_DIR="(.*)"\s*$', re.MULTILINE)


def default_download_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_DOWNLOAD_DIR/aireiter`` when the user has a download folder set (in the
    environment or ``user-dirs.dirs``, as ``xdg-user-dir`` reads it), else
    ``~/Downloads/aireiter``."""
    home = Path(env.get("HOME") or Path.home())
    value = env.get("XDG_DOWNLOAD_DIR", "") or _user_dirs_download(env, home)
    value = value.replace("$HOME", str(home))
    if value and Path(value).is_absolute():
        return Path(value) / FOLDER_NAME
    return home / "Downloads" / FOLDER_NAME


def _user_dirs_download(env: Mapping[str, str], home: Path) -> str:
    config = env.get("XDG_CONFIG_HOME", "")
    folder = Path(config) if config and Path(config).is_absolute() else home / ".config"
    try:
        text = (folder / "user-dirs.dirs").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    match = _USER_DIRS_RE.search(text)
    return match.group(1) if match else ""


def _extension(kind_or_ext: str) -> str:
    ext = kind_or_ext.lower().lstrip(".")
    ext = _EXTENSION_ALIASES.get(ext, ext)
    return ext if ext in _KNOWN_EXTENSIONS or ext == "bin" else "bin"


def target_name(task_id: str, index: int, count: int, kind_or_ext: str) -> str:
    """The file name for output ``index`` (from 0) of ``count`` of task ``task_id``:
    ``ID.png`` for a single output, ``ID_2.png`` for the second of several.

    An ID of letters, digits, ``_``, ``-`` and single dots, not starting with ``.`` or
    ``-``, is used as it is. Any other is made so (runs of anything else, and of dots,
    become one ``_``) and given a hash of itself, as is an ID cut for length, so two IDs
    never share a name.
    """
    stem = _DOTS_RE.sub("_", _UNSAFE_RE.sub("_", task_id)).lstrip(".-")
    if stem != task_id or len(stem) > MAX_STEM:
        digest = hashlib.sha256(task_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        stem = _UNDERSCORES_RE.sub("_", stem).lstrip("._-").rstrip("_")[: MAX_STEM - 9]
        stem = f"{stem}-{digest}" if stem else digest
    if count > 1:
        stem = f"{stem}_{index + 1}"
    return f"{stem}.{_extension(kind_or_ext)}"


@dataclass(frozen=True)
class DownloadItem:
    """One output to save: which task and output it is, its URL, where it goes."""

    task_id: str
    index: int
    url: str
    target: Path


def _guess_extension(url: str) -> str:
    # Only a guess for the plan (the file is renamed to what its bytes are), and only
    # from a fixed list: the URL's own text never becomes part of a name.
    with contextlib.suppress(ValueError):
        suffix = urlsplit(url).path.rpartition(".")[2]
        return _extension(suffix)
    return "bin"


def plan(tasks: Iterable[tuple[str, Sequence[str]]], folder: Path) -> list[DownloadItem]:
    """The files to save for ``(task ID, output URLs)`` pairs, each task once."""
    items: list[DownloadItem] = []
    seen: set[str] = set()
    for task_id, urls in tasks:
        if task_id in seen:
            continue
        seen.add(task_id)
        for index, url in enumerate(urls):
            name = target_name(task_id, index, len(urls), _guess_extension(url))
            items.append(DownloadItem(task_id, index, url, folder / name))
    return items


def _candidates(target: Path) -> list[Path]:
    stem = target.name.rpartition(".")[0]
    return [target.with_name(f"{stem}.{ext}") for ext in sorted(_KNOWN_EXTENSIONS)]


def saved_path(item: DownloadItem) -> Path | None:
    """Where ``item`` was saved, whatever extension its bytes gave it, or ``None``."""
    for path in [item.target, *_candidates(item.target)]:
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_size > 0:
                return path
    return None


def already_downloaded(item: DownloadItem) -> bool:
    """True when the file for ``item`` is in the folder (a ``.part`` does not count)."""
    return saved_path(item) is not None


def part_path(target: Path) -> Path:
    return target.with_name(target.name + _PART)
