"""Issue 5, point 2: every data fault is one DataError line that names the file (and the row where
there is one) and what would be valid; end to end, nothing is written that looks like a result:
no ledger row and no run dir (shared caches under <root>/cache may remain: they are reusable)."""

from __future__ import annotations

import pytest
from conftest import OFFLINE, error_lines
from omegaconf import OmegaConf

from pathlib import Path

from itt.data.preparation import Protocol, split_rows
from itt.errors import DataError
from itt.schema import DatasetSpec
from itt.tasks import get_task

CLASSES = ["negative", "positive"]
PAPER = OmegaConf.create({"name": "paper", "train": 0.70, "validation": 0.15, "test": 0.15})


def _load(path, kind="sequence_classification", **spec):
    task = get_task(kind, "acc" if kind == "sequence_classification" else "spearman")
    spec = DatasetSpec(path=str(path), **spec)
    return split_rows(spec, task, Protocol(PAPER, 0, "embedded", 128, Path("/nonexistent")),
                      where=f"task.datasets.domain ({path})")


def _classification(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("fault, content, spec, expected", [
    ("missing column", "review,label\ngreat,positive\n", {"text_fields": ["content"], "labels": CLASSES},
     "[train]: column 'content' not found; columns are: review, label"),
    ("label outside the label set", "content,label\ngreat,positive\nmeh,neutral\n",
     {"text_fields": ["content"], "labels": CLASSES},
     "[train] row 1: label 'neutral' is not a declared label; valid: negative, positive"),
    ("every text empty: all rows dropped", "content,label\n   ,positive\n  ,negative\n",
     {"text_fields": ["content"], "labels": CLASSES}, ": the train split is empty after split=paper; the dataset has too few rows (0)"),
    ("NaN score", "sentence1,sentence2,score\na b,a c,3\nx,y,nan\n",
     {"text_fields": ["sentence1", "sentence2"], "label_field": "score", "score_range": [0, 5]},
     "[train] row 1: score None is not a number in score_range [0, 5]"),
    ("score out of range", "sentence1,sentence2,score\na b,a c,3\nx,y,7\n",
     {"text_fields": ["sentence1", "sentence2"], "label_field": "score", "score_range": [0, 5]},
     "[train] row 1: score 7 is not a number in score_range [0, 5]"),
    ("split empty after split=paper", "content,label\ngreat,positive\n", {"text_fields": ["content"], "labels": CLASSES},
     ": the validation split is empty after split=paper; the dataset has too few rows (1)"),
    ("unparsable csv", 'content,label\n"never closed,positive\n', {"text_fields": ["content"], "labels": CLASSES},
     ": unreadable as csv: Error tokenizing data. C error: EOF inside string starting at row 1; a field opens with a "
     "quote that never closes: a file written without CSV quoting needs task.datasets.domain.quoting=none"),
    # were pandas' "No columns to parse from file" and datasets' 'Instruction "train" corresponds to no data!'
    ("empty file", "", {"text_fields": ["content"], "labels": CLASSES},
     ": no rows (an empty file, or a header line only); give one row per line, after a header line"),
    ("a header line only", "content,label\n\n", {"text_fields": ["content"], "labels": CLASSES},
     ": no rows (an empty file, or a header line only); give one row per line, after a header line"),
])
def test_data_fault_names_the_file_row_and_valid_values(tmp_path, fault, content, spec, expected):
    path = _classification(tmp_path, "data.csv", content)
    kind = "sequence_regression" if "score_range" in spec else "sequence_classification"
    with pytest.raises(DataError) as info:
        _load(path, kind, **spec)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message, message
    assert message.endswith(expected), message


def test_an_empty_jsonl_file_says_so(tmp_path):
    """datasets' error was "unreadable as json:" and nothing after the colon."""
    path = _classification(tmp_path, "data.jsonl", "\n")
    with pytest.raises(DataError) as info:
        _load(path, text_fields=["content"], labels=CLASSES)
    assert str(info.value) == f"{path}: no rows (an empty file, or a header line only); give one row per line"


def test_a_data_files_name_is_a_local_path_not_a_hub_id(tmp_path, monkeypatch):
    """``data/reviews_de.csv`` (no ./) was taken for a hub id: offline, a generated stand-in was read in its place (or
    "not cached and the hub is unreachable"). Hub ids end in no data-file suffix."""
    from itt.data.files import is_local

    monkeypatch.chdir(tmp_path)
    assert is_local("data/reviews_de.csv") and is_local("reviews.JSONL") and is_local("x/y.parquet")
    assert not is_local("stanfordnlp/imdb") and not is_local("google-research-datasets/paws-x")
    with pytest.raises(DataError, match=r"^data/reviews_de\.csv: no such file or folder"):
        _load("data/reviews_de.csv", text_fields=["content"], labels=CLASSES)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: no such file or folder"):
        _load(tmp_path / "nope.csv", text_fields=["content"], labels=CLASSES)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not a parquet file\x00\x01")
    with pytest.raises(DataError, match=r"broken\.parquet: unreadable as parquet: .*magic bytes"):
        _load(broken, text_fields=["content"], labels=CLASSES)
    folder = tmp_path / "sheets"
    folder.mkdir()
    (folder / "data.xlsx").write_text("x")
    with pytest.raises(DataError, match=r"sheets: no csv/tsv/json/jsonl/parquet/conll/conllu files in this folder"):
        _load(folder, text_fields=["content"], labels=CLASSES)
    (folder / "train.csv").write_text("content,label\ngreat,positive\n")
    (folder / "test.jsonl").write_text('{"content": "bad", "label": "negative"}\n')
    with pytest.raises(DataError, match=r"sheets: cannot read \.csv, \.jsonl; valid: .*\(one format per folder\)"):
        _load(folder, text_fields=["content"], labels=CLASSES)


@pytest.mark.slow
def test_data_error_end_to_end_one_line_no_ledger_no_run_dir(run_itt, tmp_path):
    bad = tmp_path / "reviews.csv"
    bad.write_text("content,label\n" + "".join(f"review number {i},positive\n" for i in range(20))
                   + "a fine review,neutral\n")
    root = tmp_path / "root"
    result = run_itt("model=bert", "task=sentiment", "+stage=intermediate", *OFFLINE,
                     f"task.datasets.intermediate.path={bad}", "task.datasets.intermediate.text_fields=[content]",
                     root=root, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Error executing job" not in result.stderr
    assert error_lines(result.stderr) == [
        f"error: task.datasets.intermediate ({bad}) [train] row 20: label 'neutral' is not a declared label; "
        f"valid: negative, positive"]
    assert not (root / "results.jsonl").exists()
    assert list((root / "runs").iterdir()) == []  # the run dir Hydra made for this run is gone again


def test_cleanup_after_a_user_error_keeps_anything_earned_and_every_lock(tmp_path):
    import numpy as np

    from itt.data import overlap
    from itt.pipeline import _remove_if_nothing_earned, _run_lock, lock_path

    scaffold = tmp_path / "runs" / "fresh"
    (scaffold / ".hydra").mkdir(parents=True)
    (scaffold / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (scaffold / "itt.log").write_text("error\n")
    overlap.write(scaffold, np.arange(3, dtype=np.uint64), {"multiple_choice": 2})  # written before training starts
    # Another job waiting for this run holds the lock file open: cleaning up must not delete it (a
    # deleted lock lets a third job lock a new file of the same name and run concurrently).
    with _run_lock(tmp_path, "fresh"):
        inode = lock_path(tmp_path, "fresh").stat().st_ino
        _remove_if_nothing_earned(scaffold)
        assert lock_path(tmp_path, "fresh").stat().st_ino == inode
    assert not scaffold.exists()

    earned = tmp_path / "runs" / "killed-before"
    (earned / "checkpoints").mkdir(parents=True)
    (earned / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    _remove_if_nothing_earned(earned)
    assert (earned / "checkpoints" / "last.ckpt").exists()
