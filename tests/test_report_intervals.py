"""Scorers, the paired item bootstrap, t-intervals and Holm's correction, each against an
independent reference (sklearn, scipy, a naive loop, hand-computed values)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from report_ledger import dataset, eval_set, intermediate_row, target_row, write_ledger, write_predictions
from scipy import stats as sps
from sklearn.metrics import accuracy_score, f1_score

from itt.report import build_report, comparison_table, load_ledger
from itt.report.intervals import METHOD_BOOTSTRAP, METHOD_T, holm, paired_bootstrap, t_interval
from itt.report.scorers import get_scorer, register_item_scorer
from itt.report.stats import Bootstrap


def resamples(n, b=40, seed=3):
    return np.random.default_rng(seed).integers(0, n, size=(b, n))


def test_classification_scorers_match_sklearn():
    rng = np.random.default_rng(0)
    # n=7 with a rare class: many resamples lack class 2 in gold, in pred, or in both
    gold = np.array([0, 1, 1, 0, 2, 1, 0])
    pred = np.array([0, 1, 0, 0, 1, 1, 2])
    for g, p in ((gold, pred), (rng.integers(0, 4, 200), rng.integers(0, 4, 200)),
                 (np.array(list("aabbcab")), np.array(list("abbbcaa")))):
        idx = resamples(len(g))
        got_f1 = get_scorer("f1_macro").on_indices(g, p, idx)
        got_acc = get_scorer("acc").on_indices(g, p, idx)
        for b, row in enumerate(idx):
            assert got_f1[b] == pytest.approx(f1_score(g[row], p[row], average="macro",
                                                       zero_division=0), abs=1e-12)
            assert got_acc[b] == pytest.approx(accuracy_score(g[row], p[row]), abs=1e-12)


def test_correlation_scorers_match_scipy():
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 6, 60).astype(float) / 5  # ties, as STS scores have
    pred = np.clip(gold + rng.normal(0, 0.3, 60), 0, 1)
    idx = resamples(60)
    got_p = get_scorer("pearson").on_indices(gold, pred, idx)
    got_s = get_scorer("spearman").on_indices(gold, pred, idx)
    for b, row in enumerate(idx):
        assert got_p[b] == pytest.approx(sps.pearsonr(gold[row], pred[row]).statistic, abs=1e-12)
        assert got_s[b] == pytest.approx(sps.spearmanr(gold[row], pred[row]).statistic, abs=1e-12)
    assert get_scorer("test/pearson")(gold, pred) == pytest.approx(sps.pearsonr(gold, pred)[0])


def test_item_scorer_hook():
    register_item_scorer("em_test", lambda gold, pred: float(pred in gold["text"]))
    gold = [{"text": ["Paris", "paris"]}, {"text": ["4"]}, {"text": ["blue"]}]
    pred = ["paris", "5", "blue"]
    scorer = get_scorer("em_test")
    assert scorer(np.array(gold, dtype=object), np.array(pred, dtype=object)) == pytest.approx(2 / 3)
    idx = np.array([[0, 0, 1], [2, 2, 2]])
    assert scorer.on_indices(np.array(gold, dtype=object), np.array(pred, dtype=object),
                             idx).tolist() == pytest.approx([2 / 3, 1.0])


def naive_bootstrap(pairs, metric_fn, resamples_, seed, level=0.95):
    """Reference: one resample at a time, sklearn for the metric, same generator order (seeds of their own test
    items in order, resamples in order, one index vector of n draws each; then, with several seeds, the seeds each
    resample averages, S draws with replacement per resample)."""
    rng = np.random.default_rng(seed)
    per_seed = np.zeros((len(pairs), resamples_))
    for s, ((g_i, p_i), (g_n, p_n)) in enumerate(pairs):
        for b in range(resamples_):
            row = rng.integers(0, len(g_i), size=len(g_i))
            per_seed[s, b] = metric_fn(g_i[row], p_i[row]) - metric_fn(g_n[row], p_n[row])
    deltas = np.zeros(resamples_)
    seeds = rng.integers(0, len(pairs), size=(resamples_, len(pairs))) if len(pairs) > 1 else None
    for b in range(resamples_):
        drawn = seeds[b] if seeds is not None else [0]
        deltas[b] = sum(per_seed[s, b] for s in drawn) / len(drawn)
    return tuple(np.percentile(deltas, [2.5, 97.5]))


def make_pair(rng, n, acc_itt, acc_no, k=3):
    gold = rng.integers(0, k, n)
    flip = lambda acc: np.where(rng.random(n) < acc, gold, (gold + 1) % k)  # noqa: E731
    return gold, flip(acc_itt), flip(acc_no)


def test_paired_bootstrap_matches_naive_loop(tmp_path):
    rng = np.random.default_rng(7)
    pairs, arrays = [], []
    for seed, n in ((0, 80), (1, 90)):  # seeds may have different test items
        gold, p_itt, p_no = make_pair(rng, n, 0.8, 0.7)
        pairs.append((write_predictions(tmp_path / f"i{seed}", "test", gold.tolist(), p_itt.tolist()),
                      write_predictions(tmp_path / f"n{seed}", "test", gold.tolist(), p_no.tolist())))
        arrays.append(((gold, p_itt), (gold, p_no)))
    f1 = lambda g, p: f1_score(g, p, average="macro", zero_division=0)  # noqa: E731
    got = paired_bootstrap(pairs, get_scorer("f1_macro"), resamples=300, seed=11)
    assert got == pytest.approx(naive_bootstrap(arrays, f1, 300, 11), abs=1e-12)


def test_bootstrap_interval_has_the_normal_approximation_width(tmp_path):
    """For accuracy, Δ_b is a mean of paired item differences: its spread is ≈ sd(d)/√n."""
    rng = np.random.default_rng(5)
    gold, p_itt, p_no = make_pair(rng, 2000, 0.75, 0.70)
    pair = (write_predictions(tmp_path / "i", "test", gold.tolist(), p_itt.tolist()),
            write_predictions(tmp_path / "n", "test", gold.tolist(), p_no.tolist()))
    lo, hi = paired_bootstrap([pair], get_scorer("acc"), resamples=2000, seed=0)
    d = (p_itt == gold).astype(float) - (p_no == gold)
    half = 1.96 * d.std(ddof=1) / math.sqrt(len(d))
    assert (lo + hi) / 2 == pytest.approx(d.mean(), abs=0.15 * half)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.1)


def test_seeds_scored_on_the_same_test_items_share_the_item_draws(tmp_path):
    """Three seeds scored on the same 400 test items and predicting alike: their mean Δ is each seed's Δ, and
    how much it rests on the particular items is what one seed's bootstrap says. Drawn apart per seed, the
    resamples averaged three independent draws, as if each seed had a test set of its own: Δ = +0.0625 got
    [+0.027, +0.094] (width 0.068) against one seed's [+0.005, +0.118] (width 0.113), 0.60 as wide (1/√3)."""
    rng = np.random.default_rng(9)
    gold, p_itt, p_no = make_pair(rng, 400, 0.8, 0.75)
    pairs = [(write_predictions(tmp_path / f"i{s}", "test", gold.tolist(), p_itt.tolist()),
              write_predictions(tmp_path / f"n{s}", "test", gold.tolist(), p_no.tolist())) for s in range(3)]
    one = paired_bootstrap(pairs[:1], get_scorer("acc"), resamples=1000, seed=0)
    assert paired_bootstrap(pairs, get_scorer("acc"), resamples=1000, seed=0) == pytest.approx(one, abs=1e-12)


