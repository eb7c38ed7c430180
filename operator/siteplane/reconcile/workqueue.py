"""A work queue of keys, with the guarantees controller-runtime's workqueue gives a reconciler.

- A key waits in the queue at most once, however often it is added meanwhile.
- A key is never handed to two workers at once; added while being processed, it is processed
  again right after (so the newest state is always seen by a later run).
- A key that failed is added again after a delay that grows with its failures, with jitter.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


def backoff(failures: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter, so many failing keys do not retry in lockstep."""
    return random.uniform(base, min(cap, base * 2 ** min(failures, 16)))


class QueueClosed(Exception):
    """The queue was closed: the worker asking for more work is done."""


def _nothing(key: object) -> None:
    return None


class WorkQueue(Generic[K]):
    def __init__(self, on_add: Callable[[K], None] = _nothing, on_retry: Callable[[K], None] = _nothing) -> None:
        self._on_add = on_add  # a key newly waiting (metrics: workqueue_adds_total)
        self._on_retry = on_retry  # a key added again after a failure (workqueue_retries_total)
        self._ready: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._nonempty = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        """Keys waiting to be processed."""
        return len(self._ready)

    @property
    def in_flight(self) -> int:
        return len(self._processing)

    def waiting(self) -> list[K]:
        """The keys waiting to be processed, oldest first."""
        return list(self._ready)

    def processing(self) -> list[K]:
        """The keys being processed now."""
        return list(self._processing)

    def add(self, key: K) -> None:
        if self._closed or key in self._dirty:
            return
        self._dirty.add(key)
        self._on_add(key)
        if key not in self._processing:
            self._ready.append(key)
            self._notify()

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` after ``delay`` seconds; an earlier pending delay for it is replaced."""
        if self._closed:
            return
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._fire, key)

    def retry(self, key: K, base: float = 1.0, cap: float = 300.0) -> float:
        """Add ``key`` again after its next backoff delay; returns the delay."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self._on_retry(key)
        delay = backoff(failures, base, cap)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """``key`` succeeded: its next failure starts the backoff afresh; a pending retry is dropped."""
        self._failures.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    async def get(self) -> K:
        """The next key to process; call ``done`` with it afterwards. Raises QueueClosed once closed."""
        while not self._ready:
            if self._closed:
                raise QueueClosed
            self._nonempty.clear()
            await self._nonempty.wait()
        key = self._ready.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._ready.append(key)
            self._notify()

    def close(self) -> None:
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._notify()

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def _notify(self) -> None:
        self._nonempty.set()
