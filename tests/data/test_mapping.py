"""Mapping files: the issue's example works as written; mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import EXAMPLE_MAPPING
from training.errors import DataError
from training.features import RAW_INPUTS, STATES, to_utc
from training.mapping import NATIVE_MAPPING, load_mapping

pytestmark = pytest.mark.data


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(text)
    return path


def test_load_mapping_reads_the_issue_example(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, EXAMPLE_MAPPING))
    assert mapping.id == "Account ID"
    assert mapping.label == "Stage"
    assert mapping.as_of == to_utc("2026-11-01T00:00:00Z")
    assert mapping.labels["Repeat Customer"] == "loyal"
    assert mapping.inputs["last_contact_at"] == "Last Activity"
    assert mapping.extra_numeric == ("Visits 30d", "Replies 30d")
    assert mapping.extra_categorical == ("Segment",)
    assert not mapping.drop_unmapped


def test_native_mapping_covers_every_raw_input() -> None:
    assert set(NATIVE_MAPPING.inputs) == set(RAW_INPUTS)
    assert set(NATIVE_MAPPING.labels.values()) == set(STATES)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda t: t.replace('"Repeat Customer" = "loyal"', '"Repeat Customer" = "champion"'), "champion"),
        (lambda t: t.replace("visits = ", "site_visits = "), "site_visits"),
        (lambda t: t.replace('id = "Account ID"\n', ""), "'id'"),
        (lambda t: t + 'colour = "blue"\n', "colour"),
        (lambda t: t.replace('quotes = "Quotes"', 'quotes = "Site Visits"'), "mapped twice"),
        (lambda t: t.replace('as_of = "2026-11-01T00:00:00Z"', 'as_of = "soon"'), "as_of"),
        (lambda t: t.replace('as_of = "2026-11-01T00:00:00Z"', 'as_of = "1850-01-01T00:00:00Z"'), "as_of"),
        (lambda t: t.replace('as_of = "2026-11-01T00:00:00Z"', 'as_of = "0001-01-01T00:00:00+01:00"'), "as_of"),
        (lambda t: t.replace("[extra]", "[extra]\nordinal = []"), "ordinal"),
        (lambda t: t.replace("[labels]", "[labels\n"), "not valid TOML"),
    ],
)
def test_load_mapping_names_the_mistake(tmp_path: Path, change: object, named: str) -> None:
    text = change(EXAMPLE_MAPPING)  # type: ignore[operator]
    with pytest.raises(DataError, match=named) as caught:
        load_mapping(write(tmp_path, text))
    assert "\n" not in str(caught.value)


def test_load_mapping_of_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_mapping(tmp_path / "nope.toml")
