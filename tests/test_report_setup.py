"""The report pairs an ITT run only with no-ITT runs of the same setup (``itt.identity.setup_ids``): everything
the run id holds but seed, parent and machine. A sweep over the target's ``max_rows`` (a learning curve), the
hub model or the task's options keeps one model config name, dataset path and hparams id, and used to pair
runs across them."""

from __future__ import annotations

import warnings

import pytest
from hydra import compose, initialize_config_dir
from report_ledger import dataset, intermediate_row, target_row, write_ledger

from itt import identity
from itt.report import Bootstrap, build_report, load_ledger
from itt.train import CONF_DIR


def make(*overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=["model=bert", "task=sentiment", "+stage=target", "source=embedded",
                                           "stage.target=domain", *overrides])


def test_setup_ids_follow_data_size_model_and_task_options_but_not_seed_or_itt():
    def setup(*overrides):
        return identity.setup_ids(identity.resolve(make(*overrides)))[0]

    base = setup()
    assert base == setup("seed=3") == setup("stage.itt=false")  # what the comparison pairs across
    assert identity.hparams_id(make("task.datasets.domain.max_rows=100")) == identity.hparams_id(make())
    assert setup("task.datasets.domain.max_rows=100") != base
    assert setup("model.hub_id=bert-large-uncased") != base
    assert setup("+task.options.extra=1") != base
    # the parent's setup is in the ITT row's chain id: an intermediate of another size is another chain
    parent = {"hparams_id": "h", "dataset": {"key": "k"}, "datasets": [{"key": "k"}], "selected_on": "val/acc"}
    assert (identity.chain_hparams_id({**parent, "setup_id": "a"}, "projection")
            != identity.chain_hparams_id({**parent, "setup_id": "b"}, "projection"))
    assert identity.chain_hparams_id(parent, "projection") is not None  # rows before setup ids still get one


