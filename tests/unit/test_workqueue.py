"""The controller's work queue: each key once in the queue, never in two workers, always seen again."""

from __future__ import annotations

import asyncio

import pytest

from siteplane.reconcile.workqueue import QueueClosed, WorkQueue, backoff


def test_a_key_added_many_times_waits_once() -> None:
    async def run() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        for key in ("a", "b", "a", "a", "b", "c"):
            queue.add(key)
        taken = [await queue.get() for _ in range(3)]
        assert len(queue) == 0
        return taken

    assert asyncio.run(run()) == ["a", "b", "c"]


def test_a_key_added_while_processed_is_processed_again_after_and_never_twice_at_once() -> None:
    async def run() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        first = await queue.get()
        queue.add("a")  # changed while being processed
        assert len(queue) == 0, "not handed to a second worker meanwhile"
        queue.done(first)
        second = await queue.get()
        queue.done(second)
        return [first, second]

    assert asyncio.run(run()) == ["a", "a"]


def test_workers_waiting_on_an_empty_queue_wake_for_new_keys() -> None:
    async def run() -> set[str]:
        queue: WorkQueue[str] = WorkQueue()
        waiting = [asyncio.ensure_future(queue.get()) for _ in range(3)]
        await asyncio.sleep(0)
        for key in ("x", "y"):
            queue.add(key)
        done: set[asyncio.Future[str]] = set()
        pending = set(waiting)
        while len(done) < 2:
            finished, pending = await asyncio.wait(pending, timeout=5, return_when=asyncio.FIRST_COMPLETED)
            assert finished, "a waiting worker did not wake"
            done |= finished
        got = {t.result() for t in done}
        queue.close()
        for task in pending:
            with pytest.raises(QueueClosed):
                await task
        return got

    assert asyncio.run(run()) == {"x", "y"}


def test_a_retried_key_comes_back_after_its_delay_and_forget_cancels_it() -> None:
    async def run() -> tuple[str, int]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add_after("late", 0.05)
        queue.add_after("dropped", 0.05)
        queue.forget("dropped")
        key = await asyncio.wait_for(queue.get(), timeout=5)
        await asyncio.sleep(0.1)
        return key, len(queue)

    assert asyncio.run(run()) == ("late", 0)


@pytest.mark.parametrize("failures", [0, 1, 5, 30])
def test_backoff_grows_within_its_bounds(failures: int) -> None:
    for _ in range(50):
        delay = backoff(failures, base=1, cap=300)
        assert 1 <= delay <= min(300, 2**failures)
