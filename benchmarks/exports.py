"""The public data sets as CRM exports the mapping path reads (one CSV, one row per customer).

A CRM hands over one table; some public releases come as two tables or without an id, so
this puts them in that shape and nothing more: every column keeps its name and values, and
the mapping files in `data/mappings/` say what each one means. The files are read where the
user keeps them (see data/README.md) and the exports are written under `benchmarks/out/`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

MAPPINGS = Path("data/mappings")


@dataclass(frozen=True)
class PublicDataset:
    """One public data set: where its files are, and how it becomes an export."""

    name: str
    folder: str
    mapping: str
    export: Callable[[Path], pd.DataFrame]


def _x_education(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "Leads.csv", dtype=str, keep_default_na=False)


def _olist(folder: Path) -> pd.DataFrame:
    leads = pd.read_csv(folder / "olist_marketing_qualified_leads_dataset.csv", dtype=str)
    closed = pd.read_csv(folder / "olist_closed_deals_dataset.csv", dtype=str)
    leads["stage"] = leads["mql_id"].isin(closed["mql_id"]).map({True: "closed", False: "lead"})
    leads["last_contact_date"] = leads["first_contact_date"]
    return leads


def _bank(folder: Path) -> pd.DataFrame:
    frame = pd.read_csv(folder / "bank-full.csv", dtype=str)
    frame.insert(0, "customer_id", [f"bank-{i}" for i in range(len(frame))])
    return frame.drop(columns=["duration"])


DATASETS = (
    PublicDataset("x-education", "x-education-leads", "x_education_leads.toml", _x_education),
    PublicDataset("olist", "olist-marketing-funnel", "olist_marketing_funnel.toml", _olist),
    PublicDataset("uci-bank", "uci-bank-marketing", "uci_bank_marketing.toml", _bank),
)


def write_export(dataset: PublicDataset, root: Path, out: Path) -> Path | None:
    """Write `dataset`'s export under `out`; None when its files are not under `root`."""
    folder = root / dataset.folder
    if not folder.is_dir():
        return None
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"export_{dataset.name}.csv"
    dataset.export(folder).to_csv(path, index=False)
    return path
