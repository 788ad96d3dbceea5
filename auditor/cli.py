"""The ``auditor`` command line: a thin layer over the library.

Every fetching command builds a :class:`auditor.jobs.config.Job` and hands it to
:func:`auditor.jobs.execute.run_job`, so ``auditor bulk`` and ``auditor run job.toml`` behave the
same. Heavy modules are imported inside the commands: ``auditor --help`` stays instant.

Exit codes (for cron and Airflow):
  0  finished; failures within the job's failure_threshold
  1  unexpected internal error
  2  usage, job file or credentials problem; nothing was spent
  3  finished, but more targets failed than failure_threshold allows
  4  stopped by a fatal API answer (credentials, funds, blocked account): resumable
  5  stopped at the spending cap (max_cost) or by a balance too low for the estimate: resumable
  6  output folder not writable (path named): resumable
  130  interrupted by SIGINT / SIGTERM: resumable
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Any, Callable, Sequence

EPILOG = """exit codes: 0 ok, 1 internal error, 2 usage/config error, 3 too many failed targets,
4 fatal API error (resumable), 5 spending cap or low balance (resumable), 6 output not writable,
130 interrupted (resumable). Credentials come from DATAFORSEO_LOGIN / DATAFORSEO_PASSWORD
(dataforseo, sandbox) or AISA_API_KEY (aisa); --simulator needs none."""


def _fetch_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("where and how to fetch")
    g.add_argument("--out", default=None, help="output folder (default: the job's run.out, else ./output)")
    g.add_argument("--gateway", choices=["dataforseo", "sandbox", "aisa"], default=None,
                   help="way in to the API (default dataforseo)")
    g.add_argument("--base-url", default=None, help="override the gateway's address, e.g. a simulator's URL")
    g.add_argument("--simulator", action="store_true",
                   help="start the bundled API simulator for this run (no credentials, no cost)")
    g.add_argument("--max-cost", type=float, default=None, metavar="USD",
                   help="never start a request that could push the run's spend past this")
    g.add_argument("--rate-limit", type=int, default=None, metavar="N", help="API calls per minute (default 2000)")
    g.add_argument("--concurrency", type=int, default=None, metavar="N", help="simultaneous requests (default 30)")
    g.add_argument("--failure-threshold", type=float, default=None, metavar="SHARE",
                   help="share of targets that may fail with exit 0 (default 0)")
    g.add_argument("--no-balance-check", action="store_true",
                   help="skip the free appendix/user_data check of credentials and balance")
    r = parser.add_argument_group("resume")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_const", const="require", dest="resume",
                      help="finish the unfinished run of this job (error if there is none)")
    mode.add_argument("--fresh", action="store_const", const="fresh", dest="resume",
                      help="start a new run even if an unfinished one exists")
    parser.set_defaults(resume="auto")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no table")


def _target_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("targets", nargs="*", metavar="TARGETS",
                        help=f"files listing {what} (text one per line, .csv, .parquet; '-' for stdin)")
    parser.add_argument("-t", "--target", action="append", default=[], dest="values", metavar="VALUE",
                        help="a target given literally (repeatable)")
    parser.add_argument("--column", default="target", help="column of CSV / Parquet files (default: target)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auditor",
        description="Async batch backlink auditor for the DataForSEO Backlinks and On-Page APIs, writing Parquet.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from auditor import __version__
    parser.add_argument("--version", action="version", version=f"auditor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run a job file (TOML)", epilog=EPILOG,
                       description="Run every endpoint section of a job file under one budget and rate limit.")
    p.add_argument("job", help="the job file, e.g. jobs/demo.toml")
    _fetch_options(p)
    p.set_defaults(handler=_cmd_run)

    p = sub.add_parser("bulk", help="bulk pages summary for target lists (ad hoc)", epilog=EPILOG,
                       description="Fetch backlinks/bulk_pages_summary for pages, domains and subdomains.")
    _target_options(p, "pages, domains or subdomains")
    p.add_argument("--rank-scale", choices=["one_hundred", "one_thousand"], default=None)
    p.add_argument("--no-subdomains", action="store_true", help="include_subdomains=false")
    _fetch_options(p)
    p.set_defaults(handler=_cmd_endpoint, section="bulk_pages_summary")

    p = sub.add_parser("domain-pages", help="every page of target domains, paged (ad hoc)", epilog=EPILOG,
                       description="Fetch backlinks/domain_pages_summary: all pages of each target domain.")
    _target_options(p, "domains")
    p.add_argument("--filters", default=None, metavar="JSON", help='e.g. \'[["backlinks", ">", 10]]\'')
    p.add_argument("--order-by", action="append", default=None, metavar="FIELD,DIR", help="e.g. backlinks,desc")
    _fetch_options(p)
    p.set_defaults(handler=_cmd_endpoint, section="domain_pages_summary")

    p = sub.add_parser("history", help="monthly backlink history of domains (ad hoc)", epilog=EPILOG,
                       description="Fetch backlinks/history: one row per domain and month.")
    _target_options(p, "domains")
    p.add_argument("--date-from", default=None, metavar="YYYY-MM-DD", help="default 2019-01-01")
    p.add_argument("--date-to", default=None, metavar="YYYY-MM-DD", help="default today")
    _fetch_options(p)
    p.set_defaults(handler=_cmd_endpoint, section="history")

    p = sub.add_parser("index", help="size and freshness of the backlinks index", epilog=EPILOG,
                       description="Fetch backlinks/index (free): totals and 12 months of history.")
    _fetch_options(p)
    p.set_defaults(handler=_cmd_endpoint, section="index")

    p = sub.add_parser("on-page-links", help="crawl sites and read every link (ad hoc)", epilog=EPILOG,
                       description="Start On-Page crawls (or use existing task ids), wait, page every link.")
    p.add_argument("sites", nargs="*", help="domains to crawl")
    p.add_argument("--task-id", action="append", default=[], dest="task_ids", help="an existing crawl task id")
    p.add_argument("--max-crawl-pages", type=int, default=None, help="pages to crawl per site (default 100)")
    _fetch_options(p)
    p.set_defaults(handler=_cmd_endpoint, section="on_page_links")

    p = sub.add_parser("plan", help="show the request plan and estimated cost; calls nothing",
                       description="Read, normalise and pack targets as bulk would, without calling the API.")
    _target_options(p, "pages, domains or subdomains")
    p.add_argument("--json", action="store_true", help="one JSON object per request, each with its targets")
    p.add_argument("--rejects", default=None, metavar="CSV", help="also write the rejected lines to this CSV")
    p.set_defaults(handler=_cmd_plan)

    p = sub.add_parser("simulate", help="run the bundled DataForSEO API simulator", add_help=False)
    p.set_defaults(handler=_cmd_simulate)
    return parser


def _section(args: argparse.Namespace) -> dict[str, Any]:
    """The endpoint section an ad-hoc command stands for."""
    s: dict[str, Any] = {}
    if args.section == "index":
        return {"enabled": True}
    if args.section == "on_page_links":
        s = {"sites": args.sites, "task_ids": args.task_ids}
        if args.max_crawl_pages:
            s["max_crawl_pages"] = args.max_crawl_pages
        return s
    s = {"targets": args.targets, "values": args.values, "column": args.column}
    if args.section == "bulk_pages_summary":
        if args.rank_scale:
            s["rank_scale"] = args.rank_scale
        if args.no_subdomains:
            s["include_subdomains"] = False
    elif args.section == "domain_pages_summary":
        if args.filters:
            import json
            try:
                s["filters"] = json.loads(args.filters)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"auditor: --filters is not valid JSON: {exc}") from None
        if args.order_by:
            s["order_by"] = args.order_by
    elif args.section == "history":
        s.update({k: v for k, v in (("date_from", args.date_from), ("date_to", args.date_to)) if v})
    return s


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Command-line options as job-file keys (only those given)."""
    api = {k: v for k, v in (("gateway", args.gateway), ("base_url", args.base_url),
                             ("rate_limit_per_minute", args.rate_limit), ("max_concurrency", args.concurrency))
           if v is not None}
    run = {k: v for k, v in (("out", args.out), ("max_cost", args.max_cost),
                             ("failure_threshold", args.failure_threshold)) if v is not None}
    if args.no_balance_check:
        run["check_balance"] = False
    out: dict[str, Any] = {"api": api, "run": run}
    if args.simulator:
        out["simulator"] = {"enabled": True}
    return out


