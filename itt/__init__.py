"""itt: when does intermediate-task training help, and when does it hurt?

Entry points: ``python -m itt.train`` (one run or a Hydra multirun sweep), ``python -m itt.report``
(comparison tables and plots from the ledger), ``python -m itt.bench`` (throughput side by side).
"""

import os

__version__ = "0.1.0"

# Before torch is imported (every entry point imports itt first): how OpenMP threads wait between the
# parallel regions of a step. Spinning long (libgomp's default is 300,000 rounds) they steal the cores
# other processes compute on (sweep jobs, a shared machine: at 100,000 rounds MiniLM trained 5x slower
# next to one busy core); sleeping at once, every region pays for waking them (MiniLM 20-30 % slower
# on an idle machine). So GNU OpenMP (torch's pip wheels) spins 3,000 rounds before sleeping; Intel and
# LLVM OpenMP sleep at once. Figures: itt/bench/NOTES.md. Set either variable yourself to choose.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ["GOMP_SPINCOUNT"] = "3000"  # libgomp reads it over OMP_WAIT_POLICY