def test_the_interval_holds_the_seeds_variation_not_the_items_alone(tmp_path):
    """Per-seed Δs of +0.05, −0.03 and +0.04 on 1,000 items: drawing the items alone gave [+0.001, +0.043], an
    interval clear of 0 next to the seeds' paired t-test p of 0.51. Drawing the seeds too, it covers 0; with the
    seeds agreeing (+0.02 each) it stays clear of it."""
    def pairs_of(deltas):
        gold = np.arange(1000) % 2
        out = []
        for s, d in enumerate(deltas):
            base = np.where(np.arange(1000) < 700, gold, 1 - gold)  # 70 % right
            better = base.copy()
            k = int(round(abs(d) * 1000))
            wrong = np.flatnonzero(better != gold)[:k] if d > 0 else np.flatnonzero(better == gold)[:k]
            better[wrong] = gold[wrong] if d > 0 else 1 - gold[wrong]
            out.append((write_predictions(tmp_path / f"i{s}{d}", "test", gold.tolist(), better.tolist()),
                        write_predictions(tmp_path / f"n{s}{d}", "test", gold.tolist(), base.tolist())))
        return out

    lo, hi = paired_bootstrap(pairs_of([0.05, -0.03, 0.04]), get_scorer("acc"), resamples=2000, seed=0)
    assert lo < 0 < hi
    lo, hi = paired_bootstrap(pairs_of([0.02, 0.02, 0.02]), get_scorer("acc"), resamples=2000, seed=0)
    assert 0 < lo < 0.02 < hi


