"""The top reason read back from a stored score document, in either stored form."""

from __future__ import annotations

from app.scoring.reasons import describe
from app.scoring.results import stored_top_reason


def test_the_top_reason_of_a_compact_document_is_its_first_reasons_sentence() -> None:
    document = {"for": [["quotes_90d", 2.0, 0.8], ["visits", 9.0, 0.1]], "against": []}
    assert stored_top_reason(document) == describe("quotes_90d", 2.0)


def test_the_top_reason_of_a_full_view_document_is_its_first_text() -> None:
    document = {"reasons_for": [{"feature": "visits", "text": "9 visits in total"}]}
    assert stored_top_reason(document) == "9 visits in total"


def test_a_document_without_reasons_has_no_top_reason() -> None:
    assert stored_top_reason(None) is None
    assert stored_top_reason({"for": [], "against": []}) is None
