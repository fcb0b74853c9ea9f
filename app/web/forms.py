"""Form bodies read by hand: the pages post only `application/x-www-form-urlencoded` forms of a
few short fields, which the standard library parses, so no multipart parser is needed."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

from app.errors import InvalidInput

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 20


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's fields (the last value of a repeated name); the body's size is already
    capped by the app's body limit."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM_TYPE:
        raise InvalidInput(f"send the form as {FORM_TYPE}", field="content-type")
    try:
        text = (await request.body()).decode()
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput(
            f"the form is not valid UTF-8 {FORM_TYPE} of at most {MAX_FIELDS} fields",
            field="body",
        ) from None
