"""``python tests/requeue_driver.py <phase> <itt.train overrides>``: ``python -m itt.train`` that sends itself SLURM's
requeue signal (USR1, sent 120 s before the time limit) once, at one phase of its run:

- ``build``: while the run loads its data and model, before the fit;
- ``fit``: in the fit's last step (a validation follows it);
- ``test``: in the best checkpoint's test, after the fit;
- ``export``: inside the model export (before its folder is swapped in);
- ``ledger``: inside the ledger append (before the row's bytes are written).
"""

from __future__ import annotations

import os
import signal
import sys

import pytorch_lightning as pl

from itt import cli, ledger, pipeline, train

sent = []


def send() -> None:
    if not sent and os.environ.get("SLURM_RESTART_COUNT", "0") == "0":  # on a real cluster: the first attempt only
        sent.append(True)
        os.kill(os.getpid(), signal.SIGUSR1)


class Signal(pl.Callback):
    def __init__(self, phase: str):
        self.phase = phase

    def on_before_optimizer_step(self, trainer, *args):
        if self.phase == "fit" and trainer.global_step == trainer.estimated_stepping_batches - 1:
            send()

    def on_test_batch_start(self, *args):
        if self.phase == "test":
            send()


class SignalOnWrite:
    """``os`` for itt.ledger, whose ``write`` signals first."""

    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def write(fd, data):
        send()
        return os.write(fd, data)


def patch(phase: str) -> None:
    if phase == "build":
        build_run = pipeline.build_run

        def build_run_signalled(*args, **kwargs):
            send()
            return build_run(*args, **kwargs)

        pipeline.build_run = build_run_signalled
    elif phase == "export":
        swap_in = pipeline._swap_in

        def swap_in_signalled(staging, final):
            if final.name == "model":
                send()
            return swap_in(staging, final)

        pipeline._swap_in = swap_in_signalled
    elif phase == "ledger":
        ledger.os = SignalOnWrite()
    elif phase in ("fit", "test"):
        build_trainer = pipeline.build_trainer

        def build_trainer_signalling(*args, **kwargs):
            trainer, checkpoint = build_trainer(*args, **kwargs)
            trainer.callbacks.append(Signal(phase))
            return trainer, checkpoint

        pipeline.build_trainer = build_trainer_signalling
    elif phase != "none":
        raise SystemExit(f"unknown phase {phase!r}")


if __name__ == "__main__":
    patch(sys.argv[1])
    sys.argv = ["itt.train", *sys.argv[2:]]
    cli.run(train.main)
