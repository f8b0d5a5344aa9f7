"""itt: when does intermediate-task training help, and when does it hurt?

Entry points: ``python -m itt.train`` (one run or a Hydra multirun sweep), ``python -m itt.report``
(comparison tables and plots from the ledger), ``python -m itt.bench`` (throughput side by side).
"""

__version__ = "0.1.0"