def test_t_interval_matches_scipy():
    d = np.array([0.03, 0.01, 0.045, 0.02])
    ref = sps.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sps.sem(d))
    assert t_interval(d) == pytest.approx(ref, abs=1e-12)
    assert all(math.isnan(x) for x in t_interval([0.1]))


def test_holm_hand_computed():
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → max so far 0.06
    got = holm([0.01, 0.04, 0.03, 0.005, math.nan])
    assert got[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(got[4])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1


@pytest.fixture
def predicted_ledger(tmp_path):
    """Three seeds of no-ITT and ITT, each with test predictions for its own set and for eval
    set 'de'; seed 2's no-ITT 'de' file is missing."""
    rng = np.random.default_rng(42)
    rows, truth = [], {}
    for s in range(3):
        inter = intermediate_row(f"int{s}", dataset("mnli", "glue", "mnli"), seed=s)
        rows.append(inter)
        for name in ("test", "de"):
            truth[(s, name)] = make_pair(rng, 120, 0.8, 0.72)
        for itt in (False, True):
            folder = tmp_path / "preds" / f"{'i' if itt else 'n'}{s}"
            values = {}
            for name in ("test", "de"):
                gold, p_itt, p_no = truth[(s, name)]
                pred = p_itt if itt else p_no
                values[name] = float((pred == gold).mean())
                if not (name == "de" and s == 2 and not itt):
                    write_predictions(folder, name, gold.tolist(), pred.tolist())
            row = target_row(f"{'i' if itt else 'n'}{s}", seed=s, value=values["test"],
                             parent=inter if itt else None,
                             evals={"de": eval_set("de", values["de"], n_test=120)})
            row["predictions"] = str(folder)
            rows.append(row)
    write_ledger(tmp_path, rows)
    return tmp_path, truth


def test_report_cells_use_bootstrap_where_predictions_exist(predicted_ledger):
    root, truth = predicted_ledger
    df = load_ledger(root / "results.jsonl")
    table = comparison_table(df, bootstrap=Bootstrap(resamples=200, seed=3)).set_index("eval")
    own = table.loc["en"]
    assert own["ci_method"] == METHOD_BOOTSTRAP and own["n_items"] == 100
    acc = lambda g, p: float((g == p).mean())  # noqa: E731
    arrays = [((truth[(s, "test")][0], truth[(s, "test")][1]),
               (truth[(s, "test")][0], truth[(s, "test")][2])) for s in range(3)]
    assert (own["ci_low"], own["ci_high"]) == pytest.approx(naive_bootstrap(arrays, acc, 200, 3))
    # 'de' lacks one prediction file: t-interval over the three paired seeds, and why
    de = table.loc["de"]
    assert de["ci_method"] == METHOD_T and "no prediction file" in de["ci_note"]
    d = [float((truth[(s, "de")][1] == truth[(s, "de")][0]).mean()
               - (truth[(s, "de")][2] == truth[(s, "de")][0]).mean()) for s in range(3)]
    assert (de["ci_low"], de["ci_high"]) == pytest.approx(
        sps.t.interval(0.95, 2, loc=np.mean(d), scale=sps.sem(d)))
    # validation metrics have no prediction files
    val = comparison_table(df, metric="val/acc", bootstrap=Bootstrap(resamples=50))
    assert set(val["ci_method"]) == {METHOD_T}


def test_mismatched_items_fall_back_to_t(tmp_path):
    rows = []
    for s in range(2):
        for itt in (False, True):
            folder = tmp_path / f"{itt}{s}"
            gold = [0, 1, 1, 0] if (itt or s == 0) else [1, 1, 1, 0]
            write_predictions(folder, "test", gold, [0, 1, 0, 0])
            row = target_row(f"{itt}{s}", seed=s, value=0.7 + 0.05 * itt + 0.01 * s * itt,
                             parent=intermediate_row(f"p{s}", dataset("m", "m")) if itt else None)
            row["predictions"] = str(folder)
            rows.append(row)
    write_ledger(tmp_path, rows)
    cell = comparison_table(load_ledger(tmp_path / "results.jsonl")).iloc[0]
    assert cell["ci_method"] == METHOD_T and "same test items" in cell["ci_note"]


def test_holm_over_every_cell_of_the_report(predicted_ledger):
    root, _ = predicted_ledger
    report = build_report(load_ledger(root / "results.jsonl"), root=root,
                          bootstrap=Bootstrap(resamples=20))
    t, langs, rob = report.table, report.languages, report.robustness
    agg = langs[langs["view"] != "language"]
    family = [t["p_value"], agg["p_value"], rob["p_value"], rob["p_vs_single"]]
    raw = np.concatenate([f.to_numpy(dtype=float) for f in family])
    assert report.n_tests == np.count_nonzero(~np.isnan(raw)) == 2 + 4 + 3
    adjusted = np.concatenate([t["p_holm"], agg["p_holm"], rob["p_holm"], rob["p_holm_vs_single"]])
    np.testing.assert_allclose(adjusted, holm(raw))
    # per-language rows repeat the main table's cells, with the same adjusted p
    per_lang = langs[langs["view"] == "language"].set_index("eval")["p_holm"]
    assert per_lang.to_dict() == pytest.approx(t.set_index("eval")["p_holm"].to_dict())
    assert any(f"Holm–Bonferroni over the {report.n_tests} comparisons" in n for n in report.notes())
    assert f"Holm–Bonferroni adjusted over the {report.n_tests} comparisons" in report.markdown()


def test_the_bootstrap_scorer_is_the_evaluated_sets_kind_not_the_runs(monkeypatch):
    """A classifier's eval set of another kind (here token classification, span f1) is resampled with that
    kind's scorer: the run's kind has none for ``f1``, so it would fall back to the t-interval."""
    import pandas as pd

    from itt.report import stats

    asked = []
    monkeypatch.setattr(stats, "get_scorer", lambda metric, kind=None: asked.append(kind))
    side = pd.DataFrame({"kind": ["sequence_classification"] * 2, "eval_kind": ["token_classification"] * 2})
    info = {"n_pairs": 2, "paired_seeds": "0,1"}
    stats._item_interval(info, side, side, "test/f1", Bootstrap(resamples=10))
    assert asked == ["token_classification"]
    asked.clear()
    stats._item_interval(info, side.drop(columns="eval_kind"), side, "test/f1", Bootstrap(resamples=10))
    assert asked == ["sequence_classification"]  # rows without an eval kind: the run's own


def test_the_same_gain_at_every_seed_up_to_float32_rounding_has_no_t_test():
    """Metrics are logged in float32: two seeds that both gain exactly 0.02 on a mean over three languages differ
    by 2e-8 after rounding. That passed the zero-variance check (1e-12) and gave t = -2.5e6, p = 2.6e-7: a
    Holm-significant Δ made of rounding noise (xtreme_r_demo's Tatoeba average, 2 seeds, marked *)."""
    from itt.report.stats import NOTE_ZERO_VAR, paired_ttest

    mean32 = lambda v: np.asarray(v, dtype=np.float32).astype(float).mean()  # noqa: E731
    gain = np.array([-0.04, -0.01, -0.01])
    no = np.array([mean32([0.51, 0.40, 0.33]), mean32([0.19, 0.21, 0.07])])
    itt = np.array([mean32(np.array([0.51, 0.40, 0.33]) + gain), mean32(np.array([0.19, 0.21, 0.07]) + gain)])
    assert not np.array_equal(itt - no, [-0.02, -0.02])  # the rounding the check must see through
    t, p, note = paired_ttest(itt, no)
    assert math.isnan(t) and math.isnan(p) and note == NOTE_ZERO_VAR
    assert paired_ttest(np.array([0.52, 0.23]), np.array([0.50, 0.20]))[2] == ""  # real spread: tested
