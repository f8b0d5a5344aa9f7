"""Progress on an interactive terminal, quiet logs elsewhere: a single run under a pseudo-terminal shows
Lightning's bar with samples/s and the validation metric; the same command as a sweep, or with output to
a file, shows none."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest
from conftest import ITT_TINY, REPO, itt_env, run_itt

COMMAND = ("model=bert", "task=sentiment", "+stage=target", "stage.itt=false", *ITT_TINY)


def _under_a_terminal(args: list[str], env: dict | None = None) -> str:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # a real terminal has a size
    proc = subprocess.Popen([sys.executable, "-m", "itt.train", *args], stdin=slave, stdout=slave, stderr=slave,
                            cwd=REPO, env=itt_env(env), close_fds=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=300) == 0, out.decode(errors="replace")[-3000:]
    return out.decode(errors="replace")


@pytest.mark.slow
def test_a_single_run_on_a_terminal_shows_a_bar_a_sweep_does_not(tmp_path):
    single = _under_a_terminal([*COMMAND, f"paths.root={tmp_path / 'single'}"])
    assert "Epoch 0" in single and "samples/s=" in single and "val/acc=" in single, single[-2000:]
    assert "tokenize " in single  # data preparation (datasets' map bars) shows progress too
    under_slurm = _under_a_terminal([*COMMAND, f"paths.root={tmp_path / 'slurm'}"], env={"SLURM_JOB_ID": "1"})
    assert "samples/s=" not in under_slurm and "Epoch 0:" not in under_slurm and "tokenize " not in under_slurm
    sweep = _under_a_terminal(["-m", *COMMAND, "seed=0,1", f"paths.root={tmp_path / 'sweep'}"])
    assert "samples/s=" not in sweep and "Epoch 0:" not in sweep
    logged = run_itt(*COMMAND, root=tmp_path / "file")  # output to a pipe: quiet
    assert logged.returncode == 0 and "samples/s=" not in logged.stdout + logged.stderr
    # torch 2.13 deprecates the LeafSpec Lightning 2.6 builds in every run: noise about library code
    assert "LeafSpec" not in logged.stderr, logged.stderr[-2000:]
    assert "tokenize " not in logged.stdout + logged.stderr
