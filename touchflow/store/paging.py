"""Everyone's facts a page at a time, the next page read while the caller works on this
one: how every store's ``facts_pages`` walks its ``facts_page``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from datetime import datetime

from touchflow.models import CustomerFacts
from touchflow.store.planning import IdRange

# facts_page(after, limit, sent_since, up_to)
PageReader = Callable[[str, int, datetime | None, str | None], Awaitable[list[CustomerFacts]]]


async def pages(
    facts_page: PageReader, *, page_size: int, sent_since: datetime | None, ids: IdRange
) -> AsyncIterator[list[CustomerFacts]]:
    """The pages of ``ids`` in id order; memory follows two pages, whatever the number
    of customers."""
    after, up_to = ids
    coming = asyncio.ensure_future(facts_page(after, page_size, sent_since, up_to))
    try:
        while found := await coming:
            after = found[-1].customer.id
            coming = asyncio.ensure_future(facts_page(after, page_size, sent_since, up_to))
            yield found
            del found
    finally:
        if not coming.done():
            coming.cancel()
            with suppress(asyncio.CancelledError):
                await coming
