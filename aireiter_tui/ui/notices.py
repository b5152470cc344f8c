"""What the dashboard tells the user in words: the empty state, the banner, toasts for
finished tasks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from aireiter_tui.domain.models import TaskStatus
from aireiter_tui.domain.sanitize import clean
from aireiter_tui.domain.session import Transition

EMPTY_STATE = """\
No tasks are watched yet.

  Press  a  to add task IDs (paste one or many; task_id or out_task_id).
  From a script:  aireiter-tui add order_xxx order_yyy
  To see the dashboard at work without a key:  aireiter-tui --demo

Press  ?  for every key, ctrl+p for the command palette, q to quit."""

UNREADABLE_STATE = """\
The watchlist file could not be read: the banner above says why.
It is left exactly as it is.

Tasks you add now are watched for this session but not saved.
Press q to quit and fix the file, or a to add tasks anyway."""

#: The modes in which the scheduler's reason (why nothing is sent) leads the banner.
_BLOCKED: Final = ("offline", "auth-blocked", "rate-limited")


def banner_lines(
    problems: Sequence[str],
    mode: str,
    reason: str | None,
    filtered: str | None,
    shown: int,
    total: int,
    hide_key: str | None = None,
) -> list[str]:
    """The banner above the table (at most 3 lines; none hides it): why nothing is
    refreshed, then the problems found (config, watchlist, client), then the filter.
    ``hide_key``: the key that hides the problems, named before the first of them (in
    front, where a long problem folded over the banner's lines cannot push it out)."""
    lines = list(problems)
    if lines and hide_key:
        lines[0] = f"({hide_key} hides) {lines[0]}"
    if mode in _BLOCKED and reason:
        lines.insert(0, reason)
    if filtered is not None:
        lines.append(f"Showing {shown} of {total} · {filtered} · Esc clears")
    return lines[:3]


#: Up to this many finished tasks are announced by name; more make one summary.
ONE_BY_ONE: Final = 3


@dataclass(frozen=True, slots=True)
class Notice:
    """One toast: plain text (shown with markup off), never markup."""

    title: str
    body: str
    severity: Literal["information", "warning", "error"]


def finished_notices(transitions: Sequence[Transition]) -> list[Notice]:
    """Toasts for tasks that finished: each by name when there are a few, else one
    summary, so a round that finishes hundreds of tasks raises one toast, not hundreds."""
    if len(transitions) > ONE_BY_ONE:
        failed = sum(t.status is TaskStatus.FAILED for t in transitions)
        body = f"{len(transitions) - failed} completed, {failed} failed."
        title = f"{len(transitions)} tasks finished"
        return [Notice(title, body, "error" if failed else "information")]
    notices = []
    for transition in transitions:
        done = transition.status is TaskStatus.COMPLETED
        body = clean(transition.name, max_length=60, single_line=True)
        if transition.message:
            body += "\n" + clean(transition.message, max_length=200, single_line=True)
        title = "Task completed" if done else "Task failed"
        notices.append(Notice(title, body, "information" if done else "error"))
    return notices
