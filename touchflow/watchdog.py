"""Stops Python code that runs past its deadline: the time limit of renders and conditions.

One thread per process raises an exception (``RenderTimeout`` for templates) into a
guarded block's thread with ``PyThreadState_SetAsyncExc``; CPython delivers it at that
thread's next bytecode, so a template's loop stops where it is. Why this and not a
child process, a signal or a check per loop: docs/decisions.md.

An exception raised so can land anywhere in the thread's Python code, so:
- it is raised **once** per guarded block, never again: should it land just after the
  block ended (in ``guard``'s own clean-up, before the block is crossed off), it
  surfaces from the ``with`` statement, which the caller handles as a timeout, and
  nothing else of that thread's is ever hit;
- the bookkeeping is guarded by a plain ``threading.Lock`` (C code: taken and released
  whole) and the watchdog is woken by an ``Event`` it alone waits on, never by
  Python-level locking code that an exception could interrupt halfway;
- a block crossed off drops an exception raised for it and not yet delivered.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_TICK = 0.1  # how often the watchdog looks while guarded blocks keep coming
_IDLE_TICKS = 50  # ticks without a guarded block before it sleeps until the next one
_FORGET = 10.0  # seconds past its deadline after which a block not crossed off is dropped


class Watchdog:
    def __init__(self, exception: type[BaseException]) -> None:
        self._exception = exception
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._running: dict[int, tuple[int, float]] = {}  # token -> (thread id, deadline)
        self._raised: set[int] = set()
        self._next_token = 0
        self._thread: threading.Thread | None = None
        self._asleep = False

    @contextmanager
    def guard(self, seconds: float) -> Iterator[None]:
        """Run the body with a deadline: past it, the exception is raised in it, once."""
        token = self._start(seconds)
        try:
            yield
        finally:
            self._finish(token)

    def _start(self, seconds: float) -> int:
        with self._lock:
            self._next_token += 1
            token = self._next_token
            self._running[token] = (threading.get_ident(), time.monotonic() + seconds)
            start = self._thread is None
            if start:
                self._thread = threading.Thread(
                    target=self._watch, name="touchflow-watchdog", daemon=True
                )
            wake, self._asleep = self._asleep, False
        if start:
            assert self._thread is not None
            self._thread.start()
        elif wake:
            self._wake.set()
        return token

    def _finish(self, token: int) -> None:
        with self._lock:
            self._running.pop(token, None)
            if token in self._raised:
                self._raised.discard(token)
                # Under the lock: the watchdog cannot raise for it after this.
                _set_async_exc(threading.get_ident(), None)

    def _watch(self) -> None:
        idle = 0
        while True:
            self._wake.wait(None if self._asleep else _TICK)
            self._wake.clear()
            with self._lock:
                now = time.monotonic()
                for token, (thread_id, deadline) in list(self._running.items()):
                    if token not in self._raised:
                        if now > deadline:
                            self._raised.add(token)
                            _set_async_exc(thread_id, self._exception)
                    elif now > deadline + _FORGET:  # it landed before the block ended
                        del self._running[token]
                        self._raised.discard(token)
                idle = 0 if self._running else idle + 1
                self._asleep = idle > _IDLE_TICKS


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )
