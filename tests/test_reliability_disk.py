"""Probes of itt's own folders that cannot take a write (full, read-only, not permitted, under a file): one line naming
the path, the reason and what to do; nothing already written is lost. Root ignores permissions, so the probes put a
file where a folder goes, or make a write raise the errno a full or read-only disk gives."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import stat
import types
from pathlib import Path

import pytest
from conftest import OFFLINE, add_trainer_callback, error_lines

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


# -- a folder where the ledger goes --------------------------------------------------------------------------------

_TARGET = ("model=bert", "task=sentiment", "+stage=target", "stage.target=domain", "stage.itt=false")


@pytest.mark.parametrize(("module", "extra"), [("itt.train", ()), ("itt.train", ("force=true",)), ("itt.report", ()),
                                               ("itt.report", ("status=true",)), ("itt.plan", ())])
def test_a_folder_where_the_ledger_goes_is_one_line_before_anything_runs(run_itt, tmp_path, module, extra):
    """``results.jsonl`` as a folder was an IsADirectoryError traceback from a run's cached check (and the plan's
    read); the report said "ledger not found" (or "none") of a ledger that no run could append to."""
    root = tmp_path / "root"
    (root / "results.jsonl").mkdir(parents=True)
    (root / "results.jsonl" / "kept.txt").write_text("someone's file\n")
    overrides = () if module == "itt.report" else (*_TARGET, *OFFLINE)
    result = run_itt(*overrides, *extra, root=root, module=module, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert error_lines(result.stderr) == [f"error: cannot write {root}/results.jsonl: it is a folder, not a file; "
                                          f"move that folder away or set paths.root= to another folder"]
    assert (root / "results.jsonl" / "kept.txt").read_text() == "someone's file\n"
    assert not list(root.glob("runs/*/checkpoints")) and not list(root.glob("runs/*/model"))  # said before training


# -- measures.jsonl ---------------------------------------------------------------------------------------------------

def _measure_cfg(root, cache):
    from hydra import compose, initialize_config_dir

    from itt.train import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("measure", overrides=[*_TARGET, "source=embedded", "measure.names=[vocab_overlap]",
                                             f"paths.root={root}", f"paths.cache={cache}"])


@pytest.mark.parametrize("place", ["full", "read-only", "a folder"])
def test_measures_that_cannot_be_written_are_one_line_and_keep_the_rows_already_there(tmp_path, monkeypatch, place):
    """``measures.jsonl`` on a full or read-only disk: one line naming it, the rows already in it byte for byte (a
    full disk's short write is cut back). A folder in its place was an IsADirectoryError traceback."""
    from itt.measures import pairs

    root = tmp_path / "root"
    measures = root / pairs.MEASURES_FILE
    if place == "a folder":
        measures.mkdir(parents=True)
        kept = measures / "kept.txt"
        kept.write_text("someone's file\n")
    else:
        root.mkdir()
        kept = measures
        kept.write_text(json.dumps({"cache_key": "an earlier pair", "measure": "vocab_overlap", "value": 0.5}) + "\n")
    before = kept.read_bytes()

    def short_write(fd, data):  # a disk that fills: part of the rows, then no space
        if not getattr(short_write, "wrote", False):
            short_write.wrote = True
            return os.write(fd, bytes(data[:len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def read_only(name, *args):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), name)

    if place != "a folder":
        monkeypatch.setattr(ledger, "os", _os_with(**({"write": short_write} if place == "full" else {"open": read_only})))
    expected = {"full": "no space left on device; free space there or set paths.root= to a folder with room",
                "read-only": "read-only file system; set paths.root= to a folder you can write to",
                "a folder": "it is a folder, not a file; move that folder away or set paths.root= to another folder"}
    with pytest.raises(OutputError) as caught:
        pairs.run(_measure_cfg(root, tmp_path / "cache"))
    assert str(caught.value) == f"cannot write {measures}: {expected[place]}"
    assert kept.read_bytes() == before


# -- a full disk while a checkpoint or the exported model is written -------------------------------------------------

_HAS_DEV_FULL = os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)


class _FullDisk(io.FileIO):
    """A file on a disk that is full: every write of its bytes fails, as on the real one, with no file named."""

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _full_disk(monkeypatch, how: str) -> None:
    """Checkpoint writes fail as on a full disk: torch's writer into ``/dev/full`` (a RuntimeError of torch's own
    around the ENOSPC: "unexpected pos"), or the checkpoint's own file taking no bytes (torch's RuntimeError, then
    the ENOSPC again, naming no file, when the file is closed)."""
    import torch

    from itt import trainer

    if how == "torch":
        real_save = torch.save

        def into_dev_full(obj, fh, *args, **kwargs):
            full = open("/dev/full", "wb")  # a file object: torch writes into the device, never replaces it
            try:
                real_save(obj, full, *args, **kwargs)
            finally:  # torch's own error is the one to see, not the device's again on close
                with contextlib.suppress(OSError):
                    full.close()

        monkeypatch.setattr(torch, "save", into_dev_full)
    else:
        monkeypatch.setattr(trainer, "open", lambda path, mode: io.BufferedWriter(_FullDisk(path, mode)), raising=False)


@pytest.mark.parametrize("how", [pytest.param("torch", marks=pytest.mark.skipif(not _HAS_DEV_FULL, reason="no /dev/full")),
                                 "file"])
def test_a_checkpoint_on_a_full_disk_is_an_os_error_naming_it_and_keeps_the_previous_one(tmp_path, monkeypatch, how):
    """torch raised a RuntimeError ("unexpected pos") that no one-line error could tell from a bug, or the file's
    close an ENOSPC naming no file; now an OSError naming the checkpoint, which the run says in one line."""
    import torch

    from itt.trainer import AtomicCheckpointIO

    path = tmp_path / "checkpoints" / "last.ckpt"
    io_ = AtomicCheckpointIO()
    io_.save_checkpoint({"global_step": 7, "w": torch.ones(3)}, path)
    _full_disk(monkeypatch, how)
    with pytest.raises(OSError) as caught:
        io_.save_checkpoint({"global_step": 14, "w": torch.zeros(100_000)}, path)
    monkeypatch.undo()
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(path))
    assert str(write_failure(caught.value, tmp_path, "paths.root")) == (
        f"cannot write {path}: no space left on device; free space there or set paths.root= to a folder with room")
    assert torch.load(path, weights_only=True)["global_step"] == 7
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]  # no temp file left


