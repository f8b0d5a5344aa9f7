"""Probes of itt's own folders that cannot take a write (full, read-only, not permitted, under a file): one line naming
the path, the reason and what to do; nothing already written is lost. Root ignores permissions, so the probes put a
file where a folder goes, or make a write raise the errno a full or read-only disk gives."""

from __future__ import annotations

import errno
import json
import os
import stat
import types

import pytest
from conftest import OFFLINE, error_lines

from itt import ledger
from itt.errors import OutputError, write_failure


def _row(run_id: str) -> dict:
    return {"run_id": run_id, "status": "ok", "metrics": {"test/acc": 0.5}, "primary_metric": "acc"}


def _os_with(**replaced):
    """The ``os`` module as ``itt.ledger`` sees it, with some calls replaced (the real one stays untouched for pytest)."""
    return types.SimpleNamespace(**{**{name: getattr(os, name) for name in dir(os)}, **replaced})


@pytest.mark.parametrize("fails_at", ["write", "fsync"])
def test_a_ledger_append_on_a_full_disk_is_one_line_and_cuts_back_what_it_wrote(tmp_path, monkeypatch, fails_at):
    """A full disk mid-append was an OSError traceback and left half a row in the file (a short write, then
    ENOSPC; or the whole row written and fsync failing on NFS). Now the rows before it stay byte for byte."""
    ledger.append(tmp_path, _row("a"))
    ledger.append(tmp_path, _row("b"))
    before = (tmp_path / "results.jsonl").read_bytes()

    calls = []

    def short_write(fd, data):
        calls.append(len(data))
        if len(calls) == 1:  # the first call takes part of the row, as a disk that fills does; then it is full
            return os.write(fd, bytes(data[:len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def full_fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ledger, "os", _os_with(**({"write": short_write} if fails_at == "write"
                                                 else {"fsync": full_fsync})))
    with pytest.raises(OutputError) as caught:
        ledger.append(tmp_path, _row("c"))
    assert str(caught.value) == (f"cannot write {tmp_path / 'results.jsonl'}: no space left on device; "
                                 f"free space there or set paths.root= to a folder with room")
    assert (tmp_path / "results.jsonl").read_bytes() == before
    monkeypatch.undo()
    ledger.append(tmp_path, _row("d"))  # the next append after space is freed
    assert [r["run_id"] for r in ledger.read(tmp_path)] == ["a", "b", "d"]


def test_a_ledger_on_a_read_only_disk_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "results.jsonl"

    def read_only(name, *args):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), name)

    monkeypatch.setattr(ledger, "os", _os_with(open=read_only))
    with pytest.raises(OutputError, match=rf"^cannot write {path}: read-only file system; "
                                          rf"set paths.root= to a folder you can write to$"):
        ledger.append(tmp_path, _row("a"))


@pytest.mark.skipif(not (os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)),
                    reason="no /dev/full device here")
def test_a_ledger_that_is_dev_full_is_one_line(tmp_path, monkeypatch):
    """``/dev/full``: every write fails with ENOSPC (and it cannot be truncated, which must not hide that error)."""
    monkeypatch.setattr(ledger, "ledger_path", lambda root: ledger.Path("/dev/full"))
    with pytest.raises(OutputError, match=r"^cannot write /dev/full: no space left on device; free space there"):
        ledger.append(tmp_path, _row("a"))


def test_write_failures_are_only_those_in_our_folder(tmp_path):
    cache = tmp_path / "cache"
    inside = cache / "prepared" / "k" / "features-train.arrow"
    assert str(write_failure(OSError(errno.EDQUOT, "Disk quota exceeded", str(inside)), cache, "paths.cache")) == (
        f"cannot write {inside}: disk quota exceeded; free space there or set paths.cache= to a folder with room")
    # pyarrow (the datasets cache) names the errno in its text only, and no file
    arrow = OSError("[Errno 28] Error writing bytes to file. Detail: [errno 28] No space left on device")
    assert str(write_failure(arrow, cache, "paths.cache")) == (
        f"cannot write {cache}: no space left on device; free space there or set paths.cache= to a folder with room")
    # not ours: a user's data file elsewhere, a permission error naming no file, a folder that exists (a bug)
    assert write_failure(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "data.csv")),
                         cache, "paths.cache") is None
    assert write_failure(PermissionError(errno.EACCES, "Permission denied"), cache, "paths.cache") is None
    inside.parent.mkdir(parents=True)
    assert write_failure(FileExistsError(errno.EEXIST, "File exists", str(inside.parent)), cache, "paths.cache") is None
    assert write_failure(ValueError("no"), cache, "paths.cache") is None


def test_a_full_data_cache_is_one_line_naming_it(tmp_path, monkeypatch):
    """An ENOSPC while the tokenized dataset cache is written was a traceback."""
    from datasets import Dataset, DatasetDict

    from itt.data import tokenization

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tokenization.np, "save", no_space)
    canonical = DatasetDict({"train": Dataset.from_dict({"text": ["a", "b"]})})
    with pytest.raises(OutputError, match=rf"^cannot write {tmp_path}: no space left on device; free space there or "
                                          rf"set paths.cache= to a folder with room$"):
        tokenization.cached_entry(tmp_path, "k", lambda: (canonical, ["x"]), lambda batch, training: {"n": [1, 2]},
                                  "probe", lambda ds: [0] * len(ds))


@pytest.mark.slow
def test_a_cache_under_a_file_ends_the_run_with_one_line(run_itt, tmp_path):
    """``paths.cache`` under a regular file was a NotADirectoryError traceback from the embedded model's build."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file\n")
    root = tmp_path / "root"
    result = run_itt("model=bert", "task=sentiment", "+stage=intermediate", *OFFLINE, f"paths.cache={blocker}/cache",
                     root=root, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert error_lines(result.stderr) == [f"error: cannot write {blocker}/cache/embedded_models: {blocker} is a file, "
                                          f"not a folder; set paths.cache= to a folder you can write to"]
    assert blocker.read_text() == "a file\n"


@pytest.mark.slow
def test_a_file_where_the_run_locks_go_ends_the_run_with_one_line_and_keeps_the_ledger(run_itt, tmp_path):
    """A file in the way inside ``paths.root`` (here ``locks``) was a FileExistsError traceback."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "locks").write_text("not a folder\n")
    kept = json.dumps(_row("earlier")) + "\n"
    (root / "results.jsonl").write_text(kept)
    result = run_itt("model=bert", "task=sentiment", "+stage=intermediate", *OFFLINE, root=root, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert error_lines(result.stderr) == [f"error: cannot write {root}/locks: it is a file, not a folder; "
                                          f"set paths.root= to a folder you can write to"]
    assert (root / "results.jsonl").read_text() == kept
