"""``python -m itt.data check``: every shipped spec checks out against the replicas of the real hub
datasets; a broken spec is one FAIL line naming it; the size rule is checked; offline it says so."""

from __future__ import annotations

import re

import pytest
from conftest import run_itt
from hub_replicas.fixture import hub_replica  # noqa: F401

from itt import hub_access
from itt.data import check


@pytest.fixture
def online(monkeypatch):
    monkeypatch.setattr(hub_access, "hub_reachable", lambda timeout_s=5.0: True)


def test_every_shipped_task_config_checks_out(hub_replica, online, capsys):
    assert check.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("ok ") for line in lines), lines
    assert any("stanfordnlp/imdb" in line and "splits train, test" in line for line in lines)


def test_a_broken_spec_is_one_fail_line_and_a_nonzero_exit(hub_replica, online, capsys):
    code = check.main(["task=sentiment", "task.datasets.domain.label_map=null",
                       "task.datasets.crosslingual.path=mteb/amazon_reviews_multi"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    fails = [line for line in lines if line.startswith("FAIL")]
    assert len(fails) == 2, lines
    assert "task.datasets.domain" in fails[0] and "is not a declared label; valid: negative, positive" in fails[0]
    assert "task.datasets.crosslingual" in fails[1] and "Dataset scripts are no longer supported" in fails[1]


def test_the_intermediate_must_be_ten_times_each_target(hub_replica, online, capsys, monkeypatch):
    sizes = {"fancyzhx/amazon_polarity": 150_000, "stanfordnlp/imdb": 50_000}
    real = check._streamed

    def with_sizes(spec):
        rows, _ = real(spec)
        return rows, {name: (sizes.get(spec.path, 1_000) if name == "train" else 0) for name in rows}

    monkeypatch.setattr(check, "_streamed", with_sizes)
    assert check.main(["task=sentiment"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("FAIL sentiment: the intermediate set (150000 rows) is not >= 10x "
                               "task.datasets.domain (20000 rows)") for line in lines), lines  # domain: max_rows 20000


def test_offline_it_says_so_in_one_line(tmp_path):
    result = run_itt("check", root=tmp_path, module="itt.data", env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    (line,) = result.stdout.strip().splitlines()
    assert re.fullmatch(r"offline: the Hugging Face hub cannot be reached \(HF_HUB_OFFLINE, no network or proxy\); "
                        r"\d+ hub dataset\(s\) not checked", line), line


def test_offline_a_task_config_of_ones_own_with_local_files_is_still_checked(tmp_path):
    # A researcher with local files and no network (docs/crosslingual.md's recipe, added with --config-dir) got
    # a traceback for --config-dir, and without it "nothing checked": local files need no hub.
    (tmp_path / "en.tsv").write_text("".join(f"a sentence {i}\tanother {i}\t{i % 2}\n" for i in range(20)))
    (tmp_path / "de.tsv").write_text("".join(f"ein Satz {i}\tnoch einer {i}\t{'x' if i == 3 else i % 2}\n" for i in range(20)))
    spec = "{{path: {path}, columns: [s1, s2, label], text_fields: [s1, s2], labels: ['0', '1'], " \
           "splits: {{train: train, validation: null, test: null}}, lang: {lang}}}"
    (tmp_path / "conf" / "task").mkdir(parents=True)
    (tmp_path / "conf" / "task" / "mine.yaml").write_text(
        "defaults: [/schema/task/task@_here_, _self_]\nname: mine\nkind: sequence_classification\nprimary_metric: acc\n"
        f"datasets:\n  intermediate: {{path: google-research-datasets/paws, subset: labeled_final, text_fields: [sentence1, sentence2], "
        "labels: ['0', '1'], splits: {train: train, validation: null, test: null}, lang: en}\n"
        f"  en: {spec.format(path=tmp_path / 'en.tsv', lang='en')}\n"
        f"evals:\n  de: {spec.format(path=tmp_path / 'de.tsv', lang='de')}\n")
    result = run_itt("check", "--config-dir", str(tmp_path / "conf"), "task=mine", root=tmp_path, module="itt.data",
                     env={"HF_HUB_OFFLINE": "1"})
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 1, result.stderr[-2000:]
    assert lines[0].endswith("; 1 hub dataset(s) not checked; local files below"), lines
    assert lines[1].startswith(f"ok   task.datasets.en ({tmp_path / 'en.tsv'}): splits train; 20 rows read; labels 0, 1")
    assert lines[2].startswith("FAIL task.evals.de: ") and "'x'" in lines[2], lines  # a bad label, named offline
    assert len(lines) == 3
    bad = run_itt("check", "--config-dir", str(tmp_path / "nowhere"), root=tmp_path, module="itt.data")
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: --config-dir {tmp_path / 'nowhere'}: no such directory"


def test_offline_a_mistyped_local_file_and_a_task_list_are_checked(tmp_path):
    """``data/missing.csv`` (no ./) was counted as a hub dataset "not checked"; ``task=sentiment,ner`` (a sweep's
    spelling) was "Ambiguous value for argument 'task=sentiment,ner'"."""
    result = run_itt("check", "task=sentiment,text_classification", "task.datasets.domain.path=data/missing.csv", root=tmp_path,
                     module="itt.data", env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"offline: .*; \d+ hub dataset\(s\) not checked; local files below", lines[0]), lines
    assert lines[1:] == ["FAIL task.datasets.domain: data/missing.csv: no such file or folder (task.datasets.*.path); "
                         "give a csv/tsv/json/jsonl/parquet/conll/conllu file or a folder of them"] * 2, lines  # one per task
