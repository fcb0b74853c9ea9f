"""Loading CRM exports: exact tables from good files, one clear line for bad ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.factories import EXAMPLE_MAPPING
from training.dataset import load_customers, read_table, to_customer_table
from training.errors import DataError
from training.features import RAW_INPUTS
from training.mapping import load_mapping, parse_mapping

pytestmark = pytest.mark.data
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def export() -> pd.DataFrame:
    """Three customers in the example mapping's CRM columns, as a CSV reads them (text)."""
    return pd.DataFrame(
        {
            "Account ID": ["007", "008", "009"],
            "Stage": ["New Lead", "Negotiation", "Repeat Customer"],
            "Site Visits": ["1", "12", "30"],
            "Email Replies": ["0", "5", ""],
            "Quotes": ["0", "3", "4"],
            "Objections": ["0", "2", "1"],
            "Meetings": ["0", "1", "2"],
            "Orders": ["0", "0", "3"],
            "Created": ["2026-10-01", "2026-05-02T10:00:00Z", "2025-01-01T00:00:00+02:00"],
            "Last Activity": ["2026-10-01", "2026-10-30T09:15:00Z", ""],
            "Visits 30d": ["1", "4", "0"],
            "Replies 30d": ["0", "2", "0"],
            "Segment": ["ecommerce", "b2b", ""],
        }
    )


@pytest.fixture
def mapping(tmp_path: Path) -> object:
    path = tmp_path / "m.toml"
    path.write_text(EXAMPLE_MAPPING)
    return load_mapping(path)


def test_to_customer_table_maps_the_example_exactly(mapping: object) -> None:
    table = to_customer_table(export(), mapping, require_labels=True)  # type: ignore[arg-type]
    assert list(table.ids) == ["007", "008", "009"]
    assert list(table.raw.columns) == list(RAW_INPUTS)
    assert table.raw.loc["008", "visits"] == 12.0
    assert table.raw["replies"].isna()["009"]
    assert table.raw["visits_30d"].isna().all()  # not mapped: unknown, not zero
    assert table.raw.loc["009", "first_contact_at"] == pd.Timestamp("2024-12-31T22:00:00Z")
    assert table.raw["last_contact_at"].isna()["009"]
    assert table.labels is not None
    assert list(table.labels) == ["potential", "deciding", "loyal"]
    assert table.extras.loc["008", "Visits 30d"] == 4.0
    assert table.extras["Segment"].isna()["009"]
    assert table.as_of == pd.Timestamp("2026-11-01T00:00:00Z")


def _set(column: str, row: int, value: str) -> Callable[[pd.DataFrame], None]:
    def change(frame: pd.DataFrame) -> None:
        frame.loc[row, column] = value

    return change


@pytest.mark.parametrize(
    ("change", "column", "text"),
    [
        (_set("Site Visits", 1, "-3"), "Site Visits", "row 2: negative count"),
        (_set("Site Visits", 2, "2.5"), "Site Visits", "row 3: count is not a whole number"),
        (_set("Quotes", 0, "many"), "Quotes", "row 1: not a number"),
        (_set("Created", 1, "yesterday"), "Created", "row 2: cannot parse"),
        (_set("Last Activity", 1, "2026-12-24T00:00:00Z"), "Last Activity", "after as_of"),
        (_set("Last Activity", 0, "2026-09-01"), "Last Activity", "before first contact"),
        (_set("Stage", 2, "Lost"), "Stage", "row 3: unknown label value 'Lost'"),
        (_set("Account ID", 1, "007"), "Account ID", "row 2: duplicate id"),
        (_set("Account ID", 1, ""), "Account ID", "row 2: empty id"),
        (_set("Account ID", 1, "ACC/8"), "Account ID", "row 2: not an id (see docs/ids.md): 'ACC/8'"),
        (_set("Account ID", 1, ".."), "Account ID", "row 2: not an id"),
        (_set("Created", 1, "1850-05-02T10:00:00Z"), "Created", "row 2: outside the time range"),
        (_set("Last Activity", 1, "2262-01-01T00:00:00Z"), "Last Activity", "row 2: outside"),
        (_set("Visits 30d", 0, "lots"), "Visits 30d", "row 1: not a number"),
    ],
)
def test_to_customer_table_names_column_and_row(
    mapping: object, change: Callable[[pd.DataFrame], None], column: str, text: str
) -> None:
    frame = export()
    change(frame)
    with pytest.raises(DataError) as caught:
        to_customer_table(frame, mapping, require_labels=True)  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"'{column}'" in message
    assert text in message
    assert "\n" not in message


def test_missing_column_suggests_the_close_one(mapping: object) -> None:
    frame = export().rename(columns={"Quotes": "Quote"})
    with pytest.raises(DataError, match=r"'Quotes' is missing \(did you mean 'Quote'\?\)"):
        to_customer_table(frame, mapping, require_labels=True)  # type: ignore[arg-type]


def test_drop_unmapped_drops_the_rows_with_an_unmapped_label() -> None:
    data = {**parse_mapping_dict(), "drop_unmapped": True}
    mapping = parse_mapping(data)
    frame = export()
    frame.loc[1, "Stage"] = "Lost"
    table = to_customer_table(frame, mapping, require_labels=True)
    assert list(table.ids) == ["007", "009"]


def parse_mapping_dict() -> dict[str, object]:
    import tomllib

    return tomllib.loads(EXAMPLE_MAPPING)


def test_csv_and_parquet_give_the_same_table(tmp_path: Path, mapping: object) -> None:
    frame = export()
    frame.to_csv(tmp_path / "e.csv", index=False)
    frame.to_parquet(tmp_path / "e.parquet", index=False)
    from_csv = load_customers(tmp_path / "e.csv", mapping, require_labels=True)  # type: ignore[arg-type]
    from_parquet = load_customers(tmp_path / "e.parquet", mapping, require_labels=True)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(from_csv.raw, from_parquet.raw)
    assert list(from_csv.ids) == ["007", "008", "009"]  # leading zeros kept


@pytest.mark.parametrize(("content", "text"), [("", "empty"), ("a,b\n", "no data rows")])
def test_read_table_refuses_empty_files(tmp_path: Path, content: str, text: str) -> None:
    path = tmp_path / "e.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=text):
        read_table(path)


def test_read_table_refuses_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\.csv or \.parquet"):
        read_table(tmp_path / "e.xlsx")


def test_committed_sample_loads_with_its_mapping() -> None:
    mapping = load_mapping(SAMPLE / "crm_mapping.toml")
    table = load_customers(SAMPLE / "crm_export.csv", mapping, require_labels=True)
    assert table.labels is not None
    assert set(table.labels) == {"potential", "interested", "intent", "deciding", "loyal"}
    assert len(table) == len(pd.read_csv(SAMPLE / "crm_export.csv")) - 8  # the "Lost" rows
