"""The aiohttp application: one catch-all handler running every request through the same steps.

1. route (unknown path or method: HTTP 404, 40400) and count the arrival;
2. credentials (HTTP 401, 40100);
3. simultaneous requests (40209) and the per-minute window (40202), plus any per-endpoint limit;
4. the fault draw: added latency, then faults that replace the answer;
5. body -> tasks (40502 empty, 40503 invalid, 40000 / 40006 too many tasks: all top-level);
6. each task: validation (task-level 40501 / 40503 / 40506), the endpoint's handler, its price;
7. balance (HTTP 402, 40200, nothing charged), charge, side effects, render;
8. faults that spoil a rendered answer (cut or malformed bodies).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from . import envelope, misbehave
from .endpoints import REGISTRY
from .envelope import HTTP_STATUS_FOR_CODE
from .faults import FaultDraw, FaultKind
from .gateways import RequestError, Route, Router, authorized, parse_tasks
from .registry import Endpoint, TaskContext
from .state import SimulatorState
from .validation import TaskError, echo_data, invalid, validate_task

DAY_HEADER = "X-Simulator-Day"
MAX_BODY = 64 * 1024 * 1024


class SimulatorApp:
    """Serves the registry's endpoints from one :class:`SimulatorState`."""

    def __init__(self, state: SimulatorState, endpoints: Mapping[str, Endpoint] = REGISTRY) -> None:
        self.state = state
        self.router = Router(endpoints)
        pattern = state.config.reject_targets
        self._rejected = re.compile(pattern) if pattern else None

    def build(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # ------------------------------------------------------------------------------ pipeline

    async def handle(self, request: web.Request) -> web.StreamResponse:
        stats = self.state.stats
        arrived = time.monotonic()
        started = time.perf_counter()
        stats.total_requests += 1
        stats.arrivals.append(arrived)
        response = await self._respond(request, arrived, started)
        stats.http_statuses[response.status] += 1
        return response

    async def _respond(self, request: web.Request, arrived: float, started: float) -> web.StreamResponse:
        state, stats = self.state, self.state.stats
        route = self.router.resolve(request.method, request.path)
        if route is None:
            stats.per_endpoint["(unknown)"] += 1
            return self._top_level(40400, started)
        stats.per_endpoint[route.endpoint.name] += 1
        if not authorized(route.gateway, request.headers.get("Authorization"), state.config):
            return self._top_level(40100, started)

        stats.in_flight += 1
        stats.max_concurrent = max(stats.max_concurrent, stats.in_flight)
        try:
            return await self._admitted(request, route, arrived, started)
        finally:
            stats.in_flight -= 1

    async def _admitted(self, request: web.Request, route: Route, arrived: float, started: float) -> web.StreamResponse:
        state = self.state
        if state.stats.in_flight > state.config.max_concurrency:
            return self._top_level(40209, started)
        if not state.rate.try_acquire(arrived):
            return self._top_level(40202, started)
        extra = state.endpoint_limit(route.endpoint)
        if extra is not None and not extra.try_acquire(arrived):
            return self._top_level(40202, started)

        draw = state.faults.draw()
        if draw.kind is not None:
            state.stats.faults[draw.kind.value] += 1
        if draw.latency_s > 0:
            await asyncio.sleep(draw.latency_s)
        early = await self._early_fault(request, draw, started)
        if early is not None:
            return early

        try:
            body, cost, commits = await self._run(request, route, arrived, draw)
        except RequestError as exc:
            return self._top_level(exc.code, started, exc.message)
        if cost > state.balance:
            return self._top_level(40200, started, "Payment Required: the balance does not cover this request.")
        if cost:
            state.charge(cost)
        for commit in commits:
            commit()
        body["time"] = envelope.seconds(time.perf_counter() - started)
        self._count(body)
        rendered = envelope.render(body)

        if draw.kind is FaultKind.TRUNCATE:
            return await misbehave.truncated(request, rendered)
        if draw.kind is FaultKind.MALFORMED:
            return misbehave.malformed(rendered)
        return web.Response(body=rendered, content_type="application/json")

    async def _early_fault(self, request: web.Request, draw: FaultDraw, started: float) -> web.StreamResponse | None:
        """Faults that replace the answer before any work (and any charge) is done."""
        kind = draw.kind
        if kind is FaultKind.HANG:
            await asyncio.sleep(self.state.config.hang_seconds)
            return None
        if kind is FaultKind.HTTP_ERROR:
            return misbehave.http_error(draw.code, self.state.config.version)
        if kind in (FaultKind.BODY_ERROR, FaultKind.RATE_BURST, FaultKind.CONGESTION):
            return self._top_level(draw.code, started)
        if kind is FaultKind.RESET:
            misbehave.reset(request)
            return web.Response(status=500)  # never delivered: the connection is gone
        return None

    async def _run(
        self, request: web.Request, route: Route, arrived: float, draw: FaultDraw
    ) -> tuple[dict[str, Any], float, list[Callable[[], None]]]:
        """The 200 envelope of a request, its total cost and the side effects to run once paid."""
        endpoint = route.endpoint
        if endpoint.method == "POST":
            tasks = parse_tasks(await request.read(), route.gateway)
            if len(tasks) > endpoint.max_tasks:
                raise RequestError(40000 if endpoint.max_tasks == 1 else 40006)
        else:
            tasks = [{}]
        day = self._day(request)
        out: list[dict[str, Any]] = []
        commits: list[Callable[[], None]] = []
        total = 0.0
        for index, raw in enumerate(tasks):
            failure = draw.code if draw.kind is FaultKind.TASK_ERROR and index == 0 else None
            task, cost, commit = self._run_task(route, raw, day, arrived, failure)
            out.append(task)
            total += cost
            if commit is not None:
                commits.append(commit)
        return envelope.envelope(self.state.config.version, out, elapsed=0.0), total, commits

    def _run_task(
        self, route: Route, raw: Any, day: int, arrived: float, failure: int | None
    ) -> tuple[dict[str, Any], float, Callable[[], None] | None]:
        endpoint = route.endpoint
        t0 = time.perf_counter()
        task_id = self.state.ids.new(endpoint.function_code)
        data: dict[str, Any] = {"api": endpoint.api, "function": endpoint.function}
        if endpoint.se:
            data["se"] = endpoint.se
        try:
            values = validate_task(raw, endpoint.fields) if endpoint.method == "POST" else {}
            data.update(echo_data(raw, endpoint.fields))
            self._refuse_targets(values)
            if failure is not None:
                raise TaskError(failure)
            ctx = TaskContext(self.state, day, arrived, task_id, route.path_value)
            result = endpoint.handler(ctx, values)
        except TaskError as exc:
            if isinstance(raw, dict):
                data.update(raw)
            task = envelope.task(
                task_id, exc.code, elapsed=time.perf_counter() - t0, cost=0.0, path=endpoint.path,
                data=data, result=None, status_message=exc.message,
            )
            return task, 0.0, None
        if result.data is not None:
            data = result.data
        failed = result.status_code >= 40000
        cost = 0.0 if failed else endpoint.price.cost(result.units)
        task = envelope.task(
            result.task_id or task_id, result.status_code, elapsed=time.perf_counter() - t0, cost=cost,
            path=endpoint.path, data=data, result=None if failed else result.result,
            status_message=result.status_message,
        )
        return task, cost, None if failed else result.commit

    # ------------------------------------------------------------------------------ helpers

    def _refuse_targets(self, values: Mapping[str, Any]) -> None:
        """``--reject-targets``: a matching target makes the task a 40501 naming the field."""
        if self._rejected is None:
            return
        for name in ("targets", "target"):
            value = values.get(name)
            for target in value if isinstance(value, list) else [value]:
                if isinstance(target, str) and self._rejected.search(target):
                    raise invalid(name, f"{target!r} is not a valid target.")

    def _day(self, request: web.Request) -> int:
        raw = request.headers.get(DAY_HEADER)
        if raw is not None and raw.strip().isdigit():
            return int(raw)
        return self.state.config.day

    def _count(self, body: dict[str, Any]) -> None:
        stats = self.state.stats
        stats.record_status(body["status_code"])
        for task in body["tasks"] or ():
            stats.task_status_codes[task["status_code"]] += 1

    def _top_level(self, code: int, started: float, message: str | None = None) -> web.Response:
        """An answer with only a top-level status (``tasks`` null), at the HTTP status the API uses."""
        body = envelope.envelope(
            self.state.config.version, None, elapsed=time.perf_counter() - started,
            status_code=code, status_message=message,
        )
        self.state.stats.record_status(code)
        status = HTTP_STATUS_FOR_CODE.get(code, 200)
        return web.Response(status=status, body=envelope.render(body), content_type="application/json")
