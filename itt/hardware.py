"""What the settings left at ``auto`` become on this machine, and the machine as its kernels see it.

A run's id hashes these *effective* values, not the literal ``auto``: the same config on a CPU node
(bf16 autocast, no padding multiple) and on a GPU node (bf16 or fp16, multiples of 8) computes different
numbers, so it is a different run. It also hashes :func:`machine`: the kernels torch dispatches to (the CPU's
vector and bf16 instruction sets, or the GPUs' compute capability) and what sets the CPU thread count. Each
of these changes the numbers of the same config on its own (``itt/bench/NOTES.md``, "Numerics by machine"):
bf16 logits by up to 4e-4 between oneDNN's avx512_bf16 kernels and their emulation, fp32 logits by 5e-8
between ATen's AVX2 and AVX-512 kernels, gradients by 1e-9 between 1 and 2 threads. Everything here works
before torch is imported (the cached-rerun path answers from the ledger without importing it) and gives
the same answer after (the CPU key is taken once per process, before Lightning can change the thread
variables; GPUs are read as torch sees them), so the run id computed in both places is the same.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

CPU_ACCELERATORS = ("cpu",)


def cpu_has_bf16() -> bool:
    flags = _cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


#: Environment variables that choose which kernels torch's CPU ops run: part of the machine key when set
#: (ATen's vector ISA, oneDNN's and MKL's ISA caps, MKL's reproducibility mode).
KERNEL_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR")
#: The variables torch's default intra-op thread count follows (the smaller, when both are set).
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _cpuinfo_text() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _cpuinfo() -> dict[str, str]:
    """The first processor's ``key: value`` lines of ``/proc/cpuinfo`` ({} where there is none)."""
    out = {}
    for line in _cpuinfo_text().split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _cpu_flags() -> set[str]:
    return set(_cpuinfo().get("flags", "").split())


def cpu_kernels() -> str:
    """The CPU as torch's kernels see it: its vendor, the vector ISA ATen dispatches to (torch's own rule:
    AVX-512 with the F/BW/VL/DQ extensions, else AVX2 with FMA) and the ISA of oneDNN's bf16 matrix products
    (AMX, AVX512-BF16, or none: emulated), e.g. ``AuthenticAMD avx512 bf16=avx512_bf16``. Elsewhere than
    x86 Linux: the architecture and what the platform says of the processor."""
    info = _cpuinfo()
    flags = _cpu_flags()
    if not flags:
        features = " ".join(sorted(set(info.get("Features", "").split()) & {"asimd", "sve", "sve2", "bf16", "i8mm"}))
        return " ".join(p for p in (platform.machine(), platform.processor(), features) if p)
    vector = ("avx512" if {"avx512f", "avx512bw", "avx512vl", "avx512dq", "fma"} <= flags
              else "avx2" if {"avx2", "fma"} <= flags else "default")
    bf16 = "amx" if {"amx_bf16", "amx_tile"} <= flags else "avx512_bf16" if "avx512_bf16" in flags else "none"
    return f"{info.get('vendor_id', platform.machine())} {vector} bf16={bf16}"


