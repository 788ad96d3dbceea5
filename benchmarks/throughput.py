"""Throughput benchmark: the auditor against the API's limits, and against what users run today.

    python -m benchmarks.throughput                      # 1,000,000 targets, 600 ms mean latency
    python -m benchmarks.throughput --quick              # 200,000 targets: about two minutes
    python -m benchmarks.throughput --targets 1000000 --latency-ms 600
    python -m benchmarks.throughput --memory             # auditor's peak RSS at 100k and at 1M targets

What it does (see docs/PERFORMANCE.md):

1. generates a heavy-tailed target list (:func:`benchmarks.planner.heavy_tailed`: Zipf pages over
   domains, messy spellings, ~2% repeats, ~1% junk) and plans it with :func:`auditor.plan.build_plan`;
2. starts the simulator in its own process (:mod:`benchmarks.simhost`), pinned to one CPU, with the
   real limits (2,000 calls a minute, 30 at once) and gamma-distributed latency, and pre-renders
   every target's item into its cache, so that both runs meet the same warm simulator;
3. runs ``auditor bulk`` as a subprocess pinned to the other CPU (credentials in its environment,
   ``--base-url`` pointing at the simulator);
4. runs the peer (:mod:`benchmarks.peer`: ``dataforseo-client`` in 30 threads, pyarrow output) the
   same way, on the same plan;
5. prints a table, then one JSON object as its last line.

Figures per run: requests per minute sustained between the first and the last request the simulator
saw, against the bound min(rate limit, 60 x concurrency / mean latency); requests per minute and
items per second end to end (process start to exit); CPU seconds per million items (user + system
of the client process, from ``wait4``); peak RSS (``VmHWM`` of the child, polled every 20 ms); 40202 / 40209 the simulator sent;
time from process start to the first request; the simulator's CPU use (if it was busy more than 85%
of the run, the figures say so: then the simulator, not the client, set the pace).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
QUICK_TARGETS = 200_000
FREE_CHECK = "appendix/user_data"
MEMORY_SIZES = (100_000, 1_000_000)


# --- the simulator process ------------------------------------------------------------------------

class Simulator:
    def __init__(self, *, latency_ms: float, jitter_ms: float, rate_limit: int, concurrency: int,
                 item_cache: int, cpu: int | None, rate_window_s: float = 60.0) -> None:
        command = [sys.executable, "-m", "benchmarks.simhost", "--latency-ms", str(latency_ms),
                   "--latency-jitter-ms", str(jitter_ms), "--rate-limit-per-minute", str(rate_limit),
                   "--rate-window-seconds", str(rate_window_s),
                   "--max-concurrency", str(concurrency), "--item-cache", str(item_cache)]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 2:
            self.process.kill()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.base_url, self.control_url = line

    def _call(self, path: str, data: bytes | None = None) -> Any:
        request = urllib.request.Request(self.control_url + path, data=data,
                                         method="POST" if data is not None else "GET")
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        return self._call("/stats")

    def arrivals(self, since: int) -> list[float]:
        return self._call(f"/arrivals?since={since}")

    def warm(self, targets: list[str], batch: int = 50_000) -> tuple[int, float]:
        items, seconds = 0, 0.0
        for start in range(0, len(targets), batch):
            answer = self._call("/warm", json.dumps(targets[start:start + batch]).encode())
            items += answer["items"]
            seconds += answer["seconds"]
        return items, seconds

    def reset(self) -> None:
        self._call("/reset", b"")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# --- one measured run ------------------------------------------------------------------------------

@dataclass
class RunFigures:
    client: str
    exit_code: int
    targets: int
    requests: int                   # seen by the simulator, retries included
    items: int
    wall_s: float
    first_request_s: float          # process start -> first request at the simulator
    sending_s: float                # first -> last paid request at the simulator (not the free
                                    # appendix/user_data check sent before planning ends)
    rpm_sustained: float
    rpm_end_to_end: float
    items_per_s: float
    cpu_s: float
    cpu_s_per_million_items: float
    peak_rss_mb: float
    rate_errors_40202: int
    concurrency_errors_40209: int
    busiest_window: int             # most requests in any rate window (60 s, or the rehearsal's)
    simulator_cpu_share: float      # simulator CPU seconds / wall seconds of the run
    simulator_bound: bool
    planning_cpu_s: float | None = None  # auditor: reading, normalising, de-duplicating, packing
    # auditor: CPU per million items of everything but planning (start-up, sending, decoding,
    # flattening, writing): the answer pipeline's cost, whatever the list's shape
    cpu_s_per_million_items_without_planning: float | None = None


def _busiest_window(times: list[float], seconds: float) -> int:
    import bisect
    best = 0
    for i, start in enumerate(times):
        best = max(best, bisect.bisect_right(times, start + seconds - 1e-9) - i)
    return best


def measure(client: str, command: list[str], sim: Simulator, *, env: dict[str, str], cpu: int | None,
            count_items: Any, window_s: float = 60.0) -> RunFigures:
    """Run ``command`` as a child process and measure it through ``wait4`` and the simulator."""
    sim.reset()
    before = sim.stats()
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if cpu is not None:
        try:
            os.sched_setaffinity(process.pid, {cpu})
        except OSError:
            pass
    peak_kb = [0]
    stop = threading.Event()

    def watch_rss() -> None:  # VmHWM of the child's own address space (see the note on ru_maxrss)
        path = f"/proc/{process.pid}/status"
        while not stop.is_set():
            try:
                with open(path) as status_file:
                    for line in status_file:
                        if line.startswith("VmHWM:"):
                            peak_kb[0] = max(peak_kb[0], int(line.split()[1]))
            except OSError:
                return
            stop.wait(0.02)

    watcher = threading.Thread(target=watch_rss, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    stop.set()
    watcher.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    out = process.stdout.read().decode() if process.stdout else ""
    err = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        print(f"{client} exited {process.returncode}:\n{out[-2000:]}\n{err[-2000:]}", file=sys.stderr)
    after = sim.stats()
    times = sim.arrivals(before["arrivals"])
    requests = len(times)
    items, targets = count_items(out)
    # The sustained rate is that of the paid stream: the auditor sends its free credentials check
    # at start-up, seconds before planning a big list is done, and that gap is not sending.
    free = (after.get("per_endpoint", {}).get(FREE_CHECK, 0)
            - before.get("per_endpoint", {}).get(FREE_CHECK, 0))
    paid = times[free:]
    sending = paid[-1] - paid[0] if len(paid) > 1 else 0.0
    cpu_s = usage.ru_utime + usage.ru_stime
    sim_share = (after["cpu_s"] - before["cpu_s"]) / wall if wall else 0.0
    return RunFigures(
        client=client, exit_code=process.returncode, targets=targets, requests=requests, items=items,
        wall_s=round(wall, 2),
        first_request_s=round(times[0] - started, 3) if times else -1.0,
        sending_s=round(sending, 2),
        rpm_sustained=round((len(paid) - 1) / sending * 60, 1) if sending else 0.0,
        rpm_end_to_end=round(requests / wall * 60, 1),
        items_per_s=round(items / wall),
        cpu_s=round(cpu_s, 2),
        cpu_s_per_million_items=round(cpu_s / items * 1e6, 2) if items else 0.0,
        # Not ru_maxrss: Linux carries the parent's RSS at fork time into the child's ru_maxrss,
        # and this process holds the whole target list.
        peak_rss_mb=round(peak_kb[0] / 1024, 1),
        rate_errors_40202=after["rate_limited_40202"] - before["rate_limited_40202"],
        concurrency_errors_40209=after["concurrency_rejected_40209"] - before["concurrency_rejected_40209"],
        busiest_window=_busiest_window(times, window_s),
        simulator_cpu_share=round(sim_share, 3),
        simulator_bound=sim_share > 0.85,
    )


def run_auditor(sim: Simulator, targets_file: Path, work: Path, cpu: int | None, *,
                rate_limit: int = 2000, concurrency: int = 30, rate_window_s: float = 60.0,
                profile: Path | None = None) -> RunFigures:
    out = work / "auditor-out"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "DATAFORSEO_LOGIN": "demo", "DATAFORSEO_PASSWORD": "demo"}
    # py-spy's collapsed stacks (one line a stack, samples of the thread holding the GIL):
    # C++ work without the GIL (Parquet compression, some Arrow kernels) is not in them.
    wrapper = [_py_spy(), "record", "--gil", "--rate", "200", "--format", "raw",
               "--output", str(profile), "--"] if profile else []
    if rate_window_s == 60.0:
        command = [*wrapper, sys.executable, "-m", "auditor", "bulk", str(targets_file), "--base-url", sim.base_url,
                   "--out", str(out), "--fresh", "-q", "--rate-limit", str(rate_limit),
                   "--concurrency", str(concurrency)]
    else:  # the rate window is a job-file setting only (rehearsals)
        job = work / "rehearsal.toml"
        job.write_text(f"""name = "throughput-rehearsal"
