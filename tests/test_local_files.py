"""Local csv/tsv files as ``itt.data.loading`` reads them: with the spec's ``quoting`` (CSV quoting by default, or
none: every line a row), never with lines silently merged into one row; and a file replaced in place is read anew,
even with its size and mtime kept, while an unchanged one is still read from ``datasets``' cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import datasets
import pytest
from omegaconf import OmegaConf

from itt.data.files import fingerprint
from itt.data.loading import load_raw
from itt.data.preparation import spec_payload
from itt.errors import ConfigError, DataError
from itt.rows import dataset_info
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


# MNLI/XNLI-1.0 style: tab-separated, no CSV quoting; premises may open with a quote they never close.
NLI = ["premise\thypothesis\tlabel",
       '"Yes," he said, "I know.\tHe knew.\tentailment',
       "The cat sat.\tA cat sat.\tentailment",
       'He called it "the best\tHe liked it.\tneutral',
       '"Never again.\tHe will do it again.\tcontradiction',
       "Rain fell all day.\tIt was dry.\tcontradiction",
       "Birds sing.\tBirds are silent.\tcontradiction",
       'She said "ok".\tShe agreed.\tentailment']
NLI_LABELS = ["entailment", "neutral", "contradiction"]
WHERE = "task.datasets.domain (data)"


def _nli(path, **spec):
    return load_raw(DatasetSpec(path=str(path), text_fields=["premise", "hypothesis"], labels=NLI_LABELS, **spec),
                    "hub", where=WHERE)[0]["train"]


def test_an_unquoted_tsv_is_refused_under_csv_quoting_and_read_line_by_line_with_quoting_none(tmp_path):
    """Read with CSV quoting, its 7 data lines were 4 rows: the 4th held 4 lines, tabs and line breaks in its
    premise, and the label of the 7th. Now one line says so and names the way out; with it every line is a row,
    quotes as written."""
    path = tmp_path / "mnli.tsv"
    path.write_text("\n".join(NLI) + "\n")
    with pytest.raises(DataError, match=r"^\S*mnli\.tsv: 7 data lines read as 4 rows with CSV quoting "
                                        r"\(task\.datasets\.domain\.quoting: csv, the default\), but it is not CSV-quoted "
                                        r"\(line 2: a field opening with a quote has text after its closing quote\); .*"
                                        r"needs task\.datasets\.domain\.quoting=none"):
        _nli(path)
    ds = _nli(path, quoting="none")
    assert [list(r.values()) for r in ds] == [line.split("\t") for line in NLI[1:]]
    # header-less, its columns named by the spec: the same rows
    (tmp_path / "bare.tsv").write_text("\n".join(NLI[1:]) + "\n")
    bare = _nli(tmp_path / "bare.tsv", quoting="none", columns=["premise", "hypothesis", "label"])
    assert bare[:] == ds[:]
    with pytest.raises(DataError, match=r"bare\.tsv: 7 data lines read as 4 rows"):
        _nli(tmp_path / "bare.tsv", columns=["premise", "hypothesis", "label"])


def test_a_field_that_opens_a_quote_on_one_line_is_refused_too(tmp_path):
    """No line merged, but pandas dropped the quotes of '"Yes," he said': the same fault, the same way out."""
    path = tmp_path / "one.tsv"
    path.write_text("premise\thypothesis\tlabel\n" + NLI[1] + "\n" + NLI[2] + "\n")
    with pytest.raises(DataError, match=r"one\.tsv: 2 data lines read as 2 rows with CSV quoting .* not CSV-quoted "
                                        r"\(line 2: .*quoting=none"):
        _nli(path)
    assert _nli(path, quoting="none")["premise"][0] == '"Yes," he said, "I know.'
    # named by the line the quote opens on, and the line where it turned out not to close as CSV closes
    later = tmp_path / "later.tsv"
    later.write_text("\n".join([NLI[0], NLI[4], NLI[5], NLI[7]]) + "\n")
    with pytest.raises(DataError, match=r"later\.tsv: 3 data lines read as 1 rows .*\(line 2: a field opening with a "
                                        r"quote has text after its closing quote, on line 4\)"):
        _nli(later)
    # a quote that never closes: pandas stops at the end of the file ("EOF inside string")
    last = tmp_path / "last.tsv"
    last.write_text("premise\thypothesis\tlabel\nThe cat sat.\tA cat sat.\tentailment\n" + NLI[4] + "\n")
    with pytest.raises(DataError, match=r"last\.tsv: .*(never closes|EOF inside string).*task\.datasets\.domain\.quoting=none"):
        _nli(last)


def test_csv_quoted_files_read_as_before_line_breaks_in_fields_included(tmp_path):
    """PAWS-X's XTREME tsv files are CSV-quoted ("" for a quote inside a quoted field); a CSV file's quoted field may
    hold separators and line breaks (a blank line among them, CRLF line ends): fewer rows than lines, and right."""
    paws = tmp_path / "dev-fr.tsv"
    paws.write_text('"Il a dit ""oui"" hier."\tIl a dit oui.\t1\nUne phrase.\t"Une autre, ""citée""."\t0\n')
    ds = load_raw(DatasetSpec(path=str(paws), columns=["sentence1", "sentence2", "label"],
                              text_fields=["sentence1", "sentence2"], labels=["0", "1"]), "hub")[0]["train"]
    assert ds["sentence1"][:] == ['Il a dit "oui" hier.', "Une phrase."] and ds["sentence2"][1] == 'Une autre, "citée".'
    reviews = tmp_path / "reviews.csv"
    reviews.write_bytes(b'text,label\r\n"Great.\r\n\r\nReally, ""great"".",positive\r\n\r\n'
                        b'"Bad\tand\nsad",negative\r\nfine,positive\r\n')
    ds = load_raw(DatasetSpec(path=str(reviews), labels=CLASSES), "hub")[0]["train"]
    assert ds["text"][:] == ['Great.\r\n\r\nReally, "great".', "Bad\tand\nsad", "fine"]
    assert ds["label"][:] == ["positive", "negative", "positive"]


def test_a_folder_is_checked_file_by_file_and_names_the_file(tmp_path):
    folder = tmp_path / "nli"
    folder.mkdir()
    (folder / "train.tsv").write_text("\n".join([NLI[0], *NLI[2:4], *NLI[5:]]) + "\n")  # no field opens a quote
    (folder / "test.tsv").write_text("\n".join(NLI) + "\n")
    with pytest.raises(DataError, match=r"nli/test\.tsv: 7 data lines read as 4 rows"):
        _nli(folder, splits={"train": "train", "test": "test"})
    raw = load_raw(DatasetSpec(path=str(folder), text_fields=["premise", "hypothesis"], labels=NLI_LABELS,
                               quoting="none", splits={"train": "train", "test": "test"}), "hub")[0]
    assert {s: len(d) for s, d in raw.items()} == {"train": 5, "test": 7}


def test_quoting_names_a_quoting_of_local_csv_tsv_files(tmp_path):
    path = tmp_path / "mnli.tsv"
    path.write_text("\n".join(NLI) + "\n")
    with pytest.raises(ConfigError, match=r"^task\.datasets\.domain\.quoting='minimal'; valid: csv, none \(null: csv\)$"):
        _nli(path, quoting="minimal")
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"premise": "a", "hypothesis": "b", "label": "neutral"}\n')
    with pytest.raises(ConfigError, match=r"^task\.datasets\.domain\.quoting=none: \S*a\.jsonl holds \.jsonl files; "
                                          r"quoting is for csv/tsv files$"):
        _nli(jsonl, quoting="none")
    with pytest.raises(ConfigError, match=r"^task\.datasets\.domain\.quoting=none: nyu-mll/glue is not a local file"):
        _nli("nyu-mll/glue", quoting="none")


def test_the_run_id_and_the_data_caches_hold_quoting_only_where_it_reads_other_rows(tmp_path):
    """``quoting: none`` reads other rows only from a file where a field opens with a quote: there it is another run,
    another data cache entry and another dataset key in the row; where no field does (XNLI dev as XTREME ships it),
    and for ``quoting: csv`` (the default spelt out), runs keep their ids. Unset, ids are those before the option."""
    from test_run_id_coverage import SENTIMENT, TARGETS, changed

    quoted, plain = tmp_path / "quoted.tsv", tmp_path / "plain.tsv"
    quoted.write_text("\n".join(NLI) + "\n")
    plain.write_text("\n".join([NLI[0], *NLI[2:4], *NLI[5:]]) + "\n")  # quotes inside fields only
    for path, rows_change in ((quoted, True), (plain, False)):
        base = (*SENTIMENT, f"task.datasets.domain.path={path}", "task.datasets.domain.text_fields=[premise,hypothesis]",
                f"task.datasets.domain.labels=[{','.join(NLI_LABELS)}]", "task.datasets.domain.label_map=null")
        assert changed(base, ("task.datasets.domain.quoting=none",)) == ((TARGETS, TARGETS) if rows_change else
                                                                          (set(), set()))
        assert changed(base, ("task.datasets.domain.quoting=csv",)) == (set(), set())
        spec = DatasetSpec(path=str(path), text_fields=["premise", "hypothesis"], labels=NLI_LABELS)
        none = DatasetSpec(**{**spec.__dict__, "quoting": "none"})
        assert (spec_payload(none, False) != spec_payload(spec, False)) == rows_change
        assert "quoting" not in spec_payload(spec, False)  # data cache keys made before the option stay
        cfg = OmegaConf.create({"source": {"name": "hub"}})
        keys = {q: dataset_info(cfg, "domain", OmegaConf.create({"path": str(path), "quoting": q, "lang": "en"}))["key"]
                for q in (None, "none")}
        assert (keys["none"] != keys[None]) == rows_change
