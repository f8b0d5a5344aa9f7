"""What every contender shares: the config (composed from ``conf/`` as ``python -m itt.train`` does),
the data (``itt.build.prepare_data``: split, tokenized, cached), the starting weights (the model
``itt.build.build_run`` builds; for the HF Trainer the same as a plain transformers model), the
precision, a process warm-up, and one validation-accuracy function for all contenders.

itt's own contenders differ from the base config only in itt settings: ``VARIANTS`` (the batching
that matches each HF Trainer configuration) plus ``--itt-overrides`` (e.g. ``model.fast_dropout=true``).
"""

from __future__ import annotations

import contextlib
import gc
import math
import statistics
import time
from pathlib import Path

CONF_DIR = str(Path(__file__).resolve().parent.parent.parent / "conf")
ROLE = "intermediate"  # the bench trains +stage=intermediate of task=sentiment: one dataset, no parent
# itt's batching that matches each HF Trainer configuration (like for like): random batches, or
# transformers' own length-grouping rule (mega-batches of a quarter of the training batches, at most 50).
VARIANTS = {"random": ["data.length_grouping=false"],
            "grouped": ["data.length_grouping=true", "data.mega_batch=auto"]}
EVAL_DOMAINS = ("movies", "restaurants", "kitchen", "books", "tweets")  # embedded stand-ins other than products


def data_overrides(args) -> list[str]:
    """Config overrides pointing the bench's dataset at ``--data`` (a local file; any format itt reads)."""
    if not args.data:
        return []
    path = Path(args.data).expanduser().resolve()
    out = [f"task.datasets.{ROLE}.path={path}", f"task.datasets.{ROLE}.label_field={args.label_field}",
           f"task.datasets.{ROLE}.label_map=null", f"task.datasets.{ROLE}.labels=null", f"task.datasets.{ROLE}.max_rows=null",
           f"task.datasets.{ROLE}.domain={args.domain or path.parent.name}", f"task.datasets.{ROLE}.lang={args.lang}"]
    if args.columns:
        out.append(f"task.datasets.{ROLE}.columns=[{args.columns}]")
    fields = args.text_fields or (",".join(c for c in args.columns.split(",") if c != args.label_field) if args.columns else None)
    if fields:
        out.append(f"task.datasets.{ROLE}.text_fields=[{fields}]")
    return out


def eval_set_overrides(args) -> list[str]:
    """``--eval`` mode: eval sets ``task.evals.e<i>`` (files from ``--eval-data``, read like ``--data``; or
    embedded stand-ins of other domains) that the run is evaluated on besides its own validation split."""
    if not args.eval:
        return []
    specs = []
    if args.data:
        for path in args.eval_data:
            path = Path(path).expanduser().resolve()
            keys = {"path": str(path), "label_field": args.label_field, "domain": path.parent.name,
                    "lang": path.stem.split("-")[-1]}
            if args.columns:
                keys["columns"] = f"[{args.columns}]"
            fields = args.text_fields or ",".join(c for c in (args.columns or "").split(",") if c and c != args.label_field)
            if fields:
                keys["text_fields"] = f"[{fields}]"
            specs.append(keys)
    else:
        for domain in EVAL_DOMAINS[:args.eval_sets - 1]:
            specs.append({"path": f"embedded/{domain}", "domain": domain, "embedded_rows": args.eval_rows,
                          "labels": "[negative,positive]"})
    names = [f"e{i}" for i in range(len(specs))]
    out = [f"+task.evals={{{','.join(f'{n}:{{{_flow(s)}}}' for n, s in zip(names, specs))}}}"] if specs else []
    return out + [f"intermediate.evals=[{','.join(names)}]"]


def _flow(keys: dict) -> str:
    return ",".join(f"{k}:{v}" if str(v).startswith("[") else f"{k}:'{v}'" for k, v in keys.items())


