"""What every store promises about texts: consent_sms kept, a phone number suppressed,
listed, lifted and erased like an e-mail address, and the facts' scopes of the number."""

from __future__ import annotations

from touchflow.models import Customer, Suppression, SuppressionScope
from touchflow.store import Store

NUMBER = "+4915112345678"


def texted(customer_id: str, **fields: object) -> Customer:
    return Customer(id=customer_id, phone=NUMBER, consent_sms=True, **fields)  # type: ignore[arg-type]


async def test_consent_sms_is_kept_and_changing_it_changes_the_customer(store: Store) -> None:
    await store.upsert_customers([texted("c1"), Customer(id="c2", consent_marketing=True)])
    c1, c2 = (await store.get_customer("c1")), (await store.get_customer("c2"))
    assert c1 is not None and (c1.consent_sms, c1.consent_marketing, c1.phone) == (
        True, False, NUMBER
    )  # fmt: skip
    assert c2 is not None and (c2.consent_sms, c2.consent_marketing) == (False, True)
    again = await store.upsert_customers([texted("c1")])
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    withdrawn = await store.upsert_customers([Customer(id="c1", phone=NUMBER)])
    assert withdrawn.updated == 1  # consent withdrawn is a change the daemon re-plans
    [facts] = await store.load_facts(customer_ids=["c1"])
    assert facts.customer.consent_sms is False


async def test_a_suppressed_number_reaches_the_facts_of_its_customers(store: Store) -> None:
    await store.upsert_customers(
        [texted("c1", email="A@x.org"), texted("c2"), Customer(id="c3", email="a@x.org")]
    )
    await store.add_suppression(Suppression(email=NUMBER, scope=SuppressionScope.ALL))
    await store.add_suppression(Suppression(email="a@x.org", scope=SuppressionScope.MARKETING))
    some = await store.load_facts(customer_ids=["c1", "c2", "c3"])
    paged = await store.facts_page("", 10)
    everyone = await store.load_facts()
    for found in (some, paged, everyone):
        assert [(f.suppressed, f.suppressed_phone) for f in found] == [
            ({SuppressionScope.MARKETING}, {SuppressionScope.ALL}),
            (set(), {SuppressionScope.ALL}),
            ({SuppressionScope.MARKETING}, set()),
        ]


async def test_a_number_is_listed_and_lifted_as_stored(store: Store) -> None:
    await store.upsert_customers([texted("c1")])
    await store.add_suppression(
        Suppression(email=NUMBER, scope=SuppressionScope.ALL, reason="STOP")
    )
    await store.add_suppression(Suppression(email=NUMBER, scope=SuppressionScope.MARKETING))
    listed = await store.list_suppressions(email=NUMBER)
    assert sorted((s.email, s.scope.value, s.reason) for s in listed) == [
        (NUMBER, "all", "STOP"),
        (NUMBER, "marketing", None),
    ]
    seq, _ = await store.pending_changes(limit=10)
    await store.drop_changes(seq)
    assert await store.remove_suppressions(NUMBER, [SuppressionScope.ALL]) == 1
    _, changed = await store.pending_changes(limit=10)
    assert changed == {"c1"}  # a running daemon re-plans the number's customer
    [facts] = await store.load_facts(customer_ids=["c1"])
    assert facts.suppressed_phone == {SuppressionScope.MARKETING}


async def test_erasing_a_customer_keeps_their_number_s_suppression_only_hashed(
    store: Store,
) -> None:
    await store.upsert_customers([texted("c1", email="a@x.org")])
    await store.add_suppression(Suppression(email=NUMBER, scope=SuppressionScope.ALL))
    erased = await store.erase_customer("c1")
    assert erased is not None and erased.suppressions_hashed == 1
    assert [s.email for s in await store.list_suppressions()] != [NUMBER]
    assert [s.scope for s in await store.list_suppressions(email=NUMBER)] == [SuppressionScope.ALL]
    await store.upsert_customers([texted("c1")])  # the same number comes back
    [facts] = await store.load_facts(customer_ids=["c1"])
    assert facts.suppressed_phone == {SuppressionScope.ALL}


async def test_known_since_gives_the_scopes_on_the_number_apart(store: Store) -> None:
    from datetime import UTC, datetime

    from touchflow.models import KnownSince

    then = datetime(2026, 5, 1, 10, tzinfo=UTC)
    await store.upsert_customers([texted("c1", email="a@x.org"), texted("c2")])
    await store.add_suppression(
        Suppression(email=NUMBER, scope=SuppressionScope.ALL, created_at=then)
    )
    await store.add_suppression(Suppression(email="a@x.org", scope=SuppressionScope.MARKETING))
    known = await store.known_since(["c1", "c2"])
    assert known == {
        "c1": KnownSince(
            suppressions={SuppressionScope.MARKETING: None},
            phone_suppressions={SuppressionScope.ALL: then},
        ),
        "c2": KnownSince(phone_suppressions={SuppressionScope.ALL: then}),
    }


async def test_the_sends_that_count_for_caps_carry_their_channel(store: Store) -> None:
    import dataclasses
    from datetime import timedelta

    from store_support import NOW, minutes, promo, send_at

    await store.upsert_customers([texted("c1")])
    await send_at(store, dataclasses.replace(promo("text"), channel="sms"), minutes(-60))
    await send_at(store, promo("mail"), minutes(-30))
    [facts] = await store.load_facts(sent_since=NOW - timedelta(days=1))
    assert sorted((s.key, s.channel) for s in facts.sent) == [("mail", "email"), ("text", "sms")]
    [paged] = await store.facts_page("", 10, sent_since=NOW - timedelta(days=1))
    assert sorted((s.key, s.channel) for s in paged.sent) == [("mail", "email"), ("text", "sms")]
