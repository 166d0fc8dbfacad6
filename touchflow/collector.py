"""Pausing Python's cyclic garbage collector around bulk work that makes no cycles.

Loading facts and planning make millions of small objects (rows, customers,
events, touchpoints) that reference counting frees on its own. While they
pile up, the cyclic collector runs a full collection every time the heap has
grown by a quarter, and each one walks every object again: 45% of loading
100k customers and a fifth of planning them went to collections that found
nothing. So those two pause it, and let it run as usual afterwards.

The collector is process-wide. A pause only delays collections (other threads
keep running, their garbage is collected once the pause ends), and the
previous state is restored, so nested or concurrent pauses are harmless.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
