"""Toasts for finished tasks: by name when few, one summary when many, text only."""

from __future__ import annotations

from aireiter_tui.domain.models import TaskStatus
from aireiter_tui.domain.session import Transition
from aireiter_tui.ui.notices import ONE_BY_ONE, finished_notices


def _t(name: str, status: TaskStatus, message: str | None = None) -> Transition:
    return Transition(f"task_id:{name}", name, status, message)


def test_a_few_are_named_one_by_one_with_the_error_message() -> None:
    notices = finished_notices([_t("a", TaskStatus.COMPLETED), _t("b", TaskStatus.FAILED, "boom")])
    assert [(n.title, n.severity) for n in notices] == [
        ("Task completed", "information"),
        ("Task failed", "error"),
    ]
    assert notices[1].body == "b\nboom"


def test_many_make_one_summary() -> None:
    many = [_t(str(i), TaskStatus.COMPLETED) for i in range(ONE_BY_ONE + 97)]
    many[0] = _t("0", TaskStatus.FAILED, "x")
    (notice,) = finished_notices(many)
    assert notice.title == f"{len(many)} tasks finished"
    assert notice.body == f"{len(many) - 1} completed, 1 failed." and notice.severity == "error"


def test_names_and_messages_lose_control_characters_and_stay_short() -> None:
    (notice,) = finished_notices([_t("\x1b[2Jevil", TaskStatus.FAILED, "\x1b]52;c;aGk=\x07" * 99)])
    assert "\x1b" not in notice.body and "\x07" not in notice.body
    assert len(notice.body) <= 60 + 1 + 200


def test_nothing_finished_says_nothing() -> None:
    assert finished_notices([]) == []
