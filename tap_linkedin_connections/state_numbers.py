"""Numbers in STATE as loaded: from a file a user may have edited, as decimal.Decimal."""

from __future__ import annotations

import typing as t


def whole(value: t.Any, *, minimum: int = 0, maximum: int | None = None) -> bool:
    """A whole number (a decimal.Decimal from a STATE file counts) within the bounds."""
    if isinstance(value, bool):
        return False
    try:
        is_whole = int(value) == value
    except (TypeError, ValueError, ArithmeticError):
        return False
    return is_whole and int(value) >= minimum and (maximum is None or int(value) <= maximum)
