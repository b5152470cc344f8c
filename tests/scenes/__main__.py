"""Write the screenshot gallery: ``cd tests && python -m scenes [--out DIR]``.

One SVG per gallery scene, and a PNG beside each when ``rsvg-convert`` is on the PATH.
The SVGs depend only on the scenes and the code: two runs write the same bytes, and they
are what is committed and compared. The PNGs are for looking at and are not tracked
(``.gitignore``): each ``rsvg-convert`` release rasterises a little differently.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from scenes import BY_NAME, GALLERY, Scene

#: The title in every SVG's window bar.
TITLE: Final = "aireiter-tui"
#: The committed gallery: ``screenshots/`` at the top of the repository.
GALLERY_DIR: Final = Path(__file__).resolve().parents[2] / "screenshots"
#: PNG width in pixels (the SVGs are about 1,000 px wide per 80 columns).
PNG_WIDTH: Final = 1600


async def capture(scene: Scene) -> str:
    """The scene as an SVG document with stable ids (same scene, same bytes)."""
    app = scene.build()
    async with app.run_test(size=scene.size, notifications=True) as pilot:
        await scene.run_before(pilot)
        await pilot.wait_for_scheduled_animations()
        svg = app.export_screenshot(title=TITLE)
    # Rich names the CSS classes after a checksum of the content, so a one-cell change
    # would touch every line of the file in a diff: name them after the scene instead.
    svg = re.sub(r"\bterminal-\d+", f"terminal-{scene.name}", svg)
    # Rich pads cells with no-break spaces; without this, librsvg (rsvg-convert, and the
    # PNGs made with it) drops leading ones and shifts whole columns to the left.
    return svg.replace("<svg ", '<svg xml:space="preserve" ', 1)


async def write_gallery(out: Path, scenes: Sequence[Scene] = GALLERY) -> list[Path]:
    """Write ``<out>/<scene>.svg`` for each scene; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for scene in scenes:
        path = out / f"{scene.name}.svg"
        path.write_bytes((await capture(scene)).encode("utf-8"))
        written.append(path)
    return written


def write_pngs(svgs: Sequence[Path], width: int = PNG_WIDTH) -> list[Path]:
    """Convert each SVG to a PNG beside it with ``rsvg-convert``; nothing if it is missing."""
    tool = shutil.which("rsvg-convert")
    if tool is None:
        return []
    pngs = []
    for svg in svgs:
        png = svg.with_suffix(".png")
        subprocess.run([tool, "-w", str(width), str(svg), "-o", str(png)], check=True)
        pngs.append(png)
    return pngs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scenes",
        description="Write the dashboard's screenshot gallery (SVG, and PNG if possible).",
    )
    parser.add_argument("--out", type=Path, default=GALLERY_DIR, help="output folder")
    parser.add_argument("--no-png", action="store_true", help="write the SVGs only")
    parser.add_argument("scenes", nargs="*", help="scene names (default: the gallery)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenes if name not in BY_NAME]
    if unknown:
        parser.error(f"unknown scene(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    scenes = [BY_NAME[name] for name in args.scenes] or list(GALLERY)
    svgs = asyncio.run(write_gallery(args.out, scenes))
    pngs = [] if args.no_png else write_pngs(svgs)
    for path in [*svgs, *pngs]:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
