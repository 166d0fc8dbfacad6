"""POST /v1/events: recorded once, planned at once; every bad request named and harmless."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from http_support import AUTH, MAX_BATCH, MAX_BODY, NOW, TOKEN, Setup, booking, event, problems

from touchflow.models import OutboxState


async def test_a_booking_is_planned_within_the_request_and_its_repeat_changes_nothing(
    api: Setup,
) -> None:
    answer = await api.client.post("/v1/events", json=booking(), headers=AUTH)
    assert answer.status_code == 201
    assert answer.json() == {"id": "b1", "duplicate": False, "unused": False}
    await api.settle()  # the re-plan the write asked for; no timer involved
    rows = await api.rows("c1")
    assert rows["reminder:c1:a-1:24h-before"].state is OutboxState.PENDING

    before = api.snapshot()
    again = await api.client.post("/v1/events", json=booking(), headers=AUTH)
    assert again.status_code == 200
    assert again.json() == {"id": "b1", "duplicate": True, "unused": False}
    await api.settle()
    assert api.snapshot() == before


async def test_an_event_is_recorded_at_the_daemons_clock_and_keeps_it_on_a_repeat(
    api: Setup,
) -> None:
    # The daemon's clock starts at NOW (as `run --now` sets it), far from the wall clock.
    await api.client.post("/v1/events", json=booking(), headers=AUTH)
    [first], _ = await api.store.customer_events("c1")
    assert first.recorded_at is not None and NOW <= first.recorded_at < NOW + timedelta(minutes=1)
    await api.client.post("/v1/events", json=booking(), headers=AUTH)
    [again], _ = await api.store.customer_events("c1")
    assert again.recorded_at == first.recorded_at


async def test_a_cancellation_cancels_the_pending_reminder(api: Setup) -> None:
    await api.client.post("/v1/events", json=booking(), headers=AUTH)
    cancel = event("x1", "appointment_cancelled", appointment_id="a-1")
    answer = await api.client.post("/v1/events", json=cancel, headers=AUTH)
    assert answer.status_code == 201
    await api.settle()
    row = (await api.rows("c1"))["reminder:c1:a-1:24h-before"]
    assert row.state is OutboxState.CANCELLED
    assert row.reason == "cancelled"


async def test_a_redeemed_coupon_cancels_its_pending_reminder(api: Setup) -> None:
    issued = event("k1", "coupon_issued", coupon_code="K1", expires_at="2026-11-25T08:00:00Z")
    assert (await api.client.post("/v1/events", json=issued, headers=AUTH)).status_code == 201
    assert (await api.rows("c1"))["coupon:c1:K1:1d-before"].state is OutboxState.PENDING
    redeemed = event("k2", "coupon_redeemed", coupon_code="K1")
    assert (await api.client.post("/v1/events", json=redeemed, headers=AUTH)).status_code == 201
    assert (await api.rows("c1"))["coupon:c1:K1:1d-before"].state is OutboxState.CANCELLED


async def test_a_batch_is_recorded_whole_and_reports_each_event(api: Setup) -> None:
    batch = {"events": [booking(), event("q1", inquiry_id="q-1", subject="Hi"), booking()]}
    answer = await api.client.post("/v1/events", json=batch, headers=AUTH)
    assert answer.status_code == 200
    assert answer.json() == {
        "events": [
            {"id": "b1", "duplicate": False, "unused": False},
            {"id": "q1", "duplicate": False, "unused": False},
        ],
        "inserted": 2,
        "duplicates": 0,
    }
    await api.settle()
    assert {"reminder:c1:a-1:24h-before", "ack:c1:q-1:0"} <= set(await api.rows("c1"))


async def test_an_event_type_no_rule_uses_is_recorded_and_reported_unused(api: Setup) -> None:
    answer = await api.client.post(
        "/v1/events", json=event("n1", "newsletter_opened"), headers=AUTH
    )
    assert answer.status_code == 201
    assert answer.json()["unused"] is True


async def test_the_same_id_for_a_different_event_is_a_conflict(api: Setup) -> None:
    await api.client.post("/v1/events", json=booking(), headers=AUTH)
    await api.settle()
    before = api.snapshot()
    moved = booking(starts="2026-11-25T12:00:00Z")
    answer = await api.client.post("/v1/events", json=moved, headers=AUTH)
    assert answer.status_code == 409
    assert problems(answer) == [(None, "id")]
    # What differs, worded as an events import words it (touchflow.store.writes).
    (problem,) = answer.json()["problems"]
    assert 'data.starts_at: recorded "' in problem["message"]
    assert 'here "2026-11-25T12:00:00+00:00"' in problem["message"]
    assert api.snapshot() == before


async def test_a_retry_with_the_data_keys_in_another_order_is_a_duplicate(api: Setup) -> None:
    first = event("q1", inquiry_id="q-1", subject="Hi")
    await api.client.post("/v1/events", json=first, headers=AUTH)
    shuffled = {**first, "data": {"subject": "Hi", "inquiry_id": "q-1"}}
    answer = await api.client.post("/v1/events", json=shuffled, headers=AUTH)
    assert answer.status_code == 200
    assert answer.json()["duplicate"] is True


BAD_EVENTS = [
    pytest.param({**booking(), "at": "2026-11-23T08:00:00"}, [(None, "at")], id="naive-at"),
    pytest.param(
        booking(starts="2026-11-24T12:00:00"), [(None, "data.starts_at")], id="naive-data-datetime"
    ),
    pytest.param({**booking(), "at": "9999-12-31T23:00:00Z"}, [(None, "at")], id="at-year-9999"),
    pytest.param({**booking(), "at": "0001-01-01T00:00:00+14:00"}, [(None, "at")],
                 id="at-before-utc-begins"),
    pytest.param(booking(starts="2201-01-01T00:00:00Z"), [(None, "data.starts_at")],
                 id="data-datetime-after-2200"),
    pytest.param({**booking(), "customer": "c9"}, [(None, "customer")], id="unknown-customer"),
    pytest.param({**booking(), "type": "apointment"}, [(None, "type")], id="undeclared-type"),
    pytest.param({**booking(), "id": ["b1"]}, [(None, "id")], id="id-not-text"),
    pytest.param({**booking(), "data": [1]}, [(None, "data")], id="data-not-object"),
    pytest.param({**booking(), "when": "now"}, [(None, "when")], id="unknown-key"),
    pytest.param({"type": "appointment_booked"}, [(None, "id"), (None, "customer"), (None, "at")],
                 id="missing-fields"),
    pytest.param([booking()], [(None, None)], id="a-list-not-an-object"),
    pytest.param({"events": []}, [(None, "events")], id="empty-batch"),
    pytest.param({"events": [booking()], "more": 1}, [(None, "more")], id="key-beside-events"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "named"), BAD_EVENTS)
async def test_a_bad_event_is_a_422_naming_the_field_and_changes_nothing(
    api: Setup, body: Any, named: list[tuple[int | None, str | None]]
) -> None:
    before = api.snapshot()
    answer = await api.client.post("/v1/events", json=body, headers=AUTH)
    assert answer.status_code == 422, answer.text
    assert problems(answer) == named
    assert answer.json()["message"]
    assert api.snapshot() == before


async def test_a_batch_with_one_bad_event_records_none_and_names_its_index(api: Setup) -> None:
    before = api.snapshot()
    good = event("q1", inquiry_id="q-1", subject="Hi")
    bad = {**booking("b2"), "at": "yesterday"}
    answer = await api.client.post("/v1/events", json={"events": [good, bad]}, headers=AUTH)
    assert answer.status_code == 422
    assert problems(answer) == [(1, "at")]
    assert answer.json()["message"].startswith('events[1]: at "yesterday" is not a date-time')
    assert api.snapshot() == before


async def test_a_batch_naming_an_unknown_customer_records_none(api: Setup) -> None:
    before = api.snapshot()
    batch = {"events": [booking(), {**booking("b2", appointment="a-2"), "customer": "c9"}]}
    answer = await api.client.post("/v1/events", json=batch, headers=AUTH)
    assert answer.status_code == 422
    assert problems(answer) == [(1, "customer")]
    assert api.snapshot() == before


async def test_a_batch_reusing_an_id_for_another_event_records_none(api: Setup) -> None:
    before = api.snapshot()
    batch = {"events": [booking(), booking(starts="2026-11-25T12:00:00Z")]}
    answer = await api.client.post("/v1/events", json=batch, headers=AUTH)
    assert answer.status_code == 422
    assert problems(answer) == [(1, "id")]
    assert api.snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"\xff\xfe{}",
        b'{"id": NaN}',
        b"[" * 2000 + b"]" * 2000,
        b'{"id": "\\ud800", "type": "inquiry_received", "customer": "c1", '
        b'"at": "2026-11-23T08:00:00Z"}',
        b'{"id": "q1", "type": "inquiry_received", "customer": "c1", '
        b'"at": "2026-11-23T08:00:00Z", "data": {"subject": "a\\u0000b"}}',
    ],
    ids=["broken", "empty", "not-utf8", "nan", "nested-too-deep", "lone-surrogate", "nul"],
)
async def test_a_body_that_is_not_json_is_a_400(api: Setup, body: bytes) -> None:
    before = api.snapshot()
    answer = await api.client.post("/v1/events", content=body, headers=AUTH)
    assert answer.status_code == 400
    assert problems(answer) == [(None, "body")]
    assert api.snapshot() == before


async def test_a_body_over_the_limit_is_a_413_with_or_without_a_length(api: Setup) -> None:
    before = api.snapshot()
    big = json.dumps(event("q1", inquiry_id="q-1", subject="x" * MAX_BODY)).encode()
    answer = await api.client.post("/v1/events", content=big, headers=AUTH)
    assert answer.status_code == 413
    assert problems(answer) == [(None, "body")]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for start in range(0, len(big), 512):
            yield big[start : start + 512]

    streamed = await api.client.post("/v1/events", content=chunks(), headers=AUTH)
    assert streamed.status_code == 413
    assert api.snapshot() == before


async def test_more_events_than_max_batch_is_refused(api: Setup) -> None:
    many = [event(f"q{n}", inquiry_id=f"q-{n}", subject="Hi") for n in range(MAX_BATCH + 1)]
    answer = await api.client.post("/v1/events", json={"events": many}, headers=AUTH)
    assert answer.status_code == 413
    assert problems(answer) == [(None, "events")]
    assert str(MAX_BATCH) in answer.json()["message"]


# --- authentication ---------------------------------------------------------------

WRITES = [
    pytest.param("POST", "/v1/events", booking(), id="post-events"),
    pytest.param("PUT", "/v1/customers/c7", {"email": "c7@example.com"}, id="put-customer"),
    pytest.param("DELETE", "/v1/customers/c1", None, id="delete-customer"),
    pytest.param("GET", "/v1/preview", None, id="preview"),
]
WRONG = [
    pytest.param({}, id="missing"),
    pytest.param({"Authorization": f"Bearer {TOKEN}x"}, id="wrong-token"),
    pytest.param({"Authorization": f"Bearer {TOKEN[:-1]}"}, id="a-prefix-of-it"),
    pytest.param({"Authorization": f"Basic {TOKEN}"}, id="not-bearer"),
    pytest.param({"Authorization": "Bearer "}, id="empty"),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize("headers", WRONG)
async def test_without_the_right_bearer_token_it_is_a_401_that_changes_nothing(
    api: Setup, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    before = api.snapshot()
    answer = await api.client.request(method, path, json=body, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert problems(answer) == [(None, "Authorization")]
    assert TOKEN not in answer.text
    assert api.snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_with_the_right_bearer_token_it_is_served(
    api: Setup, method: str, path: str, body: Any
) -> None:
    answer = await api.client.request(method, path, json=body, headers=AUTH)
    assert answer.status_code in (200, 201), answer.text


async def test_the_scheme_is_case_insensitive(api: Setup) -> None:
    answer = await api.client.get("/v1/preview", headers={"Authorization": f"bearer {TOKEN}"})
    assert answer.status_code == 200