[api]
base_url = "{sim.base_url}"
rate_limit_per_minute = {rate_limit}
rate_window_seconds = {rate_window_s}
max_concurrency = {concurrency}
[run]
out = "{out}"
[bulk_pages_summary]
targets = ["{targets_file}"]
""")
        command = [*wrapper, sys.executable, "-m", "auditor", "run", str(job), "--fresh", "-q"]

    def count(_stdout: str) -> tuple[int, int]:
        manifest = json.loads(next((out / "_runs").glob("*/manifest.json")).read_text())
        return manifest["endpoints"]["bulk_pages_summary"]["rows"], manifest["inputs"]["distinct_targets"]

    figures = measure("auditor", command, sim, env=env, cpu=cpu, count_items=count, window_s=rate_window_s)
    manifest = json.loads(next((out / "_runs").glob("*/manifest.json")).read_text())
    planning = manifest["extra"]["cpu_s"]["planning"]
    figures = replace(figures, planning_cpu_s=planning,
                      cpu_s_per_million_items_without_planning=round(
                          (figures.cpu_s - planning) / figures.items * 1e6, 2) if figures.items else 0.0)
    calls = manifest["extra"]["calls"]
    if calls["rate_limited_40202"] != figures.rate_errors_40202:
        print(f"note: the manifest counts {calls['rate_limited_40202']} 40202, the simulator "
              f"{figures.rate_errors_40202}", file=sys.stderr)
    return figures


def _py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    return found


def run_peer(sim: Simulator, targets_file: Path, work: Path, cpu: int | None, targets: int, *,
             rate_limit: int = 2000, concurrency: int = 30) -> RunFigures:
    out = work / "peer-out"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "DATAFORSEO_LOGIN": "demo", "DATAFORSEO_PASSWORD": "demo"}
    command = [sys.executable, "-m", "benchmarks.peer", str(targets_file), "--base-url", sim.base_url,
               "--out", str(out), "--rate-limit", str(rate_limit), "--threads", str(concurrency)]

    def count(stdout: str) -> tuple[int, int]:
        return json.loads(stdout.strip().splitlines()[-1])["items"], targets

    return measure("peer", command, sim, env=env, cpu=cpu, count_items=count)


# --- the whole benchmark ---------------------------------------------------------------------------

def prepare(n: int, work: Path, seed: int = 1) -> tuple[Path, list[str], int]:
    """Write the target list; return its path, the planned targets, and the number of requests."""
    from benchmarks.planner import heavy_tailed
    from auditor.plan import build_plan
    from auditor.targets.read import iter_lines

    path = work / f"targets-{n}.txt"
    if not path.exists():
        lines = heavy_tailed(n, seed)
        path.write_text("".join(line.text + "\n" for line in lines))
    planned: list[str] = []
    requests = 0
    for window in build_plan(iter_lines([str(path)])):
        for chunk in window.chunks:
            planned.extend(chunk.targets)
            requests += 1
    return path, planned, requests


def planning_rate(path: Path) -> float:
    """Normalise + plan throughput (lines per second) on this core, from text lines in memory."""
    from auditor.plan import build_plan
    from auditor.targets.read import SourceLine

    lines = [SourceLine("bench", i, text) for i, text in enumerate(path.read_text().splitlines(), 1)]
    started = time.process_time()
    for _window in build_plan(lines):
        pass
    return len(lines) / (time.process_time() - started)


def startup_times() -> dict[str, float]:
    """``auditor --help``: wall seconds, best of five."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "auditor", "--help"], cwd=REPO, stdout=subprocess.DEVNULL,
                       check=True)
        best = min(best, time.perf_counter() - started)
    return {"help_s": round(best, 3)}


