"""One comparison says whether a stored event is the one given again, and if not, how not."""

from __future__ import annotations

from touchflow.store.writes import event_differences

STORED = ("e-1", "purchase", "c-1", "2026-05-01T08:00:00.000000Z", '{"a":1,"b":"x"}')


def test_the_same_event_with_its_data_keys_in_another_order_has_no_difference() -> None:
    assert event_differences(STORED, (*STORED[:4], '{"b":"x","a":1}')) == ()


def test_each_differing_column_is_named_with_both_values() -> None:
    given = ("e-1", "refund", "c-1", "2026-05-01T09:00:00.000000Z", '{"a":2}')
    assert event_differences(STORED, given) == (
        'type: recorded "purchase", here "refund"',
        "at: recorded 2026-05-01T08:00:00Z, here 2026-05-01T09:00:00Z",
        "data.a: recorded 1, here 2",
        'data.b: recorded "x", here (none)',
    )


def test_many_differing_data_keys_are_counted_past_three() -> None:
    given = (*STORED[:4], '{"a":1,"b":"x","c":1,"d":1,"e":1,"f":1,"g":1}')
    assert event_differences(STORED, given)[3:] == ("2 more data keys",)


def test_a_number_kept_in_another_form_by_the_store_is_the_same_number() -> None:
    # PostgreSQL's jsonb gives 1.1e+25 back as its digits, and 1.0 as 1.0 or 1.
    stored = (*STORED[:4], '{"a":11000000000000000000000000,"b":"x","c":1}')
    assert event_differences(stored, (*STORED[:4], '{"a":1.1e+25,"b":"x","c":1.0}')) == ()
    assert event_differences(stored, (*STORED[:4], '{"a":1.2e+25,"b":"x","c":1}')) == (
        "data.a: recorded 11000000000000000000000000, here 1.2e+25",
    )
