"""GET /v1/forecast: the JSON of `touchflow forecast --format json`, with the same auth."""

from __future__ import annotations

import json
from typing import Any

import pytest
from daemon_support import touchflow
from http_support import AUTH, NOW, Setup, booking, problems

from touchflow.http.openapi import document


async def test_forecast_is_the_json_of_the_forecast_command(api: Setup) -> None:
    assert (await api.client.post("/v1/events", json=booking(), headers=AUTH)).status_code == 201
    query = "days=3&by=hour&now=2026-11-23T08:00:00Z"
    answer = await api.client.get(f"/v1/forecast?{query}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    command = touchflow(
        "forecast", "--format", "json", "--days", "3", "--by", "hour",
        "--now", "2026-11-23T08:00:00Z", cwd=api.root,
    )  # fmt: skip
    assert answer.json() == json.loads(command.stdout)
    assert answer.json()["planned"] >= 1


async def test_forecast_starts_at_the_daemons_now_and_filters_by_rule(api: Setup) -> None:
    await api.client.post("/v1/events", json=booking(), headers=AUTH)
    answer = await api.client.get("/v1/forecast?days=3&by=rule&rule=reminder", headers=AUTH)
    doc = answer.json()
    assert doc["window"]["start"] == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [(g["group"], g["planned"]) for g in doc["groups"]] == [("reminder", 1)]


async def test_forecast_of_one_customer_is_the_json_of_forecast_customer(api: Setup) -> None:
    await api.client.post("/v1/events", json=booking(), headers=AUTH)
    await api.client.post("/v1/events", json=booking("b2", customer="c2"), headers=AUTH)
    query = "days=3&by=rule&now=2026-11-23T08:00:00Z"
    answer = await api.client.get(f"/v1/forecast?{query}&customer=c2", headers=AUTH)
    assert answer.status_code == 200, answer.text
    command = touchflow(
        "forecast", "--format", "json", "--days", "3", "--by", "rule",
        "--now", "2026-11-23T08:00:00Z", "--customer", "c2", cwd=api.root,
    )  # fmt: skip
    doc = answer.json()
    assert doc == json.loads(command.stdout)
    assert (doc["customers"], doc["reached"], doc["filters"]["customer"]) == (1, 1, ["c2"])
    assert [(g["group"], g["planned"]) for g in doc["groups"] if g["planned"]] == [("reminder", 1)]
    both = await api.client.get(f"/v1/forecast?{query}&customer=c2&customer=c1", headers=AUTH)
    assert (both.json()["customers"], both.json()["planned"]) == (2, 2)
    assert both.json()["filters"]["customer"] == ["c2", "c1"]


async def test_forecast_of_customers_reads_them_by_id_not_everyone(
    api: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_scan(**_: Any) -> None:
        raise AssertionError("everyone was read for the forecast of one customer")

    monkeypatch.setattr(api.store, "facts_pages", no_scan)
    await api.client.post("/v1/events", json=booking(), headers=AUTH)
    answer = await api.client.get("/v1/forecast?days=3&customer=c1", headers=AUTH)
    assert (answer.status_code, answer.json()["planned"]) == (200, 1)


async def test_an_unknown_customer_is_a_404_naming_each_unknown_id(api: Setup) -> None:
    query = "customer=c-999&customer=c1&customer=c-998"
    answer = await api.client.get(f"/v1/forecast?{query}", headers=AUTH)
    assert answer.status_code == 404
    body = answer.json()
    assert body["error"] == "unknown_customer"
    assert problems(answer) == [(None, "customer"), (None, "customer")]
    assert body["message"] == ("no customer 'c-998' in the store; no customer 'c-999' in the store")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("days=0", "days"), ("days=3661", "days"), ("days=x", "days"), ("by=month", "by"),
        ("category=spam", "category"), ("rule=nope", "rule"), ("over=-1", "over"),
        ("now=tomorrow", "now"), ("customers=c1", "customers"),
    ],
)  # fmt: skip
async def test_a_wrong_query_is_a_422_naming_the_parameter(
    api: Setup, query: str, field: str
) -> None:
    answer = await api.client.get(f"/v1/forecast?{query}", headers=AUTH)
    assert answer.status_code == 422
    assert problems(answer) == [(None, field)]


async def test_forecast_needs_the_bearer_token(api: Setup) -> None:
    answer = await api.client.get("/v1/forecast")
    assert answer.status_code == 401


def test_the_openapi_document_describes_the_route(api: Setup) -> None:
    settings = api.api.engine.project.config.http
    assert settings is not None
    operation = document(settings)["paths"]["/v1/forecast"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "days", "by", "now", "customer", "rule", "category", "over"
    }  # fmt: skip
    assert operation["security"] == [{"bearer": []}]
    assert "404" in operation["responses"]
