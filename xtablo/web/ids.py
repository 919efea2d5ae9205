"""Ids that people's browsers send as text: form fields and query arguments (a URL's own ids go
through the `id` converter, xtablo/__init__.py)."""

MAX_ID = 2**31 - 1  # PostgreSQL's `integer`


def parse_id(raw) -> int | None:
    """The id `raw` names, or None when it names none: anything but 1 to 10 ASCII digits, or
    out of 1..MAX_ID. The length is checked before `int()`, which refuses more than 4,300 digits
    with a ValueError (a 500, at anyone's will)."""
    if not isinstance(raw, str) or not (0 < len(raw) <= 10 and raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None
