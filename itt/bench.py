"""``python -m itt.bench``: training throughput of itt next to the Hugging Face Trainer and a bare loop.

One process, one model, one data set, one batch size, one precision; four ways to train it:

(a) ``itt``         itt's own path: ``ITTDataModule`` + ``ITTModule`` + ``build_trainer`` (Lightning),
                    exactly as ``itt.pipeline`` builds them (config composed from ``conf/``);
(b) ``hf``          ``transformers.Trainer``, random sampling;
(c) ``hf_grouped``  ``transformers.Trainer`` with ``train_sampling_strategy="group_by_length"``;
(d) ``bare``        a plain PyTorch loop over itt's own train dataloader (same batches as (a)), with the
                    same optimizer, schedule, clipping and autocast: the floor for (a).

Every contender starts from the same weights (same seed), uses the same optimizer settings (AdamW,
``optim.*``), gradient clipping, precision, dynamic padding (to ``data.pad_to_multiple_of``: auto is 1 on
CPUs, 8 on GPUs) and tokenized data (the tokenization cache), and trains ``warmup + steps`` optimizer
steps. Throughput is measured from the end of step ``warmup`` to the end of step ``warmup + steps``: the
training set holds ``steps`` batches, so the timed window is one epoch's worth of batches for every
sampler. Validation and checkpointing that itt does at an epoch end are subtracted (the HF Trainer here
neither evaluates nor saves). Contenders run in rounds (order rotated each round); each figure is the
median over rounds. After training, each model's validation accuracy is measured the same way for all
(a check that speed costs no quality).

The data are the embedded sentiment stand-in (``itt.data.embedded.generate``: mostly short sentences,
about 10 % paragraph-length reviews). The last line is ``key=value`` pairs.

Reading the figures: "pad eff." (real / padded tokens) and "padded tok/s" separate the two sources of
speed. From ~6,400 training rows on both samplers sort 50 batches together and pad alike; on smaller
sets ``transformers``' shrinks its mega-batches (a quarter of the data) while itt's keeps 50
(``data.mega_batch``). Per padded token, the difference is itt's dropout (``model.fast_dropout``), its
word-embedding gradient (``model.sparse_embedding_grad``) and clipping inside the fused step: the HF
Trainer draws torch's CPU dropout masks, zero-fills a dense embedding gradient and clips in its own pass.
"Per CPU-s" is samples per CPU-second of the whole process (all threads): less sensitive to other
processes on a shared machine than wall-clock throughput.

Notes from profiling (2-core Xeon with AMX/avx512_bf16, shared with other jobs; MiniLM, batch 32, bf16
autocast). Inside itt's training loop (py-spy): backward 42 %, forward 45 %, fused AdamW 6 %, gradient
clipping 5 %, collation and Arrow fetch < 1 %, Lightning and logging < 1 %. By operator
(torch.profiler, with itt's dropout): matrix products 41 % (mm, addmm, bmm), autocast's dtype casts
12 %, dropout masks and masking ~9 %, fused AdamW 6 %, zeroing the dense word-embedding gradient 4 %,
GELU 3.5 %, clipping norms 3 %, LayerNorm 2 %. Changes this led to:

- AdamW is the fused kernel: PyTorch's default on CPU is a Python loop over parameter tensors
  (400 ms vs 67 ms per MiniLM step; the HF Trainer already used ``adamw_torch_fused``).
- ``deterministic=True`` stays, but without torch's NaN-filling of new tensors (+8 % step time).
- OpenMP threads sleep instead of spinning after parallel regions (``OMP_WAIT_POLICY=PASSIVE``, set in
  ``itt/__init__.py``): with other processes on the cores, 2 spinning threads trained MiniLM at 7.5
  samples/s, 1 thread at 29, 2 passive threads at 26 (medians of 3); tiny embedded models get one
  thread (``itt.trainer.auto_threads``): 254 (2 spinning) / 425 (2 passive) / 754 (1 thread) samples/s.
- ``torch.compile`` does not pay here: ~5 min to compile MiniLM's training step (recompiling for
  dynamic lengths), no faster afterwards. Not offered.
- Dropout: ``aten::bernoulli_`` (torch's CPU dropout masks, one Mersenne-Twister draw per element) was
  17-20 % of a MiniLM step, more than AdamW and clipping together. ``itt.models.fast_dropout`` draws the
  masks from a counter-based hash instead: 0.58-0.62 s became 0.47-0.49 s per step (batch 32, 960
  rows); validation accuracy unchanged (8 seeds, one epoch: mean 0.751 vs 0.749 with torch's masks).
- Length grouping and quality: sorting all batches of a small training set together (the old fixed
  50-batch mega-batches) fixes which rows share a batch, and learnt less early on: MiniLM, 640 rows,
  ~1 epoch, 8 seeds, mean validation accuracy 0.75 vs 0.81 with random batches (HF Trainer
  group_by_length: 0.81). Smaller mega-batches did not close the gap (``data.mega_batch=auto``, 5
  batches: 0.76; transformers' own sampler inside itt: 0.77), so the default stays 50, which also
  keeps the demo grid short (250 s vs 321 s with auto, under older padding and dropout defaults;
  190 s with today's). One-epoch accuracy on 137 validation rows is noisy (sd ~0.06 across seeds);
  after 3 epochs, itt's default, the contenders were level (0.892 vs 0.892, 4 seeds).
- Padding: a MiniLM step costs ~12 ms per padded column of a 32-row batch here, with no dip at
  multiples of 8, so ``data.pad_to_multiple_of=auto`` pads to the longest row on CPUs (8 on GPUs).
- Clipping: the fused AdamW divides the gradients by the clipping factor as it reads them
  (``itt.module.clip_norm_in_fused_step``), saving clipping's own pass: 1-3 % of a step (paired A/B
  in one process, 10-16 rounds of 5 steps).
- Masking with bits: ``masked_fill_`` took ~500 us per 32x24x384 bf16 tensor here and a comparison
  into a bool tensor ~160 us. The dropout mask is now compared straight into an integer tensor as wide
  as the float (41 us) and applied as an AND on the float's bits (20 us), same bits out; the attention
  mask is added as a bias (as torch's math path does) instead of filled into the scores. Paired A/B,
  MiniLM steps on 32x24 batches, 12 rounds of 5 steps: 0.952 of the step time.
- The word-embedding gradient (``model.sparse_embedding_grad``): the dense backward's zero fill of a
  new 30522x384 tensor was ~14 ms of a ~300 ms step (page faults included). The sparse backward into a
  kept dense gradient, same values bit for bit: 0.940 of the step time (32x24 batches, 12 rounds) and
  0.944 (32x48, 8 rounds).

Tried and not adopted (same A/B method unless said):
- Keeping big freed blocks in the heap (glibc ``mallopt``): in a bare process the 47 MB word-embedding
  gradient was page-faulted in every step (13,900 faults) and raising the thresholds saved 8-12 %. In
  a process like a real run (data prepared, model loaded) glibc's own thresholds already reuse it in
  most steps: 4 processes each, 220-242 ms per step with glibc's defaults vs 225-240 ms with the
  thresholds raised, for 130 MB more resident memory.
- One fused Q/K/V projection per attention layer: paired ratio 1.009 (24 rounds), no gain.
- The hashed dropout mask compiled with ``torch.compile`` (inductor, one fused kernel): slower than
  the eager ops (forward + backward on 32x23x384 bf16: 2.1 vs 1.3 ms), and a C++ compiler at run time.
- ``deterministic=False``: no faster on CPU (paired ratio deterministic/not 0.97).

Profile of a step now (torch.profiler; MiniLM, 32x24 batches, itt's dropout, embedding gradient and
clipping): matrix products 45 % (at ~340 GFLOP/s, near this CPU's bf16 peak), autocast's dtype casts
12.5 %, fused AdamW 7.6 %, GELU 4.6 %, clipping norms 4.5 % (1.7 of them the word-embedding
gradient), dropout masks 2.9 % (hash, compare, AND), LayerNorm 2.4 %, softmax 1.0 %, the embedding's
sparse backward and row zeroing < 0.4 %. Before this session's masking and embedding changes, masking
was 8 % and the embedding gradient's zero fill 2.4-4 %. At equal batches the HF Trainer runs the same
matrix products; what itt saves is in dropout, masking, the embedding gradient and clipping: a paired
A/B in one process of itt's step against the HF Trainer's (torch dropout, dense embedding backward,
``clip_grad_norm_`` then the fused AdamW), 32x24 batches, 12 rounds: itt 1.28x faster. What is left
would change numerics: bf16 attention scores (as transformers' eager attention computes them under
autocast; itt keeps SDPA's float32 math path), the clipping norm over the touched embedding rows only
(different float summation order), or bf16 sums of the Q/K/V input gradients.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import logging
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

CONTENDERS = ("itt", "hf", "hf_grouped", "bare")
LABELS = {
    "itt": "(a) itt (Lightning)",
    "hf": "(b) HF Trainer, random",
    "hf_grouped": "(c) HF Trainer, group_by_length",
    "bare": "(d) bare PyTorch loop",
}
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m itt.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="minilm",
                   help="minilm (the real all-MiniLM-L6-v2 from its package; default) or an embedded tiny encoder: bert, roberta, xlnet")
    p.add_argument("--steps", type=int, default=12, help="timed optimizer steps per contender and round; the training set holds this many batches (default 12)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before the timed window (default 2)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3, help="rounds, each with its own seed (seed, seed+1, ...: data split, "
                   "initialisation, batch order); each figure is the median over them (default 3)")
    p.add_argument("--epochs", type=int, default=None, help="train this many epochs per contender instead of warmup+steps "
                   "steps (the timed window stays the same): a quality check, slower")
    p.add_argument("--precision", default="auto", help="auto (what itt picks for this hardware), bf16-mixed, 16-mixed, 32-true")
    p.add_argument("--contenders", default=",".join(CONTENDERS), help=f"comma-separated subset of {','.join(CONTENDERS)}")
    p.add_argument("--root", default=None, help="where runs and caches go (default: a temporary folder, removed afterwards)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-eval", action="store_true", help="skip the validation accuracy check")
    p.add_argument("--verbose", action="store_true", help="show the libraries' own output")
    p.add_argument("overrides", nargs="*", help="extra itt config overrides for all contenders, e.g. data.length_grouping=false")
    args = p.parse_args(argv)
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    bad = [c for c in args.contenders if c not in CONTENDERS]
    if bad or not args.contenders:
        p.error(f"--contenders: unknown {bad}; valid: {', '.join(CONTENDERS)}")
    if args.steps < 1 or args.warmup < 1 or args.repeats < 1 or args.batch_size < 1:
        p.error("--steps, --warmup, --repeats and --batch-size must be >= 1")
    return args


# ------------------------------------------------------------------------------------------------
# Timing: every contender reports, per optimizer step, the time it ended and the batch it trained on.
# ------------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------------
# Setup shared by all contenders
# ------------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace, root: Path):
        import torch
        from hydra import compose, initialize_config_dir

        from itt import identity, logger as itt_logger, schema
        from itt.models.loading import load_tokenizer, pretrained_source

        self.args, self.root, self.torch = args, root, torch
        schema.register()
        identity.register_resolvers()
        itt_logger.register_resolvers()
        self.total_steps = max(args.warmup + args.steps, (args.epochs or 0) * args.steps)
        # split=paper holds out ceil(30 %) of the rows; rows chosen so that the training set is `steps` batches
        self.rows = args.steps * args.batch_size
        while self.rows - math.ceil(0.30 * self.rows) < args.steps * args.batch_size:
            self.rows += 1
        overrides = [
            f"model={args.model}", "task=sentiment", "+stage=intermediate", "source=embedded", "logger=csv",
            f"paths.root={root}", f"seed={args.seed}", f"data.batch_size={args.batch_size}",
            f"trainer.precision={args.precision}", f"trainer.max_steps={self.total_steps}", "trainer.max_epochs=-1",
            f"task.datasets.intermediate.embedded_rows={self.rows}",
        ]
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            self.cfg = compose("train", overrides=overrides + list(args.overrides))
        self.spec = identity.resolve(self.cfg)
        self.precision = identity.numerics(self.spec)["precision"]
        cfg = self.cfg
        self.pretrained = pretrained_source(cfg.model, cfg.source.name, cfg.paths.cache, cfg.source.hub_timeout_s)
        self.tokenizer = load_tokenizer(self.pretrained, cfg.model.trust_remote_code)

    # -- data -------------------------------------------------------------------------------------
    def prepared(self):
        """The training set's features (train/validation/test), from the cache after the first time."""
        from itt.build import prepare_data

        (train,), _ = prepare_data(self.spec, self.tokenizer)
        return train

    def prepare_data(self) -> dict:
        t0 = time.perf_counter()
        first = self.prepared()
        t1 = time.perf_counter()
        second = self.prepared()
        t2 = time.perf_counter()
        self.set_data(second)
        lengths = self.lengths
        long_cut = 64
        return {"first_hit": first.cache_hit, "first_s": t1 - t0, "second_hit": second.cache_hit, "second_s": t2 - t1,
                "sizes": second.sizes(), "mean_len": statistics.mean(lengths), "max_len": max(lengths),
                "long_share": sum(n > long_cut for n in lengths) / len(lengths), "long_cut": long_cut}

    def set_data(self, prepared) -> None:
        self.data = prepared
        self.task, self.labels = prepared.task, prepared.labels
        self.lengths = prepared.features["train"]["length"][:]
        from itt import identity

        self.pad_multiple = identity.numerics(self.spec)["pad_to_multiple_of"]

    def datamodule(self):
        from itt.data.datamodule import ITTDataModule

        return ITTDataModule([self.data], [self.data], self.spec.settings.data, self.pad_multiple,
                             self.cfg.seed).attach(self.tokenizer)

    def set_round(self, r: int) -> None:
        """Round r trains with seed + r: another split, initialisation and batch order (the same for
        every contender of the round); its tokenized splits come from the cache after the first time."""
        from itt import identity

        self.cfg.seed = self.args.seed + r
        self.spec = identity.resolve(self.cfg)
        self.set_data(self.prepared())

    # -- model ------------------------------------------------------------------------------------
    def fresh_model(self, itt_head: bool = True):
        """The model every contender starts from (same seed: same head init). ``itt_head``: with itt's
        fp32 head (what itt and the bare loop train); the HF Trainer gets the plain transformers model."""
        import pytorch_lightning as pl

        from itt.models.loading import load_model

        pl.seed_everything(self.cfg.seed, workers=True, verbose=False)
        if itt_head:
            return load_model(self.pretrained, self.task, self.labels, self.cfg.model.trust_remote_code)[0]
        return self.task.auto_model().from_pretrained(self.pretrained, **self.task.model_kwargs(self.labels))

    def autocast(self):
        torch = self.torch
        if self.precision.startswith("bf16"):
            return torch.autocast("cuda" if torch.cuda.is_available() else "cpu", dtype=torch.bfloat16)
        if self.precision.startswith("16"):
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def warm_up_process(self) -> float:
        """One forward+backward per padded length present in the data, so that no contender pays for
        the kernels' first-use set-up of a shape (oneDNN primitives, allocator growth) in its window."""
        from itt.data.datamodule import model_inputs

        t0 = time.perf_counter()
        model = self.fresh_model()
        model.train()
        batch = model_inputs(next(iter(self.datamodule().train_dataloader())))
        multiple = self.pad_multiple
        top = max(self.lengths)
        for length in range(multiple, -(-top // multiple) * multiple + 1, multiple):
            ids = batch["input_ids"][:, :1].repeat(1, length)
            inputs = {k: (v[:, :1].repeat(1, length) if v.dim() == 2 else v) for k, v in batch.items()}
            inputs["input_ids"] = ids
            with self.autocast():
                loss = model(**inputs).loss
            loss.backward()
            model.zero_grad(set_to_none=True)
        del model
        gc.collect()
        return time.perf_counter() - t0

    def padding_at_scale(self, sizes=(6400, 20000)) -> dict[int, dict[str, float]]:
        """Padding efficiency (real / padded tokens) of each sampler on training sets of other sizes, by
        resampling this one's lengths: transformers' sampler shrinks its mega-batches below 200 batches
        of data, itt's does not, so small sets favour itt; this shows what is left at scale."""
        import random

        from transformers.trainer_pt_utils import get_length_grouped_indices

        from itt.data.samplers import LengthGroupedBatches, mega_batch_batches

        torch, bs = self.torch, self.args.batch_size
        multiple = self.pad_multiple
        base = self.lengths

        def efficiency(batches, lengths):
            padded = sum(len(b) * -(-max(lengths[i] for i in b) // multiple) * multiple for b in batches)
            return sum(lengths) / padded

        out = {}
        for n in (len(base), *sizes):
            lengths = base if n == len(base) else random.Random(n).choices(base, k=n)
            g = torch.Generator().manual_seed(0)
            chunks = lambda order: [order[i:i + bs] for i in range(0, len(order), bs)]  # noqa: E731
            out[n] = {
                "itt": efficiency(list(LengthGroupedBatches(
                    lengths, bs, 0, mega_batch_batches(self.cfg.data.mega_batch, n, bs))), lengths),
                "hf_grouped": efficiency(chunks(get_length_grouped_indices(lengths, bs, generator=g)), lengths),
                "random": efficiency(chunks(torch.randperm(n, generator=g).tolist()), lengths),
            }
        return out

    # -- evaluation (one function for all contenders) ---------------------------------------------
    def val_accuracy(self, model) -> float:
        from itt.data.datamodule import model_inputs

        torch = self.torch
        was_training = model.training
        model.eval()
        metric = self.task.evaluator(self.labels)
        with torch.no_grad(), self.autocast():
            for batch in self.datamodule().val_dataloader()[0]:
                metric.update(model(**model_inputs(batch)), batch)
        model.train(was_training)
        return float(metric.compute()[self.task.primary_metric])

    # -- the contenders ---------------------------------------------------------------------------
    def run_itt(self, run_dir: Path) -> tuple[StepLog, object]:
        import pytorch_lightning as pl

        from itt.logger import build_loggers, finish
        from itt.module import EvalSet, ITTModule
        from itt.trainer import build_trainer

        log = StepLog()

        class Timer(pl.Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                log.step_end()
                log.add_batch(batch)

            def on_validation_start(self, trainer, pl_module):
                if trainer.state.fn == "fit" and not trainer.sanity_checking:
                    log.pause_begin()

            def on_train_epoch_start(self, trainer, pl_module):
                # the previous epoch's end (validation, ModelCheckpoint's saves, which run after all
                # other callbacks' on_train_epoch_end) is over; the new epoch's data loading is timed
                log.pause_end()

        data = self.datamodule()
        model = self.fresh_model()
        module = ITTModule(model, [EvalSet(None, self.task, self.labels, self.data.rows)], self.spec.settings.optim,
                           self.cfg.model.fast_dropout, self.cfg.model.sparse_embedding_grad)
        loggers = build_loggers(self.spec, "bench", run_dir)
        trainer, _ = build_trainer(self.spec.settings, run_dir, loggers, f"val/{self.task.primary_metric}", self.precision)
        trainer.callbacks.append(Timer())
        try:
            trainer.fit(module, datamodule=data)
        finally:
            finish(loggers)
        return log, module.model

    def _hf_train(self, run_dir: Path, strategy: str) -> tuple[StepLog, object]:
        from datasets import Dataset
        from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

        log = StepLog()
        collator = DataCollatorWithPadding(self.tokenizer, pad_to_multiple_of=self.pad_multiple)

        def collate(features):  # the HF dataloader fetches batches in step order: the i-th call is step i
            batch = collator(features)
            log.add_batch(batch)
            return batch

        class Timer(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                log.step_end()

        cfg = self.cfg
        train = Dataset.from_file(self.data.features["train"].cache_files[0]["filename"])  # the cached tokens
        args = TrainingArguments(
            output_dir=str(run_dir), per_device_train_batch_size=cfg.data.batch_size, max_steps=self.total_steps,
            learning_rate=cfg.optim.lr, weight_decay=cfg.optim.weight_decay, warmup_steps=cfg.optim.warmup_ratio,
            max_grad_norm=cfg.trainer.gradient_clip_val or 0.0, lr_scheduler_type="linear",
            bf16=self.precision.startswith("bf16"), fp16=self.precision.startswith("16"),
            use_cpu=not self.torch.cuda.is_available(), report_to="none", save_strategy="no", eval_strategy="no",
            disable_tqdm=True, seed=cfg.seed, data_seed=cfg.seed, train_sampling_strategy=strategy,
            dataloader_num_workers=cfg.data.num_workers,
        )
        model = self.fresh_model(itt_head=False)
        trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=collate,
                          processing_class=self.tokenizer, callbacks=[Timer()])
        trainer.train()
        return log, trainer.model

    def run_hf(self, run_dir: Path):
        return self._hf_train(run_dir, "random")

    def run_hf_grouped(self, run_dir: Path):
        return self._hf_train(run_dir, "group_by_length")

    def run_bare(self, run_dir: Path) -> tuple[StepLog, object]:
        from itt.data.datamodule import model_inputs
        from itt.module import build_optimizer, clip_norm_in_fused_step, prepare_for_training

        torch, cfg = self.torch, self.cfg
        log = StepLog()
        data = self.datamodule()
        model = self.fresh_model()
        model.train()
        prepare_for_training(model, cfg.model.fast_dropout, cfg.model.sparse_embedding_grad,
                             torch.device("cuda" if torch.cuda.is_available() else "cpu"))
        optimizer, scheduler = build_optimizer(model, cfg.optim, self.total_steps, fused=not self.precision.startswith("16"))
        params = [p for p in model.parameters() if p.requires_grad]
        clip = cfg.trainer.gradient_clip_val
        loader = data.train_dataloader()
        step = 0
        while step < self.total_steps:
            for batch in loader:
                with self.autocast():
                    loss = model(**model_inputs(batch)).loss
                loss.backward()
                if clip and optimizer.defaults.get("fused"):
                    clip_norm_in_fused_step(optimizer, params, clip)  # as ITTModule.configure_gradient_clipping
                elif clip:
                    torch.nn.utils.clip_grad_norm_(params, clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                log.step_end()
                log.add_batch(batch)
                step += 1
                if step == self.total_steps:
                    break
        return log, model


def _torch_state(torch) -> tuple:
    return (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.get_num_threads())


def _restore_torch_state(torch, state: tuple) -> None:
    """Lightning's ``deterministic=True`` switches deterministic algorithms on for the whole process;
    the next contender must not inherit that (nor a changed thread count)."""
    deterministic, warn_only, threads = state
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _quiet(verbose: bool):
    if verbose:
        yield
        return
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except BaseException:
        sys.stderr.write(out.getvalue()[-4000:] + err.getvalue()[-4000:])
        raise


def _silence_libraries() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric", "itt", "datasets",
                 "transformers", "accelerate", "torch"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _load() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def main(argv=None) -> int:
    args = parse_args(argv)
    _silence_libraries()
    own_root = args.root is None
    root = Path(tempfile.mkdtemp(prefix="itt-bench-")) if own_root else Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_before = _load()
    try:
        with _quiet(args.verbose):
            import torch
            from transformers.utils import logging as hf_logging

            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
            from itt.trainer import apply_threads

            bench = Bench(args, root)
            data_info = bench.prepare_data()
            model = bench.fresh_model()
            n_params = sum(p.numel() for p in model.parameters())
            # itt picks the thread count per model (ITTModule.setup); every contender runs with it
            threads = apply_threads(model)
            del model
            warm_s = bench.warm_up_process()
        print(f"itt.bench: model={args.model} ({n_params / 1e6:.1f}M parameters) from {bench.pretrained}")
        sizes = data_info["sizes"]
        batches = -(-sizes["train"] // args.batch_size)
        print(f"data: embedded sentiment (en, products), {bench.rows} rows -> train {sizes['train']} ({batches} batches)"
              f" / val {sizes['validation']}"
              f" / test {sizes['test']}; train tokens per text: mean {data_info['mean_len']:.1f}, max {data_info['max_len']},"
              f" {data_info['long_share']:.1%} longer than {data_info['long_cut']}")
        print(f"setup: batch {args.batch_size}, precision {bench.precision}, torch threads {threads} (itt's choice for this model),"
              f" length grouping {bench.cfg.data.length_grouping}, pad to multiple of {bench.pad_multiple} (data.pad_to_multiple_of={bench.cfg.data.pad_to_multiple_of}),"
              f" itt's fast dropout {bench.cfg.model.fast_dropout} and sparse embedding gradient {bench.cfg.model.sparse_embedding_grad}"
              f" (itt and the bare loop; the HF Trainer uses torch's dropout and dense backward),"
              f" {args.warmup} warm-up + {args.steps} timed steps, {args.repeats} rounds; process warm-up {warm_s:.1f}s;"
              f" load average {load_before}")
        scale = bench.padding_at_scale()
        print("padding efficiency by training-set size (real/padded tokens; itt | HF group_by_length | random): "
              + "; ".join(f"{n} rows {e['itt']:.0%} | {e['hf_grouped']:.0%} | {e['random']:.0%}" for n, e in scale.items()))
        print(f"tokenization cache: first pass {'hit' if data_info['first_hit'] else 'built'} in {data_info['first_s']:.2f}s,"
              f" second pass {'hit' if data_info['second_hit'] else 'MISS (built again)'} in {data_info['second_s']:.2f}s")

        results: dict[str, list[dict]] = {c: [] for c in args.contenders}
        base_state = _torch_state(torch)
        for r in range(args.repeats):
            with _quiet(args.verbose):
                bench.set_round(r)
            order = args.contenders[r % len(args.contenders):] + args.contenders[:r % len(args.contenders)]
            line = []
            for name in order:
                run_dir = root / "bench_runs" / f"{name}-{r}"
                shutil.rmtree(run_dir, ignore_errors=True)
                gc.collect()
                try:
                    with _quiet(args.verbose):
                        log, model = getattr(bench, f"run_{name}")(run_dir)
                finally:
                    _restore_torch_state(torch, base_state)
                res = log.window(args.warmup, args.steps)
                if not args.no_eval:
                    with _quiet(args.verbose):
                        res["val_acc"] = bench.val_accuracy(model)
                del model
                results[name].append(res)
                line.append(f"{name} {res['samples_per_s']:.1f}" + (f" (val acc {res['val_acc']:.3f})" if "val_acc" in res else ""))
            print(f"round {r + 1}/{args.repeats} (samples/s): " + ", ".join(line) + f"; load {_load()}")

        def median_of(c, key):
            return statistics.median(x[key] for x in results[c])

        med = {c: median_of(c, "samples_per_s") for c in results}
        print()
        print(f"{'contender':34s} {'samples/s':>10s} {'min..max':>15s} {'per CPU-s':>10s} {'pad eff.':>9s}"
              f" {'padded tok/s':>13s} {'val acc':>8s}")
        for c, runs in results.items():
            rates = [x["samples_per_s"] for x in runs]
            acc = median_of(c, "val_acc") if not args.no_eval else float("nan")
            print(f"{LABELS[c]:34s} {med[c]:10.1f} {min(rates):7.1f}..{max(rates):<7.1f} {median_of(c, 'samples_per_cpu_s'):10.1f}"
                  f" {median_of(c, 'padding_efficiency'):9.1%} {median_of(c, 'padded_tokens_per_s'):13.0f} {acc:8.3f}")
        kv: dict[str, float] = {}
        names = {"itt": "itt_samples_per_s", "hf": "hf_trainer_samples_per_s",
                 "hf_grouped": "hf_trainer_grouped_samples_per_s", "bare": "bare_loop_samples_per_s"}
        for c in args.contenders:
            kv[names[c]] = med[c]

        def paired(a, b, key="samples_per_s"):  # median over rounds of a/b, both measured in the same round
            return statistics.median(x[key] / y[key] for x, y in zip(results[a], results[b]))

        print()
        hf_best = max((c for c in ("hf_grouped", "hf") if c in med), key=med.get, default=None)
        if "itt" in med and hf_best:
            kv["ratio_vs_hf"] = paired("itt", hf_best)
            print(f"itt / best HF Trainer configuration ({hf_best}) = {kv['ratio_vs_hf']:.3f}  (goal >= 1.2; "
                  f"median of per-round ratios)")
            kv["ratio_vs_hf_cpu"] = paired("itt", hf_best, "samples_per_cpu_s")
            print(f"  in samples per CPU-second (less sensitive to other processes): {kv['ratio_vs_hf_cpu']:.3f};"
                  f" per padded token: {paired('itt', hf_best, 'padded_tokens_per_s'):.3f}")
            pad_itt, pad_hf = median_of("itt", "padding_efficiency"), median_of(hf_best, "padding_efficiency")
            if hf_best == "hf_grouped" and pad_itt > 1.05 * pad_hf:
                print(f"  part of the gain is padding ({pad_itt:.0%} vs {pad_hf:.0%} real tokens): data.mega_batch or"
                      f" data.pad_to_multiple_of differ from transformers' defaults")
        if "itt" in med and "hf" in med and hf_best != "hf":
            kv["ratio_vs_hf_random"] = paired("itt", "hf")
            print(f"itt / HF Trainer (random sampling) = {kv['ratio_vs_hf_random']:.3f}")
        if "itt" in med and "bare" in med:
            kv["ratio_vs_bare"] = paired("itt", "bare")
            kv["ratio_vs_bare_cpu"] = paired("itt", "bare", "samples_per_cpu_s")
            print(f"itt / bare loop = {kv['ratio_vs_bare']:.3f}  (goal >= 0.95; same batches); "
                  f"per CPU-second {kv['ratio_vs_bare_cpu']:.3f}")
        if not args.no_eval:
            epochs = bench.total_steps / batches
            print(f"validation accuracy after {bench.total_steps} steps ({epochs:.2f} epochs), median over "
                  f"{args.repeats} seeds" + ("; early in training, noisy: --epochs 3 compares trained models" if epochs < 2 else ""))
            kv["val_acc_epochs"] = epochs
            for c in args.contenders:
                kv[f"{c}_val_acc"] = median_of(c, "val_acc")
        kv["token_cache_hit"] = 1.0 if data_info["second_hit"] else 0.0
        kv["wall_s"] = time.perf_counter() - started
        print(f"wall {kv['wall_s']:.0f}s; load average before {load_before}, after {_load()}")
        print(" ".join(f"{k}={_fmt(v)}" for k, v in kv.items()))
        return 0
    finally:
        if own_root:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
