"""The shared feature definition: point-in-time correctness, windows, formulas and the spec hash."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training import features
from training.features import FEATURES, RAW_INPUTS, build_features, raw_inputs_from_events

AS_OF = "2026-11-01T00:00:00Z"


def events(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "type", "occurred_at"])


def test_raw_inputs_ignore_events_after_as_of() -> None:
    before = events(("a", "visit", "2026-10-20T00:00:00Z"), ("a", "quote", "2026-10-31T23:59:59Z"))
    later = pd.concat(
        [before, events(("a", "purchase", "2026-11-01T00:00:01Z"), ("a", "visit", "2027-01-01"))]
    )
    pd.testing.assert_frame_equal(
        raw_inputs_from_events(before, AS_OF), raw_inputs_from_events(later, AS_OF)
    )


def test_raw_inputs_window_includes_as_of_and_excludes_its_start() -> None:
    log = events(
        ("a", "reply", "2026-11-01T00:00:00Z"),  # exactly as_of: counts
        ("a", "reply", "2026-10-02T00:00:00Z"),  # exactly 30 days before: outside 30d
        ("a", "reply", "2026-10-02T00:00:01Z"),  # one second inside 30d
    )
    raw = raw_inputs_from_events(log, AS_OF).loc["a"]
    assert raw["replies"] == 3
    assert raw["replies_30d"] == 2
    assert raw["replies_90d"] == 3


def test_raw_inputs_give_listed_customers_without_events_zero_counts() -> None:
    raw = raw_inputs_from_events(
        events(("a", "visit", "2026-10-01")), AS_OF, customer_ids=["a", "b"]
    )
    assert list(raw.index) == ["a", "b"]
    assert raw.loc["b", "visits"] == 0
    assert raw["last_contact_at"].isna()["b"]
    assert list(raw.columns) == list(RAW_INPUTS)


def test_raw_inputs_reject_unknown_event_type() -> None:
    with pytest.raises(ValueError, match=r"'type'.*'call'"):
        raw_inputs_from_events(events(("a", "call", "2026-10-01")), AS_OF)


def test_raw_inputs_do_not_depend_on_event_order() -> None:
    log = events(
        ("a", "visit", "2026-09-01T10:00:00Z"),
        ("b", "quote", "2026-10-15T08:00:00Z"),
        ("a", "objection", "2026-10-30T12:00:00Z"),
        ("b", "meeting", "2026-06-01T00:00:00Z"),
    )
    shuffled = log.sample(frac=1.0, random_state=3)
    ids = ["a", "b"]
    pd.testing.assert_frame_equal(
        raw_inputs_from_events(log, AS_OF, ids), raw_inputs_from_events(shuffled, AS_OF, ids)
    )


def test_build_features_computes_recency_tenure_and_ratios() -> None:
    log = events(
        ("a", "visit", "2026-09-02T00:00:00Z"),
        ("a", "visit", "2026-10-01T00:00:00Z"),
        ("a", "reply", "2026-10-11T00:00:00Z"),
        ("a", "quote", "2026-10-22T00:00:00Z"),
    )
    row = build_features(raw_inputs_from_events(log, AS_OF), AS_OF).loc["a"]
    assert row["days_since_last_contact"] == pytest.approx(10.0)
    assert row["tenure_days"] == pytest.approx(60.0)
    assert row["replies_per_visit"] == pytest.approx(0.5)
    assert row["quotes_per_visit"] == pytest.approx(0.5)
    assert row["objections_per_quote"] == 0.0
    assert row["interactions_total"] == 4
    assert row["interactions_30d"] == 2  # 2026-10-01 is exactly 31 days back: outside
    assert row["activity_share_30d"] == pytest.approx(0.5)
    assert row["contacts_per_30d"] == pytest.approx(4 / 60 * 30)
    assert row["days_between_contacts"] == pytest.approx(50 / 3)


def test_build_features_recency_grows_with_as_of_without_new_events() -> None:
    raw = raw_inputs_from_events(events(("a", "quote", "2026-10-01")), AS_OF)
    early = float(build_features(raw, AS_OF)["days_since_last_contact"].iloc[0])
    late = float(build_features(raw, "2026-12-01T00:00:00Z")["days_since_last_contact"].iloc[0])
    assert late - early == pytest.approx(30.0)


def test_build_features_keeps_unknown_inputs_missing() -> None:
    raw = pd.DataFrame({"visits": [3.0], "replies": [np.nan]}, index=pd.Index(["a"]))
    row = build_features(raw, AS_OF).loc["a"]
    assert list(build_features(raw, AS_OF).columns) == list(FEATURES)
    assert np.isnan(row["replies_per_visit"])
    assert np.isnan(row["days_since_last_contact"])
    assert row["interactions_total"] == 3.0  # a total over the counts that are known


def test_feature_set_hash_changes_when_a_formula_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    before = features.feature_set_hash()
    assert before == features.feature_set_hash()
    changed = (
        features.Derived("replies_per_visit", "ratio", ("replies", "meetings")),
        *features.DERIVED[1:],
    )
    monkeypatch.setattr(features, "DERIVED", changed)
    assert features.feature_set_hash() != before


def _random_raw(rows: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 6, (rows, len(features.RAW_COUNT_INPUTS))).astype(np.float64)
    counts[rng.random(counts.shape) < 0.15] = np.nan  # unknown counts
    first = 1.7e9 + rng.random(rows) * 1e7
    last = first + rng.random(rows) * 1e7
    first[rng.random(rows) < 0.1] = np.nan
    return np.column_stack([counts, first, last])


@pytest.mark.parametrize("rows", [1, 511, 512, 513, 1500])
def test_each_row_gets_the_same_features_alone_as_in_any_batch(rows: int) -> None:
    raw = _random_raw(rows)
    now = 1.72e9
    together = features.feature_matrix_of_raw(raw, now)
    assert together.shape == (rows, len(FEATURES))
    for row in {0, rows // 2, rows - 1}:
        alone = features.feature_matrix_of_raw(raw[row : row + 1], now)
        np.testing.assert_array_equal(alone[0], together[row])
    by_name = {name: raw[:, i] for i, name in enumerate(RAW_INPUTS)}
    np.testing.assert_array_equal(features.feature_matrix(by_name, now), together)


def test_every_derived_feature_follows_its_declared_formula() -> None:
    raw = _random_raw(300)
    now = 1.72e9
    got = dict(zip(FEATURES, features.feature_matrix_of_raw(raw, now).T, strict=True))
    values = {name: raw[:, i] for i, name in enumerate(RAW_INPUTS)}
    with np.errstate(divide="ignore", invalid="ignore"):
        values["active_span_days"] = (
            values["last_contact_at"] - values["first_contact_at"]
        ) / 86_400
        for spec in features.DERIVED:  # one feature at a time, straight from the spec
            args = [values[a] for a in spec.args]
            if spec.kind == "days_since":
                values[spec.name] = np.maximum(now - args[0], 0.0) / 86_400
            elif spec.kind == "sum":
                stacked = np.vstack(args)
                total = np.nansum(stacked, axis=0)
                total[np.isnan(stacked).all(axis=0)] = np.nan
                values[spec.name] = total
            elif spec.kind == "ratio":
                num, den = args
                zero = np.where(np.isnan(den) | np.isnan(num), np.nan, 0.0)
                values[spec.name] = np.where(den > 0, num / den, zero)
            elif spec.kind == "per_30d":
                values[spec.name] = args[0] / np.maximum(args[1], 1.0) * 30.0
            else:
                assert spec.kind == "gap_days"
                values[spec.name] = args[1] / np.maximum(args[0] - 1.0, 1.0)
    for name in FEATURES:
        np.testing.assert_array_equal(got[name], values[name], err_msg=name)
