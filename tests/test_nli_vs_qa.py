"""The NLI-vs-QA study (docs/nli-vs-qa.md): its presets as Hydra's sweeper expands them (run counts, the
intermediate runs every task shares, every target's languages), and the offline one end to end with the
report's per-family view."""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import read_ledger, run_sweep
from test_crosslingual import identities as _identities
from test_grid_config import EXPERIMENTS, compose_train

from itt import identity

TASKS = ["xnli", "pawsx", "copa", "ner", "pos", "qa"]
# XTREME's evaluation languages per task (google-research/xtreme evaluate.py, TASK2LANGS), the reference the
# task configs' eval sets are checked against; XCOPA's 11 from cambridgeltl/xcopa.
XTREME = {
    "xnli": "ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh",
    "pawsx": "de,en,es,fr,ja,ko,zh",
    "panx": "ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,sw,yo,my,zh,kk,tr,et,fi,hu",
    "udpos": "af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,nl,pt,ru,ta,te,th,tl,tr,ur,vi,yo,zh",
    "xquad": "en,es,de,el,ru,tr,ar,vi,th,zh,hi",
    "mlqa": "en,es,de,ar,hi,vi,zh",
    "tydiqa": "en,ar,bn,fi,id,ko,ru,sw,te",
    "xcopa": "et,ht,id,it,qu,sw,ta,th,tr,vi,zh",
    "tatoeba": "ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,sw,zh,kk,tr,et,fi,hu",
}
LANGS = {name: set(codes.split(",")) for name, codes in XTREME.items()}
identities = functools.cache(_identities)  # ~20 s per preset: composed once for the tests below


def _eval_langs(spec, prefix: str = "") -> set[str]:
    evals = spec.cfg.task.evals
    return {evals[n].lang for n in spec.evals if n.startswith(prefix) and (prefix or not n.startswith("tatoeba_"))}


def test_hub_preset_header_says_command_runs_and_cost():
    text = (EXPERIMENTS / "nli_vs_qa.yaml").read_text()
    directive, first = text.splitlines()[:2]
    assert directive == "# @package _global_" and first.startswith("# python -m itt.train -m experiment=nli_vs_qa +stage=target")
    assert re.search(r"^# Runs: .*= 108 target runs", text, re.MULTILINE) and "120 runs in all" in text
    assert re.search(r"^# Expected cost", text, re.MULTILINE)


def test_hub_preset_run_counts_and_shared_intermediates():
    targets, intermediates, points = identities("nli_vs_qa")
    # 2 models x 6 tasks x 2 (ITT on/off) x 2 intermediates x 3 seeds
    assert len(points) == 144 and {p["task"] for p in points} == set(TASKS)
    # no-ITT targets do not depend on the intermediate: 2 x 6 x 3 x (1 + 2)
    assert len(targets) == 108 and sum(not s.is_itt for s in targets.values()) == 36
    # MNLI and SQuAD: one run per model x seed, whichever task's target asks for it
    assert len(intermediates) == 2 * 3 * 2
    asked_by = defaultdict(set)
    for spec in targets.values():
        for step in spec.chain():
            asked_by[identity.run_id(step)].add(spec.cfg.task.name)
    assert set(asked_by) == set(intermediates) and all(tasks == set(TASKS) for tasks in asked_by.values())
    assert {(s.cfg.model.name, s.label, s.cfg.seed) for s in intermediates.values()} == \
        {(m, step, seed) for m in ("mbert", "xlmr") for step in ("mnli", "squad") for seed in (0, 1, 2)}
    for step in intermediates.values():
        assert step.settings.trainer.max_epochs == 1 and step.settings.data.max_length == 384
        assert step.dataset(step.roles[0]).path == {"mnli": "nyu-mll/multi_nli", "squad": "rajpurkar/squad"}[step.label]
    assert {s.variant for s in targets.values()} == {"none", "mnli", "squad"}