def _tune_gc() -> None:
    """Python's cyclic GC is nearly pure overhead for a run: decoded JSON (a thousand dicts per
    answer) has no cycles, yet every 700 new containers trigger a young collection, and older
    ones walk whatever the process holds. Everything imported so far is frozen out of the
    collector's sight and young collections are made rarer (measured: ~1 us per decoded item
    with the defaults, nothing with these; docs/PERFORMANCE.md). Cycles are still collected.

    The collector is off while the run imports (:func:`_execute` turns it off): ~150 young
    collections and a full one cost ~60 ms more (docs/PERFORMANCE.md, eleventh round). Nor is
    there a collection before the freeze: walking the ~62,000 objects the imports made took
    60-90 ms, to free ~2,100 of them (0.6 MB of classes and functions that attrs, dataclasses
    and typing built and dropped), which the freeze now keeps instead (twelfth round)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    gc.enable()


def _tune_threads() -> None:
    """numpy's OpenBLAS starts a thread per core when imported, and they spin now and then
    although the auditor does no linear algebra (1.5% of a run's CPU, measured with perf): one
    is enough. Only before numpy is imported, and never over the user's own setting."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _execute(data: dict[str, Any], source: str, overrides: dict[str, Any], args: argparse.Namespace) -> int:
    """Run the job ``data`` (from ``source``: a job file, or the ad-hoc command) with the
    command line's ``overrides`` laid over it."""
    # The free credentials check leaves first, on its own thread, from the settings read before
    # validation (pydantic and the job models are ~0.25 s of imports), while the rest of the
    # run validates the job, imports, opens its output and plans; the balance is compared with
    # the plan's estimate before the first paid request (auditor.jobs.preflight). The run's
    # imports wait until it has left: both would hold the GIL, and the request would leave
    # later for nothing.
    gc.disable()  # until _tune_gc, after the imports
    try:
        from auditor.jobs.preflight import EarlyAccountCheck
        from auditor.jobs.raw import CheckSettings, check_settings, deep_merge
        early = EarlyAccountCheck.start(check_settings(deep_merge(data, overrides)))
        if early is not None:
            early.wait_until_sent(timeout_s=0.5)
        from auditor.jobs.config import merge_overrides, parse_job
        job = merge_overrides(parse_job(data, source), overrides)
        if early is not None and early.settings != CheckSettings.of_job(job):
            early = None  # read differently before validation: the run checks the account itself
        _tune_threads()
        from auditor.memory import tune_allocator
        tune_allocator()
        from auditor.jobs.execute import run_job
    finally:
        _tune_gc()
    return run_job(job, resume=args.resume, quiet=args.quiet, account_check=early)


def _cmd_run(args: argparse.Namespace) -> int:
    from auditor.jobs.raw import read_job_file
    return _execute(read_job_file(args.job), args.job, _overrides(args), args)


def _cmd_endpoint(args: argparse.Namespace) -> int:
    import hashlib
    import json

    section = _section(args)
    # Ad-hoc runs of the same command over the same inputs resume each other, and only those.
    digest = hashlib.blake2b(json.dumps(section, sort_keys=True).encode(), digest_size=4).hexdigest()
    data = {"name": f"{args.command}-{digest}", args.section: section}
    return _execute(data, f"auditor {args.command}", _overrides(args), args)


def _cmd_plan(args: argparse.Namespace) -> int:
    from auditor.plan.command import plan_command
    return plan_command(args.targets, values=args.values, column=args.column, as_json=args.json,
                        rejects_path=args.rejects)


def _cmd_simulate(args: argparse.Namespace, rest: Sequence[str] = ()) -> int:
    from auditor.simulator.cli import main as simulate
    return simulate(list(rest))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Arrow's default pool (jemalloc / mimalloc) holds on to freed memory: for a run that decodes,
    # flattens and writes the same few megabytes over and over, the system allocator costs no
    # measurable CPU and ~50 MB less peak RSS (docs/PERFORMANCE.md). Read when pyarrow loads.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    if argv[:1] == ["simulate"]:  # the simulator parses its own options
        return _cmd_simulate(argparse.Namespace(), argv[1:])
    args = build_parser().parse_args(argv)
    from auditor.errors import AuditorError, ConfigError
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"auditor: {exc}", file=sys.stderr)
        return 2
    except AuditorError as exc:
        print(f"auditor: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("auditor: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
