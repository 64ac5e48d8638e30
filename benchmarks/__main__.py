"""Run every benchmark (or those named) and print value, baseline and ratio."""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
import time
from pathlib import Path


def discover() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(here)])
                  if m.name.startswith("bench_"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(discover())})")
    p.add_argument("--full", action="store_true", help="full-scale cases (slow)")
    args = p.parse_args(argv)
    names = args.names or discover()
    failed = False
    print(f"{'benchmark':46s} {'value':>12s} {'unit':10s} {'baseline':>12s} {'ratio':>8s}  note")
    for name in names:
        mod = importlib.import_module(f"benchmarks.bench_{name}")
        kwargs = {"full": args.full} if "full" in inspect.signature(mod.run).parameters else {}
        t0 = time.perf_counter()
        try:
            rows = mod.run(**kwargs)
        except Exception as exc:  # report and carry on with the others
            print(f"{name:46s} FAILED: {type(exc).__name__}: {exc}")
            failed = True
            continue
        for r in rows:
            base = r.get("baseline")
            ratio = r.get("ratio")
            print(f"{r['name']:46s} {r['value']:12.4g} {r.get('unit', ''):10s} "
                  f"{'' if base is None else f'{base:12.4g}':>12s} "
                  f"{'' if ratio is None else f'{ratio:8.2f}':>8s}  {r.get('note', '')}")
        print(f"{'':46s} ({name}: {time.perf_counter() - t0:.1f} s)")
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