def _target_run(root, *overrides: str):
    from hydra import compose, initialize_config_dir

    from itt.train import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[*_TARGET, *OFFLINE, f"paths.root={root}", *overrides])


@pytest.mark.slow
@pytest.mark.parametrize("written", ["checkpoint", "model"])
def test_a_full_disk_mid_run_fails_it_with_one_line_in_its_row_and_keeps_the_checkpoints(tmp_path, monkeypatch, written):
    """A full disk while epoch 2's checkpoints are written (after epoch 1's) or while the model is exported
    (safetensors says so in its own error): the run's error is the one line naming the path, its ledger row is
    ``failed`` with that line, epoch 1's checkpoints stay as they were, and no temp file or staging folder is left."""
    import torch
    import transformers.modeling_utils
    from pytorch_lightning.callbacks import Callback
    from safetensors import SafetensorError

    from itt import identity, pipeline

    root = tmp_path / "root"
    cfg = _target_run(root, "trainer.max_epochs=2", "keep_checkpoints=true")
    run_dir = pipeline.run_dir_of(cfg, identity.run_id(identity.resolve(cfg)))
    checkpoints = run_dir / "checkpoints"
    saved = {}

    if written == "checkpoint":
        class FillTheDisk(Callback):  # after epoch 1's checkpoints, before epoch 2's
            def on_train_epoch_start(self, trainer, module):
                if trainer.current_epoch == 1:
                    saved.update({p.name: p.read_bytes() for p in checkpoints.iterdir()})
                    _full_disk(monkeypatch, "file")

        add_trainer_callback(monkeypatch, FillTheDisk())
        failed_at = checkpoints / "best.ckpt"  # the first checkpoint an improving epoch writes
    else:
        real_save_file = transformers.modeling_utils.safe_save_file

        def no_space(state, filename, metadata=None):
            if run_dir not in Path(filename).parents:  # the embedded model's cache: written as it is
                return real_save_file(state, filename, metadata=metadata)
            saved.update({p.name: p.read_bytes() for p in checkpoints.iterdir()})
            with open(filename, "wb") as fh:  # what a disk that fills leaves: part of the file
                fh.write(b"\0" * 1000)
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

        monkeypatch.setattr(transformers.modeling_utils, "safe_save_file", no_space)
        failed_at = run_dir
    with pytest.raises(OutputError) as caught:
        pipeline.run(cfg)
    message = f"cannot write {failed_at}: no space left on device; free space there or set paths.root= to a folder with room"
    if written == "checkpoint":  # which of epoch 2's writes comes first depends on whether it improved
        assert str(caught.value) in (message, message.replace("best.ckpt", "last.ckpt"))
        assert torch.load(checkpoints / "last.ckpt", weights_only=True)["epoch"] == 0  # epoch 1's, as it was
    else:
        assert str(caught.value) == message
    rows = list(ledger.read(root))
    assert [(r["status"], r["error"]) for r in rows] == [("failed", str(caught.value))]
    assert saved and {p.name: p.read_bytes() for p in checkpoints.iterdir()} == saved
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".") and p.name != ".hydra") == []
    assert not (run_dir / "model").exists()
