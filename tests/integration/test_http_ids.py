"""Over HTTP, an id with a line break or a control character is a 422 naming the field
and changes nothing; a customer stored before ids were checked can still be erased."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from http_support import AUTH, Setup, booking, problems

from touchflow.models import Customer

FORGED = "c1\n2026-12-06T09:00:00Z WARNING fake"


@pytest.mark.parametrize("bad", [FORGED, "c\x00", "c\u2028x", "c\x85x"], ids=ascii)
async def test_a_customer_id_with_a_line_break_or_control_is_a_422(api: Setup, bad: str) -> None:
    before = api.snapshot()
    answer = await api.client.put(f"/v1/customers/{quote(bad, safe='')}", json={}, headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert problems(answer) == [(None, "id")]
    assert " holds U+" in answer.json()["message"]
    assert api.snapshot() == before


async def test_an_event_names_each_bad_id_of_each_item(api: Setup) -> None:
    before = api.snapshot()
    items = [booking("b1"), {**booking("b\r2"), "customer": FORGED}, {**booking(), "type": "x\x1b"}]
    answer = await api.client.post("/v1/events", json={"events": items}, headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert problems(answer) == [(1, "id"), (1, "customer"), (2, "type")]
    assert api.snapshot() == before


async def test_a_customer_stored_before_ids_were_checked_can_still_be_erased(api: Setup) -> None:
    await api.store.upsert_customers([Customer(id=FORGED, email="old@example.com")])
    answer = await api.client.delete(f"/v1/customers/{quote(FORGED, safe='')}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert await api.store.get_customer(FORGED) is None
