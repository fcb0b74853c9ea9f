"""Every number the journey simulator uses, in one place (data/README.md explains each).

Rates are events per day while a customer is in a state; dwell times are gamma distributed with
shape `DWELL_SHAPE` and the segment's mean. Order of states: potential, interested, intent,
deciding, loyal. Order of event types: visit, reply, quote, objection, meeting, purchase.
"""

from __future__ import annotations

from typing import Final

import numpy as np

SEGMENTS: Final = ("ecommerce", "real_estate", "car_sales", "b2b")
SEGMENT_SHARES: Final = np.array([0.40, 0.15, 0.20, 0.25])

HISTORY_DAYS: Final = np.array([365.0, 540.0, 365.0, 730.0])
"""First contact is uniform over this many days before as_of."""

ENTRY_STATE_SHARES: Final = np.array([0.75, 0.17, 0.08, 0.0, 0.0])
"""Most customers enter as leads; some arrive already interested (inbound) or with intent."""

DWELL_SHAPE: Final = 2.0
DWELL_MEAN_DAYS: Final = np.array(
    [
        [25.0, 20.0, 18.0, 22.0, 80.0],  # ecommerce: short cycles
        [60.0, 45.0, 50.0, 60.0, 200.0],  # real estate: long cycles, rare repeat purchase
        [40.0, 25.0, 25.0, 35.0, 160.0],  # car sales: medium cycle
        [60.0, 50.0, 60.0, 90.0, 200.0],  # b2b: long cycles, joint decisions
    ]
)

# At the end of a dwell period: probabilities of moving forward, backward, or staying.
# Backward from deciding means a lost deal (back to interested); from loyal it is churn.
MOVE_FORWARD: Final = np.array(
    [
        [0.70, 0.55, 0.55, 0.60, 0.00],
        [0.60, 0.50, 0.50, 0.45, 0.00],
        [0.65, 0.55, 0.50, 0.50, 0.00],
        [0.60, 0.50, 0.50, 0.45, 0.00],
    ]
)
MOVE_BACKWARD: Final = np.array(
    [
        [0.00, 0.25, 0.30, 0.30, 0.30],
        [0.00, 0.25, 0.30, 0.35, 0.25],
        [0.00, 0.25, 0.30, 0.30, 0.25],
        [0.00, 0.20, 0.25, 0.30, 0.25],
    ]
)
BACKWARD_TARGET: Final = np.array([0, 0, 1, 1, 1])
"""Where a backward move lands: a lost deal or a churned customer is `interested` again."""

QUIET_SHARE: Final = np.array([0.25, 0.30, 0.25, 0.20])
"""Chance that a dwell period is quiet (the customer goes silent)."""
QUIET_RATE_FACTOR: Final = 0.06
QUIET_FORWARD_FACTOR: Final = 0.25
QUIET_BACKWARD_FACTOR: Final = 2.2
"""A quiet period rarely ends in progress and often in decay."""
QUIET_DWELL_MEAN_DAYS: Final = 35.0
"""Silence does not last as long as engagement: after about five weeks the state decays."""

BASE_RATES: Final = np.array(
    [
        [0.025, 0.004, 0.000, 0.000, 0.000, 0.000],  # potential
        [0.100, 0.040, 0.004, 0.002, 0.006, 0.000],  # interested
        [0.180, 0.120, 0.050, 0.012, 0.030, 0.000],  # intent
        [0.150, 0.150, 0.060, 0.080, 0.060, 0.000],  # deciding
        [0.050, 0.025, 0.010, 0.003, 0.005, 0.012],  # loyal
    ]
)
SEGMENT_RATE_FACTORS: Final = np.array(
    [
        [2.5, 0.5, 1.5, 0.3, 0.1, 2.5],  # ecommerce: browsing, carts, repeat orders
        [0.6, 1.0, 0.8, 1.0, 1.5, 0.1],  # real estate: viewings, price consultations
        [0.8, 1.0, 1.0, 1.3, 1.2, 0.3],  # car sales: test drives, price negotiation
        [0.5, 1.3, 1.0, 1.6, 2.5, 0.6],  # b2b: many meetings and objections
    ]
)
ACTIVITY_SHAPE: Final = 3.0
"""Per-customer activity multiplier ~ Gamma(shape, 1/shape): mean 1, some much busier."""

OBJECTION_KINDS: Final = ("price", "after_sales", "trust")
OBJECTION_KIND_SHARES: Final = np.array(
    [
        [0.60, 0.25, 0.15],
        [0.55, 0.15, 0.30],
        [0.55, 0.30, 0.15],
        [0.45, 0.25, 0.30],
    ]
)
QUOTE_VALUE_MEDIAN: Final = np.array([120.0, 350_000.0, 28_000.0, 60_000.0])
QUOTE_VALUE_SIGMA: Final = 0.6

RESISTANT_SHARE: Final = 0.25
"""Chance that a dwell period in `intent` or `deciding` is resistant: the customer leans
towards a competitor (docs/domain.md's risk on top of the state)."""
RESISTANT_STATES: Final = np.array([False, False, True, True, False])
RESISTANT_OBJECTION_FACTOR: Final = 3.0
"""Objections come three times as often, and pile up towards the period's end."""
RESISTANT_CONTACT_FACTOR: Final = 0.7
"""Other contacts come less often, and thin out over the period (a falling cadence)."""
RESISTANT_FORWARD_FACTOR: Final = 0.5
RESISTANT_BACKWARD_FACTOR: Final = 2.5
"""A resistant period ends in progress half as often and in a lost deal 2.5 times as often."""


def _steady(factor: float) -> float:
    """The factor for the other periods of those states that keeps the average as it was, so
    the trait decides *who* falls back and objects, not how many: the state shares and the
    five-state problem stay as they were without it."""
    return (1.0 - RESISTANT_SHARE * factor) / (1.0 - RESISTANT_SHARE)


STEADY_OBJECTION_FACTOR: Final = _steady(RESISTANT_OBJECTION_FACTOR)
STEADY_CONTACT_FACTOR: Final = _steady(RESISTANT_CONTACT_FACTOR)
STEADY_FORWARD_FACTOR: Final = _steady(RESISTANT_FORWARD_FACTOR)
STEADY_BACKWARD_FACTOR: Final = _steady(RESISTANT_BACKWARD_FACTOR)

MISLABEL_NEIGHBOUR_SHARE: Final = 0.8
"""A mislabel goes to a neighbouring state this often, else to any other state."""
