"""Runs the benchmarks on a dedicated PostgreSQL database (``make bench``).

    .venv/bin/python benchmarks/run.py [--scenario all] [--sizes 30000,300000] [--seed 1]
                                       [--database-url postgres://…]
    .venv/bin/python benchmarks/run.py --services [--prepatients 30000] [--workers 2]

By default: every scale scenario (``benchmarks/<name>_scale.py``; ``--scenario
settlement,intake`` chooses, ``--scenario none`` only generates the data) on
programmes of 30,000 and 300,000 prepatients generated with ``COPY``, each figure
beside its limit measured in the same run. ``--services`` runs the older scenario
instead: a programme generated through the real services, bulk intake, the
overdue list, settlement and the API upload.

The server comes from ``--database-url`` or ``DATABASE_URL``; the database named
there is only used to connect. The benchmark drops and recreates the database
``prevention_bench`` on that server (the role needs CREATEDB), migrates it and
works only there, so development and test data are never touched.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "prevention_bench")
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="30000,300000",
                        help="programme sizes for the settlement benchmark "
                             "(default 30000,300000)")
    parser.add_argument("--scenario", default="all",
                        help="comma-separated scale scenarios (benchmarks/<name>_scale.py: "
                             f"{', '.join(scenarios())}; default all; none only generates)")
    parser.add_argument("--services", action="store_true",
                        help="run the scenario generated through the services instead (about "
                             "30 minutes at 30,000), with intake, overdue list and API cases")
    parser.add_argument("--prepatients", type=int, default=30_000,
                        help="prepatients in the synthetic programme (default 30000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL URL naming the server (default: $DATABASE_URL)")
    parser.add_argument("--workers", type=int, default=2,
                        help="generator processes (default 2)")
    parser.add_argument("--intake-values", type=int, default=None,
                        help="values in the bulk-intake comparison "
                             "(default 100000, fewer for small programmes)")
    parser.add_argument("--api-values", type=int, default=20_000,
                        help="values uploaded through HTTP and through the service in the API "
                             "case (default 20000; 0 skips it)")
    parser.add_argument("--national", type=int, default=300_000,
                        help="prepatients for the national-scale settlement, reached by "
                             "copying the generated ones in SQL (default 300000; 0 skips it)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the already generated benchmark database: time again "
                             "without generating (with --services: only the settlement and "
                             "API cases)")
    args = parser.parse_args(argv)
    if args.prepatients < 1 or args.workers < 1:
        parser.error("--prepatients and --workers must be at least 1")
    try:
        args.sizes = [int(size) for size in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes: comma-separated numbers of prepatients")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes: at least one size of at least 1")
    return args


def bench_url(url: str) -> str:
    """The same server and credentials, with the benchmark's own database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{BENCH_DATABASE}", "", ""))


def recreate_database(url: str) -> None:
    """Drops and creates ``prevention_bench``, connecting through another database."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    maintenance = parts.path.lstrip("/")
    if not maintenance or maintenance == BENCH_DATABASE:
        maintenance = "postgres"
    conninfo = urlunsplit(("postgresql", parts.netloc, f"/{maintenance}", parts.query, ""))
    with psycopg.connect(conninfo, autocommit=True) as conn:
        name = sql.Identifier(BENCH_DATABASE)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def configure_django(url: str) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    # The script's own folder would shadow packages (benchmarks/measurements.py).
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [entry for entry in sys.path if entry != here]
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "prevention.settings.test"  # fixed keys, eager tasks
    os.environ["DEBUG"] = "false"  # no query log kept in memory
    os.environ["CONN_MAX_AGE"] = "0"
    import django

    django.setup()
    # One INFO line per safety notice would bury the figures.
    logging.getLogger("apps").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.database_url or os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme not in POSTGRES_SCHEMES:
        print("The benchmarks need PostgreSQL: set DATABASE_URL=postgres://user:password@host:"
              "5432/dbname or pass --database-url (the role needs CREATEDB).", file=sys.stderr)
        return 2
    target = bench_url(url)
    if not args.services:
        return run_scale(url, target, args)
    if args.reuse:
        configure_django(target)
    else:
        print(f"Recreating the database {BENCH_DATABASE} on {urlsplit(url).hostname}…",
              flush=True)
        recreate_database(url)
        configure_django(target)

        from django.core.management import call_command

        started = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        print(f"Migrated in {time.perf_counter() - started:.1f}s", flush=True)

        from benchmarks.measurements import report, run_scenario

        intake_values = args.intake_values or min(100_000, 40 * args.prepatients)
        result = run_scenario(prepatients=args.prepatients, seed=args.seed,
                              workers=args.workers, intake_values=intake_values,
                              out=lambda line: print(line, flush=True))
        print()
        print(report(result), flush=True)

    from datetime import date

    from apps.programs.models import Programme
    from benchmarks.api_upload import run_api_case
    from benchmarks.settlement import run_settlement_case, scale_programme

    def say(line: str) -> None:
        print(line, flush=True)

    programme = Programme.objects.get(code="prediabetes-2026")
    as_of = date(2029, 3, 31)  # the last day payments are reported (SPEC §3.4)
    print()
    settled = run_settlement_case(programme, as_of, out=say)
    if args.national and args.national > settled["prepatients"]:
        print()
        scale_programme(programme, args.national, out=say)
        national = run_settlement_case(programme, as_of, out=say)
        growth = national["prepatients"] / settled["prepatients"]
        say(f"  growth: {growth:.1f}x prepatients → "
            f"{national['compute_seconds'] / settled['compute_seconds']:.1f}x database time, "
            f"{national['recompute_seconds'] / settled['recompute_seconds']:.1f}x recompute "
            "time")
    if args.api_values:
        print()
        run_api_case(values=args.api_values, out=say)
    return 0


def scenarios() -> list[str]:
    """The scale scenarios: one module ``benchmarks/<name>_scale.py`` each, with
    ``run_scenario(programmes, out=…) -> str`` (its report)."""
    return sorted(path.name.removesuffix("_scale.py")
                  for path in Path(__file__).resolve().parent.glob("*_scale.py"))


def run_scale(url: str, target: str, args: argparse.Namespace) -> int:
    import importlib

    chosen = {"all": scenarios(), "none": []}.get(args.scenario, args.scenario.split(","))
    unknown = sorted(set(chosen) - set(scenarios()))
    if unknown:
        print(f"Unknown scenario(s) {', '.join(unknown)}; known: {', '.join(scenarios())}",
              file=sys.stderr)
        return 2
    if not args.reuse:
        print(f"Recreating the database {BENCH_DATABASE} on {urlsplit(url).hostname}…",
              flush=True)
        recreate_database(url)
    configure_django(target)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.db import connection

    from benchmarks.settlement_scale import prepare_size

    def say(line: str) -> None:
        print(line, flush=True)

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    say(f"Benchmarks at scale: {', '.join(chosen)}; sizes "
        f"{', '.join(f'{n:,}' for n in args.sizes)}, seed {args.seed}, PostgreSQL {version}, "
        f"{os.cpu_count()} cores")
    programmes = []
    for index, size in enumerate(args.sizes):
        say(f"\n{size:,} prepatients")
        programmes.append(prepare_size(code=f"bench-{index}-{size}", prepatients=size,
                                       seed=args.seed + index, reuse=args.reuse, out=say))
    reports = []
    for name in chosen:
        say(f"\n== {name}")
        module = importlib.import_module(f"benchmarks.{name}_scale")
        reports.append(module.run_scenario(programmes, out=say))
    print()
    print("\n\n".join(reports), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
