"""The task model: the published example, every malformed field, and fuzzed JSON."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aireiter_tui.domain.fields import best_error_message
from aireiter_tui.domain.models import (
    MAX_ID_LENGTH,
    IdKind,
    OutputKind,
    Task,
    TaskFailure,
    TaskParseError,
    TaskRef,
    TaskStatus,
    guess_output_kind,
    parse_task,
    url_path,
    validate_task_id,
)

# Copied verbatim from the reference page (/work/shared/api/000_20e6f17c70b5a3ca.txt).
REFERENCE_RESPONSE = (Path(__file__).parent / "data" / "reference_response.json").read_text()

INPUT_URLS = (
    "https://s1.pxz.ai/upload/nano_banana/20251217/lAI2Anos92Un0NLgGyDwl.png",
    "https://s1.pxz.ai/upload/nano_banana/20251217/p9DkzlcwX2pleV-kf5XK4.png",
    "https://s1.pxz.ai/upload/nano_banana/20251217/UMM7vnF_JPqmvqt8bO2Uo.jpeg",
)


def reference_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE_RESPONSE)["data"]
    return data


def test_reference_example() -> None:
    task = parse_task(reference_data())
    assert task.task_id == "order_lwU2d-VkUq9-tlCCmrdYu"
    assert task.status is TaskStatus.COMPLETED
    assert task.status.is_terminal and not task.status.is_active
    assert task.created_at == datetime(2025, 12, 18, 10, 12, 11, tzinfo=UTC)
    assert task.completed_at == datetime(2025, 12, 18, 10, 13, 41, tzinfo=UTC)
    assert task.created_at is not None and task.created_at.tzinfo is UTC
    assert task.model == "nano_banana"
    assert task.prompt == "dog"
    assert task.input is not None
    assert task.input.params == reference_data()["input"]["params"]
    assert task.input.url_lists == {"image_url": INPUT_URLS}
    assert task.input.attachments == INPUT_URLS
    assert len(task.outputs) == 1
    assert task.outputs[0].kind is OutputKind.IMAGE
    assert task.outputs[0].url.endswith("hYtdX7AInk4HgErJCgD-w-item-0.jpeg")
    assert task.credits_used == 100
    assert task.failure is None
    assert task.warnings == ()


def with_field(path: str, value: Any) -> dict[str, Any]:
    """The reference data with ``path`` (dotted) set to ``value``, or removed for MISSING."""
    data = reference_data()
    *parents, leaf = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    if value is MISSING:
        target.pop(leaf, None)
    else:
        target[leaf] = value
    return data


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
TOP_LEVEL = ["task_id", "out_task_id", "status", "created_at", "completed_at", "input", "output"]
TOP_LEVEL += ["error", "credits_used", "metadata"]
FIELDS = [*TOP_LEVEL, "input.model", "input.params", "input.attachments"]
BAD_VALUES = [MISSING, None, True, 0, -1.5, "", "x", [], [1, "a"], {}, {"k": "v"}]


@pytest.mark.parametrize("path", FIELDS)
@pytest.mark.parametrize("value", BAD_VALUES, ids=repr)
def test_any_field_any_value_gives_a_task(path: str, value: Any) -> None:
    task = parse_task(with_field(path, value))
    assert isinstance(task, Task)
    assert all(isinstance(w, str) and w for w in task.warnings)


# Field (with an index where the warning names one) -> values it must warn about.
WRONG_TYPES: dict[str, list[Any]] = {
    "task_id": [["x"], 1.5],
    "status": [MISSING, 7],
    "created_at": ["yesterday", True],
    "completed_at": [{}],
    "input": ["nano_banana"],
    "input.model": [3],
    "input.params": [["prompt"]],
    "input.attachments": [5],
    "input.attachments[0]": [[5]],
    "output": ["https://x/a.png"],
    "output[0]": [[{"href": "https://x/a.png"}]],
    "output[1]": [[{"url": ""}, {"url": None}]],
    "credits_used": ["100", True, "NaN", math.nan, 10**400],
    "metadata": [["a", "b"]],
}


@pytest.mark.parametrize(
    ("warning", "value"), [(w, v) for w, values in WRONG_TYPES.items() for v in values]
)
def test_wrong_types_are_dropped_with_a_warning(warning: str, value: Any) -> None:
    task = parse_task(with_field(warning.partition("[")[0], value))
    assert any(w.startswith(warning + ":") for w in task.warnings), task.warnings


def test_wrong_typed_fields_read_as_absent() -> None:
    data = reference_data() | {"task_id": ["x"], "created_at": "soon", "credits_used": "100"}
    task = parse_task(data | {"metadata": [1], "output": [{"url": 3}]})
    assert (task.task_id, task.created_at, task.credits_used, task.metadata) == (None,) * 4
    assert task.outputs == ()


def test_minimal_numeric_and_extra_fields() -> None:
    task = parse_task({"task_id": 42, "status": "pending", "created_at": 1_766_052_731_000})
    assert task.task_id == "42"
    assert task.status.is_active
    assert task.created_at == datetime(2025, 12, 18, 10, 12, 11, tzinfo=UTC)
    assert parse_task({}).status is TaskStatus.UNKNOWN
    assert parse_task({"status": " Processing "}).status is TaskStatus.PROCESSING
    task = parse_task({"out_task_id": "my_task_1", "metadata": {"user": [1, 2]}})
    assert task.out_task_id == "my_task_1"
    assert task.metadata == {"user": [1, 2]}


def test_offset_timestamps_become_utc() -> None:
    task = parse_task({"created_at": "2025-12-18T15:12:11+05:00", "completed_at": "2025-12-18"})
    assert task.created_at == datetime(2025, 12, 18, 10, 12, 11, tzinfo=UTC)
    assert task.created_at is not None and task.created_at.tzinfo is UTC
    assert task.completed_at == datetime(2025, 12, 18, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, True, 0, 1.5, "task", [], [{"task_id": "x"}]])
def test_non_objects_raise_task_parse_error(value: Any) -> None:
    with pytest.raises(TaskParseError) as info:
        parse_task(value)
    assert info.value.reason


@pytest.mark.parametrize(
    ("raw", "label"),
    [("queued_for_gpu",) * 2, ("", "unknown"), (None, "unknown"), ("UNKNOWN",) * 2],
)
def test_unknown_status_keeps_raw_value(raw: Any, label: str) -> None:
    task = parse_task({"status": raw})
    assert task.status is TaskStatus.UNKNOWN
    assert task.status_label == label


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"error": {"message": "GPU out of memory"}}, "GPU out of memory"),
        ({"code": "E42", "message": "prompt refused"}, "E42: prompt refused"),
        ({"code": 500, "message": "500 internal"}, "500 internal"),
        ({"detail": "too many images"}, "too many images"),
        ("  content policy  ", "content policy"),
        (["first problem", "second problem"], "first problem"),
        ([{"msg": "bad aspect ratio"}], "bad aspect ratio"),
        ({"unexpected": 3}, '{"unexpected": 3}'),
    ],
)
def test_error_message_extraction(error: Any, expected: str) -> None:
    assert best_error_message(error) == expected
    assert parse_task({"status": "failed", "error": error}).failure == TaskFailure(error, expected)


@pytest.mark.parametrize("error", [None, "", "   ", {}, []])
def test_failed_without_error_still_has_a_message(error: Any) -> None:
    task = parse_task({"status": "failed", "error": error})
    assert task.failure is not None and task.failure.message


@pytest.mark.parametrize("error", [None, False, "", {}, []])
def test_empty_error_on_completed_task_is_no_failure(error: Any) -> None:
    assert parse_task({"status": "completed", "error": error}).failure is None


def test_error_of_every_json_type_on_completed_task() -> None:
    for error in (0, 1.5, True, "boom", [1], {"message": "x"}):
        task = parse_task({"status": "completed", "error": error})
        assert task.failure is not None and task.failure.message


def test_deeply_nested_values_do_not_crash() -> None:
    deep: Any = []
    for _ in range(3000):
        deep = [deep]
    task = parse_task({"status": deep, "error": deep, "metadata": {"x": deep}})
    assert task.failure is not None
    assert task.status is TaskStatus.UNKNOWN


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://h/a/b.png", OutputKind.IMAGE),
        ("https://h/a/b.JPEG", OutputKind.IMAGE),
        ("https://h/clip.mp4", OutputKind.VIDEO),
        ("https://h/clip.webm?sig=abc.png", OutputKind.VIDEO),
        ("https://h/image.png?x=1#frag", OutputKind.IMAGE),
        ("https://h/download?file=a.png", OutputKind.OTHER),
        ("https://h/some.dir/noext", OutputKind.OTHER),
        ("https://h/", OutputKind.OTHER),
        ("", OutputKind.OTHER),
        ("https://[::1/a.png", OutputKind.OTHER),
    ],
)
def test_guess_output_kind(url: str, kind: OutputKind) -> None:
    assert guess_output_kind(url) is kind


@pytest.mark.parametrize("ident", ["order_lwU2d-VkUq9-tlCCmrdYu", "a:b:c", "日本", "x"])
@pytest.mark.parametrize("kind", list(IdKind))
def test_task_ref_key_round_trip(kind: IdKind, ident: str) -> None:
    ref = TaskRef(kind, ident)
    assert ref.key.startswith(kind.value + ":")
    assert TaskRef.from_key(ref.key) == ref


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("order_lwU2d-VkUq9-tlCCmrdYu", None),
        ("my_task_123456", None),
        ("x" * MAX_ID_LENGTH, None),
        ("", "empty"),
        ("x" * (MAX_ID_LENGTH + 1), "longer"),
        ("a b", "spaces"),
        ("a\tb", "spaces"),
        ("a\x1b[2Jb", "control"),
        ("a\x9bb", "control"),
        ("a,b", "comma"),
    ],
)
def test_validate_task_id(text: str, problem: str | None) -> None:
    reason = validate_task_id(text)
    if problem is None:
        assert reason is None
    else:
        assert reason is not None and problem in reason


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    # Past float range: JSON integers are unbounded and float() of these overflows.
    | st.integers(min_value=10**308, max_value=10**400).flatmap(lambda n: st.sampled_from([n, -n]))
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.text(alphabet=st.characters(max_codepoint=0xA0))
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
INPUT_LIKE = st.fixed_dictionaries(
    {},
    optional={"model": JSON_VALUES, "params": JSON_VALUES, "attachments": JSON_VALUES},
)
OUTPUT_LIKE = st.lists(st.fixed_dictionaries({}, optional={"url": JSON_VALUES}) | JSON_VALUES)
TASK_LIKE = st.fixed_dictionaries(
    {},
    optional={key: JSON_VALUES for key in TOP_LEVEL}
    | {"input": INPUT_LIKE | JSON_VALUES, "output": OUTPUT_LIKE | JSON_VALUES},
)


def parses_or_refuses(value: Any) -> None:
    try:
        task = parse_task(value)
    except TaskParseError as error:
        assert not isinstance(value, dict)
        assert error.reason
        return
    assert isinstance(task, Task)
    assert isinstance(task.status_label, str)
    for stamp in (task.created_at, task.completed_at):
        assert stamp is None or stamp.tzinfo is UTC
    assert task.credits_used is None or math.isfinite(task.credits_used)


@given(JSON_VALUES)
@settings(max_examples=300)
def test_arbitrary_json_parses_or_refuses(value: Any) -> None:
    parses_or_refuses(value)


@given(TASK_LIKE)
@settings(max_examples=300)
def test_arbitrary_task_fields_parse(value: dict[str, Any]) -> None:
    parses_or_refuses(value)


# --- the fast paths: the same answers as the general code ----------------------------------
URL_LIKE = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda scheme, host, path, tail: f"{scheme}{host}{path}{tail}",
        st.sampled_from(["https://", "http://", "HTTP://", "x+y.z:", "1a://", "//", "", ":"]),
        st.text(st.sampled_from("ab.:@[]1 "), max_size=8),
        st.text(st.sampled_from("/ab.png?#%é\t"), max_size=12),
        st.text(st.sampled_from("?#/.mp4=&"), max_size=6),
    ),
)


@given(URL_LIKE)
@settings(max_examples=500)
def test_url_path_is_what_urlsplit_says(url: str) -> None:
    try:
        expected: str | None = urlsplit(url).path
    except ValueError:
        expected = None
    try:
        found: str | None = url_path(url)
    except ValueError:
        found = None
    assert found == expected


def _slow_problem(text: str) -> bool:
    """Whether validate_task_id's character rules refuse ``text`` (written out again)."""
    return any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text)


def test_a_task_id_passes_the_quick_check_only_where_the_full_rules_allow_it() -> None:
    # isprintable() stands in for the whitespace and control rules: on every code point.
    for code in range(0x110000):
        char = chr(code)
        ident = f"ab{char}cd"
        if ident.isprintable() and " " not in ident:
            assert not _slow_problem(ident), hex(code)
        assert (validate_task_id(ident) is None) == (
            not _slow_problem(ident) and char not in ",…"
        ), hex(code)


@given(st.sampled_from(list(IdKind)), st.text(min_size=1, max_size=40))
def test_a_ref_made_from_its_key_is_the_ref_built_from_its_parts(kind: IdKind, ident: str) -> None:
    built = TaskRef(kind, ident)
    # (a key read from the snapshot cache: the same text, another string object)
    kept = TaskRef.keyed(kind, ident, "".join([kind.value, ":", ident]))
    assert kept == built and hash(kept) == hash(built)
    assert kept.key == built.key and kept.kind is kind and kept.id == ident
    assert {built: 1}[kept] == 1 and TaskRef.from_key(kept.key) == kept