def cpu_count() -> int:
    """CPUs this process may run on (its affinity, e.g. a SLURM allocation): torch's default thread count
    follows from it when no :data:`THREAD_ENV` variable is set."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_threads() -> dict:
    """What torch's default intra-op thread count is taken from: ``{"threads": n}`` when ``OMP_NUM_THREADS``
    or ``MKL_NUM_THREADS`` sets it (torch starts with the smaller), else ``{"cpus": n}`` (:func:`cpu_count`)."""
    told = []
    for name in THREAD_ENV:
        try:
            told.append(int(os.environ[name]))
        except (KeyError, ValueError):
            continue
    return {"threads": min(told)} if told else {"cpus": cpu_count()}


def gpu_kinds() -> list[str]:
    """Each kind of visible GPU once, sorted, as ``<name> (<compute capability>)``, e.g.
    ``NVIDIA A100-SXM4-40GB (8.0)``. cuBLAS and cuDNN choose kernels by the architecture and by the GPU's
    size (an A30 and an A100 are both 8.0; an H100 PCIe has fewer multiprocessors than an SXM one), so the
    name is in it, not the capability alone. The same from torch and, before torch is imported, from
    ``nvidia-smi`` (which lists every GPU of the node unless told which)."""
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        cuda = sys.modules["torch"].cuda
        kinds = {f"{cuda.get_device_name(i)} ({'.'.join(map(str, cuda.get_device_capability(i)))})"
                 for i in range(cuda.device_count())}
    else:
        kinds = {f"{name} ({cap:.1f})" for name, cap in _nvidia_gpus()}
    return sorted(kinds)


#: Encoders narrower than this train on one CPU thread (``itt.trainer.auto_threads``): their ops are too small
#: to split, so extra threads only add synchronisation (2 threads were 1.8-3x slower than 1 on a 2-core CPU).
TINY_HIDDEN_SIZE = 256


def one_thread_for(hidden_size: int | None) -> bool:
    """Whether an encoder of ``hidden_size`` trains on one CPU thread whatever the CPU count: it is tiny, and
    the process started without a thread variable (:data:`THREAD_ENV`, which wins when set: the SLURM launcher
    sets it). Read from the process's machine key, so Lightning's DDP launcher setting ``OMP_NUM_THREADS``
    later changes nothing, and its workers (which take their parent's key) decide alike."""
    return hidden_size is not None and hidden_size < TINY_HIDDEN_SIZE and "cpus" in json.loads(cpu_machine())


def machine(device: str, hidden_size: int | None = None) -> dict:
    """What of this machine changes a run's numbers besides its settings: on a CPU, :func:`cpu_kernels`,
    :func:`cpu_threads` and the :data:`KERNEL_ENV` variables that are set (as the process found them:
    :func:`cpu_machine`); on GPUs, their compute capability. ``hidden_size``: the encoder's, where known
    before it loads; one that trains on one thread whatever the CPU count (:func:`one_thread_for`,
    ``itt.trainer.auto_threads``) is keyed as one thread."""
    if device == "cuda":
        return {"gpu": gpu_kinds()}
    key = json.loads(cpu_machine())
    if one_thread_for(hidden_size):
        del key["cpus"]
        key["threads"] = 1
    return key


#: How a process hands its CPU key to the DDP workers Lightning starts from it: ``<its pid>:<key>``.
INHERITED = "ITT_CPU_MACHINE"


@functools.lru_cache(maxsize=None)
def cpu_machine() -> str:
    """The CPU part of :func:`machine` (JSON), taken once per process: Lightning's DDP launcher sets
    ``OMP_NUM_THREADS`` when it starts its workers, which must not move the run id of a process that has
    already computed it. The workers it starts (children with a ``LOCAL_RANK`` above 0) take their
    parent's key, so every process of a DDP run names the same run directory."""
    inherited = os.environ.get(INHERITED, "")
    parent, _, key = inherited.partition(":")
    if key and parent == str(os.getppid()) and os.environ.get("LOCAL_RANK", "0") != "0":
        return key
    key = json.dumps({"cpu": cpu_kernels(), **cpu_threads(),
                      **{k: os.environ[k] for k in KERNEL_ENV if k in os.environ}}, sort_keys=True)
    os.environ[INHERITED] = f"{os.getpid()}:{key}"
    return key


@functools.lru_cache(maxsize=None)
def _nvidia_gpus() -> tuple[tuple[str, float], ...]:
    """(name, compute capability) of each visible GPU from ``nvidia-smi`` (no torch import), () if none. Only
    the GPUs ``CUDA_VISIBLE_DEVICES`` names, as torch sees them (nvidia-smi itself lists every GPU of the node)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", None)
    if visible == "" or shutil.which("nvidia-smi") is None:
        return ()
    only = [f"--id={visible}"] if visible is not None else []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader", *only],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        rows = [line.rsplit(",", 1) for line in out.splitlines() if line.strip()]
        return tuple((name.strip(), float(cap)) for name, cap in rows)
    except (OSError, subprocess.SubprocessError, ValueError):
        return ()


def cuda_available() -> bool:
    if "torch" in sys.modules:
        return sys.modules["torch"].cuda.is_available()
    return bool(_nvidia_gpus())


def cuda_bf16() -> bool:
    """Native bf16 on every visible GPU (compute capability 8.0 or more: Ampere and newer), by the same rule
    before torch is imported (nvidia-smi) and after, so a run has one id. Not ``torch.cuda.is_bf16_supported()``:
    it also says yes below 8.0, where bf16 is emulated (slow, and other numbers than fp16 with a scaler)."""
    if "torch" in sys.modules:
        cuda = sys.modules["torch"].cuda
        return cuda.is_available() and all(cuda.get_device_capability(i)[0] >= 8 for i in range(cuda.device_count()))
    caps = [cap for _, cap in _nvidia_gpus()]
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
