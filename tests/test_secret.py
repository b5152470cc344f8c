"""ApiKey never shows its value, however it is formatted, copied or pickled."""

from __future__ import annotations

import copy
import dataclasses
import logging
import pickle
import traceback

import pytest

from aireiter_tui.domain.secret import ApiKey

SECRET = "sk-live-9f8e7d6c5b4a"


@pytest.fixture
def key() -> ApiKey:
    return ApiKey(SECRET)


def test_reveal_gives_the_value(key: ApiKey) -> None:
    assert key.reveal() == SECRET


@pytest.mark.parametrize(
    "render",
    [
        str,
        repr,
        format,
        ascii,
        lambda k: f"{k}",
        lambda k: f"{k!r}",
        lambda k: f"{k!s}",
        lambda k: f"{k:>40}",
        lambda k: f"{k=}",
        lambda k: "%s" % k,  # noqa: UP031 - the old operator is what is under test
        lambda k: "%r" % k,  # noqa: UP031
        lambda k: "{}".format(k),  # noqa: UP032
        lambda k: "{0!r}".format(k),  # noqa: UP030, UP032
        lambda k: repr({"api_key": k}),
        lambda k: repr([k, (k,)]),
        lambda k: str({"nested": {"key": k}}),
    ],
)
def test_rendering_never_leaks(key: ApiKey, render: object) -> None:
    assert callable(render)
    text = render(key)
    assert SECRET not in text
    assert "****" in text


def test_truthiness_and_equality() -> None:
    assert ApiKey(SECRET)
    assert not ApiKey("")
    assert ApiKey(SECRET) == ApiKey(SECRET)
    assert ApiKey(SECRET) != ApiKey("other")
    assert ApiKey(SECRET) != SECRET  # never equal to the plain string
    assert hash(ApiKey(SECRET)) == hash(ApiKey(SECRET))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_refused(key: ApiKey, protocol: int) -> None:
    with pytest.raises(TypeError) as info:
        pickle.dumps(key, protocol=protocol)
    assert SECRET not in str(info.value)
    with pytest.raises(TypeError):
        pickle.dumps({"config": [key]}, protocol=protocol)


def test_copies_are_the_same_key(key: ApiKey) -> None:
    assert copy.copy(key) is key
    assert copy.deepcopy({"k": key})["k"] is key


def test_dataclass_holding_a_key(key: ApiKey) -> None:
    @dataclasses.dataclass(frozen=True)
    class Profile:
        name: str
        api_key: ApiKey

    profile = Profile("prod", key)
    assert SECRET not in repr(profile)
    assert dataclasses.asdict(profile)["api_key"] is key
    assert SECRET not in repr(dataclasses.asdict(profile))


def test_no_instance_dict(key: ApiKey) -> None:
    # With __slots__ there is no __dict__ for vars()/debuggers to dump.
    with pytest.raises(TypeError):
        vars(key)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {SECRET}", "Authorization: Bearer ********"),
        (f"{SECRET}{SECRET} and {SECRET}", "**************** and ********"),
        ("nothing secret here", "nothing secret here"),
        ("", ""),
    ],
)
def test_scrub(key: ApiKey, text: str, expected: str) -> None:
    assert key.scrub(text) == expected


def test_scrub_with_empty_key_changes_nothing() -> None:
    assert ApiKey("").scrub("abc") == "abc"


def test_exception_messages_do_not_leak(key: ApiKey) -> None:
    def fail() -> None:
        raise ValueError(f"server rejected key {key}", key)

    with pytest.raises(ValueError) as info:
        fail()
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    formatted = "".join(traceback.format_exception(info.value))
    assert SECRET not in formatted


def test_traceback_locals_do_not_leak(key: ApiKey) -> None:
    def fail(api_key: ApiKey) -> None:
        raise RuntimeError("boom")

    try:
        fail(key)
    except RuntimeError as error:
        summary = traceback.TracebackException.from_exception(error, capture_locals=True)
        assert SECRET not in "".join(summary.format())


def test_logging_does_not_leak(key: ApiKey, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("aireiter_tui.test").info("using %s / %r", key, key)
    assert SECRET not in caplog.text
    assert "********" in caplog.text
