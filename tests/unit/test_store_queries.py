"""How the SQLite store's named statements are read from a .sql file: blocks by name,
their comments left out, fragments put in at load, per-call slots left for the caller."""

from __future__ import annotations

import pytest

from touchflow.store.sqlite.queries import SQL, marks, parse

TEXT = """
-- A head comment: not a statement.

-- name: columns
id, email

-- name: select_people
-- What it is for: not part of it.
SELECT {columns} FROM people
-- inside, kept
WHERE id IN ({marks})

-- --- the next section -----
-- name: count
SELECT COUNT(*) FROM people
"""


def test_blocks_are_named_their_comments_left_out_and_fragments_put_in() -> None:
    assert parse(TEXT) == {
        "columns": "id, email",
        "select_people": "SELECT id, email FROM people\n-- inside, kept\nWHERE id IN ({marks})",
        "count": "SELECT COUNT(*) FROM people",
    }


def test_a_slot_is_filled_per_call_with_one_mark_per_value() -> None:
    statement = parse(TEXT)["select_people"].format(marks=marks(3))
    assert statement.endswith("WHERE id IN (?, ?, ?)")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("-- name: a\nSELECT {nothing}", r"\{nothing\} is neither a statement nor a slot"),
        ("-- name: a\nSELECT 1\n-- name: a\nSELECT 2", r"statement 'a' is named twice"),
    ],
)
def test_a_file_that_names_what_is_not_there_fails_when_loaded(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse(text)


def test_the_store_s_statements_are_loaded_once_with_their_fragments_in() -> None:
    assert "{customer_columns}" not in SQL["customer"]
    assert SQL["customer"].startswith("SELECT id, email, phone,")
    assert "{marks}" in SQL["customers_in"]
