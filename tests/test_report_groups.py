"""Views of a ledger with several groups of comparable runs (source, split, hparams_id, checkpoint metric) keep
them apart and say which is which: a learning-rate sweep where ITT helps at one rate and hurts at the other."""

from __future__ import annotations

import json

import numpy as np
import pytest
from report_ledger import dataset, eval_set, intermediate_row, target_row, write_ledger

from itt.report import build_report, gain_vs_measure_plots, language_heatmaps, load_ledger, plot_bars
from itt.report.tables import (render_language_markdown, render_rho_markdown, render_robustness_markdown)

GAIN = {"i1": 0.01, "i2": 0.03, "i3": 0.02, "i4": 0.04}


def _two_rates(tmp_path, measures: bool = False):
    """Three seeds of no-ITT and ITT targets at two learning rates (hparams ids): ITT +0.02 at hpA, −0.03 at hpB,
    on the own test set and on de/sw eval sets; with ``measures``, four intermediates whose gains grow with a
    measure, the same at both rates."""
    rows = []
    for s in range(3):
        inters = {name: intermediate_row(f"{name}-s{s}", dataset(name, f"data_{name}"), seed=s) for name in GAIN}
        rows += inters.values()
        for hp, sign in (("hpA", 1), ("hpB", -1.5)):
            gains = {name: sign * (g if measures else 0.02) for name, g in GAIN.items()}
            rows.append(target_row(f"none-{hp}-{s}", seed=s, hparams_id=hp, value=0.80 + 0.003 * s,
                                   data=dataset("en", "xnli", "en"),
                                   evals={lang: eval_set(lang, base + 0.004 * s) for lang, base in (("de", .7), ("sw", .5))}))
            for name in GAIN if measures else ["i1"]:
                g = gains[name]
                rows.append(target_row(f"{name}-{hp}-{s}", seed=s, hparams_id=hp, parent=inters[name],
                                       value=0.80 + 0.003 * s + g + 0.001 * (s % 2), data=dataset("en", "xnli", "en"),
                                       evals={lang: eval_set(lang, base + 0.004 * s + g + 0.001 * (s % 2))
                                              for lang, base in (("de", .7), ("sw", .5))}))
    write_ledger(tmp_path, rows)
    if measures:
        (tmp_path / "measures.jsonl").write_text("".join(
            json.dumps({"a_key": f"data_{name}", "b_key": b_key, "model": None, "measure": "js", "value": float(k)}) + "\n"
            for k, name in enumerate(GAIN, 1) for b_key in ("xnli:en",)))
    return build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path)


def test_a_rho_ranks_the_points_of_one_group_not_the_same_pairs_at_two_learning_rates(tmp_path):
    """The four (intermediate, target) pairs at two rates were eight points of one ρ: n = 8, p = 0.04, where
    each rate's own ranking is n = 4, p = 0.33."""
    report = _two_rates(tmp_path, measures=True)
    rho = report.rho[(report.rho["model"] == "all") & (report.rho["scope"] == "all")].set_index("hparams_id")
    assert sorted(rho.index) == ["hpA", "hpB"]
    assert (rho["n"] == 4).all(), report.rho
    assert rho.loc["hpA", "rho"] == pytest.approx(0.8) and rho.loc["hpB", "rho"] == pytest.approx(-0.8)
    assert rho.loc["hpA", "p_value"] > 0.3
    assert set(report.gains["hparams_id"]) == {"hpA", "hpB"}  # divergence.csv says which rate each point is of
    text = render_rho_markdown(report.rho)
    assert "### group: source=hub split=official hparams=hpA checkpoint on val/acc" in text
    assert "### group: source=hub split=official hparams=hpB checkpoint on val/acc" in text
    figures = gain_vs_measure_plots(report.gains, report.rho)
    assert sorted(figures) == ["gain_vs_js_hub-official-hpA-val-acc", "gain_vs_js_hub-official-hpB-val-acc"]
    assert "hparams=hpB" in figures["gain_vs_js_hub-official-hpB-val-acc"].axes[0].get_title()


def test_the_cross_lingual_views_and_heatmaps_name_their_group(tmp_path):
    """Two sections with one heading (+0.020 and −0.030 under the same title) before; now each names its group, and
    the two heatmaps are named and titled by it."""
    report = _two_rates(tmp_path)
    for text in (render_language_markdown(report.languages), render_robustness_markdown(report.robustness)):
        headings = [line for line in text.splitlines() if line.startswith("### ")]
        assert len(headings) == len(set(headings)) == 2, headings
        assert any("hparams=hpA" in h for h in headings) and any("hparams=hpB" in h for h in headings)
    figures = language_heatmaps(report.languages)
    assert sorted(figures) == ["languages_xnli_en_hub-official-hpA-val-acc", "languages_xnli_en_hub-official-hpB-val-acc"]
    assert "hparams=hpA" in figures["languages_xnli_en_hub-official-hpA-val-acc"].axes[0].get_title()


def test_one_group_keeps_its_headings_and_names_as_they_were(tmp_path):
    rows = []
    for s in range(2):
        inter = intermediate_row(f"int{s}", dataset("intermediate", "mnli"), seed=s)
        rows.append(inter)
        for itt in (False, True):
            rows.append(target_row(f"t{itt}{s}", seed=s, value=0.8 + 0.01 * itt + 0.002 * s, parent=inter if itt else None,
                                   data=dataset("en", "xnli", "en"),
                                   evals={"de": eval_set("de", 0.7 + 0.01 * itt + 0.003 * s)}))
    write_ledger(tmp_path, rows)
    report = build_report(load_ledger(tmp_path / "results.jsonl"))
    assert "group:" not in render_language_markdown(report.languages) and "hparams=" not in render_language_markdown(report.languages)
    assert list(language_heatmaps(report.languages)) == ["languages_xnli_en"]


def test_a_side_never_run_has_no_bar_and_says_so(tmp_path):
    """mbert ran with ITT only: its no-ITT bar was drawn at 0 (a score of 0 next to a large ITT bar)."""
    rows = []
    for s in range(2):
        inter = intermediate_row(f"int{s}", dataset("intermediate", "mnli"), seed=s)
        rows += [inter, target_row(f"x-none-{s}", seed=s, value=0.7 + 0.01 * s, data=dataset("en", "xnli", "en")),
                 target_row(f"x-itt-{s}", seed=s, value=0.75 + 0.01 * s, data=dataset("en", "xnli", "en"), parent=inter),
                 target_row(f"m-itt-{s}", model="mbert", seed=s, value=0.76, data=dataset("en", "xnli", "en"),
                            parent=inter)]
    write_ledger(tmp_path, rows)
    table = build_report(load_ledger(tmp_path / "results.jsonl")).table
    own = table[table["own"].astype(bool)]
    ax = plot_bars(own).axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert sum(np.isnan(h) for h in heights) == 1 and 0.0 not in heights
    assert [t.get_text() for t in ax.texts].count("n/a") == 1
