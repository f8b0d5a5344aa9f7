"""Rows per second of every embedded generator (itt.data.embedded), one language and domain each.

    python scripts/bench_embedded.py [--rows 20000] [--lang en]

Prints one line per generator: CPU seconds (best of --repeat) and rows/s. A benchmark, not a test:
nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

from itt.data.embedded import GENERATORS, domains, generate, langs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--lang", default="en", help="used where the generator has it (parallel: its first language)")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    for name in GENERATORS:
        lang = args.lang if args.lang in langs(name) else langs(name)[0]
        domain = domains(name)[0]
        best = float("inf")
        for _ in range(args.repeat):
            start = time.process_time()  # CPU time: other busy processes do not count
            generate(name, lang, domain, args.rows, seed=0)
            best = min(best, time.process_time() - start)
        print(f"{name:<11} {lang} {domain:<10} {args.rows} rows  {best:6.2f} s  {args.rows / best:9.0f} rows/s")


if __name__ == "__main__":
    main()
