"""Per-step timing of a training contender: every contender reports, per optimizer step, when it
ended (wall and process CPU time) and the batch it trained on; the timed window is read from that."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class StepLog:
    ends: list[float] = field(default_factory=list)      # perf_counter at the end of each step
    cpu: list[float] = field(default_factory=list)       # process CPU time (all threads) then
    samples: list[int] = field(default_factory=list)     # rows in each step's batch
    tokens: list[int] = field(default_factory=list)      # real (non-pad) tokens
    padded: list[int] = field(default_factory=list)      # tokens incl. padding (batch x padded length)
    pauses: list[tuple[float, float, float, float]] = field(default_factory=list)  # epoch-end validation/checkpoint
    _pause: tuple[float, float] | None = None

    def step_end(self) -> None:
        self.ends.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def pause_begin(self) -> None:
        self._pause = (time.perf_counter(), time.process_time())

    def pause_end(self) -> None:
        if self._pause is not None:
            self.pauses.append((self._pause[0], time.perf_counter(), self._pause[1], time.process_time()))
            self._pause = None

    def add_batch(self, batch) -> None:
        mask = batch["attention_mask"]
        self.samples.append(int(mask.shape[0]))
        self.tokens.append(int(mask.sum()))
        self.padded.append(int(mask.numel()))

    def window(self, warmup: int, steps: int) -> dict:
        """Figures of steps ``warmup + 1 .. warmup + steps`` (from the end of step ``warmup``), with the
        epoch-end pauses inside the window (itt's validation and checkpoints) taken out."""
        if len(self.ends) < warmup + steps:
            raise RuntimeError(f"only {len(self.ends)} steps were recorded, {warmup + steps} expected")
        first, last = warmup - 1, warmup + steps - 1
        inside = [p for p in self.pauses if self.ends[first] <= p[0] and p[1] <= self.ends[last]]
        seconds = self.ends[last] - self.ends[first] - sum(p[1] - p[0] for p in inside)
        cpu_seconds = self.cpu[last] - self.cpu[first] - sum(p[3] - p[2] for p in inside)
        rows = sum(self.samples[warmup:warmup + steps])
        return {"seconds": seconds, "samples": rows, "samples_per_s": rows / seconds,
                "samples_per_cpu_s": rows / cpu_seconds,
                "padded_tokens_per_s": sum(self.padded[warmup:warmup + steps]) / seconds,
                "padding_efficiency": sum(self.tokens[warmup:warmup + steps]) / sum(self.padded[warmup:warmup + steps]),
                "paused_s": sum(p[1] - p[0] for p in inside)}


class Stopwatch:
    """Wall and process CPU seconds of a block (``with Stopwatch() as t: ...; t.seconds, t.cpu_seconds``)."""

    def __enter__(self) -> "Stopwatch":
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.process_time() - self._cpu
