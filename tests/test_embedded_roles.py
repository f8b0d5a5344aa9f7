"""The offline stand-ins of ``pos``, ``qa``, ``ner`` (WikiANN) and ``choice`` (COPA) hold no item of one role in
another's training split, and no two hub datasets of any task config share a stand-in's items.

Every stand-in of these generators is a part of one translation-aligned stream (rows ``[embedded_offset,
embedded_offset + embedded_rows)``; a German one the translations of those rows), so they are split by the shared
row id (``Generator.split_by_row``, ``itt.identity.row_streams``): a target's validation and test items, and an
eval set's test items, are neither in any role's training split nor translations of its rows. Different hub
datasets take different parts of the stream (``embedded_offset``), so XQuAD, MLQA and TyDiQA are three sets
offline too. Items are what the overlap counter keys (``itt.data.overlap.item_keys``); translations share the row id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import OFFLINE, read_ledger, run_itt
from datasets import concatenate_datasets
from hydra import compose, initialize_config_dir

from itt import identity, stages
from itt.build import dataset_spec, task_of
from itt.data.files import is_local
from itt.data.overlap import item_keys
from itt.data.preparation import Protocol, split_rows
from itt.train import CONF_DIR

TASK_CONFIGS = sorted(path.stem for path in (Path(CONF_DIR) / "task").glob("*.yaml"))
# Generators that still draw an item twice by chance (in the shipped configs' stand-ins: sentiment 6 of 2,400,
# topics 1 of 240 and of 2,400, similarity 1 of 2,400 or 2,600): drawing them distinct changes the pinned rows of
# tests/test_embedded_data.py and the bench's sentiment data.
REPEATS_LEFT = {"sentiment", "topics", "similarity"}


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
def test_no_held_out_item_of_a_role_or_eval_set_is_a_training_item_of_any_role(tmp_path, task, split, seeds):
    for seed in seeds:
        roles, evals, kind = prepared_roles(tmp_path, task, split, seed)
        # copa: XCOPA's languages (crosslingual, eval sets) have no stand-in; ner's domain is WNUT-17 (ner_social)
        assert (len(evals) >= 3 or split == "official" or task == "copa") and {"domain", "en", "intermediate"} <= set(roles)
        assert "crosslingual" in roles or task == "copa"
        held_out = [(role, s, d[s]) for role, d in roles.items() for s in ("validation", "test")]
        held_out += [(f"eval {name}", "test", d["test"]) for name, d in evals.items()]
        for trainer, splits in roles.items():
            trained = splits["train"]
            trained_items = set(item_keys(kind, trained).tolist())
            for role, split_name, rows in held_out:
                seen = [k in trained_items for k in item_keys(kind, rows).tolist()]
                assert len(rows) > 0 and not any(seen), \
                    f"{task} seed {seed}: {sum(seen)} of {len(rows)} {role} {split_name} items are {trainer} training items"
            if task == "ner" and trainer == "domain":  # WNUT-17's generator (ner_social): another stream, no row id
                continue
            for role, split_name, rows in held_out:
                if task == "ner" and role == "domain":
                    continue
                assert "id" in rows.column_names and "id" in trained.column_names, f"{task}: {role} is not split by row id"
                translated = set(trained["id"]) & set(rows["id"])  # a translation of a training row has its id
                assert not translated, \
                    f"{task} seed {seed}: {len(translated)} {role} {split_name} rows are translations of {trainer} training rows"


def stand_ins(root: Path, task: str) -> tuple[object, dict[str, tuple[object, object, object]]]:
    """The task config and every dataset's and eval set's generated stand-in (those with one), each -> (its
    node, its Task, all its rows with their shared row ids), read as ``split_rows`` reads them for a run."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*OFFLINE, f"task={task}", f"paths.root={root}"])
    protocol = Protocol(cfg.split, cfg.seed, cfg.source.name, 128, Path(cfg.paths.cache))
    out = {}
    for group in ("datasets", "evals"):
        for name, node in (cfg.task.get(group) or {}).items():
            if is_local(node.path) or not stages._has_stand_in(cfg, node):
                continue
            task_ = task_of(cfg, node)
            # split by row id (as every stream stand-in is), the splits joined again: all rows, each with its id
            splits = split_rows(dataset_spec(node, cfg), task_, protocol, by_id=True)[0]
            rows = concatenate_datasets([splits[s] for s in ("train", "validation", "test")])
            out[f"task.{group}.{name}"] = (node, task_, rows)
    return cfg, out


