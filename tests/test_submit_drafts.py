"""Drafts before they are sent: the checks a dialog shows, params from text and options,
the out_task_ids of new tasks and retries, and ``[templates.NAME]`` in the config."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aireiter_tui.domain.config import load_settings
from aireiter_tui.domain.drafts import (
    KNOWN_MODELS,
    Draft,
    Template,
    check_draft,
    new_out_task_id,
    next_retry_id,
    parse_json_object,
    parse_param_option,
)
from aireiter_tui.domain.errors import ConfigError
from aireiter_tui.domain.models import MAX_ID_LENGTH, validate_task_id


def draft(**changes: Any) -> Draft:
    values: dict[str, Any] = {"model": "sora2", "params": {"prompt": "sea"}, "out_task_id": "a-1"}
    values.update(changes)
    return Draft(**values)


def test_a_good_draft_has_no_problems_and_any_typed_model_is_allowed() -> None:
    assert check_draft(draft()) == []
    assert check_draft(draft(model="brand_new_model_v9")) == []
    assert "sora2" in KNOWN_MODELS and "seedance_1_5_pro" in KNOWN_MODELS


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({"model": ""}, ["Choose a model, or type a model name."]),
        (
            {"model": "nano banana"},
            ["The model name 'nano banana' must be one word, without spaces."],
        ),
        ({"params": {}}, ['The params need a "prompt": the text to generate from.']),
        ({"params": {"prompt": None}}, ['The "prompt" must be a string, not null.']),
        ({"params": "prompt=x"}, ["The params must be a JSON object ({...}), not a string."]),
        ({"out_task_id": ""}, ["The out_task_id cannot be used: the ID is empty."]),
        ({"metadata": [1]}, ["The metadata must be a JSON object ({...}), not a list."]),
        (
            {"callback_url": "javascript:x"},
            ["The callback URL must be an http:// or https:// URL."],
        ),
        (
            {"model": " ", "params": {"prompt": ""}},
            ["Choose a model, or type a model name.", 'The "prompt" is empty.'],
        ),
    ],
)
def test_every_problem_is_a_sentence(changes: dict[str, Any], reasons: list[str]) -> None:
    assert check_draft(draft(**changes)) == reasons


def test_json_text_is_read_strictly_with_where_it_broke() -> None:
    assert parse_json_object('{"prompt": "a fox", "n": 2}') == ({"prompt": "a fox", "n": 2}, "")
    assert parse_json_object("  ")[1].startswith("The params are empty: write a JSON object")
    broken = parse_json_object('{\n  "prompt": "a fox"\n  "n": 2\n}')[1]
    assert broken == "The params are not valid JSON: Expecting ',' delimiter at line 3, column 3."
    assert parse_json_object('{"seed": NaN}')[1] == (
        "The params are not valid JSON: NaN is not a JSON number."
    )
    assert parse_json_object('"a fox"', "metadata")[1] == (
        "The metadata must be a JSON object ({...}), not a string."
    )
    assert "nested too deeply" in parse_json_object("[" * 100_000)[1]


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("prompt=a red fox", ("prompt", "a red fox")),
        ("output_n=2", ("output_n", 2)),
        ("web_search=true", ("web_search", True)),
        ("prompt=123", ("prompt", 123)),
        ('prompt="123"', ("prompt", "123")),
        ('image_url=["https://a/1.png"]', ("image_url", ["https://a/1.png"])),
        ("seed=NaN", ("seed", "NaN")),
        ("prompt=", ("prompt", "")),
        (" size =a=b", ("size", "a=b")),
    ],
)
def test_a_param_option_is_json_when_it_is_json(option: str, expected: tuple[str, Any]) -> None:
    assert parse_param_option(option) == expected


@pytest.mark.parametrize("option", ["prompt", "=x", " =x"])
def test_a_param_option_needs_a_key(option: str) -> None:
    with pytest.raises(ValueError, match="is not key=value"):
        parse_param_option(option)


def test_retry_ids_take_the_next_free_suffix_and_stay_usable() -> None:
    assert next_retry_id("shot-9", set()) == "shot-9-r1"
    assert next_retry_id("shot-9", {"shot-9-r1", "shot-9-r2"}) == "shot-9-r3"
    assert next_retry_id("shot-9-r1", {"shot-9-r1"}) == "shot-9-r2"  # no -r1-r1
    long = "x" * MAX_ID_LENGTH
    retried = next_retry_id(long, set())
    assert len(retried) == MAX_ID_LENGTH and retried.endswith("-r1")
    assert validate_task_id(retried) is None


def test_a_fresh_out_task_id_is_a_usable_id_that_says_when() -> None:
    made = new_out_task_id(datetime(2025, 12, 18, 10, 12, 11, tzinfo=UTC), token="a1b2c3")
    assert made == "tui-20251218-101211-a1b2c3"
    assert validate_task_id(new_out_task_id()) is None
    assert new_out_task_id() != new_out_task_id()


def test_the_fingerprint_is_the_request_not_its_spelling() -> None:
    one = draft(params={"prompt": "sea", "n": 1})
    assert one.fingerprint == draft(params={"n": 1, "prompt": "sea"}, out_task_id="b").fingerprint
    assert one.fingerprint != draft(params={"prompt": "sea", "n": 2}).fingerprint
    assert one.fingerprint != draft(params={"prompt": "sea", "n": 1}, model="sora2_pro").fingerprint


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_templates_are_read_from_the_config(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        'theme = "nord"\n'
        '[templates.fox]\nmodel = "nano_banana"\n'
        '[templates.fox.params]\nprompt = "a fox"\noutput_n = 2\ntags = ["a", {b = 1.5}]\n'
        '[templates."clip 30s"]\nmodel = "sora2"\n',
    )
    settings = load_settings(path, env={})
    assert settings.templates == {
        "fox": Template(
            "fox", "nano_banana", {"prompt": "a fox", "output_n": 2, "tags": ["a", {"b": 1.5}]}
        ),
        "clip 30s": Template("clip 30s", "sora2", {}),
    }
    made = settings.templates["fox"].draft("fox-1", label="foxes")
    assert (made.model, made.out_task_id, made.label) == ("nano_banana", "fox-1", "foxes")
    made.params["prompt"] = "changed"  # a dialog edits its own copy
    assert settings.templates["fox"].params["prompt"] == "a fox"
    assert load_settings(tmp_path / "missing.toml", env={}).templates == {}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("templates = 3\n", '"templates" must be a set of [templates.NAME] tables'),
        ("[templates]\nfox = 1\n", '"templates.fox" must be a table with a model and params'),
        (
            "[templates.fox]\nparams = {prompt = 'x'}\n",
            '"templates.fox.model" is needed: Choose a model',
        ),
        ("[templates.fox]\nmodel = 'a b'\n", "must be one word, without spaces"),
        (
            "[templates.fox]\nmodel = 'm'\nprompt = 'x'\n",
            'unknown key "templates.fox.prompt" (known keys: model, params)',
        ),
        (
            "[templates.fox]\nmodel = 'm'\nparams = 'x'\n",
            '"templates.fox.params" must be a table, got str',
        ),
        (
            "[templates.fox]\nmodel = 'm'\nparams = {when = 2025-12-18}\n",
            '"templates.fox.params.when" is a TOML date or time, which JSON has not',
        ),
        (
            "[templates.fox]\nmodel = 'm'\nparams = {seed = nan}\n",
            '"templates.fox.params.seed" is nan',
        ),
    ],
)
def test_a_bad_template_is_one_sentence_naming_file_and_key(
    tmp_path: Path, text: str, said: str
) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(caught.value).startswith(f"{path}: ")
    assert said in str(caught.value)