def test_hub_preset_targets_train_on_english_and_test_every_xtreme_language():
    targets, _, _ = identities("nli_vs_qa")
    for spec in targets.values():
        task, cfg = spec.cfg.task.name, spec.cfg
        assert spec.target == "en" and spec.dataset("en").lang == "en"
        assert cfg.split.name == "official" and cfg.source.name == "hub"
        if task in ("xnli", "pawsx"):
            assert _eval_langs(spec) == LANGS[task] - {"en"}
            assert _eval_langs(spec, "tatoeba_") == LANGS["tatoeba"] and {cfg.task.evals[n].kind for n in spec.evals
                                                                           if n.startswith("tatoeba_")} == {"retrieval"}
        elif task == "copa":
            assert _eval_langs(spec) == LANGS["xcopa"]
        elif task in ("ner", "pos"):
            assert _eval_langs(spec) == LANGS["panx" if task == "ner" else "udpos"] - {"en"}
        else:
            assert {b: _eval_langs(spec, f"{b}_") for b in ("xquad", "mlqa", "tydiqa")} == \
                {b: LANGS[b] for b in ("xquad", "mlqa", "tydiqa")}
    en = {t: compose_train("experiment=nli_vs_qa", "+stage=target", f"task={t}").task.datasets.en for t in TASKS}
    assert (en["ner"].path, en["pos"].subset, en["copa"].subset, en["qa"].path) == \
        ("unimelb-nlp/wikiann", "udpos.English", "copa", "rajpurkar/squad")


def test_offline_preset_has_the_same_shape():
    targets, intermediates, points = identities("nli_vs_qa_demo")
    assert len(points) == 48 and len(targets) == 36 and len(intermediates) == 4
    evals = {s.cfg.task.name: set(s.evals) for s in targets.values()}
    # stage.evals=all under source=embedded: the eval sets whose language the stand-ins write
    assert evals["xnli"] == evals["pawsx"] == {"de", "es", "fr", "tatoeba_de", "tatoeba_es", "tatoeba_fr"}
    assert evals["ner"] == evals["pos"] == {"de", "es", "fr"} and evals["copa"] == set()
    assert evals["qa"] == {"xquad_de", "xquad_en", "xquad_es", "mlqa_de", "mlqa_en", "mlqa_es", "tydiqa_en"}
    assert {s.cfg.source.name for s in targets.values()} == {"embedded"}


@pytest.mark.slow
def test_offline_preset_runs_and_the_report_shows_each_family(tmp_path):
    """experiment=nli_vs_qa_demo end to end on one of its two models, one epoch (~1 min on 2 cores; the whole
    preset takes 3-4 min): 18 targets and 2 shared intermediates, then the report's "Δ by target family" with
    every family of the study. The other model adds runs, not paths through the code."""
    result, _ = run_sweep("experiment=nli_vs_qa_demo", "+stage=target", "model=xlmr", "trainer.max_epochs=1",
                          root=tmp_path, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_ledger(tmp_path)
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 20 and sum(r["status"] == "cached" for r in rows) == 6
    assert {r["model"] for r in ok} == {"xlmr"}
    inter = {r["run_id"] for r in ok if r["stage"] == "intermediate"}
    targets = [r for r in ok if r["stage"] == "target"]
    assert {r["parent_run_id"] for r in targets if r["itt"]} == inter  # every task's ITT targets share the 4
    assert {r["task"] for r in targets if r["parent_run_id"] == next(iter(inter))} == set(TASKS)
    from itt.report import build_report, load_ledger, write_outputs

    report = build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path)
    fam = report.families
    assert set(fam["family"]) == {"classification", "multiple choice", "structured prediction", "question answering",
                                  "retrieval"}
    zero_shot = set(fam.loc[fam["scope"] == "zero-shot", "benchmark"])
    assert zero_shot == {"family mean", "xnli", "pawsx", "ner", "pos", "xquad", "mlqa", "tatoeba"}
    assert set(fam["itt_variant"]) == {"mnli", "squad"} and fam["delta"].notna().all()
    written = write_outputs(report, tmp_path / "report")
    assert "families" in written and "## Δ by target family" in Path(written["markdown"]).read_text()