@pytest.mark.parametrize("task", TASK_CONFIGS)
def test_different_hub_datasets_have_stand_ins_of_their_own_and_none_repeats_an_item(tmp_path, task):
    """Offline, two hub datasets (another ``path``, or another ``subset`` in the same language) share no item, and
    none is a translation of the other's rows (no shared row id of one aligned stream) unless the config declares
    them translations (``aligned_with``) or they are one benchmark's languages (one ``path``: XQuAD's, MLQA's,
    XNLI's are parallel on the hub too). Were xquad_en, mlqa_en and tydiqa_en the same rows, they would always
    score alike. And no stand-in draws an item twice (a repeat can be in two splits; but see REPEATS_LEFT)."""
    cfg, sets = stand_ins(tmp_path, task)
    from itt.data.embedded import GENERATORS

    group = {name: name for name in sets}
    for name, (node, _, _) in sets.items():
        partner = next((other for other in sets if other.split(".")[-1] == node.get("aligned_with")), None)
        if partner:
            group[name] = partner

    def root(name):
        while group[name] != name:
            name = group[name]
        return name

    keys = {name: item_keys(kind, rows).tolist() for name, (_, kind, rows) in sets.items()}
    problems = [f"{name} repeats {len(k) - len(set(k))} of its {len(k)} items" for name, k in keys.items()
                if len(set(k)) < len(k) and identity.generator_of(cfg, sets[name][0]) not in REPEATS_LEFT]
    names = list(sets)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (na, ka, ra), (nb, kb, rb) = sets[a], sets[b]
            if ka.kind != kb.kind or root(a) == root(b) or na.path == nb.path and (na.get("subset") == nb.get("subset")
                                                                                   or na.lang != nb.lang):
                continue
            shared = set(keys[a]) & set(keys[b])
            if shared:
                problems.append(f"{a} ({na.path} {na.get('subset')}) and {b} ({nb.path} {nb.get('subset')}) share "
                                f"{len(shared)} items")
            ga, gb = identity.generator_of(cfg, na), identity.generator_of(cfg, nb)
            # one stream (row i of every stand-in is row i or its translation): an aligned generator (one domain each)
            if ga == gb and GENERATORS[ga].aligned and na.path != nb.path:
                translated = set(ra["id"]) & set(rb["id"])
                if translated:
                    problems.append(f"{a} ({na.path}) and {b} ({nb.path}) share {len(translated)} row ids (translations)")
    assert not problems, f"task={task}: " + "; ".join(problems)


def test_a_stand_in_overlapping_another_hub_datasets_rows_is_a_warning(tmp_path):
    """A config raising one stand-in's embedded_rows into the next one's part of the stream is told so."""
    from itt.data.alignment import shared_stand_in_rows

    def lines(*overrides):
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            cfg = compose("train", overrides=[*OFFLINE, "task=qa", "+stage=target", "stage.target=domain",
                                              f"paths.root={tmp_path}", *overrides])
        return shared_stand_in_rows(stages.resolve(cfg))

    assert lines() == []
    found = lines("task.datasets.intermediate.embedded_rows=3100")
    # (tydiqa_en, TyDiQA's English rows as the domain target reads them, is left out: the run trains on them)
    assert [line.split(" are stand-ins")[0] for line in found] == [
        "task.datasets.domain (google-research-datasets/tydiqa) and task.datasets.intermediate (rajpurkar/squad)"]
    assert "of generator qa with overlapping rows (3000-3239 and 0-3099 of its stream)" in found[0]
    assert found[0].endswith("give one an embedded_offset past the other's rows")


@pytest.mark.parametrize(("generator", "domain"), [("pos", "general"), ("ner", "wiki"), ("choice", "causal"),
                                                   ("choice", "social"), ("parallel", "general")])
def test_a_stand_in_repeats_no_item_and_stays_aligned(generator, domain):
    """A chance repeat would put one item in two splits (in 2,400 rows ner repeated 29 sentences, parallel 105
    pairs: two retrieval candidates with one text); every language skips the same draws, so row i is still row
    i's translation."""
    from itt.data.embedded import generate, label_names, langs

    names = label_names(generator, domain)

    def same_in_every_language(row):  # ner: the entities' types; choice: the question and the answer's index;
        if generator == "ner":        # parallel: the English side
            return sorted(names[t] for t in row["tags"] if names[t].startswith("B-"))
        if generator == "parallel":
            return row["text_pair"]
        return (row["question"], row["label"]) if generator == "choice" else None

    def item(row):  # the overlap counter's item: the words, the premise, question and choices (in either order), the pair
        if "tokens" in row:
            return tuple(row["tokens"])
        return (row["premise"], row["question"], frozenset(row["choices"])) if "premise" in row else (row["text"], row["text_pair"])

    by_lang = {lang: generate(generator, lang, domain, 2400, seed=0) for lang in langs(generator)}
    first = by_lang[langs(generator)[0]]
    for lang, rows in by_lang.items():
        items = set(map(item, rows))
        assert len(items) == len(rows), f"{generator} {lang}: {len(rows) - len(items)} repeated items"
        if generator == "parallel":  # nor a sentence on either side
            assert len({r["text"] for r in rows}) == len({r["text_pair"] for r in rows}) == len(rows), lang
        assert list(map(same_in_every_language, rows)) == list(map(same_in_every_language, first)), lang


def test_a_generator_out_of_new_items_says_so_instead_of_looping(monkeypatch):
    """choice without its premises' times has ~2,400 distinct causal items: asking for more is a one-line
    ValueError (a DataError when loaded)."""
    from itt.data.embedded import choice, generate

    monkeypatch.setattr(choice, "P_NO_TIME", 1.0)
    with pytest.raises(ValueError, match="generator 'choice' has no new item after 10000 draws"):
        generate("choice", "en", "causal", 3_000, seed=0)


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
