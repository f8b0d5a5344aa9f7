"""torch's own CPU dropout masks, drawn ~10x faster (``model.compiled_bernoulli``, on by default).

Why: on CPU, ``torch.nn.functional.dropout`` (and SDPA's math path, which the CPU's attention takes when
dropout is on) draws each mask with ``Tensor.bernoulli_``. Where torch has no vectorised generator for
it (every CPU but Intel's with MKL: AMD, ARM), that kernel is a serial loop over its Mersenne Twister,
two 32-bit draws per element: 17.5 % of a MiniLM step on PAWS-X here (itt/bench/NOTES.md).

What: the same loop in C (``compiled_bernoulli.c``), with the generator's 624-word refill and tempering
written so the compiler vectorises them: 0.6-0.8 ns per element against torch's 6-8 ns on this CPU
(``python -m itt.models.compiled_bernoulli``). It reads the generator's state with ``get_state``,
draws, and writes the state back with ``set_state``, so every mask and every later draw from that
generator is the one torch would have made: the numbers do not change, and neither does the run id.

Checked, not assumed: before it is registered, each process runs torch's kernel and this one on the
same generator state (10 dtypes, contiguous, transposed and strided tensors, block-crossing sizes) and
compares values and the generator state after. Any difference (e.g. Intel CPUs, where torch takes
MKL's stream), no C compiler, or a failed build: torch's kernel stays, with one log line.

Where: registered with ``torch.library`` as the CPU kernel of ``aten::bernoulli_.float``, so the
dropout calls inside torch's C++ (``at::dropout``, SDPA) reach it, from ``ITTModule.setup`` to
``teardown`` (Lightning skips ``teardown`` when ``fit`` raises: then it stays until the next run's
``setup`` applies the setting or the process ends; the masks are torch's either way). The library is
built once per source and compiler into ``$XDG_CACHE_HOME/itt`` (default ``~/.cache/itt``), as torch
builds its own extensions into ``~/.cache/torch_extensions``; it is plain C loaded with ``ctypes``, so
the build takes under a second and needs no torch headers. ``CC`` names the compiler (``cc`` if unset;
a command with arguments, e.g. ``ccache gcc``, is split as a shell would).

Not covered: torch's kernels hold the generator's lock for a whole draw; this one cannot take that lock
from Python, so get_state -> draw -> set_state is atomic only against itself. A draw by torch's own
kernels (``torch.rand``, ...) from the same generator in another thread while a mask is drawn is
overwritten: both threads get the same stream. Training draws from one thread, so it does not meet this.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import math
import os
import platform
import shlex
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_suffix(".c")
FLAGS = ("-O3", "-shared", "-fPIC")  # no -march: one build serves every CPU; the source picks per CPU (target_clones)
# The bit pattern of 1 in each dtype torch's CPU bernoulli_ accepts (0 is all zero bits in each).
ONE_BITS = {torch.float32: 0x3F800000, torch.float64: 0x3FF0000000000000, torch.bfloat16: 0x3F80,
            torch.float16: 0x3C00, torch.bool: 1, torch.uint8: 1, torch.int8: 1, torch.int16: 1,
            torch.int32: 1, torch.int64: 1}

_lock = threading.Lock()  # get_state -> draw -> set_state is one step for the generator
_library: torch.library.Library | None = None  # the registration while installed
_kernel: ctypes._CFuncPtr | None = None
_usable: bool | None = None  # built and equal to torch's kernel in this process (None: not tried yet)


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "itt"


def _build() -> Path:
    """The shared library for this source and compiler, compiled once (atomically: a sweep's parallel
    jobs may race to build it)."""
    compiler = shlex.split(os.environ.get("CC") or "cc")
    version = subprocess.run([*compiler, "--version"], capture_output=True, text=True, check=True).stdout
    key = hashlib.sha1(SOURCE.read_bytes() + " ".join(FLAGS).encode() + version.encode()
                       + platform.machine().encode()).hexdigest()[:12]
    target = _cache_dir() / f"compiled_bernoulli-{key}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            built = Path(tmp) / target.name
            subprocess.run([*compiler, *FLAGS, "-o", str(built), str(SOURCE)],
                           capture_output=True, text=True, check=True)
            os.replace(built, target)
    return target


def _load() -> ctypes._CFuncPtr:
    kernel = ctypes.CDLL(str(_build())).itt_bernoulli
    kernel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_uint64,
                       ctypes.c_uint64]
    kernel.restype = None
    return kernel


def _memory_order(t: torch.Tensor) -> torch.Tensor:
    """``t`` viewed with its dimensions by decreasing stride: the order torch's element loop visits a
    tensor it writes (contiguous, transposed, channels-last or strided alike)."""
    order = sorted(range(t.dim()), key=t.stride, reverse=True)
    return t.permute(order)  # a list: permute() of no dimensions (a 0-dim tensor) is a TypeError


def bernoulli_(self: torch.Tensor, p: float = 0.5, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``Tensor.bernoulli_(p)`` on a CPU tensor, with torch's values and generator state."""
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    if self.dtype not in ONE_BITS:
        raise RuntimeError(f'"bernoulli_scalar_cpu_" not implemented for {self.dtype}')
    if self.numel() and any(s == 0 and n > 1 for s, n in zip(self.stride(), self.shape)):  # torch: empty ones pass
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to "
                           "a single memory location. Please clone() the tensor before performing the operation.")
    ordered = _memory_order(self)
    out = ordered if ordered.is_contiguous() else torch.empty(ordered.shape, dtype=self.dtype)
    generator = generator if generator is not None else torch.default_generator
    with _lock:
        state = generator.get_state()
        _kernel(state.data_ptr(), out.data_ptr(), out.numel(), out.element_size(), ONE_BITS[self.dtype],
                math.ceil(p * 2.0 ** 53))
        generator.set_state(state)
    if out is not ordered:
        ordered.copy_(out)
    return self


