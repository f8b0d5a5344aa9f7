"""Cross-lingual views and the language table, against hand-computed values.

A target trained on English (xnli:en) and evaluated zero-shot on de (twice: xnli and paws-x), fr,
es, ar, sw and zh; variants none, mnli (one step) and mnli>squad (two steps); seeds 0, 1, 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_ledger import dataset, eval_set, intermediate_row, target_row, write_ledger

from itt import languages
from itt.errors import ConfigError
from itt.report import LedgerWarning, build_report, load_ledger, write_outputs
from itt.report.crosslingual import robustness_lines
from itt.report.long_table import long_table, select

BASE = {"en": 0.80, "de": 0.70, "fr": 0.72, "es": 0.74, "ar": 0.60, "sw": 0.50, "zh": 0.65}
GAIN = {
    "none": dict.fromkeys(BASE, 0.0),
    "mnli": {"en": 0.03, "de": 0.02, "fr": 0.02, "es": 0.02, "ar": 0.05, "sw": -0.01, "zh": 0.00},
    "mnli>squad": {"en": 0.04, "de": 0.01, "fr": 0.03, "es": 0.00, "ar": 0.02, "sw": 0.00,
                   "zh": 0.01},
}
PAWS_OFFSET = -0.04  # the second German eval set scores 0.04 lower


def value(variant, lang, seed):
    jitter = 0.002 * (seed % 2) if variant != "none" else 0.0
    return BASE[lang] + GAIN[variant][lang] + 0.005 * seed + jitter


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("xling")
    rows = []
    for s in range(3):
        mnli = intermediate_row(f"mnli{s}", dataset("mnli", "glue", "mnli"), seed=s)
        squad = intermediate_row(f"squad{s}", dataset("squad", "squad"), parent=mnli, seed=s)
        rows += [mnli, squad]
        for variant, parent in (("none", None), ("mnli", mnli), ("mnli>squad", squad)):
            evals = {lang: eval_set(lang, value(variant, lang, s)) for lang in BASE if lang != "en"}
            evals["de_paws"] = eval_set("de", value(variant, "de", s) + PAWS_OFFSET, path="paws-x")
            rows.append(target_row(f"{variant}-{s}", seed=s, value=value(variant, "en", s),
                                   data=dataset("en", "xnli", "en"), parent=parent, evals=evals))
    write_ledger(root, rows)
    return root


@pytest.fixture(scope="module")
def report(root):
    return build_report(load_ledger(root / "results.jsonl"), root=root)


def agg(report, variant, eval_name):
    t = report.languages
    sel = t[(t["itt_variant"] == variant) & (t["eval"] == eval_name)]
    assert len(sel) == 1, (variant, eval_name, t[["itt_variant", "eval"]])
    return sel.iloc[0]


def test_family_averages_match_hand_computed(report):
    # no-ITT, mean over seeds: languages shift by 0.005·seed -> +0.005 on average.
    # German is the mean of its two eval sets: 0.70 and 0.66 -> 0.68.
    de = 0.70 + PAWS_OFFSET / 2
    ie = agg(report, "mnli", "family Indo-European")
    assert ie["noitt_mean"] == pytest.approx((de + 0.72 + 0.74) / 3 + 0.005)
    # mnli gains de/fr/es +0.02 each; ITT jitter 0.002 on seed 1 -> +0.002/3 on average
    assert ie["delta"] == pytest.approx(0.02 + 0.002 / 3)
    assert ie["n_pairs"] == 3
    romance = agg(report, "mnli>squad", "genus Romance")
    assert romance["noitt_mean"] == pytest.approx((0.72 + 0.74) / 2 + 0.005)
    assert romance["delta"] == pytest.approx((0.03 + 0.00) / 2 + 0.002 / 3)
    assert agg(report, "mnli", "family Niger-Congo")["delta"] == pytest.approx(-0.01 + 0.002 / 3)
    assert agg(report, "mnli", "genus Germanic")["itt_mean"] == pytest.approx(
        de + 0.02 + 0.005 + 0.002 / 3)
    # the training language belongs to no family average (zero-shot only) ...
    families = set(report.languages.loc[report.languages["view"] == "family", "group_name"])
    assert families == {"Indo-European", "Afro-Asiatic", "Niger-Congo", "Sino-Tibetan"}


def test_average_and_transfer_gap(report):
    zero_shot = [0.70 + PAWS_OFFSET / 2, 0.72, 0.74, 0.60, 0.50, 0.65]
    avg = agg(report, "mnli", "avg (excl. en)")
    assert avg["noitt_mean"] == pytest.approx(sum(zero_shot) / 6 + 0.005)
    gains = [0.02, 0.02, 0.02, 0.05, -0.01, 0.00]
    assert avg["delta"] == pytest.approx(sum(gains) / 6 + 0.002 / 3)
    gap = agg(report, "mnli", "gap (en − avg)")
    assert gap["noitt_mean"] == pytest.approx(0.80 - sum(zero_shot) / 6)
    assert gap["delta"] == pytest.approx(0.03 - sum(gains) / 6)


def test_per_language_rows_grouped_by_family(report):
    t = report.languages
    rows = t[(t["view"] == "language") & (t["itt_variant"] == "mnli")]
    assert list(rows["eval_family"]) == sorted(rows["eval_family"])
    assert set(rows["eval"]) == {"en", "de", "de_paws", "fr", "es", "ar", "sw", "zh"}
    de = rows.set_index("eval").loc["de"]
    assert de["delta"] == pytest.approx(0.02 + 0.002 / 3) and de["eval_genus"] == "Germanic"
    md = report.markdown()
    assert "## Cross-lingual view" in md and "family Indo-European" in md


def test_robustness_hand_computed(root, report):
    lines = select(long_table(load_ledger(root / "results.jsonl")))
    run = robustness_lines(lines).query("run_id == 'none-0'").set_index("eval")["value"]
    langs = [0.80, 0.70 + PAWS_OFFSET / 2, 0.72, 0.74, 0.60, 0.50, 0.65]
    assert run["mean over languages"] == pytest.approx(np.mean(langs))
    assert run["worst language"] == pytest.approx(0.50)
    assert run["std across languages"] == pytest.approx(np.std(langs))  # ddof=0
    rob = report.robustness.set_index(["itt_variant", "eval"])
    worst = rob.loc[("mnli>squad", "worst language")]
    # worst is sw in every run: 0.50 (+0.00 mnli>squad) vs -0.01 (mnli)
    assert worst["delta"] == pytest.approx(0.00 + 0.002 / 3)
    assert worst["single_variant"] == "mnli"
    assert worst["delta_vs_single"] == pytest.approx(0.00 - (-0.01))
    mean = rob.loc[("mnli>squad", "mean over languages")]
    g2, g1 = GAIN["mnli>squad"], GAIN["mnli"]
    avg = lambda g: (g["en"] + g["de"] + g["fr"] + g["es"] + g["ar"] + g["sw"] + g["zh"]) / 7  # noqa: E731
    assert mean["delta_vs_single"] == pytest.approx(avg(g2) - avg(g1))
    assert pd.isna(rob.loc[("mnli", "mean over languages"), "delta_vs_single"])


def test_the_single_task_reference_of_chains_and_mixtures():
    from itt.report.crosslingual import single_task_reference

    variants = ["none", "a", "b", "a>b", "b>a", "a+b"]
    assert single_task_reference("a>b", variants) == "b" and single_task_reference("b>a", variants) == "a"
    assert single_task_reference("a+b", variants, {"a": 0.70, "b": 0.80, "a+b": 0.9}) == "b"  # the better member
    assert single_task_reference("a+b", variants, {"a": 0.85, "b": 0.80}) == "a"
    assert single_task_reference("a+b", variants) is None  # without means there is no "better member"
    assert single_task_reference("a", variants) is None


def test_language_heatmap_and_csvs(report, tmp_path):
    written = write_outputs(report, tmp_path / "out")
    png = written["languages_xnli_en"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    csv = pd.read_csv(written["languages"])
    assert {"view", "group_name", "eval_lang", "delta", "ci_low", "p_holm"} <= set(csv.columns)
    assert {"delta_vs_single", "single_variant"} <= set(pd.read_csv(written["robustness"]).columns)
    long = pd.read_csv(written["long"])
    assert {"eval", "own", "eval_family", "n", "metric", "value"} <= set(long.columns)


# -- the language table --------------------------------------------------------------------

def test_language_table_entries():
    table = languages.table()
    assert len(table) == 50
    assert languages.lookup("sw") == languages.Language("sw", "Swahili", "Niger-Congo", "Bantoid", "Latin")
    assert languages.lookup("DE").genus == "Germanic"
    assert (languages.lookup("ja").family, languages.lookup("ja").script) == ("Japonic", "Japanese")
    assert languages.lookup("qu").family == "Quechuan"
    assert languages.lookup("eu").family == "Basque"  # an isolate is its own family
    assert languages.lookup("pt-BR").name == "Portuguese"
    # XTREME-R: 14 families and two isolates (Basque, Korean)
    families = {lang.family for lang in table.values()}
    assert len(families - {"Basque", "Korean"}) == 14


def test_unknown_language_code():
    with pytest.raises(ConfigError) as exc:
        languages.lookup("ge", where="task.evals.x.lang")
    msg = str(exc.value)
    assert "'ge'" in msg and "task.evals.x.lang" in msg and "did you mean" in msg
    assert "\n" not in msg
    with pytest.raises(ConfigError, match=r"did you mean de \(German\)\?"):
        languages.lookup("German")
    assert languages.get("xx") is None


def test_a_multilingual_baseline_without_itt_runs_does_not_break_the_report(tmp_path):
    # A no-ITT baseline at other hyper-parameters (its own group, nothing to compare) crashed the whole report
    # in the robustness view: "argument of type 'float' is not iterable" (its ITT variant is NaN, not None).
    inter = intermediate_row("int0", dataset("mnli", "glue", "mnli"))
    rows = [inter,
            target_row("n0", value=0.6, evals={"de": eval_set("de", 0.5)}),
            target_row("i0", value=0.7, parent=inter, evals={"de": eval_set("de", 0.6)}),
            target_row("n0-lr", value=0.62, hparams_id="hp000002", evals={"de": eval_set("de", 0.55)})]
    write_ledger(tmp_path, rows)
    report = build_report(load_ledger(tmp_path / "results.jsonl"))
    rob = report.robustness
    assert set(rob["hparams_id"]) == {"hp000001", "hp000002"}
    baseline = rob[(rob["hparams_id"] == "hp000002") & (rob["eval"] == "mean over languages")]
    assert baseline["noitt_mean"].tolist() == [pytest.approx((0.62 + 0.55) / 2)] and baseline["single_variant"].isna().all()


def test_a_run_missing_a_language_is_left_out_of_the_averages_over_it(tmp_path):
    """ITT gains +0.01 in every language at every seed, but the ITT run of seed 0 was not scored on sw (the
    weakest language). Averaged over the languages it had, its zero-shot mean was (0.71 + 0.73) / 2 against
    no-ITT's (0.70 + 0.72 + 0.50) / 3 at the same seed: avg Δ came out +0.033 (3 pairs) instead of +0.010, the
    gap's −0.023 instead of 0, the mean over languages' +0.030 and the worst language's +0.077 (sw 0.50
    against de 0.71) instead of +0.010."""
    base = {"en": 0.80, "de": 0.70, "fr": 0.72, "sw": 0.50}
    rows = []
    for s in range(3):
        inter = intermediate_row(f"int{s}", dataset("mnli", "glue", "mnli"), seed=s)
        rows.append(inter)
        for itt in (False, True):
            v = {lang: x + 0.01 * itt + 0.005 * s for lang, x in base.items()}
            langs = [lang for lang in ("de", "fr", "sw") if not (itt and s == 0 and lang == "sw")]
            rows.append(target_row(f"{'i' if itt else 'n'}{s}", seed=s, value=v["en"], parent=inter if itt else None,
                                   data=dataset("en", "xnli", "en"),
                                   evals={lang: eval_set(lang, v[lang]) for lang in langs}))
    write_ledger(tmp_path, rows)
    with pytest.warns(LedgerWarning, match=r"1 target run\(s\) lack eval sets .* in sw;"):
        report = build_report(load_ledger(tmp_path / "results.jsonl"))
    t = report.languages.set_index("eval")
    assert t.loc["avg (excl. en)", "delta"] == pytest.approx(0.01)
    assert t.loc["avg (excl. en)", "n_pairs"] == 2
    assert t.loc["gap (en − avg)", "delta"] == pytest.approx(0.0)
    assert t.loc["family Indo-European", "n_pairs"] == 3  # de and fr: complete at every seed
    assert t.loc["family Niger-Congo", "n_pairs"] == 2
    rob = report.robustness.set_index("eval")
    for stat in ("mean over languages", "worst language"):
        assert rob.loc[stat, "delta"] == pytest.approx(0.01) and rob.loc[stat, "n_pairs"] == 2


def test_the_cross_lingual_view_marks_eval_sets_an_intermediate_trained_on(tmp_path):
    # A translate-train intermediate (PAWS-X de, aligned with the English target) shares a few exact items with the
    # German eval set (rows duplicated inside the file, untranslated "NS" rows): the comparison tables mark that Δ with
    # † and a footnote; the cross-lingual view, "Δ, CI and p as in the comparison tables", showed it unmarked.
    rows = []
    for s in range(2):
        inter = intermediate_row(f"paws_de{s}", dataset("pawsx_de", "paws-x", "de", lang="de"), seed=s)
        rows.append(inter)
        for variant, parent in (("none", None), ("pawsx_de", inter)):
            evals = {lang: eval_set(lang, 0.6 + 0.01 * s + (0.02 if parent else 0)) for lang in ("de", "es")}
            row = target_row(f"{variant}-{s}", seed=s, value=0.7, data=dataset("en", "paws-x", "en"), parent=parent,
                             evals=evals)
            if parent:
                row["overlap"] = {"ancestors": [inter["run_id"]], "checked": True, "reason": None, "validation": 0,
                                  "test": 0, "evals": {"de": 3 + s, "es": 0}, "by_ancestor": [0], "self": {}}
            rows.append(row)
    write_ledger(tmp_path, rows)
    markdown = write_outputs(build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path),
                             tmp_path / "out")["markdown"].read_text()
    view = markdown[markdown.index("## Cross-lingual view"):]
    view = view[:view.index("\n## ", 1)]
    de = next(line for line in view.splitlines() if line.startswith("| Indo-European | de |"))
    es = next(line for line in view.splitlines() if line.startswith("| Indo-European | es |"))
    assert "+0.020†" in de and "†" not in es
    assert "† ITT runs tested on items their intermediate chain trained on" in view and "pawsx_de: 4 of 100" in view


def test_a_region_tagged_language_code_is_its_language(tmp_path):
    """A ``lang`` with a region tag (``en-US``, ``de-DE``: MASSIVE's locales) passes the config check, which cuts
    it to the language, and took its family from the table; but the report compared the raw code with the
    training language: the en-US eval set of an English target was a zero-shot language, in the average and in
    the Indo-European and Germanic means. ITT gains +0.05 in de and fr and loses 0.10 in English: the zero-shot
    Δ is +0.05, not (0.05 + 0.05 − 0.10) / 3 = 0, and Germanic's is German's +0.05, not −0.025."""
    rows = []
    for s in range(2):
        inter = intermediate_row(f"int{s}", dataset("mnli", "glue", "mnli"), seed=s)
        rows.append(inter)
        for itt in (False, True):
            evals = {"de": eval_set("de-DE", 0.70 + 0.05 * itt + 0.01 * s), "fr": eval_set("fr", 0.72 + 0.05 * itt),
                     "en_us": eval_set("en-US", 0.85 - 0.10 * itt)}
            rows.append(target_row(f"{'i' if itt else 'n'}{s}", seed=s, value=0.80, parent=inter if itt else None,
                                   data=dataset("en", "xnli", "en"), evals=evals))
    write_ledger(tmp_path, rows)
    report = build_report(load_ledger(tmp_path / "results.jsonl"))
    t = report.languages.set_index("eval")
    assert t.loc["avg (excl. en)", "delta"] == pytest.approx(0.05)
    assert t.loc["genus Germanic", "delta"] == pytest.approx(0.05)
    assert t.loc["gap (en − avg)", "delta"] == pytest.approx((0.0 - 0.10) / 2 - 0.05)  # en: own set and en-US
    assert (t.loc["en_us", "eval_lang"], t.loc["de", "eval_lang"]) == ("en", "de")


def test_the_single_task_reference_is_a_step_of_the_variant():
    """With one single-task variant, a chain or mixture was compared with it even when it is none of its steps
    (``a>b`` and ``a+b`` against ``c``): a "Δ vs single" between unrelated intermediates."""
    from itt.report.crosslingual import single_task_reference

    assert single_task_reference("a>b", ["none", "c", "a>b"]) is None
    assert single_task_reference("a+b", ["none", "c", "a+b"], {"c": 0.8}) is None
    assert single_task_reference("a>b", ["none", "a", "a>b"]) == "a"  # the only single-task step it has
    assert single_task_reference("a+b>c", ["none", "b", "a+b>c"]) == "b"


def test_a_repeated_seed_counts_once_against_the_single_task_variant(tmp_path):
    """Two runs of one seed under different run ids (a rerun another way the run id sees): every comparison keeps
    the latest, with a warning. The robustness table's Δ against the single-task variant paired the chain's
    seed with both runs of the single-task variant's seed 0 (3 values against 2: the report failed)."""
    base = {"en": 0.80, "de": 0.70, "fr": 0.60}
    gain = {"none": 0.0, "a": 0.02, "a-rerun": 0.04, "a>b": 0.03}
    rows = []
    for s in range(2):
        a = intermediate_row(f"a{s}", dataset("a", "glue", "mnli"), seed=s)
        b = intermediate_row(f"b{s}", dataset("b", "squad"), parent=a, seed=s)
        rows += [a, b]
        runs = [("none", None), ("a", a), ("a>b", b)] + ([("a-rerun", a)] if s == 0 else [])
        for name, parent in runs:
            v = {lang: x + gain[name] + 0.01 * s for lang, x in base.items()}
            rows.append(target_row(f"{name}-{s}", seed=s, value=v["en"], parent=parent, data=dataset("en", "xnli", "en"),
                                   evals={lang: eval_set(lang, v[lang]) for lang in ("de", "fr")}))
    write_ledger(tmp_path, rows)
    with pytest.warns(LedgerWarning, match="repeat an existing"):
        report = build_report(load_ledger(tmp_path / "results.jsonl"))
    rob = report.robustness.set_index(["itt_variant", "eval"])
    assert rob.loc[("a", "mean over languages"), "delta"] == pytest.approx((0.04 + 0.02) / 2)
    chain = rob.loc[("a>b", "mean over languages")]
    assert chain["single_variant"] == "a" and chain["n_pairs_vs_single"] == 2
    assert chain["delta_vs_single"] == pytest.approx(((0.03 - 0.04) + (0.03 - 0.02)) / 2)
    assert chain["single_mean"] == pytest.approx(rob.loc[("a", "mean over languages"), "itt_mean"])
