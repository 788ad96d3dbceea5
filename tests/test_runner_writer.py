"""The runner's writer takes results in batches: one thread hop for several results."""

from __future__ import annotations

import anyio
import pytest

from auditor.fetch.runner import gather_results
from auditor.write.sink import UnitResult


def _result(i: int) -> UnitResult:
    return UnitResult(endpoint="bulk_pages_summary", unit_id=f"u{i}", targets=1)


def _gather_all(sent: int, most: int, *, linger_s: float = 0.01, close: bool = True
                ) -> list[list[str]]:
    """Send ``sent`` results (closing the stream after them if ``close``), then gather until
    the stream ends or nothing more comes; the unit ids of each batch."""
    async def main() -> list[list[str]]:
        send, receive = anyio.create_memory_object_stream[UnitResult](64)
        for i in range(sent):
            send.send_nowait(_result(i))
        if close:
            send.close()
        batches: list[list[str]] = []
        with anyio.move_on_after(1.0):
            while batch := await gather_results(receive, most, linger_s):
                batches.append([r.unit_id for r in batch])
        return batches
    return anyio.run(main)


@pytest.mark.parametrize(("sent", "most"), [(1, 8), (5, 8), (8, 8), (9, 8), (20, 3), (7, 1)])
def test_results_come_in_order_each_once_in_batches_of_at_most_most(sent: int, most: int) -> None:
    batches = _gather_all(sent, most)
    assert [u for batch in batches for u in batch] == [f"u{i}" for i in range(sent)]
    assert all(1 <= len(batch) <= most for batch in batches)
    assert len(batches) == -(-sent // most)  # as few hops as the bound allows


def test_an_ended_stream_gives_an_empty_batch() -> None:
    assert _gather_all(0, 8) == []


def test_results_that_arrive_while_it_lingers_join_the_batch() -> None:
    async def main() -> list[list[str]]:
        send, receive = anyio.create_memory_object_stream[UnitResult](64)

        async def sender() -> None:
            async with send:
                for i in range(6):
                    await send.send(_result(i))
                    await anyio.sleep(0.01)

        batches: list[list[str]] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(sender)
            while batch := await gather_results(receive, 8, 0.5):
                batches.append([r.unit_id for r in batch])
        return batches

    assert anyio.run(main) == [[f"u{i}" for i in range(6)]]
