"""The offline stand-ins of ``pos``, ``qa``, ``ner`` (WikiANN) and ``choice`` (COPA) hold no item of one role in
another's training split.

Every stand-in of these generators is a prefix of one translation-aligned stream (the domain target's rows
are the intermediate's first rows, the German ones their translations), so they are split by the shared row
id (``Generator.split_by_row``, ``itt.identity.row_streams``): a target's validation and test items, and an eval
set's test items, are neither in the intermediate's training split nor translations of its rows. Items are
what the overlap counter keys (``itt.data.overlap.item_keys``); translations share the row id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import OFFLINE, read_ledger, run_itt
from hydra import compose, initialize_config_dir

from itt import identity, stages
from itt.build import dataset_spec, task_of
from itt.data.overlap import item_keys
from itt.data.preparation import Protocol, split_rows
from itt.train import CONF_DIR


def prepared_roles(root: Path, task: str, split: str, seed: int) -> tuple[dict, dict, object]:
    """Every dataset role's and every eval set's (with a stand-in) splits, as ``build.prepare_data`` makes them,
    and the intermediate's Task (whose item keys the overlap counter uses)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*OFFLINE, f"task={task}", "+stage=intermediate", f"split={split}",
                                          f"seed={seed}", f"paths.root={root}"])
    protocol = Protocol(cfg.split, cfg.seed, cfg.source.name, 128, Path(cfg.paths.cache))
    aligned = identity.aligned_roles(cfg)

    def prepare(node, name, eval_only=False):
        return split_rows(dataset_spec(node, cfg), task_of(cfg, node), protocol, by_id=name in aligned,
                          eval_only=eval_only)[0]

    # a role whose language its generator does not write (copa's XCOPA Italian) has no stand-in to check
    roles = {role: prepare(node, role) for role, node in cfg.task.datasets.items() if stages._has_stand_in(cfg, node)}
    # a stand-in is one train split, so an eval set (which needs a test split) is one under split=paper only
    evals = {name: prepare(node, name, eval_only=True) for name, node in cfg.task.evals.items()
             if stages._has_stand_in(cfg, node)} if split == "paper" else {}
    return roles, evals, task_of(cfg, cfg.task.datasets.intermediate)


@pytest.mark.parametrize(("split", "seeds"), [("paper", (0, 1)), ("official", (0,))])
@pytest.mark.parametrize("task", ["pos", "qa", "ner", "copa"])
def test_no_held_out_item_of_a_role_or_eval_set_is_an_intermediate_training_item(tmp_path, task, split, seeds):
    for seed in seeds:
        roles, evals, kind = prepared_roles(tmp_path, task, split, seed)
        trained = roles.pop("intermediate")["train"]
        trained_items = set(item_keys(kind, trained).tolist())
        held_out = [(role, s, d[s]) for role, d in roles.items() for s in ("validation", "test")]
        held_out += [(f"eval {name}", "test", d["test"]) for name, d in evals.items()]
        # copa: XCOPA's languages (crosslingual, eval sets) have no stand-in; ner's domain is WNUT-17 (ner_social)
        assert (len(evals) >= 3 or split == "official" or task == "copa") and {"domain", "en"} <= set(roles)
        assert "crosslingual" in roles or task == "copa"
        for role, split_name, rows in held_out:
            seen = [k in trained_items for k in item_keys(kind, rows).tolist()]
            assert len(rows) > 0 and not any(seen), \
                f"{task} seed {seed}: {sum(seen)} of {len(rows)} {role} {split_name} items are intermediate training items"
        for role, split_name, rows in held_out:
            if task == "ner" and role == "domain":  # WNUT-17's generator (ner_social): another stream, no row id
                continue
            assert "id" in rows.column_names and "id" in trained.column_names, f"{task}: {role} is not split by row id"
            translated = set(trained["id"]) & set(rows["id"])  # a translation of a training row has its id
            assert not translated, \
                f"{task} seed {seed}: {len(translated)} {role} {split_name} rows are translations of intermediate training rows"


@pytest.mark.parametrize(("generator", "domain"), [("pos", "general"), ("ner", "wiki"), ("choice", "general")])
def test_a_stand_in_repeats_no_item_and_stays_aligned(generator, domain):
    """A chance repeat would put one item in two splits (in 2,400 rows ner repeated 29 sentences, choice 188
    items); every language skips the same draws, so row i is still row i's translation."""
    from itt.data.embedded import generate, label_names

    names = label_names(generator, domain)

    def same_in_every_language(row):  # ner: the entities' types; choice: the question and the answer's index
        if generator == "ner":
            return sorted(names[t] for t in row["tags"] if names[t].startswith("B-"))
        return (row["question"], row["label"]) if generator == "choice" else None

    by_lang = {lang: generate(generator, lang, domain, 2400, seed=0) for lang in ("en", "de", "fr", "es")}
    for lang, rows in by_lang.items():
        # the overlap counter's item: the words, or the premise, question and choices (in either order)
        items = {tuple(r["tokens"]) if "tokens" in r else (r["premise"], r["question"], frozenset(r["choices"])) for r in rows}
        assert len(items) == len(rows), f"{generator} {lang}: {len(rows) - len(items)} repeated items"
        assert list(map(same_in_every_language, rows)) == list(map(same_in_every_language, by_lang["en"])), lang


def test_a_generator_out_of_new_items_says_so_instead_of_looping():
    """choice has ~22k distinct items: asking for more is a one-line ValueError (a DataError when loaded)."""
    from itt.data.embedded import generate

    with pytest.raises(ValueError, match="generator 'choice' has no new item after 10000 draws"):
        generate("choice", "en", "general", 30_000, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize(("task", "target", "evals"), [("pos", "en", "[de,es]"), ("qa", "en", "[xquad_en,xquad_de,mlqa_en]"),
                                                     ("ner", "en", "[de]"), ("copa", "domain", "[]")])
def test_an_offline_itt_target_records_no_overlap_with_its_intermediate(tmp_path, task, target, evals):
    names = [name for name in evals.strip("[]").split(",") if name]
    small = [f"task.evals.{name}.embedded_rows=60" for name in names]
    result = run_itt("model=bert", f"task={task}", "+stage=target", f"stage.target={target}", f"stage.evals={evals}", *OFFLINE,
                     "trainer.max_epochs=1", "task.datasets.intermediate.embedded_rows=300",
                     f"task.datasets.{target}.embedded_rows=120", *small, root=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = [r for r in read_ledger(tmp_path) if r["status"] == "ok" and r["stage"] == "target"]
    record = row["overlap"]
    assert record["checked"] and record["ancestors"] == [row["parent_run_id"]], record
    assert record["test"] == 0 and record["validation"] == 0 and record["by_ancestor"] == [0], record
    assert set(record["evals"]) == set(names) and not any(record["evals"].values()), record
    assert "identical to items its ancestor" not in result.stderr + result.stdout  # no overlap warning
    assert np.load(Path(tmp_path) / "runs" / row["parent_run_id"] / "train_items.npy").size > 0
