"""Small typed builders shared by tests."""

from __future__ import annotations

import pandas as pd

EXAMPLE_MAPPING = """\
id = "Account ID"
label = "Stage"
as_of = "2026-11-01T00:00:00Z"
[labels]
"New Lead" = "potential"
"Engaged" = "interested"
"Qualified" = "intent"
"Negotiation" = "deciding"
"Repeat Customer" = "loyal"
[inputs]
visits = "Site Visits"
replies = "Email Replies"
quotes = "Quotes"
objections = "Objections"
meetings = "Meetings"
purchases = "Orders"
first_contact_at = "Created"
last_contact_at = "Last Activity"
[extra]
numeric = ["Visits 30d", "Replies 30d"]
categorical = ["Segment"]
"""
"""The mapping from the ML-core issue, verbatim."""

CRM_STAGES = {
    "potential": "New Lead",
    "interested": "Engaged",
    "intent": "Qualified",
    "deciding": "Negotiation",
    "loyal": "Repeat Customer",
}
CRM_COLUMNS = {
    "customer_id": "Account ID",
    "visits": "Site Visits",
    "replies": "Email Replies",
    "quotes": "Quotes",
    "objections": "Objections",
    "meetings": "Meetings",
    "purchases": "Orders",
    "first_contact_at": "Created",
    "last_contact_at": "Last Activity",
    "visits_30d": "Visits 30d",
    "replies_30d": "Replies 30d",
    "segment": "Segment",
}


def crm_export(snapshot: pd.DataFrame) -> pd.DataFrame:
    """Dress a simulated snapshot up as the CRM export the example mapping describes."""
    export = snapshot[list(CRM_COLUMNS)].rename(columns=CRM_COLUMNS)
    export.insert(1, "Stage", snapshot["state"].map(CRM_STAGES))
    counts = [c for c in export.columns if c not in {"Account ID", "Stage", "Segment"}][:6]
    counts += ["Visits 30d", "Replies 30d"]
    export[counts] = export[counts].astype("Int64")
    for column in ("Created", "Last Activity"):
        export[column] = export[column].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return export


def customer_body(row: pd.Series, customer_id: str | None = None) -> dict[str, object]:
    """Turn a snapshot row into a `POST /v1/predict` body (blank fields are left out)."""
    from training.features import RAW_COUNT_INPUTS, TIME_INPUTS

    body: dict[str, object] = {}
    for name in RAW_COUNT_INPUTS:
        if pd.notna(row[name]):
            body[name] = int(row[name])
    for name in TIME_INPUTS:
        if pd.notna(row[name]):
            body[name] = pd.Timestamp(row[name]).isoformat()
    if "segment" in row and pd.notna(row["segment"]):
        body["extras"] = {"segment": str(row["segment"])}
    if customer_id is not None:
        body["customer_id"] = customer_id
    return body
