"""The response envelope, task ids and the API's small formatting habits."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, UTC
from typing import Any

import orjson

from auditor.protocol.status import message_for

#: Envelope codes that travel with an HTTP error status rather than 200.
HTTP_STATUS_FOR_CODE: dict[int, int] = {40100: 401, 40200: 402, 40400: 404}

_MASK48 = (1 << 48) - 1
_MIX = 0x9E3779B97F4B  # odd, so multiplying by it permutes 48-bit numbers: ids never repeat


class TaskIds:
    """Task ids in DataForSEO's shape: ``MMDDHHMM-SSSS-FFFF-0000-<12 hex>``.

    ``SSSS`` is a server number (from the seed), ``FFFF`` a per-endpoint function number, and
    the last group a permuted counter, so ids look random but are unique within a process.
    """

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed ^ 0x1D5)
        self._server = f"{rng.randint(1000, 9999):04d}"
        self._counter = itertools.count(rng.getrandbits(48))

    def new(self, function_code: int) -> str:
        stamp = datetime.now(UTC).strftime("%m%d%H%M")
        tail = (next(self._counter) * _MIX) & _MASK48
        return f"{stamp}-{self._server}-{function_code:04d}-0000-{tail:012x}"


def seconds(elapsed: float) -> str:
    """The API's ``time`` field: ``"0.1234 sec."``."""
    return f"{elapsed:.4f} sec."


def money(amount: float) -> float | int:
    """Costs as the API writes them: ``0`` when nothing was charged, else a float."""
    amount = round(amount, 8)
    return amount if amount else 0


def task(
    task_id: str,
    status_code: int,
    *,
    elapsed: float,
    cost: float,
    path: list[str],
    data: dict[str, Any],
    result: list[Any] | None,
    status_message: str | None = None,
) -> dict[str, Any]:
    """One element of ``tasks``."""
    return {
        "id": task_id,
        "status_code": status_code,
        "status_message": status_message or message_for(status_code),
        "time": seconds(elapsed),
        "cost": money(cost),
        "result_count": len(result) if result else 0,
        "path": path,
        "data": data,
        "result": result,
    }


def envelope(
    version: str,
    tasks: list[dict[str, Any]] | None,
    *,
    elapsed: float,
    status_code: int = 20000,
    status_message: str | None = None,
) -> dict[str, Any]:
    """The whole response. A top-level error has ``tasks`` null and counts of 0."""
    tasks_list = tasks or []
    return {
        "version": version,
        "status_code": status_code,
        "status_message": status_message or message_for(status_code),
        "time": seconds(elapsed),
        "cost": money(sum(float(t["cost"]) for t in tasks_list)),
        "tasks_count": len(tasks_list),
        "tasks_error": sum(1 for t in tasks_list if t["status_code"] >= 40000),
        "tasks": tasks,
    }


def render(body: dict[str, Any]) -> bytes:
    """JSON bytes (orjson; pre-rendered items travel as ``orjson.Fragment``)."""
    return orjson.dumps(body)
