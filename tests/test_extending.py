"""README "Extending → A task kind", step by step as a user follows it: a ``Task`` subclass in a package of one's
own, named by its dotted path in a task config added with ``--config-dir``, on local csv files. ``itt.plan`` and
``itt.train`` agree on what runs, under source=hub and source=embedded."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO, itt_env, read_ledger


def _user_project(tmp_path):
    """A package with one kind (lower-cased sequence classification), no generator registered, and a task config
    whose datasets and eval set are all local csv files."""
    pkg = tmp_path / "pkg" / "mykinds"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "kinds.py").write_text(textwrap.dedent('''\
        from itt.tasks.sequence_classification import SequenceClassification


        class Lowercased(SequenceClassification):
            kind = "lowercased_classification"

            def canonical_batch(self, batch, rows, raw):
                out, kept = super().canonical_batch(batch, rows, raw)
                out["text"] = [t.lower() for t in out["text"]]
                return out, kept
        '''))
    data = tmp_path / "data"
    data.mkdir()
    words = {"pos": ["Great", "nice", "excellent", "love"], "neg": ["Bad", "awful", "poor", "hate"]}
    for name, n in (("big", 200), ("small", 60), ("eval_de", 60)):
        lines = ["body,stars"]
        for i in range(n):
            label = "pos" if i % 2 else "neg"
            lines.append(f"{words[label][i % 4]} product number {i},{label}")
        (data / f"{name}.csv").write_text("\n".join(lines) + "\n")
    spec = "text_fields: [body]\n    label_field: stars\n    labels: [neg, pos]"
    conf = tmp_path / "conf" / "task"
    conf.mkdir(parents=True)
    (conf / "my_task.yaml").write_text(textwrap.dedent(f"""\
        defaults:
          - /schema/task/task@_here_
          - _self_
        name: my_task
        kind: mykinds.kinds.Lowercased
        primary_metric: acc
        datasets:
          intermediate:
            path: {data / 'big.csv'}
            {{spec}}
            lang: en
          domain:
            path: {data / 'small.csv'}
            {{spec}}
            lang: en
        evals:
          de:
            path: {data / 'eval_de.csv'}
            {{spec}}
            lang: de
        """).replace("{spec}", spec))
    return tmp_path / "conf", tmp_path / "pkg"


def _itt(module, conf, pkg, root, *overrides):
    command = [sys.executable, "-m", module, "--config-dir", str(conf), "task=my_task", "+stage=target",
               "logger=csv", "trainer.max_epochs=1", *overrides, f"paths.root={root}"]
    return subprocess.run(command, cwd=REPO, env=itt_env({"PYTHONPATH": str(pkg)}), capture_output=True, text=True,
                          timeout=600)


def _planned(result) -> dict[str, str]:
    """run id -> status (to train, cached, ...) of every run ``itt.plan`` lists."""
    return {m.group(2): m.group(1) for m in re.finditer(r"^\s+(to train|cached|failed)\s+\w+\s+(\S+)", result.stdout, re.M)}


@pytest.mark.slow
@pytest.mark.parametrize("source, model, itt", [("embedded", "bert", "true"), ("hub", "minilm", "false")])
def test_a_kind_of_ones_own_on_local_files_trains_as_planned(tmp_path, source, model, itt):
    """It failed with "has no embedded stand-in generator" under both sources, while itt.plan said "to train": a
    generator was resolved for every dataset, where only a stand-in (a hub path under source=embedded) needs one."""
    conf, pkg = _user_project(tmp_path)
    args = (f"source={source}", f"model={model}", f"stage.itt={itt}")
    plan = _itt("itt.plan", conf, pkg, tmp_path, *args)
    assert plan.returncode == 0, plan.stderr[-3000:]
    planned = _planned(plan)
    assert planned and set(planned.values()) == {"to train"}, plan.stdout
    train = _itt("itt.train", conf, pkg, tmp_path, *args)
    assert train.returncode == 0, train.stderr[-3000:]
    rows = read_ledger(tmp_path)
    assert {r["run_id"] for r in rows if r["status"] == "ok"} == set(planned)
    target = next(r for r in rows if r["stage"] == "target")
    assert target["kind"] == "mykinds.kinds.Lowercased" and set(target["evals"]) == {"de"}
    assert {"val/acc", "test/acc", "test/de/acc"} <= set(target["metrics"])
    assert set(_planned(_itt("itt.plan", conf, pkg, tmp_path, *args)).values()) == {"cached"}


def test_a_stand_in_of_a_kind_without_a_generator_says_what_would_do(tmp_path):
    """Where a stand-in is needed (a hub path under source=embedded), the one line names the dataset and what
    works: task.generator, the old advice, names generators of other kinds, which load_embedded refuses."""
    conf, pkg = _user_project(tmp_path)
    result = _itt("itt.train", conf, pkg, tmp_path, "source=embedded", "model=bert", "stage.itt=false",
                  "task.datasets.domain.path=fancyzhx/amazon_polarity")
    assert result.returncode != 0
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: task.datasets.domain (fancyzhx/amazon_polarity) runs on a generated stand-in "
                           "under source=embedded, but task.kind='mykinds.kinds.Lowercased'"), line
    assert "register_generator(Generator(kind='lowercased_classification'" in line and "task.generator" not in line
    assert "set task.datasets.domain.path to a local file" in line and "source=hub" in line