def _layouts(dtype: torch.dtype) -> list[torch.Tensor]:
    base = torch.zeros(6, 10, 21, dtype=dtype)  # 1,260 elements: 2,520 draws cross the 624-word refills
    return [torch.zeros(1249, dtype=dtype), torch.zeros(0, dtype=dtype), base, base.transpose(0, 2),
            base[1:5, ::3, 2:], torch.zeros(2, 3, 4, 5, dtype=dtype).to(memory_format=torch.channels_last)]


def matches_torch() -> bool:
    """Whether ``bernoulli_`` gives torch's values and leaves torch's generator state, on every dtype and
    on several layouts and probabilities. Run while torch's own kernel is still the registered one."""
    for i, dtype in enumerate(ONE_BITS):
        for j, (theirs, mine) in enumerate(zip(_layouts(dtype), _layouts(dtype))):
            for p in (0.9, 0.5, 0.0, 1.0):
                seed = 1000 * i + 10 * j
                g_theirs, g_mine = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
                torch.rand(seed % 37, generator=g_theirs), torch.rand(seed % 37, generator=g_mine)  # off a refill
                theirs.bernoulli_(p, generator=g_theirs)
                bernoulli_(mine, p, generator=g_mine)
                if not (torch.equal(theirs, mine) and torch.equal(g_theirs.get_state(), g_mine.get_state())):
                    return False
    return True


def usable() -> bool:
    """Whether the compiled kernel can stand in for torch's here: built, loaded and compared with torch's
    kernel once per process; when it cannot, the reason goes to the log."""
    global _kernel, _usable
    if _usable is None:
        try:
            _kernel = _load()
            _usable = matches_torch()
            reason = "its masks differ from torch's on this machine (e.g. torch's MKL path on Intel CPUs)"
        except (OSError, subprocess.CalledProcessError) as error:
            detail = (getattr(error, "stderr", None) or str(error)).strip().splitlines() or [str(error)]
            _usable, reason = False, f"it could not be built ({detail[0]})"  # the first line: the log line stays one
        except RuntimeError as error:  # torch refused the state it left (e.g. a torch whose state is laid out otherwise)
            _usable, reason = False, f"torch rejected the generator state it left ({error})"
        if not _usable:
            log.info("model.compiled_bernoulli: torch's own dropout kernel is used (same masks, slower): %s", reason)
    return _usable


def install() -> bool:
    """Route CPU ``bernoulli_`` (and so dropout) to the compiled kernel, if it matches torch's here.
    Returns whether it is installed. Idempotent."""
    global _library
    if _library is None and usable():
        _library = torch.library.Library("aten", "IMPL")
        with warnings.catch_warnings():  # torch warns that a registered kernel is overridden: that is the point
            warnings.simplefilter("ignore")
            _library.impl("bernoulli_.float", bernoulli_, "CPU")
    return _library is not None


def uninstall() -> None:
    """Give CPU ``bernoulli_`` back to torch's kernel."""
    global _library
    if _library is not None:
        _library._destroy()
        _library = None


def apply(enabled: bool, device) -> bool:
    """The ``model.compiled_bernoulli`` setting for a model trained on ``device`` (a CPU only)."""
    if not enabled or torch.device(device).type != "cpu":
        uninstall()
        return False
    return install()


if __name__ == "__main__":  # per-element cost, torch's kernel against this one
    import time

    x = torch.empty(32 * 128 * 384, dtype=torch.bfloat16)
    assert usable(), "the compiled kernel is not usable here (see the log)"
    for name, draw in (("torch", lambda: x.bernoulli_(0.9)), ("compiled", lambda: bernoulli_(x, 0.9))):
        draw()
        start = time.perf_counter()
        for _ in range(20):
            draw()
        seconds = (time.perf_counter() - start) / 20
        print(f"{name:9s} {seconds * 1e3:6.2f} ms for {x.numel():,} bf16 elements, {seconds / x.numel() * 1e9:.2f} ns each")
