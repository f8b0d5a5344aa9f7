"""itt: when does intermediate-task training help, and when does it hurt?

Entry points: ``python -m itt.train`` (one run or a Hydra multirun sweep), ``python -m itt.report``
(comparison tables and plots from the ledger), ``python -m itt.bench`` (throughput side by side).
"""

import os

__version__ = "0.1.0"

# Before torch is imported (every entry point imports itt first): OpenMP threads that finish a parallel
# region sleep instead of spinning for milliseconds. Spinning threads steal the cores that other
# processes (sweep jobs, a shared machine) are computing on: MiniLM trained 3.5x faster with 2 threads
# under load on the 2-core dev machine (itt/bench/NOTES.md). OMP_WAIT_POLICY=ACTIVE restores it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
