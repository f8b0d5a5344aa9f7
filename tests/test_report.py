"""Tests for itt.report on a hand-made ledger.

Expected numbers are computed here from the raw per-seed values (numpy + the textbook
paired-t formula + scipy.stats.t.sf), never copied from the report's output.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from itt.report import (
    LedgerWarning,
    comparison_table,
    failed_runs,
    group_summary,
    load_ledger,
    render_latex,
    render_markdown,
    target_runs,
    write_report,
)
from itt.report.__main__ import main
from itt.report.config import UsageError, parse_args

REPO = Path(__file__).resolve().parents[1]
MAIN_HP = "hp000001"
OTHER_HP = "hp999999"
MODELS = ["bert", "roberta", "xlnet"]
TARGETS = ["domain", "crosslingual"]
SEEDS = [0, 1, 2]

# test/acc per (model, target, itt) for seeds 0, 1, 2 – chosen by hand so that the ITT
# effect differs in sign and size across models, and differences are not constant.
VALUES = {
    ("bert", "domain", False): [0.800, 0.810, 0.790],
    ("bert", "domain", True): [0.830, 0.845, 0.815],
    ("roberta", "domain", False): [0.850, 0.860, 0.840],
    ("roberta", "domain", True): [0.855, 0.858, 0.849],
    ("xlnet", "domain", False): [0.780, 0.770, 0.790],
    ("xlnet", "domain", True): [0.760, 0.765, 0.772],
    ("bert", "crosslingual", False): [0.700, 0.720, 0.710],
    ("bert", "crosslingual", True): [0.740, 0.750, 0.742],
    ("roberta", "crosslingual", False): [0.760, 0.755, 0.770],
    ("roberta", "crosslingual", True): [0.770, 0.771, 0.776],
    ("xlnet", "crosslingual", False): [0.690, 0.700, 0.705],
    ("xlnet", "crosslingual", True): [0.695, 0.690, 0.720],
}
# Same cells under another hparams_id: must form their own group, never mix with the above.
OTHER_VALUES = {("bert", "domain", False): [0.500, 0.520], ("bert", "domain", True): [0.600, 0.610]}


def run_id(model, target, itt, seed, hp=MAIN_HP):
    return f"{hp}-sentiment-{model}-{target}-{'itt' if itt else 'noitt'}-s{seed}"


_clock = iter(range(10_000))


def row(**kw):
    """A ledger row with sensible defaults; time increases with every call."""
    t = next(_clock)
    base = {
        "model": "bert", "task": "sentiment", "stage": "target", "target": "domain",
        "itt": False, "seed": 0, "split": "paper", "source": "embedded",
        "primary_metric": "acc", "checkpoint": "/ckpt", "intermediate_run_id": None,
        "wall_s": 10.0, "status": "ok", "error": None, "hparams_id": MAIN_HP,
        "time": f"2024-06-01T{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}+00:00",
    }
    base.update(kw)
    return base


def acc_metrics(v):
    return {"val/acc": v - 0.01, "val/f1_macro": v - 0.02, "test/acc": v, "test/f1_macro": v - 0.015}


def build_ledger_lines() -> list[str]:
    rows = []
    # intermediate runs (itt/target null) – must never enter the comparison
    for m in MODELS:
        rows.append(row(run_id=f"int-{m}", model=m, stage="intermediate", target=None, itt=None,
                        metrics=acc_metrics(0.9)))
    # a failed attempt that was later retried successfully: not a failed run
    rows.append(row(run_id=run_id("bert", "domain", True, 0), model="bert", itt=True, seed=0,
                    status="failed", error="NaN loss", metrics={}))
    for (m, tgt, itt), vals in VALUES.items():
        for seed, v in zip(SEEDS, vals):
            if (m, tgt, itt, seed) == ("roberta", "domain", True, 1):
                # duplicate: an earlier ok row with a different value; the later one counts
                rows.append(row(run_id=run_id(m, tgt, itt, seed), model=m, target=tgt, itt=itt,
                                seed=seed, metrics=acc_metrics(0.1)))
            rows.append(row(run_id=run_id(m, tgt, itt, seed), model=m, target=tgt, itt=itt,
                            seed=seed, metrics=acc_metrics(v),
                            intermediate_run_id=f"int-{m}" if itt else None))
    # "cached" note for an existing run with a bogus value: never counted
    rows.append(row(run_id=run_id("bert", "domain", False, 1), model="bert", seed=1,
                    status="cached", metrics=acc_metrics(0.0)))
    # a run that only ever failed: listed apart
    rows.append(row(run_id="minilm-fail", model="minilm", itt=True, seed=0, status="failed",
                    error="CUDA out of memory", metrics={}))
    for (m, tgt, itt), vals in OTHER_VALUES.items():
        for seed, v in enumerate(vals):
            rows.append(row(run_id=run_id(m, tgt, itt, seed, OTHER_HP), model=m, target=tgt,
                            itt=itt, seed=seed, hparams_id=OTHER_HP, metrics=acc_metrics(v)))
    lines = [json.dumps(r) for r in rows]
    lines.insert(5, '{"run_id": "broken", "model": "bert", "metr')  # corrupt line mid-file
    lines.append('{"run_id": "truncated", "stage": "tar')  # truncated last line (killed job)
    return lines


@pytest.fixture
def ledger_root(tmp_path) -> Path:
    (tmp_path / "results.jsonl").write_text("\n".join(build_ledger_lines()), encoding="utf-8")
    return tmp_path


@pytest.fixture
def ledger(ledger_root) -> pd.DataFrame:
    with pytest.warns(LedgerWarning, match="corrupt"):
        return load_ledger(ledger_root / "results.jsonl")


def expected_cell(model, target, values=VALUES):
    """Independent statistics for one cell: numpy for mean/std, textbook paired t."""
    no = np.array(values[(model, target, False)])
    it = np.array(values[(model, target, True)])
    d = it - no
    n = len(d)
    sd = math.sqrt(((d - d.mean()) ** 2).sum() / (n - 1))
    t = d.mean() / (sd / math.sqrt(n))
    p = 2 * sps.t.sf(abs(t), df=n - 1)
    return {
        "noitt_mean": no.mean(), "noitt_std": math.sqrt(((no - no.mean()) ** 2).sum() / (len(no) - 1)),
        "itt_mean": it.mean(), "itt_std": math.sqrt(((it - it.mean()) ** 2).sum() / (len(it) - 1)),
        "delta": d.mean(), "t_stat": t, "p_value": p, "n": n,
    }


def cell(table, model, target, hp=MAIN_HP):
    sel = table[(table["model"] == model) & (table["target"] == target) & (table["hparams_id"] == hp)]
    assert len(sel) == 1, sel
    return sel.iloc[0]


# -- loading / cleaning ------------------------------------------------------------------

def test_load_skips_corrupt_lines_and_flattens_metrics(ledger):
    assert "broken" not in set(ledger["run_id"]) and "truncated" not in set(ledger["run_id"])
    assert {"test/acc", "val/acc", "test/f1_macro"} <= set(ledger.columns)
    # every line except the two corrupt ones is a row
    assert len(ledger) == len(build_ledger_lines()) - 2


def test_latest_ok_cached_and_failed(ledger):
    runs = target_runs(ledger)
    main = runs[runs["hparams_id"] == MAIN_HP]
    # one counted row per run: 3 models x 2 targets x 2 itt x 3 seeds
    assert len(main) == 36 and main["run_id"].is_unique
    dup = main.loc[main["run_id"] == run_id("roberta", "domain", True, 1), "value"]
    assert dup.tolist() == [VALUES[("roberta", "domain", True)][1]]  # later ok row, not 0.1
    cached = main.loc[main["run_id"] == run_id("bert", "domain", False, 1), "value"]
    assert cached.tolist() == [VALUES[("bert", "domain", False)][1]]  # cached 0.0 ignored
    failed = failed_runs(ledger)
    assert failed["run_id"].tolist() == ["minilm-fail"]  # retried run is not "failed"
    assert "minilm" not in set(runs["model"])


def test_the_report_reads_the_ledger_of_itt_ledger_and_counts_the_rows_the_pipeline_counts(ledger_root, ledger):
    """One row schema and one rule for the row that counts (issue 13): the frame's columns are
    ``itt.ledger.LedgerRow``'s fields, and the report's ``latest_ok`` picks, for every run, the row
    ``itt.ledger.latest_ok`` (what the pipeline's cache answers with) picks."""
    from itt import ledger as itt_ledger
    from itt.report import latest_ok, ledger_frame, ledger_path

    assert list(ledger.columns[:len(itt_ledger.FIELDS)]) == list(itt_ledger.LedgerRow.__annotations__)
    assert ledger_frame.REPORT_COLUMNS == ["_line"] and ledger.columns[len(itt_ledger.FIELDS)] == "_line"
    assert ledger_path is itt_ledger.ledger_path and not hasattr(ledger_frame, "LEDGER_NAME")
    counted = latest_ok(ledger)
    assert len(counted) == len(set(ledger.loc[ledger["status"] == "ok", "run_id"]))
    for run_id_, metrics in zip(counted["run_id"], counted["metrics"]):
        assert itt_ledger.latest_ok(ledger_root, run_id_)["metrics"] == metrics, run_id_


def test_every_ledger_field_has_one_place_in_the_frame():
    """A field added to ``itt.ledger.LedgerRow`` needs a line in the frame's column lists."""
    from itt import ledger as itt_ledger
    from itt.report import ledger_frame as lf

    listed = [*lf._DICT_COLUMNS, *lf._LIST_COLUMNS, *lf._STR_COLUMNS, *lf._INT_COLUMNS, *lf._FLOAT_COLUMNS,
              *lf._OWN_WAY_COLUMNS]
    assert sorted(listed) == sorted(itt_ledger.FIELDS)


def test_the_row_that_counts_is_the_newest_by_time_then_by_line(tmp_path):
    """A row appended later can carry an earlier time (concurrent jobs take the time before the lock):
    both readers go by time first, file order only among equal times."""
    from itt import ledger as itt_ledger
    from itt.report import failed_runs, latest_ok

    rows = [row(run_id="a", metrics={"test/acc": 0.2}, time="2024-06-02T00:00:00+00:00"),
            row(run_id="a", metrics={"test/acc": 0.1}, time="2024-06-01T00:00:00+00:00"),
            row(run_id="b", metrics={"test/acc": 0.3}, time="2024-06-01T00:00:00+00:00"),
            row(run_id="b", metrics={"test/acc": 0.4}, time="2024-06-01T00:00:00+00:00"),
            row(run_id="c", metrics={"test/acc": 0.5}, time="2024-06-01T02:00:00+02:00"),  # 00:00 UTC
            row(run_id="c", metrics={"test/acc": 0.6}, time="2024-06-01T00:30:00Z"),
            row(run_id="d", metrics={"test/acc": 0.7}, time="2024-06-01T00:00:00+00:00"),
            row(run_id="d", metrics={"test/acc": 0.8}, time=None),  # no time: older than any time
            row(run_id="f", status="failed", error="late", time="2024-06-03T00:00:00+00:00"),
            row(run_id="f", status="failed", error="early", time="2024-06-02T00:00:00+00:00")]
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    df = load_ledger(tmp_path)
    picked = dict(zip(latest_ok(df)["run_id"], latest_ok(df)["test/acc"]))
    assert picked == {"a": 0.2, "b": 0.4, "c": 0.6, "d": 0.7}
    for run_id_, value in picked.items():
        assert itt_ledger.latest_ok(tmp_path, run_id_)["metrics"]["test/acc"] == value
    assert failed_runs(df)["error"].tolist() == ["late"]


TIME_SPELLINGS = ["2024-06-01T00:30:00Z", "2024-06-01T00:30:00,5Z", "2024-06-01T02:30:00+02:00",
                  "2024-06-01 00:29", "2024-W22-6", "2024-06-01T00:30:00.25", "20240601T003001", None, "soon",
                  "2024-06-01T24:00:00", 5]


@pytest.mark.parametrize("seed", range(40))
def test_the_report_and_the_ledger_reader_pick_the_same_row_for_any_time_spelling(tmp_path, seed):
    """The report's frame orders rows by the ledger reader's own time parse: ISO week dates, comma
    fractions and unreadable times (first) order the same for both (pandas' own ISO parser reads week
    dates and comma fractions as no time, so it picked other rows)."""
    import random

    from itt import ledger as itt_ledger
    from itt.report import failed_runs, latest_ok

    rng = random.Random(seed)
    rows = [row(run_id=rng.choice("abc"), status=rng.choice(["ok", "ok", "failed", "cached"]),
                metrics={"test/acc": i / 100}, error=str(i), time=rng.choice(TIME_SPELLINGS)) for i in range(12)]
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    df = load_ledger(tmp_path)
    read = list(itt_ledger.read(tmp_path))
    assert dict(zip(latest_ok(df)["run_id"], latest_ok(df)["test/acc"])) == {
        k: r["metrics"]["test/acc"] for k, r in itt_ledger.latest(read).items()}
    failed = {k: r["error"] for k, r in itt_ledger.latest(read, "failed").items() if k not in itt_ledger.latest(read)}
    assert dict(zip(failed_runs(df)["run_id"], failed_runs(df)["error"])) == failed


# -- statistics --------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("target", TARGETS)
def test_stats_match_independent_computation(ledger, model, target):
    table = comparison_table(ledger)
    got = cell(table, model, target)
    exp = expected_cell(model, target)
    for key in ("noitt_mean", "noitt_std", "itt_mean", "itt_std", "delta", "t_stat", "p_value"):
        assert got[key] == pytest.approx(exp[key], rel=1e-9, abs=1e-12), key
    assert got["noitt_n"] == got["itt_n"] == got["n_pairs"] == 3
    assert got["delta_kind"] == "paired" and got["metric"] == "test/acc"


def test_grouping_separates_hparams_ids(ledger):
    groups = group_summary(ledger)
    assert sorted(groups["hparams_id"]) == sorted([MAIN_HP, OTHER_HP])
    main = groups.set_index("hparams_id").loc[MAIN_HP]
    assert main["n_runs"] == 36 and main["seeds"] == "0,1,2"
    other = cell(comparison_table(ledger), "bert", "domain", OTHER_HP)
    assert other["noitt_mean"] == pytest.approx(np.mean(OTHER_VALUES[("bert", "domain", False)]))
    assert other["n_pairs"] == 2
    # the main group's bert/domain is untouched by the other group's much lower values
    assert cell(comparison_table(ledger), "bert", "domain")["noitt_mean"] == pytest.approx(
        np.mean(VALUES[("bert", "domain", False)]))


def test_metric_override(ledger):
    table = comparison_table(ledger, metric="f1_macro")
    got = cell(table, "xlnet", "crosslingual")
    assert got["metric"] == "test/f1_macro"
    exp = np.mean(VALUES[("xlnet", "crosslingual", True)]) - 0.015
    assert got["itt_mean"] == pytest.approx(exp)
    assert cell(comparison_table(ledger, metric="val/acc"), "bert", "domain")["metric"] == "val/acc"


def test_single_seed_and_unpaired(tmp_path):
    lines = [
        row(run_id="a", itt=False, seed=0, metrics={"test/acc": 0.7}),
        row(run_id="b", itt=True, seed=0, metrics={"test/acc": 0.75}),
        # roberta: seeds do not pair -> difference of means, no test
        row(run_id="c", model="roberta", itt=False, seed=0, metrics={"test/acc": 0.8}),
        row(run_id="d", model="roberta", itt=False, seed=1, metrics={"test/acc": 0.82}),
        row(run_id="e", model="roberta", itt=True, seed=5, metrics={"test/acc": 0.9}),
    ]
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    table = comparison_table(load_ledger(tmp_path / "results.jsonl"))
    bert = cell(table, "bert", "domain")
    assert bert["delta"] == pytest.approx(0.05) and bert["n_pairs"] == 1
    assert math.isnan(bert["p_value"]) and math.isnan(bert["noitt_std"])
    rob = cell(table, "roberta", "domain")
    assert rob["delta_kind"] == "unpaired" and rob["delta"] == pytest.approx(0.9 - 0.81)
    md = render_markdown(table)
    assert "n<2" in md and "(unpaired)" in md
    assert "0.700 (n=1)" in md  # no "± nan" for a single run
    paths = write_report(tmp_path)
    assert paths["bars"].stat().st_size > 5000


# -- rendering ---------------------------------------------------------------------------

def test_markdown_marks_best_values_bold(ledger):
    md = render_markdown(comparison_table(ledger))
    domain = md.split("### sentiment / domain")[1].split("###")[0]
    itt_means = {m: np.mean(VALUES[(m, "domain", True)]) for m in MODELS}
    best = max(itt_means, key=itt_means.get)
    assert f"**{itt_means[best]:.3f}**" in domain
    for m in MODELS:
        if m != best:
            assert f"**{itt_means[m]:.3f}**" not in domain
    deltas = {m: np.mean(np.subtract(VALUES[(m, "domain", True)], VALUES[(m, "domain", False)]))
              for m in MODELS}
    best_d = max(deltas, key=deltas.get)
    assert f"**{deltas[best_d]:+.3f}**" in domain
    assert "paired t-test" in domain and "test/acc" in domain  # caption names test + metric
    assert "| bert |" in domain and "| xlnet |" in domain


def test_markdown_missing_cell_dash(tmp_path):
    lines = [row(run_id="a", itt=True, seed=s, metrics={"test/acc": 0.7 + s / 100}) for s in (0, 1)]
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    md = render_markdown(comparison_table(load_ledger(tmp_path / "results.jsonl")))
    assert "| bert | intermediate | – |" in md  # no no-ITT runs (columns: model, variant, no-ITT)


def test_latex_escapes(ledger):
    tex = render_latex(comparison_table(ledger))
    assert r"\begin{tabular}" in tex and r"\textbf{" in tex and r"$\pm$" in tex
    assert "test/acc" in tex and "ttest\\_rel" in tex


# -- files ---------------------------------------------------------------------------------

def assert_png(path: Path):
    from matplotlib import image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000
    img = image.imread(path)
    assert img.shape[0] > 300 and img.shape[1] > 400
    assert img[..., :3].std() > 0.05  # not a blank canvas


def test_write_report_files(ledger_root):
    with pytest.warns(LedgerWarning):
        paths = write_report(ledger_root)
    out = ledger_root / "report"
    names = ("comparison.md", "comparison.csv", "comparison.tex", "long.csv", "failed.csv",
             "delta_heatmap.png", "bars.png")
    for name in names:
        assert (out / name).is_file(), name
    # no eval sets in other languages and no measures.jsonl: no language or divergence files
    assert set(paths.values()) == {out / n for n in names}
    assert_png(out / "delta_heatmap.png")
    assert_png(out / "bars.png")
    csv = pd.read_csv(out / "comparison.csv")
    assert len(csv) == 3 * 2 + 1  # main group 3 models x 2 targets + other group's bert/domain
    got = csv[(csv.model == "roberta") & (csv.target == "crosslingual") & (csv.hparams_id == MAIN_HP)]
    assert got["p_value"].iloc[0] == pytest.approx(expected_cell("roberta", "crosslingual")["p_value"])
    assert pd.read_csv(out / "failed.csv")["run_id"].tolist() == ["minilm-fail"]
    md = (out / "comparison.md").read_text()
    assert "minilm-fail" in md and f"hparams={OTHER_HP}" in md


# -- CLI -------------------------------------------------------------------------------------

def test_cli_prints_groups_and_table(ledger_root, capsys):
    assert main([f"paths.root={ledger_root}"]) == 0
    out, err = capsys.readouterr()
    assert f"group: source=embedded split=paper hparams={MAIN_HP} — 36 runs, seeds 0,1,2" in out  # no selected_on: said as before
    assert "### sentiment / domain" in out and "paired t-test" in out
    assert "corrupt" in err and "Traceback" not in err
    assert (ledger_root / "report" / "comparison.md").is_file()


def test_cli_out_and_metric(ledger_root, tmp_path, capsys):
    out_dir = tmp_path / "elsewhere"
    assert main(["--root", str(ledger_root), "--out", str(out_dir), "--metric", "f1_macro"]) == 0
    assert "test/f1_macro" in capsys.readouterr().out
    assert (out_dir / "bars.png").is_file()


def test_cli_missing_ledger(tmp_path, capsys):
    assert main(["--root", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: ledger not found: {tmp_path / 'nope' / 'results.jsonl'}"


def test_cli_empty_ledger(tmp_path, capsys):
    (tmp_path / "results.jsonl").write_text("\n")
    assert main(["--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "empty" in err and str(tmp_path / "results.jsonl") in err
    assert len(err.strip().splitlines()) == 1


def test_cli_only_intermediate_rows(tmp_path, capsys):
    lines = [row(run_id=f"int{i}", stage="intermediate", target=None, itt=None,
                 metrics={"test/acc": 0.9}) for i in range(3)]
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    assert main(["--root", str(tmp_path)]) == 0
    assert "no target-stage runs" in capsys.readouterr().out
    assert (tmp_path / "report" / "comparison.md").is_file()
    assert not (tmp_path / "report" / "bars.png").exists()


def test_parse_args_keys_and_aliases(capsys):
    cfg = parse_args(["paths.root=/x", "metric=acc", "--out", "o"])
    assert (cfg.paths.root, cfg.metric, cfg.out, cfg.status) == ("/x", "acc", "o", False)
    cfg = parse_args(["--root", "/y", "--metric=val/acc", "--wandb", "e/p", "--status"])
    assert (cfg.paths.root, cfg.metric, cfg.wandb, cfg.status) == ("/y", "val/acc", "e/p", True)
    assert parse_args(["+status=true", "bootstrap.resamples=10"]).bootstrap.resamples == 10
    with pytest.raises(UsageError, match="valid keys: paths.root, metric"):
        parse_args(["trainer.max_epochs=3"])
    # the CLI: one line, exit 2, naming the key and the valid ones
    assert main(["trainer.max_epochs=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'trainer.max_epochs'" in err and "sweep" in err
    assert main(["bootstrap.resamples=many"]) == 2
    assert "bootstrap.resamples" in capsys.readouterr().err


def test_cli_subprocess_entry_point(tmp_path):
    """``python -m itt.report`` works as a process: exit code and one-line error."""
    proc = subprocess.run([sys.executable, "-m", "itt.report", f"paths.root={tmp_path}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: ledger not found: {tmp_path / 'results.jsonl'}"


def test_constant_differences_and_missing_primary_metric(tmp_path):
    # ITT is exactly +0.1 on every seed: the t statistic is undefined, which must be said
    # rather than shown as p=0 or a crash. One row lacks primary_metric: it borrows the
    # task's ("acc") instead of being dropped.
    lines = []
    for s in (0, 1, 2):
        lines.append(row(run_id=f"n{s}", itt=False, seed=s, metrics={"test/acc": 0.5 + s / 10}))
        lines.append(row(run_id=f"i{s}", itt=True, seed=s, metrics={"test/acc": 0.6 + s / 10},
                         primary_metric=None if s == 2 else "acc"))
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    got = cell(comparison_table(load_ledger(tmp_path / "results.jsonl")), "bert", "domain")
    assert got["itt_n"] == 3 and got["delta"] == pytest.approx(0.1)
    assert math.isnan(got["p_value"]) and got["test_note"] == "zero variance of differences"


def test_n_items_says_fewest_and_most_when_seeds_test_on_different_numbers_of_items(tmp_path):
    # split=paper splits translations by a hash of seed and row id, so each seed has its own test size
    # (PAWS-X dev: 292 and 310); "n items" showed the most common count, 292, a size one run did not have.
    from report_ledger import eval_set, intermediate_row, dataset, target_row, write_ledger  # noqa: PLC0415

    from itt.report import build_report, load_ledger  # noqa: PLC0415

    rows = []
    for seed, n in ((0, 100), (1, 120)):
        inter = intermediate_row(f"int{seed}", dataset("mnli", "glue", "mnli"), seed=seed)
        rows += [inter,
                 target_row(f"n{seed}", seed=seed, value=0.6, evals={"de": eval_set("de", 0.5, n_test=n)}),
                 target_row(f"i{seed}", seed=seed, value=0.7, parent=inter, evals={"de": eval_set("de", 0.6, n_test=n)})]
    write_ledger(tmp_path, rows)
    report = build_report(load_ledger(tmp_path / "results.jsonl"))
    de = report.table.set_index("eval").loc["de"]
    assert (de["n_items"], de["n_items_max"]) == (100, 120)
    assert any(line.startswith("| xlmr | mnli |") and line.endswith("| 2 | 100–120 |")
               for line in report.markdown().splitlines()), report.markdown()


def test_cli_metric_no_run_has_is_one_error_naming_the_valid_ones_and_keeps_the_last_report(ledger_root, capsys):
    """A metric no target run has is a typo: one error line naming the metrics the runs have, exit 2, and the
    report written before stays (it was overwritten with empty tables, exit 0). No library warning from the
    empty selection (pandas' deprecated `&` of a bool and a str column) is printed."""
    assert main(["--root", str(ledger_root), "bootstrap.resamples=0"]) == 0
    before = {p.name: p.read_bytes() for p in (ledger_root / "report").iterdir()}
    capsys.readouterr()
    for metric, name in (("bogus", "test/bogus"), ("val/bogus", "val/bogus")):
        assert main(["--root", str(ledger_root), f"metric={metric}"]) == 2
        err = [line for line in capsys.readouterr().err.strip().splitlines() if "unreadable ledger line" not in line]
        assert err == [f"error: metric={metric}: no target run has {name}; valid: acc, f1_macro, val/acc, val/f1_macro"], err
    assert {p.name: p.read_bytes() for p in (ledger_root / "report").iterdir()} == before


def test_cli_metric_no_run_has_leaves_no_empty_out_folder(ledger_root, tmp_path, capsys):
    """The out folder was made before the metric was checked: a refused command left an empty folder behind."""
    out = tmp_path / "reports" / "new"
    assert main(["--root", str(ledger_root), f"out={out}", "metric=bogus"]) == 2
    assert "error: metric=bogus: no target run has test/bogus" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


def test_cli_metric_only_some_runs_lack_warns_and_reports_the_others(tmp_path, capsys):
    lines = [row(run_id=f"n{s}", seed=s, metrics={"test/acc": 0.5, "test/f1_macro": 0.4}) for s in (0, 1)]
    lines += [row(run_id=f"i{s}", seed=s, itt=True, metrics={"test/acc": 0.6}) for s in (0, 1)]
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    assert main(["--root", str(tmp_path), "metric=f1_macro"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["warning: 2 target run(s) lack metric test/f1_macro (tasks: sentiment); not counted"], err


@pytest.mark.parametrize("words, expected", [
    (["metric=dev/acc"], "error: metric=dev/acc: give a metric name, optionally after a split prefix (val, test): "
                         "acc = test/acc, or val/acc"),
    (["metric=val/de/acc"], "error: metric=val/de/acc: give a metric name, optionally after a split prefix"),
    (["bootstrap.resamples=-5"], "error: bootstrap.resamples=-5: must be >= 0"),
    (["bootstrap.seed=-1"], "error: bootstrap.seed=-1: must be >= 0"),
])
def test_cli_values_numpy_or_pandas_would_trip_on_are_one_line_before_reading(ledger_root, capsys, words, expected):
    """They were tracebacks (a ValueError from the metric's split prefix; numpy's negative sizes and seeds)."""
    assert main(["--root", str(ledger_root), *words]) == 2
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and err.startswith(expected), err
    assert not (ledger_root / "report").exists()


def test_cli_an_output_folder_that_cannot_be_written_is_one_line_before_any_work(ledger_root, capsys):
    """``out=`` under a file (or a file itself) was a NotADirectoryError/FileExistsError traceback after the tables
    and the bootstrap were computed."""
    blocker = ledger_root / "notes.txt"
    blocker.write_text("a file\n")
    for out in (blocker, blocker / "report"):
        assert main(["--root", str(ledger_root), f"out={out}"]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert [line for line in err.splitlines() if not line.startswith("warning:")] == [  # warnings: corrupt lines
            f"error: cannot write the report to {out}: {blocker} is a file, not a folder; give another folder with out=DIR"]
    assert blocker.read_text() == "a file\n"


def test_cli_library_warning_keeps_its_own_format(ledger_root, capsys, monkeypatch):
    import warnings

    import itt.report.__main__ as cli

    build = cli.build_report

    def noisy(*args, **kwargs):
        warnings.warn("a library deprecation", FutureWarning, stacklevel=1)
        return build(*args, **kwargs)

    monkeypatch.setattr(cli, "build_report", noisy)
    assert main(["--root", str(ledger_root)]) == 0
    err = capsys.readouterr().err
    assert "warning: a library deprecation" not in err
    assert "FutureWarning: a library deprecation" in err


def test_the_group_line_counts_a_repeated_seed_once(tmp_path):
    """Seed 0 of one cell re-run under another run id: the table keeps the latest, so the group line says 6 runs
    (3 no-ITT + 3 ITT seeds), not the 7 rows it read."""
    from report_ledger import dataset, intermediate_row, target_row, write_ledger

    from itt.report.writer import build_report

    parent = intermediate_row("mid", dataset("intermediate", "mnli"))
    rows = [parent]
    rows += [target_row(f"no-{s}", seed=s, value=0.80 + s / 100) for s in range(3)]
    rows += [target_row(f"itt-{s}", seed=s, value=0.85 + s / 100, parent=parent) for s in range(3)]
    rows.append(target_row("itt-0-again", seed=0, value=0.86, parent=parent))
    write_ledger(tmp_path, rows)
    with pytest.warns(LedgerWarning, match="repeat an existing"):
        report = build_report(load_ledger(tmp_path))
    assert report.groups["n_runs"].tolist() == [6]


@pytest.mark.parametrize(("p", "shown"), [(0.0496, "0.0496*"), (0.0504, "0.0504"), (0.049, "0.049*"), (0.051, "0.051"),
                                          (0.2, "0.200"), (0.0004, "4.0e-04*"), (0.05, "0.050"),
                                          (0.0499999, "<0.05*")])
def test_a_p_value_near_alpha_is_not_printed_as_alpha(p, shown):
    """0.0496 printed as "0.050*" reads as a star on p = 0.05: enough decimals to tell it from alpha."""
    from itt.report.tables import fmt_p

    assert fmt_p(p) == shown
