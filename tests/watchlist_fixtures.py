"""Shared data for the watchlist tests: the reference task and small entry helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.watchlist_codec import WatchEntry

T0 = datetime(2025, 12, 18, 10, 12, 11, tzinfo=UTC)
URLS = (
    "https://s1.pxz.ai/upload/nano_banana/20251217/lAI2Anos92Un0NLgGyDwl.png,"
    "https://s1.pxz.ai/upload/nano_banana/20251217/p9DkzlcwX2pleV-kf5XK4.png,"
    "https://s1.pxz.ai/upload/nano_banana/20251217/UMM7vnF_JPqmvqt8bO2Uo.jpeg"
)
# The `data` object of the example on the published query reference page.
REFERENCE: dict[str, Any] = {
    "task_id": "order_lwU2d-VkUq9-tlCCmrdYu",
    "status": "completed",
    "created_at": "2025-12-18T10:12:11.000Z",
    "completed_at": "2025-12-18T10:13:41.000Z",
    "input": {
        "model": "nano_banana",
        "params": {
            "format": "jpeg",
            "prompt": "dog",
            "image_url": URLS,
            "show_public": True,
            "aspect_ratio": "16:9",
        },
        "showPublic": 0,
        "attachments": [URLS],
    },
    "credits_used": 100,
    "output": [
        {
            "url": "https://s1.pxz.ai/upload/image-generator/20251218/hYtdX7AInk4HgErJCgD-w-item-0.jpeg"
        }
    ],
}


def entry(ident: str, status: str = "pending", kind: IdKind = IdKind.TASK_ID) -> WatchEntry:
    item = WatchEntry(TaskRef(kind, ident), None, T0)
    item.record(parse_task({kind.value: ident, "status": status}), T0)
    return item


def ids(entries: list[WatchEntry]) -> list[str]:
    return [item.ref.id for item in entries]
