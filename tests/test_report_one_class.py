"""The report lists target runs that predicted one class for every item of a test set: their accuracy is
that class's share of the gold labels, which the comparison tables cannot tell from a weak model."""

from __future__ import annotations

import csv

from report_ledger import dataset, eval_set, target_row, write_ledger, write_predictions

from itt.report import __main__ as report_cli


def test_one_class_predictions_are_named_in_the_report_and_one_class_csv(tmp_path, capsys):
    gold = [0, 1, 0, 0, 1, 0, 1, 0, 0, 0]  # 7 of 10 are class 0
    rows = []
    for itt, (own, de) in {False: ([0] * 10, [0] * 10), True: ([0, 1, 0, 0, 1, 0, 0, 0, 0, 0], [0] * 10)}.items():
        folder = tmp_path / ("itt" if itt else "noitt")
        write_predictions(folder, "test", gold, own)
        write_predictions(folder, "de", gold, de)
        row = target_row("itt" if itt else "noitt", value=sum(g == p for g, p in zip(gold, own)) / 10,
                         evals={"de": eval_set("de", 0.7, n_test=10)})
        row["predictions"] = str(folder)
        if itt:
            row.update(itt=True, itt_variant="intermediate", parent_run_id="int0", intermediate_run_id="int0")
        rows.append(row)
    # a set whose gold labels are all one class is not degenerate when predicted as that class; a QA-like
    # file (answers as lists) is not a one-label kind and is skipped without error
    odd = target_row("odd", seed=1, evals={"same": eval_set("fr", 1.0, n_test=3),
                                           "qa": {**eval_set("es", 0.5, n_test=2), "kind": "extractive_qa"}})
    write_predictions(tmp_path / "odd", "test", [1, 1, 1], [1, 1, 1])
    write_predictions(tmp_path / "odd", "same", [1, 1, 1], [1, 1, 1])
    write_predictions(tmp_path / "odd", "qa", [["a"], ["b"]], ["a", "a"])
    odd["predictions"] = str(tmp_path / "odd")
    rows.append(odd)
    write_ledger(tmp_path, rows)

    assert report_cli.main(["--root", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    notes = [line for line in printed.splitlines() if line.startswith("one class predicted")]
    assert notes == [
        "one class predicted for every item (accuracy = that class's share, nothing learned): itt: de (class 0, 0.700 of 10 items)",
        "one class predicted for every item (accuracy = that class's share, nothing learned): noitt: en (class 0, 0.700 of 10 items), "
        "de (class 0, 0.700 of 10 items)"]
    with open(tmp_path / "report" / "one_class.csv", newline="") as fh:
        listed = [(r["run_id"], r["eval"], r["predicted"], r["n_items"]) for r in csv.DictReader(fh)]
    assert sorted(listed) == [("itt", "de", "0", "10"), ("noitt", "de", "0", "10"), ("noitt", "en", "0", "10")]
    assert "one class predicted" in (tmp_path / "report" / "comparison.md").read_text()