def test_itt_and_no_itt_runs_of_other_target_sizes_are_not_paired(tmp_path):
    mnli = intermediate_row("mnli", dataset("intermediate", "mnli"))
    rows = [mnli]
    # A learning curve: no-ITT at 20k and 1k target rows; ITT at 20k only.
    for seed, (big, small, itt) in enumerate([(0.80, 0.55, 0.82), (0.81, 0.56, 0.83), (0.79, 0.57, 0.81)]):
        rows += [target_row(f"big-{seed}", seed=seed, value=big) | {"setup_id": "rows20k"},
                 target_row(f"small-{seed}", seed=seed, value=small) | {"setup_id": "rows1k"},
                 target_row(f"itt-{seed}", seed=seed, value=itt, parent=mnli) | {"setup_id": "rows20k"}]
    write_ledger(tmp_path, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cells = build_report(load_ledger(tmp_path / "results.jsonl"), bootstrap=Bootstrap(resamples=0)).table
    paired = cells[cells["itt_variant"] == "intermediate"]
    assert len(paired) == 1
    cell = paired.iloc[0]
    assert cell["setup"] == "rows20k" and cell["n_pairs"] == 3
    assert cell["noitt_mean"] == pytest.approx(0.80) and cell["delta"] == pytest.approx(0.02)


def test_rows_from_before_setup_ids_join_the_one_setup_of_their_comparison(tmp_path):
    """A study extended after the update: its old no-ITT rows have no setup id, its new ITT rows have one. They
    are still one comparison; where the comparison holds two setups, the old rows cannot be attributed."""
    mnli = intermediate_row("mnli", dataset("intermediate", "mnli"))
    old = [target_row(f"none-{seed}", seed=seed, value=0.80 + seed / 100) for seed in range(3)]
    new = [target_row(f"itt-{seed}", seed=seed, value=0.82 + seed / 100, parent=mnli) | {"setup_id": "S"} for seed in range(3)]
    write_ledger(tmp_path, [mnli, *old, *new])
    with pytest.warns(UserWarning, match=r"3 run\(s\) from before setup ids are compared with the one setup"):
        cells = build_report(load_ledger(tmp_path / "results.jsonl"), bootstrap=Bootstrap(resamples=0)).table
    [cell] = cells.to_dict("records")
    assert cell["setup"] == "S" and cell["n_pairs"] == 3 and cell["delta"] == pytest.approx(0.02)

    other = [target_row(f"small-{seed}", seed=seed, value=0.5) | {"setup_id": "T"} for seed in range(3)]
    write_ledger(tmp_path, [mnli, *old, *new, *other])
    with pytest.warns(UserWarning, match=r"3 run\(s\) from before setup ids are kept apart"):
        cells = build_report(load_ledger(tmp_path / "results.jsonl"), bootstrap=Bootstrap(resamples=0)).table
    paired = cells[(cells["setup"] == "S") & (cells["itt_variant"] == "intermediate")].iloc[0]
    assert paired["noitt_n"] == 0 and set(cells["setup"]) == {"S", "T", "n/a"}


def _curve(tmp_path, evals=False):
    """ITT and no-ITT runs at two target sizes (setups "big" and "small"), optionally with eval sets de/fr."""
    from report_ledger import eval_set

    mnli = intermediate_row("mnli", dataset("intermediate", "mnli"))
    rows = [mnli]
    for setup, base, gain in (("big", 0.80, 0.02), ("small", 0.55, 0.10)):
        for seed in range(3):
            def sets(value):
                return ({lang: eval_set(lang, value - 0.1) | {"setup": f"{lang}-{setup}"} for lang in ("de", "fr")}
                        if evals else None)
            rows += [target_row(f"{setup}-none-{seed}", seed=seed, value=base + seed / 100,
                                evals=sets(base + seed / 100)) | {"setup_id": setup},
                     target_row(f"{setup}-itt-{seed}", seed=seed, value=base + gain + seed / 100, parent=mnli,
                                evals=sets(base + gain + seed / 100)) | {"setup_id": setup}]
    write_ledger(tmp_path, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_report(load_ledger(tmp_path / "results.jsonl"), bootstrap=Bootstrap(resamples=0))


def test_each_setup_is_a_table_and_a_heatmap_column_of_its_own_named_by_its_setup(tmp_path):
    from itt.report import render_markdown
    from itt.report.plots import plot_delta_heatmap

    report = _curve(tmp_path)
    deltas = report.table.set_index("setup")["delta"].dropna()
    assert deltas.to_dict() == pytest.approx({"big": 0.02, "small": 0.10})
    markdown = render_markdown(report.table)
    assert "setup big" in markdown and "setup small" in markdown
    fig = plot_delta_heatmap(report.table)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert len(labels) == 2 and any("setup big" in x for x in labels) and any("setup small" in x for x in labels)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert any("+0.020" in x for x in texts) and any("+0.100" in x for x in texts)


def test_language_views_keep_setups_apart(tmp_path):
    """The per-language rows took their Holm p by merging on keys without the eval set's setup (two specs of
    one eval set: four rows for two cells), and the averages over languages never told eval setups apart."""
    report = _curve(tmp_path, evals=True)
    langs = report.languages
    per_lang = langs[(langs["view"] == "language") & langs["itt_variant"].notna()]
    assert len(per_lang) == len(per_lang.drop_duplicates(["setup", "eval", "eval_setup"])) == 2 * 3  # en, de, fr
    averages = langs[(langs["view"] == "average") & langs["itt_variant"].notna()]
    assert sorted(averages["setup"]) == ["big", "small"]
    assert averages.set_index("setup")["delta"].to_dict() == pytest.approx({"big": 0.02, "small": 0.10})
    assert all(str(s).count("de-") == 1 and str(s).count("fr-") == 1 for s in averages["eval_setup"])


def test_an_old_run_takes_one_setup_for_all_its_lines_or_none(tmp_path):
    """Setups of old rows were decided per kind of evaluated set: an old run whose own comparison held two setups
    stayed apart there, while its retrieval eval set, which only one setup scored, joined that setup and its
    scores replaced that setup's no-ITT runs (Δ +0.32 where the setup's own runs give +0.02)."""
    from report_ledger import eval_set

    mnli = intermediate_row("mnli", dataset("intermediate", "mnli"))

    def tatoeba(value):
        return {"tatoeba_de": eval_set("de", value, path="tatoeba") | {"kind": "retrieval", "setup": "tde"}}

    rows = [mnli]
    for seed in range(3):
        rows += [target_row(f"s-none-{seed}", seed=seed, value=0.80, evals=tatoeba(0.50)) | {"setup_id": "S"},
                 target_row(f"s-itt-{seed}", seed=seed, value=0.82, parent=mnli, evals=tatoeba(0.52)) | {"setup_id": "S"},
                 target_row(f"t-none-{seed}", seed=seed, value=0.50) | {"setup_id": "T"}]
    rows += [target_row(f"old-{seed}", seed=seed, value=0.50, evals=tatoeba(0.20)) for seed in range(3)]  # written last
    write_ledger(tmp_path, rows)
    with pytest.warns(UserWarning, match=r"3 run\(s\) from before setup ids are kept apart"):
        cells = build_report(load_ledger(tmp_path / "results.jsonl"), bootstrap=Bootstrap(resamples=0)).table
    retrieval = cells[(cells["eval"] == "tatoeba_de") & (cells["setup"] == "S") & cells["itt_variant"].notna()].iloc[0]
    assert retrieval["noitt_mean"] == pytest.approx(0.50) and retrieval["delta"] == pytest.approx(0.02)
    assert set(cells.loc[cells["eval"] == "tatoeba_de", "setup"]) == {"S", "n/a"}


def test_every_view_names_the_setup_where_a_target_has_several(tmp_path):
    """The cross-lingual and robustness sections, the bar facets and the language heatmaps of two setups had
    identical titles and different numbers."""
    from itt.report import write_outputs

    report = _curve(tmp_path, evals=True)
    written = write_outputs(report, tmp_path / "report")
    markdown = written["markdown"].read_text()
    titles = [line for line in markdown.splitlines() if line.startswith("### ")]
    assert len(titles) == len(set(titles)), [t for t in titles if titles.count(t) > 1]
    assert any("setup big" in t for t in titles) and any("setup small" in t for t in titles)
    heatmaps = sorted(p.name for p in (tmp_path / "report").glob("languages_*.png"))
    assert len(heatmaps) == 2 and any("big" in n for n in heatmaps) and any("small" in n for n in heatmaps)
