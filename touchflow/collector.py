"""Pausing Python's cyclic garbage collector around bulk work that makes no cycles.

Loading facts and planning make millions of small objects (rows, customers,
events, touchpoints) that reference counting frees on its own. While they
pile up, the cyclic collector runs a full collection every time the heap has
grown by a quarter, and each one walks every object again: 45% of loading
100k customers and a fifth of planning them went to collections that found
nothing. So those two pause it, and let it run as usual afterwards.

The collector is process-wide, and pauses overlap: a page is read in one
thread while the last one is planned in another. So pauses are counted and
the collector resumes when the last one ends; restoring "the state before"
per pause would let the first to end resume it under the other. A pause only
delays collections (other threads keep running, their garbage is collected
once the pauses end), and a collector that was off stays off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0  # pauses running now, in any thread
_resume = False  # whether the collector was on when the first of them began


@contextmanager
def collector_paused() -> Iterator[None]:
    global _pauses, _resume
    with _lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()
