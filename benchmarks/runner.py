"""The runner behind ``python -m benchmarks [--smoke] [--repeat N] [--only NAME ...] [--out FILE]``.

Runs each benchmark module in its own process (so its peak RSS is its own), prints the
table, and (unless ``--smoke``) writes ``docs/benchmarks.md``. ``--smoke`` runs tiny sizes
once: it proves every benchmark's two implementations agree and times nothing worth
reporting; it is what CI runs. Exit status 1 when a benchmark fails or disagrees.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import traceback
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from benchmarks._measure import BenchConfig, Row
from benchmarks.report import markdown, table

BENCHMARKS = ("training", "contention", "analysis", "catalog", "dashboard", "serving")
ROOT = Path(__file__).resolve().parent.parent


def _run_one(name: str, cfg: BenchConfig) -> list[Row]:
    module = importlib.import_module(f"benchmarks.{name}")
    return module.run(cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split(
        "\n\n")[1])
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, one run each: check agreement only (CI)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS),
                        help="run only these benchmarks")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
                        help="where the report goes (not written in smoke mode)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    repeat = 1 if args.smoke else args.repeat
    rows: list[Row] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tdw-bench-") as workdir:
        cfg = BenchConfig(smoke=args.smoke, repeat=repeat, workdir=workdir)
        for name in args.only:
            print(f"== {name}", flush=True)
            try:
                with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                    got = pool.submit(_run_one, name, cfg).result()
            except Exception:
                traceback.print_exc()
                failed.append(name)
                continue
            print(table(got), flush=True)
            rows.extend(got)
    if not args.smoke and rows:
        notes = ROOT / "benchmarks" / "notes.md"
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown(rows, repeat=repeat,
                                     notes=notes.read_text() if notes.exists() else ""))
        print(f"wrote {args.out}")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
