"""Whether the serving model's percentages can be taken at their word: its reliability on the
customers it was tested on when it was trained.

Training measures it and keeps it in the model's metadata (`training/reliability.py`), so the
page reads it. A model trained before that has only its test set (`test_set.parquet` in its
folder): the page predicts it once per model in the process, on the first view after the model
is served, with the same function training uses, and reuses the figures after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from app.monitoring.cache import TtlCache
from training.artifacts import read_test_set
from training.fitting import label_codes
from training.prediction import Predictor, predict_table
from training.reliability import Reliability, reliability_of

log = logging.getLogger("dealnode")

SURE_ENOUGH = 0.03
"""An ECE under this: the percentages can be read as they are."""
ROUGHLY = 0.08
"""An ECE under this: they are a fair guide; above, read them as a ranking."""
LEANING = 0.01
"""Confidence this far above (or below) the share right, on average, is worth saying."""


@dataclass(frozen=True)
class Calibration:
    """The serving model's reliability on its test customers, and what the page says of it."""

    version: str
    figures: Reliability
    """Bins shown, customers left out, ECE and overconfidence (`training/reliability.py`)."""
    chance_p95: float | None = None
    """The ECE exact percentages stay under 95 times in 100 on this many customers
    (`training.metrics.chance_ece`); None for a model trained before it was stored."""

    @property
    def words(self) -> str:
        """The ECE as a seller would put it."""
        figures = self.figures
        gap = f"{100 * figures.ece:.1f} percentage points"
        if figures.ece < SURE_ENOUGH:
            verdict = "the percentages can be read as they are"
        elif figures.ece < ROUGHLY:
            verdict = "the percentages are a fair guide, not exact chances"
        else:
            verdict = "read the percentages as a ranking rather than as chances"
        sentence = (
            f"On average the confidence shown is {gap} away from how often it is right "
            f"(ECE {figures.ece:.3f}): {verdict}."
        )
        if figures.overconfidence >= LEANING:
            sentence += " Where it is off, it is too sure of itself."
        elif figures.overconfidence <= -LEANING:
            sentence += " Where it is off, it is too modest."
        if self.chance_p95 is not None and figures.ece <= self.chance_p95:
            sentence += (
                f" On {figures.customers:,} test customers even exact percentages would show up to "
                f"{self.chance_p95:.3f} by chance alone, so this gap may be luck rather than error."
            )
        return sentence


def calibration_of(predictor: Predictor) -> Calibration | None:
    """The figures for `predictor`'s model, as training stored them or, for an older model,
    measured on its test set now; None when it has no labelled test customers, or they cannot
    be read (a damaged file is the page's note, not an error page)."""
    model = predictor.model
    measured = model.reliability or _measured(predictor)
    if measured is None:
        return None
    return Calibration(model.version, measured, _chance_p95(model.metadata))


def _chance_p95(metadata: dict[str, Any]) -> float | None:
    """The test set's chance band as training stored it in the test metrics, if it did."""
    chance = metadata.get("metrics", {}).get("test", {}).get("model", {}).get("ece_by_chance")
    return None if not isinstance(chance, dict) else float(chance["p95"])


def _measured(predictor: Predictor) -> Reliability | None:
    """The figures of a model trained before they were stored: predict its test set."""
    model = predictor.model
    try:
        table = read_test_set(model.path, model.metadata)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:  # damaged: the page says "not measured"
        log.warning("model %s: its test set cannot be read (%s)", model.version, exc)
        return None
    if table.labels is None or not len(table.labels):
        return None
    return reliability_of(label_codes(table.labels), predict_table(predictor, table).probabilities)


def cached(cache: TtlCache[Calibration | None], predictor: Predictor) -> Calibration | None:
    """`predictor`'s figures from `cache` (by model version and booster checksum), computed
    on first asking; the runtime keeps them for the life of the process."""
    model = predictor.model
    return cache.get_or_compute((model.version, model.checksum), lambda: calibration_of(predictor))