class Bench:
    """The shared setup; ``cfg``/``spec`` per itt variant (``VARIANTS``), data and tokenizer shared."""

    def __init__(self, args, root: Path):
        import torch

        from itt import identity, logger as itt_logger, schema
        from itt.models.loading import load_tokenizer, pretrained_source

        self.args, self.root, self.torch = args, root, torch
        schema.register()
        identity.register_resolvers()
        itt_logger.register_resolvers()
        self.steps = args.steps
        # split=paper holds out ceil(30 %) of the rows; the stand-in gets rows so that training is `steps` batches
        self.rows = args.steps * args.batch_size
        while self.rows - math.ceil(0.30 * self.rows) < args.steps * args.batch_size:
            self.rows += 1
        self.base = [
            f"model={args.model}", "task=sentiment", "+stage=intermediate", "source=embedded", "logger=csv",
            f"paths.root={root}", f"data.batch_size={args.batch_size}", f"trainer.precision={args.precision}",
            "trainer.max_epochs=-1", f"task.datasets.{ROLE}.embedded_rows={self.rows}",
            *data_overrides(args), *eval_set_overrides(args), *args.overrides]
        self.seed = args.seed
        self.compose(total_steps=args.warmup + args.steps)
        cfg = self.cfg
        numerics = identity.numerics(self.spec)
        self.precision, self.pad_multiple = numerics["precision"], numerics["pad_to_multiple_of"]
        self.pretrained = pretrained_source(cfg.model, cfg.source.name, cfg.paths.cache, cfg.source.hub_timeout_s)
        self.tokenizer = load_tokenizer(self.pretrained, cfg.model.trust_remote_code)

    def compose(self, total_steps: int) -> None:
        """The base config and one per itt variant, for the current seed and step budget."""
        from hydra import compose, initialize_config_dir

        from itt import identity

        self.total_steps = total_steps
        common = [*self.base, f"seed={self.seed}", f"trainer.max_steps={total_steps}"]
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            self.cfg = compose("train", overrides=common)
            self.cfgs = {v: compose("train", overrides=[*common, *extra, *self.args.itt_overrides])
                         for v, extra in VARIANTS.items()}
        self.spec = identity.resolve(self.cfg)
        self.specs = {v: identity.resolve(c) for v, c in self.cfgs.items()}

    # -- data -------------------------------------------------------------------------------------
    def prepared(self):
        """The training set's features (train/validation/test) and the eval sets', from the cache after the first time."""
        from itt.build import prepare_data

        (train,), evals = prepare_data(self.spec, self.tokenizer)
        return train, evals

    def prepare_data(self) -> dict:
        t0 = time.perf_counter()
        first, _ = self.prepared()
        t1 = time.perf_counter()
        second, evals = self.prepared()
        t2 = time.perf_counter()
        self.set_data(second, evals)
        lengths = self.lengths
        long_cut = 64
        return {"first_hit": first.cache_hit, "first_s": t1 - t0, "second_hit": second.cache_hit, "second_s": t2 - t1,
                "sizes": second.sizes(), "mean_len": statistics.mean(lengths), "max_len": max(lengths),
                "long_share": sum(n > long_cut for n in lengths) / len(lengths), "long_cut": long_cut}

    def set_data(self, prepared, evals=()) -> None:
        self.data, self.evals = prepared, list(evals)
        self.task, self.labels = prepared.task, prepared.labels
        self.lengths = prepared.features["train"]["length"][:]

    def describe_data(self) -> str:
        if self.args.data:
            return f"{self.args.data} ({self.task.kind}, labels {self.labels})"
        return f"embedded sentiment stand-in (en, products), {self.rows} rows"

    def set_round(self, r: int) -> None:
        """Round r trains with seed + r: another split, initialisation and batch order (the same for
        every contender of the round); its tokenized splits come from the cache after the first time."""
        self.seed = self.args.seed + r
        self.compose(self.total_steps)
        self.set_data(*self.prepared())

    # -- model ------------------------------------------------------------------------------------
    def hf_model(self):
        """The plain transformers model the HF Trainer starts from: the pretrained weights of itt's, a new
        head initialised after seeding with the round's seed, without itt's fp32 head."""
        import pytorch_lightning as pl

        pl.seed_everything(self.seed, workers=True, verbose=False)
        return self.task.auto_model().from_pretrained(self.pretrained, **self.task.model_kwargs(self.labels))

    def weightless_model(self):
        """The model itt trains, built on the meta device from its config (no weights read or
        initialised): its size and config without the cost of loading it."""
        from transformers import AutoConfig

        trust = self.cfg.model.trust_remote_code
        config = AutoConfig.from_pretrained(self.pretrained, trust_remote_code=trust, **self.task.model_kwargs(self.labels))
        with self.torch.device("meta"):
            return self.task.auto_model().from_config(config, trust_remote_code=trust)

    def autocast(self):
        torch = self.torch
        if self.precision.startswith("bf16"):
            return torch.autocast("cuda" if torch.cuda.is_available() else "cpu", dtype=torch.bfloat16)
        if self.precision.startswith("16"):
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def warm_up_process(self) -> float:
        """One forward+backward per padded length present in the data, so that no contender pays for the kernels' first-use set-up of a shape (oneDNN primitives, allocator
        growth) in its window."""
        from itt.build import build_run
        from itt.data.datamodule import model_inputs

        t0 = time.perf_counter()
        built = build_run(self.specs["random"])
        model = built.module.model
        model.train()
        batch = model_inputs(next(iter(built.data.train_dataloader())))
        multiple = self.pad_multiple
        top = -(-max(self.lengths) // multiple) * multiple
        for length in range(multiple, top + 1, multiple):
            inputs = {k: (v[:, :1].repeat(1, length) if v.dim() == 2 else v) for k, v in batch.items()}
            with self.autocast():
                loss = model(**inputs).loss
            loss.backward()
            model.zero_grad(set_to_none=True)
        del model, built
        gc.collect()
        return time.perf_counter() - t0

    def padding_at_scale(self, sizes=(6400, 20000)) -> dict[int, dict[str, float]]:
        """Padding efficiency (real / padded tokens) of each batching on training sets of other sizes, by
        resampling this one's lengths: itt's grouped batches follow transformers' rule (``data.mega_batch=auto``)."""
        import random

        from transformers.trainer_pt_utils import get_length_grouped_indices

        from itt.data.samplers import LengthGroupedBatches, mega_batch_batches

        torch, bs, multiple = self.torch, self.args.batch_size, self.pad_multiple
        mega = self.cfgs["grouped"].data.mega_batch

        def efficiency(batches, lengths):
            padded = sum(len(b) * -(-max(lengths[i] for i in b) // multiple) * multiple for b in batches)
            return sum(lengths) / padded

        out = {}
        for n in (len(self.lengths), *sizes):
            lengths = self.lengths if n == len(self.lengths) else random.Random(n).choices(self.lengths, k=n)
            g = torch.Generator().manual_seed(0)
            chunks = lambda order: [order[i:i + bs] for i in range(0, len(order), bs)]  # noqa: E731
            out[n] = {
                "itt_grouped": efficiency(list(LengthGroupedBatches(lengths, bs, 0, mega_batch_batches(mega, n, bs))), lengths),
                "hf_grouped": efficiency(chunks(get_length_grouped_indices(lengths, bs, generator=g)), lengths),
                "random": efficiency(chunks(torch.randperm(n, generator=g).tolist()), lengths),
            }
        return out

    # -- evaluation (one function for all contenders) ---------------------------------------------
    def val_accuracy(self, model) -> float:
        from itt.build import data_module
        from itt.data.datamodule import model_inputs

        torch = self.torch
        was_training = model.training
        model.eval()
        metric = self.task.evaluator(self.labels)
        own = data_module(self.specs["random"], self.tokenizer, [self.data], [], self.pad_multiple).val_dataloader()[0]
        with torch.no_grad(), self.autocast():
            for batch in own:
                metric.update(model(**model_inputs(batch)), batch)
        model.train(was_training)
        return float(metric.compute()[self.task.primary_metric])
