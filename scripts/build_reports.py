#!/usr/bin/env python3
"""Build the PDF report of every bundled example (examples/*.toml) into a directory.

    python scripts/build_reports.py --out reports/            # all examples, 2 at a time
    python scripts/build_reports.py --out reports/ examples/gaussian.toml
    python scripts/build_reports.py --tex --out reports/      # LaTeX only (no TeX needed)
    python scripts/build_reports.py -v --out reports/         # and show each stage as it runs

Exit status: 0 when every report was built, 1 when a build failed (each failure
is printed with its file:line: LaTeX messages), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_one(
    source: str, out_dir: str, tex_only: bool, verbose: bool = False
) -> tuple[str, str, float, str]:
    """(example, output path, seconds, error message or "")."""
    import symcalc as sc
    from symcalc.errors import SymcalcError

    start = time.perf_counter()
    name = Path(source).stem
    target = Path(out_dir) / (name + (".tex" if tex_only else ".pdf"))

    def progress(message: str) -> None:
        if verbose:
            print(f"  {name}: {message}", flush=True)

    try:
        report = sc.report(source, progress=progress)
        progress("building the PDF with latexmk" if not tex_only else "writing the LaTeX")
        if tex_only:
            report.write_tex(target)
        else:
            report.to_pdf(target)
    except SymcalcError as exc:
        return source, str(target), time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    except Exception:  # noqa: BLE001 - report every example, do not stop at the first
        import traceback

        return source, str(target), time.perf_counter() - start, traceback.format_exc(limit=-4)
    return source, str(target), time.perf_counter() - start, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", help="problem files (default: examples/*.toml)")
    parser.add_argument(
        "--out", "-o", default="reports", help="output directory (default: reports/)"
    )
    parser.add_argument("--tex", action="store_true", help="write .tex only, do not run LaTeX")
    parser.add_argument("--jobs", "-j", type=int, default=2, help="parallel builds (default: 2)")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="print each stage of each build"
    )
    args = parser.parse_args(argv)
    sources = args.examples or sorted(str(p) for p in (ROOT / "examples").glob("*.toml"))
    if not sources:
        print("no examples found", file=sys.stderr)
        return 2
    Path(args.out).mkdir(parents=True, exist_ok=True)
    failed = 0
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(build_one, s, args.out, args.tex, args.verbose) for s in sources]
        for fut in futures:
            source, target, seconds, error = fut.result()
            name = Path(source).name
            if error:
                failed += 1
                print(f"FAILED {name} ({seconds:.1f} s)\n{error}", file=sys.stderr)
            else:
                print(f"built  {target}  ({seconds:.1f} s)")
    print(f"{len(sources) - failed} of {len(sources)} reports built in {args.out}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
