"""Local csv/tsv files as ``itt.data.loading`` reads them: a file replaced in place is read anew, even with its
size and mtime kept, while an unchanged one is still read from ``datasets``' cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import datasets
import pytest

from itt.data.files import fingerprint
from itt.data.loading import load_raw
from itt.schema import DatasetSpec

CLASSES = ["negative", "positive"]
MTIME_NS = 1_700_000_000 * 10**9


@pytest.fixture(autouse=True)
def own_datasets_cache(tmp_path, monkeypatch):
    """``datasets``' Arrow cache of this test alone (read when ``load_dataset`` runs)."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_datasets"))


def _write(path, text: str) -> None:
    """``text`` into ``path`` with one fixed mtime, as ``cp -p``, ``rsync -a`` or ``touch -r`` leave it."""
    path.write_text(text)
    os.utime(path, ns=(MTIME_NS, MTIME_NS))


def _read(path):
    ds = load_raw(DatasetSpec(path=str(path), labels=CLASSES), "hub")[0]["train"]
    return ds["text"][:], ds.cache_files


def test_a_file_replaced_with_its_mtime_kept_is_read_anew_and_an_unchanged_one_from_the_cache(tmp_path):
    path = tmp_path / "reviews.csv"
    _write(path, "text,label\ngreat product,positive\nterrible,negative\n")
    assert _read(path)[0] == ["great product", "terrible"]
    # other rows, other size, the same mtime: another run id, and its rows (not the old ones from datasets' cache)
    _write(path, "text,label\nawful,negative\nlovely,positive\nmeh,negative\n")
    rows, cached = _read(path)
    assert rows == ["awful", "lovely", "meh"]
    assert _read(path) == (rows, cached)  # unchanged since: read from the same cache files
    # the same size too: the content is hashed again (its ctime moved), so the run id and the rows are new
    before, size = fingerprint(str(path)), path.stat().st_size
    _write(path, "text,label\nlovely,negative\nawful,positive\nmeh,positive\n")
    assert path.stat().st_size == size and fingerprint(str(path)) != before
    assert _read(path)[0] == ["lovely", "awful", "meh"]


def test_a_file_replaced_between_two_processes_is_read_anew(tmp_path):
    """What a later command sees: its own process, the cache on disk from the one before."""
    path = tmp_path / "reviews.csv"
    script = textwrap.dedent(f"""
        import datasets
        datasets.config.HF_DATASETS_CACHE = {str(tmp_path / "hf_datasets")!r}
        from itt.data.loading import load_raw
        from itt.schema import DatasetSpec
        print(load_raw(DatasetSpec(path={str(path)!r}, labels=["negative", "positive"]), "hub")[0]["train"]["text"][:])
    """)

    def rows_in_a_new_process():
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip().splitlines()[-1]

    _write(path, "text,label\ngreat product,positive\nterrible,negative\n")
    assert rows_in_a_new_process() == "['great product', 'terrible']"
    _write(path, "text,label\nawful,negative\nlovely,positive\nmeh,negative\n")
    assert rows_in_a_new_process() == "['awful', 'lovely', 'meh']"
