"""PUT and DELETE /v1/customers/{id}: create, replace, erase; a suppression outlives erasure."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from http_support import AUTH, NOW, Setup, booking, coupon, event, http_api

from touchflow.models import OutboxState, Suppression, SuppressionScope
from touchflow.store import hashed_address


def fields(response: Any) -> list[str | None]:
    return [p["field"] for p in response.json()["problems"]]


async def test_put_creates_then_replaces_the_whole_customer(api: Setup) -> None:
    body = {"email": "cleo@example.com", "first_name": "Cleo", "timezone": "Europe/Paris",
            "birthday": "1990-05-01", "consent_marketing": "yes", "tier": "gold"}  # fmt: skip
    created = await api.client.put("/v1/customers/c7", json=body, headers=AUTH)
    assert created.status_code == 201
    assert created.json() == {"id": "c7", "created": True}
    cleo = await api.store.get_customer("c7")
    assert cleo is not None
    assert (cleo.first_name, cleo.timezone, cleo.consent_marketing) == (
        "Cleo",
        "Europe/Paris",
        True,
    )
    assert cleo.attributes == {"tier": "gold"}

    replaced = await api.client.put(
        "/v1/customers/c7", json={"id": "c7", "email": "cleo@example.com"}, headers=AUTH
    )
    assert replaced.status_code == 200
    assert replaced.json() == {"id": "c7", "created": False}
    cleo = await api.store.get_customer("c7")
    assert cleo is not None
    assert (cleo.first_name, cleo.birthday, cleo.attributes) == (None, None, {})


async def test_a_new_customer_is_planned_at_once(api: Setup) -> None:
    await api.client.put("/v1/customers/c7", json={"email": "c7@example.com"}, headers=AUTH)
    answer = await api.client.post("/v1/events", json=booking(customer="c7"), headers=AUTH)
    assert answer.status_code == 201
    await api.settle()
    assert set(await api.rows("c7")) == {"reminder:c7:a-1:24h-before"}


async def test_a_customer_created_a_second_ago_brings_no_alarm_for_what_expired_before(
    api: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    # A client forwards its backlog: the customer, then their inquiry of three days ago.
    await api.client.put("/v1/customers/c7", json={"email": "c7@example.com"}, headers=AUTH)
    inquiry = event("q-old", customer="c7", inquiry_id="q-9", subject="Opening hours?")
    inquiry["at"] = (NOW - timedelta(days=3)).isoformat()
    with caplog.at_level(logging.INFO, logger="touchflow"):
        answer = await api.client.post("/v1/events", json=inquiry, headers=AUTH)
        assert answer.status_code == 201
        await api.settle()
    # The immediate answer expired two days before c7 was stored: no row, no warning.
    # The answer that lives seven days is still worth sending: it goes out late.
    rows = await api.rows("c7")
    assert {key: row.state for key, row in rows.items()} == {
        "late-ok:c7:q-9:2h-after": OutboxState.PENDING
    }
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        pytest.param(
            {"email": "no-at-sign", "timezone": "Europe/Berln", "birthday": "1990-02-30"},
            ["email", "timezone", "birthday"],
            id="three-bad-fields",
        ),
        pytest.param(
            {"birthday": "0001-01-01", "customer_since": "9999-12-31"},
            ["birthday", "customer_since"],
            id="dates-outside-1900-to-2200",
        ),
        pytest.param({"consent_marketing": "maybe"}, ["consent_marketing"], id="consent"),
        pytest.param({"country": "Germany"}, ["country"], id="country"),
        pytest.param({"id": "c8"}, ["id"], id="id-not-the-urls"),
        pytest.param({"id": True}, ["id"], id="id-not-text"),
        pytest.param(["c7"], [None], id="not-an-object"),
    ],
)
async def test_a_bad_customer_is_a_422_naming_each_field_and_changes_nothing(
    api: Setup, body: Any, named: list[str | None]
) -> None:
    before = api.snapshot()
    answer = await api.client.put("/v1/customers/c7", json=body, headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert fields(answer) == named
    assert api.snapshot() == before


async def test_an_id_in_the_body_may_repeat_the_url_even_as_a_number(api: Setup) -> None:
    answer = await api.client.put("/v1/customers/42", json={"id": 42}, headers=AUTH)
    assert answer.status_code == 201


async def test_a_path_id_with_spaces_around_it_is_refused(api: Setup) -> None:
    answer = await api.client.put("/v1/customers/%20c7", json={}, headers=AUTH)
    assert answer.status_code == 422
    assert fields(answer) == ["id"]


async def test_ids_with_a_slash_are_addressable(api: Setup) -> None:
    answer = await api.client.put("/v1/customers/shop%2F7", json={}, headers=AUTH)
    assert answer.status_code == 201
    assert await api.store.get_customer("shop/7") is not None


# --- erasure ----------------------------------------------------------------------


async def erasable(tmp_path: Path) -> AsyncIterator[Setup]:
    """Ana with a sent acknowledgement, a pending reminder, and a bounce-style suppression."""
    events = [coupon("X1")]
    async with http_api(tmp_path, events=events) as setup:
        await setup.client.post("/v1/events", json=booking(), headers=AUTH)
        ack = event("q1", inquiry_id="q-1", subject="Hi")
        await setup.client.post("/v1/events", json=ack, headers=AUTH)
        await setup.settle()
        await setup.daemon.dispatcher.drain()  # sends the ack and the coupon reminder
        await setup.store.add_suppression(
            Suppression(email="Ana@Example.com", scope=SuppressionScope.ALL,
                        reason="bounced: 550 5.1.1 <ana@example.com>: no such user",
                        created_at=NOW)
        )  # fmt: skip
        yield setup


@pytest.fixture
async def ana(tmp_path: Path) -> AsyncIterator[Setup]:
    async for setup in erasable(tmp_path):
        yield setup


async def test_erasure_removes_the_customer_events_and_unsent_touchpoints(ana: Setup) -> None:
    sent_before = {k for k, r in (await ana.rows("c1")).items() if r.state is OutboxState.SENT}
    assert sent_before == {"ack:c1:q-1:0", "coupon:c1:X1:1d-before"}
    answer = await ana.client.delete("/v1/customers/c1", headers=AUTH)
    assert answer.status_code == 200
    assert answer.json() == {
        "id": "c1", "erased": True, "events": 3, "touchpoints_deleted": 2,
        "touchpoints_kept": 2, "suppressions_hashed": 1,
    }  # fmt: skip
    snapshot = ana.snapshot()
    assert await ana.store.get_customer("c1") is None
    assert not [row for row in snapshot["events"] if row[2] == "c1"]
    assert not [row for row in snapshot["changes"] if row[1] == "c1"]
    kept = await ana.rows("c1")
    assert set(kept) == sent_before  # the keys stay: a comeback is not sent the same twice
    assert all(row.to is None for row in kept.values())
    assert "ana@example.com" not in repr(snapshot).lower()
    assert await ana.store.get_customer("c2") is not None  # Ben is untouched


async def test_erasure_keeps_the_suppression_hashed_and_a_comeback_is_still_suppressed(
    ana: Setup,
) -> None:
    await ana.client.delete("/v1/customers/c1", headers=AUTH)
    suppressions = ana.snapshot()["suppressions"]
    assert [(row[0], row[1]) for row in suppressions] == [
        (hashed_address("ana@example.com"), "all")
    ]
    assert "[erased]" in suppressions[0][2]

    # The same address comes back (in other capitals), as a new customer.
    comeback = {"email": "ANA@example.COM", "first_name": "Ana"}
    assert (
        await ana.client.put("/v1/customers/c9", json=comeback, headers=AUTH)
    ).status_code == 201
    answer = await ana.client.post("/v1/events", json=booking(customer="c9"), headers=AUTH)
    assert answer.status_code == 201
    await ana.settle()
    row = (await ana.rows("c9"))["reminder:c9:a-1:24h-before"]
    assert row.state is OutboxState.SUPPRESSED
    assert row.reason == "suppressed"


async def test_erasing_an_unknown_customer_is_a_404(api: Setup) -> None:
    before = api.snapshot()
    answer = await api.client.delete("/v1/customers/c9", headers=AUTH)
    assert answer.status_code == 404
    assert fields(answer) == ["id"]
    assert api.snapshot() == before


async def test_erasure_waits_for_a_planning_run_in_progress(api: Setup) -> None:
    async with api.daemon.exclusive():  # as a planning run holds it
        erase = asyncio.create_task(api.client.delete("/v1/customers/c1", headers=AUTH))
        done, _ = await asyncio.wait({erase}, timeout=0.2)
        assert not done
        assert await api.store.get_customer("c1") is not None
    assert (await erase).status_code == 200
    assert await api.store.get_customer("c1") is None


async def test_put_stores_the_phone_number_in_e164_and_the_consent_to_texts(api: Setup) -> None:
    body = {"email": "cleo@example.com", "country": "DE", "phone": "0151 12345678",
            "consent_sms": True}  # fmt: skip
    created = await api.client.put("/v1/customers/c7", json=body, headers=AUTH)
    assert created.status_code == 201
    cleo = await api.store.get_customer("c7")
    assert cleo is not None and (cleo.phone, cleo.consent_sms) == ("+4915112345678", True)
    bad = await api.client.put(
        "/v1/customers/c8", json={"country": "DE", "phone": "12"}, headers=AUTH
    )
    assert bad.status_code == 422
    assert fields(bad) == ["phone"]
    assert await api.store.get_customer("c8") is None
