"""GET /v1/customers/{id}/why: the story of `touchflow why --format json`, from the live store."""

from __future__ import annotations

from http_support import AUTH, NOW, Setup, booking

from touchflow.models import Window
from touchflow.plan.moment import Moment
from touchflow.plan.trace_json import story_json
from touchflow.plan.trace_store import customer_story, why_request


async def test_the_answer_is_the_json_of_touchflow_why(api: Setup) -> None:
    await api.client.post("/v1/events", json=booking(customer="c1"), headers=AUTH)
    await api.settle()
    answer = await api.client.get(
        "/v1/customers/c1/why", params={"rule": "reminder", "now": NOW.isoformat()}, headers=AUTH
    )
    assert answer.status_code == 200
    project = api.daemon.project
    moment = Moment(instant=NOW, timezone=project.config.timezone)
    request = why_request(project, "c1", moment, days=30, past=30, rule="reminder")
    assert answer.json() == story_json(await customer_story(project, api.store, request))
    (reminder,) = answer.json()["rules"]
    (tp,) = reminder["touchpoints"]
    assert (tp["key"], tp["status"], tp["outbox"]["state"]) == (
        "reminder:c1:a-1:24h-before",
        "planned",
        "pending",
    )


async def test_the_periods_default_to_30_days_around_the_daemons_now(api: Setup) -> None:
    answer = await api.client.get("/v1/customers/c2/why", headers=AUTH)
    assert answer.status_code == 200
    document = answer.json()
    window = Window.of_days(NOW, 30)
    assert document["future"]["to"] == window.end.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert document["past"]["to"] == document["future"]["from"]


async def test_an_unknown_customer_is_a_404(api: Setup) -> None:
    answer = await api.client.get("/v1/customers/c-999/why", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json()["error"] == "unknown_customer"
    assert "no customer 'c-999' in the store" in answer.json()["message"]


async def test_a_wrong_query_names_the_parameter(api: Setup) -> None:
    for params, field in (
        ({"rule": "nope"}, "rule"),
        ({"days": "0"}, "days"),
        ({"past": "x"}, "past"),
        ({"now": "yesterday"}, "now"),
        ({"category": "spam"}, "category"),
        ({"customer": "c1"}, "customer"),
    ):
        answer = await api.client.get("/v1/customers/c1/why", params=params, headers=AUTH)
        assert answer.status_code == 422, params
        assert [p["field"] for p in answer.json()["problems"]] == [field]


async def test_it_needs_the_token(api: Setup) -> None:
    answer = await api.client.get("/v1/customers/c1/why")
    assert answer.status_code == 401


async def test_the_route_is_in_the_openapi_document(api: Setup) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    assert "get" in paths["/v1/customers/{customer_id}/why"]
