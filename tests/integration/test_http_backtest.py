"""GET /v1/backtest: `touchflow backtest --format json` of the rules the daemon runs over a
past period, from the live store."""

from __future__ import annotations

from datetime import timedelta

from http_support import AUTH, NOW, Setup, event

LATER = (NOW + timedelta(hours=1)).isoformat()


async def test_an_event_posted_is_replayed_from_when_it_was_recorded(api: Setup) -> None:
    posted = await api.client.post("/v1/events", json=event("q1", inquiry_id="q-1"), headers=AUTH)
    assert posted.status_code == 201
    await api.settle()
    params = {"from": NOW.date().isoformat(), "now": LATER}
    answer = await api.client.get("/v1/backtest", params=params, headers=AUTH)
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["period"]["to"] == LATER.replace("+00:00", "Z")
    added = [(d["kind"], d["key"]) for d in document["differences"]]
    # Nothing was sent (this daemon's dispatcher is not running): the ack is "added".
    assert ("added", "ack:c1:q-1:0") in added
    assert document["sent"] == 0 and document["same"] is False
    recorded = next(d for d in document["differences"] if d["key"] == "ack:c1:q-1:0")
    assert recorded["would_send_at"] >= NOW.isoformat().replace("+00:00", "Z")


async def test_wrong_queries_name_the_parameter(api: Setup) -> None:
    day = NOW.date().isoformat()
    for params, field in (
        ({}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"from": day, "to": "2030-01-01"}, "to"),
        ({"from": day, "rule": "nope"}, "rule"),
        ({"from": day, "category": "spam"}, "category"),
        ({"from": day, "as_happened": "yes"}, "as_happened"),
        ({"from": day, "days": "3"}, "days"),
    ):
        answer = await api.client.get("/v1/backtest", params=params, headers=AUTH)
        assert answer.status_code == 422, params
        assert [p["field"] for p in answer.json()["problems"]] == [field]
    params = {"from": day, "customer": "c-999"}
    assert (await api.client.get("/v1/backtest", params=params, headers=AUTH)).status_code == 404


async def test_a_token_is_required(api: Setup) -> None:
    answer = await api.client.get("/v1/backtest", params={"from": NOW.date().isoformat()})
    assert answer.status_code == 401
