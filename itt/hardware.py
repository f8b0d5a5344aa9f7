"""What the settings left at ``auto`` become on this machine: device, precision, padding, dropout.

A run's id hashes these *effective* values, not the literal ``auto``: the same config on a CPU node
(bf16 autocast, hashed dropout masks, no padding multiple) and on a GPU node (bf16 or fp16, torch's
dropout, multiples of 8) computes different numbers, so it is a different run. Everything here works
before torch is imported (the cached-rerun path answers from the ledger without importing it); once
torch is imported its own answers are used, and the pipeline checks that both agree.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

CPU_ACCELERATORS = ("cpu",)


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@functools.lru_cache(maxsize=None)
def _nvidia_compute_capabilities() -> tuple[float, ...]:
    """Compute capability of each visible GPU from ``nvidia-smi`` (no torch import), () if none."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "" or shutil.which("nvidia-smi") is None:
        return ()
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return tuple(float(line) for line in out.split() if line.strip())
    except (OSError, subprocess.SubprocessError, ValueError):
        return ()


def cuda_available() -> bool:
    if "torch" in sys.modules:
        return sys.modules["torch"].cuda.is_available()
    return bool(_nvidia_compute_capabilities())


def cuda_bf16() -> bool:
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    caps = _nvidia_compute_capabilities()
    return bool(caps) and min(caps) >= 8.0


def device_type(accelerator: str = "auto") -> str:
    """``cuda`` or ``cpu``: where ``trainer.accelerator`` puts the run on this machine."""
    if str(accelerator) in CPU_ACCELERATORS:
        return "cpu"
    return "cuda" if cuda_available() else "cpu"


def device_name(device: str) -> str:
    """The device as the ledger records it, e.g. ``cpu`` or ``cuda (NVIDIA A100-SXM4-40GB)``."""
    if device != "cuda" or "torch" not in sys.modules:
        return device
    return f"cuda ({sys.modules['torch'].cuda.get_device_name(0)})"


def precision(setting, device: str) -> str:
    """``trainer.precision``: ``auto`` is bf16 autocast where the hardware does bf16 matmuls natively
    (CPUs with avx512_bf16/AMX, Ampere+ GPUs), fp16 on older GPUs, else fp32."""
    if str(setting) != "auto":
        return str(setting)
    if device == "cuda":
        return "bf16-mixed" if cuda_bf16() else "16-mixed"
    return "bf16-mixed" if cpu_has_bf16() else "32-true"


def pad_multiple(setting, device: str) -> int:
    """``data.pad_to_multiple_of``: ``auto`` is 8 on GPUs (tensor cores work on multiples of 8) and 1 on
    CPUs, where a step's time grows with every padded column (MiniLM, bf16 on the 2-core dev CPU: ~12 ms
    more per padded column, no dip at multiples of 8). An int (null: 1) is used as given."""
    if setting in (None, "null"):
        return 1
    if setting == "auto":
        return 8 if device == "cuda" else 1
    return positive_int("data.pad_to_multiple_of", setting, 8)


def positive_int(key: str, setting, example: int, auto: bool = True) -> int:
    """``setting`` if it is a positive int, else a one-line ConfigError naming ``key`` (and ``auto`` where
    the key also takes it)."""
    if isinstance(setting, int) and not isinstance(setting, bool) and setting >= 1:
        return setting
    from itt.errors import ConfigError  # noqa: PLC0415

    valid = "auto, or a positive int" if auto else "a positive int"
    raise ConfigError(f"{key}={setting!r} is not valid; use {valid} such as {example}")


#: ``data.eval_batch_size``'s default (``conf/data/default.yaml``): the value runs hash as no setting.
DEFAULT_EVAL_BATCH_SIZE = 64

#: The mask hash of ``model.fast_dropout`` (``itt.models.fast_dropout``). A new hash gets a new name, so
#: run ids change with it and rows of an earlier hash are never served as cached runs of this one.
FAST_DROPOUT = "hash64"


def dropout_kind(fast_dropout: bool, device: str) -> str:
    """Which dropout masks a training run draws: ``FAST_DROPOUT`` (``model.fast_dropout`` on a CPU) or
    ``torch``'s own (off, or any GPU, whose fused dropout is already fast)."""
    return FAST_DROPOUT if fast_dropout and device == "cpu" else "torch"


def numerics(trainer_cfg, data_cfg, model_cfg) -> dict:
    """The effective values that change a run's numbers: what its id hashes and its row records."""
    device = device_type(trainer_cfg.get("accelerator", "auto"))
    out = {"device": device, "precision": precision(trainer_cfg.get("precision", "auto"), device),
           "pad_to_multiple_of": pad_multiple(data_cfg.get("pad_to_multiple_of", "auto"), device),
           "dropout": dropout_kind(bool(model_cfg.get("fast_dropout", False)), device)}
    eval_batch = data_cfg.get("eval_batch_size", DEFAULT_EVAL_BATCH_SIZE)
    if eval_batch != DEFAULT_EVAL_BATCH_SIZE:  # only when changed: the ids of runs at the default stay as they were
        # Batches pad to their longest row, so another eval batch size sums other (masked) columns: logits
        # move in the last bits (MiniLM on XNLI: up to 5e-4 in bf16, 7e-8 in fp32), and with them
        # the validation metric that picks the best epoch.
        out["eval_batch_size"] = positive_int("data.eval_batch_size", eval_batch, DEFAULT_EVAL_BATCH_SIZE, auto=False)
    if model_cfg.get("eager_attention", False):  # only when on: the ids of runs with SDPA stay as they were
        if out["dropout"] == FAST_DROPOUT:
            from itt.errors import ConfigError  # noqa: PLC0415

            # The hashed masks replace attention dropout inside SDPA only: with eager attention the row
            # would say "hash64" while 6 of MiniLM's 20 dropouts stayed torch's.
            raise ConfigError("model.eager_attention=true and model.fast_dropout=true cannot be combined "
                              "(the hashed dropout covers SDPA attention only); set one of them to false")
        out["attention"] = "eager"
    return out