def _row(f: RunFigures, bound: float) -> str:
    return (f"{f.client:<8} {f.requests:>8} {f.items:>9} {f.wall_s:>7.1f} {f.rpm_sustained:>8.0f} "
            f"{f.rpm_sustained / bound:>6.3f} {f.rpm_end_to_end:>7.0f} {f.items_per_s:>8} "
            f"{f.cpu_s:>7.1f} {f.cpu_s_per_million_items:>8.2f} {f.peak_rss_mb:>7.0f} "
            f"{f.rate_errors_40202:>6} {f.concurrency_errors_40209:>6} {f.first_request_s:>6.2f} "
            f"{f.simulator_cpu_share:>5.2f}")


HEADER = (f"{'client':<8} {'requests':>8} {'items':>9} {'wall_s':>7} {'rpm':>8} {'ratio':>6} {'rpm_e2e':>7} "
          f"{'items/s':>8} {'cpu_s':>7} {'cpu_s/M':>8} {'rss_mb':>7} {'40202':>6} {'40209':>6} "
          f"{'first':>6} {'sim%':>5}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=1_000_000, help="target list size (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_TARGETS:,} targets (about two minutes)")
    parser.add_argument("--memory", action="store_true",
                        help="memory mode: the auditor alone at 100k and at 1M targets, peak RSS of each")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="memory mode: list sizes")
    parser.add_argument("--latency-ms", type=float, default=600.0, help="mean simulated latency (default 600)")
    parser.add_argument("--jitter-ms", type=float, default=200.0, help="its standard deviation (default 200)")
    parser.add_argument("--rate-limit", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--rate-window-seconds", type=float, default=60.0,
                        help="the rate limit's window for the simulator and the auditor (default 60, "
                             "the API's); e.g. 15 with --rate-limit 500 is 2,000 a minute in 15 s "
                             "windows: a 1M list then crosses two windows (rehearsal; no peer run)")
    parser.add_argument("--no-peer", action="store_true", help="skip the dataforseo-client run")
    parser.add_argument("--work", default=None, help="working folder (default: a temporary one, removed)")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE",
                        help="record the auditor run with py-spy (GIL holder, 200 Hz) into FILE as "
                             "collapsed stacks; its CPU figures then include py-spy's overhead")
    args = parser.parse_args(argv)

    cpus = sorted(os.sched_getaffinity(0))
    sim_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) > 1 else (None, None)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="auditor-throughput-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = (args.sizes or list(MEMORY_SIZES)) if args.memory else [QUICK_TARGETS if args.quick else args.targets]
    per_minute = args.rate_limit * 60 / args.rate_window_seconds
    bound = min(per_minute, 60 * args.concurrency / (args.latency_ms / 1000)) if args.latency_ms \
        else per_minute
    if args.rate_window_seconds != 60.0:
        args.no_peer = True  # the peer's pacer knows minutes only

    # As a regular install does (pip compiles what it installs), so that no run spends its
    # start compiling source: some machines set PYTHONDONTWRITEBYTECODE, and an editable install
    # then compiles the auditor's modules at every start (~0.2 s of CPU before the first request).
    compileall.compile_dir(str(REPO / "auditor"), quiet=1)
    prepared = [prepare(n, work) for n in sizes]
    cache = sum(len(p[1]) for p in prepared) + 10_000
    sim = Simulator(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms, rate_limit=args.rate_limit,
                    concurrency=args.concurrency, item_cache=cache, cpu=sim_cpu,
                    rate_window_s=args.rate_window_seconds)
    try:
        for _path, planned, _requests in prepared:
            sim.warm(planned)
        runs: list[RunFigures] = []
        for (path, planned, requests), n in zip(prepared, sizes):
            print(f"{n:,} targets: {len(planned):,} distinct, {requests:,} requests planned", flush=True)
            limits = {"rate_limit": args.rate_limit, "concurrency": args.concurrency}
            runs.append(run_auditor(sim, path, work, client_cpu, profile=args.profile,
                                    rate_window_s=args.rate_window_seconds, **limits))
            if not args.memory and not args.no_peer:
                runs.append(run_peer(sim, path, work, client_cpu, len(planned), **limits))
    finally:
        sim.close()

    print(HEADER)
    for run in runs:
        print(_row(run, bound))
    for run in runs:
        if run.simulator_bound:
            print(f"warning: the simulator was busy {run.simulator_cpu_share:.0%} of the {run.client} run: "
                  "it may have set the pace", file=sys.stderr)

    machine = {"python": platform.python_version(), "cpus": len(cpus), "processor": platform.processor(),
               "platform": platform.platform()}
    if args.memory:
        auditor_runs = runs
        summary: dict[str, Any] = {
            "benchmark": "throughput-memory", "targets": sizes,
            "peak_rss_mb": [r.peak_rss_mb for r in auditor_runs],
            "rss_growth": round(auditor_runs[-1].peak_rss_mb / auditor_runs[0].peak_rss_mb, 3),
            "rate_errors": sum(r.rate_errors_40202 + r.concurrency_errors_40209 for r in auditor_runs),
            "runs": [asdict(r) for r in auditor_runs], "machine": machine,
        }
    else:
        auditor = runs[0]
        peer = runs[1] if len(runs) > 1 else None
        summary = {
            "benchmark": "throughput",
            "targets": sizes[0],
            "distinct_targets": auditor.targets,
            "latency_ms": args.latency_ms,
            "bound_rpm": round(bound, 1),
            "throughput_ratio": round(auditor.rpm_sustained / bound, 4),
            "throughput_ratio_end_to_end": round(auditor.rpm_end_to_end / bound, 4),
            "rate_errors": auditor.rate_errors_40202 + auditor.concurrency_errors_40209,
            "cpu_s_per_million_items": auditor.cpu_s_per_million_items,
            "cpu_s_per_million_items_without_planning": auditor.cpu_s_per_million_items_without_planning,
            "planning_cpu_s": auditor.planning_cpu_s,
            "peer_cpu_s_per_million_items": peer.cpu_s_per_million_items if peer else None,
            "cpu_ratio_to_peer": round(auditor.cpu_s_per_million_items / peer.cpu_s_per_million_items, 3)
            if peer and peer.cpu_s_per_million_items else None,
            "items_per_s_ratio_to_peer": round(auditor.items_per_s / peer.items_per_s, 3)
            if peer and peer.items_per_s else None,
            "peak_rss_mb": auditor.peak_rss_mb,
            "peer_peak_rss_mb": peer.peak_rss_mb if peer else None,
            "peer_throughput_ratio": round(peer.rpm_sustained / bound, 4) if peer else None,
            "peer_rate_errors": peer.rate_errors_40202 + peer.concurrency_errors_40209 if peer else None,
            "first_request_s": auditor.first_request_s,
            "planning_lines_per_s": round(planning_rate(prepared[0][0])),
            **startup_times(),
            "simulator_bound": any(r.simulator_bound for r in runs),
            "runs": [asdict(r) for r in runs],
            "machine": machine,
        }
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
