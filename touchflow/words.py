"""Words for people: a count with its noun in the right number."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``counted(1, "customer")`` is "1 customer"; ``counted(2, "customer")`` "2 customers"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
