"""Counts read as English: one customer, two customers."""

from touchflow.words import counted


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert counted(1, "customer") == "1 customer"
    assert [counted(n, "event") for n in (0, 2, 17)] == ["0 events", "2 events", "17 events"]
    assert counted(3, "day", "days") == "3 days"
