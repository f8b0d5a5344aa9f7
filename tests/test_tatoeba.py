"""Tatoeba retrieval in XTREME's 36 languages (conf/task/evals/tatoeba.yaml, in the defaults of xnli and pawsx).

Every shipped ``tatoeba_*`` eval set names a real ``google/xtreme`` config (``TATOEBA_CONFIGS`` in
tests/hub_replicas/specs_xtreme.py, typed from the hub's dataset card; the offline replica is built from it), holds
that config's language, and that language is in the table. Loading each one through the project's hub code path on
the replica is tests/test_hub_specs.py (``-k tatoeba``); a misspelt config fails both here and there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_replicas import INDEX
from hub_replicas.fixture import hub_replica  # noqa: F401  (pytest fixture)
from hub_replicas.specs_xtreme import TATOEBA_CONFIGS
from test_grid_config import CONF_DIR, compose_train

from itt import identity, languages
from itt.build import dataset_spec
from itt.data.loading import load_raw
from itt.errors import ConfigError

TASKS = sorted(p.stem for p in (Path(CONF_DIR) / "task").glob("*.yaml"))
# XTREME's Tatoeba languages as its evaluation script lists them (google-research/xtreme evaluate.py, TASK2LANGS).
XTREME_TATOEBA = set("ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,ru,ja,ka,ko,th,sw,zh,kk,"
                     "tr,et,fi,hu".split(","))
LANG_OF = {f"tatoeba.{iso3}": lang for iso3, (lang, _) in TATOEBA_CONFIGS.items()}


def tatoeba_problems(cfg) -> list[str]:
    """What is wrong with a composed task's ``tatoeba_*`` eval sets, against google/xtreme's real configs."""
    problems = []
    for name, node in (cfg.task.get("evals") or {}).items():
        if not name.startswith("tatoeba_"):
            continue
        where = f"task={cfg.task.name} evals.{name}"
        if node.path != "google/xtreme" or node.subset not in LANG_OF:
            problems.append(f"{where}: {node.path}:{node.subset} is not a google/xtreme Tatoeba config")
            continue
        if node.lang != LANG_OF[node.subset] or name != f"tatoeba_{node.lang}":
            problems.append(f"{where}: {node.subset} holds {LANG_OF[node.subset]!r}, the spec says lang={node.lang!r}")
        if (node.kind, list(node.text_fields), dict(node.splits)) != \
                ("retrieval", ["source_sentence", "target_sentence"], {"train": None, "validation": None, "test": "validation"}):
            problems.append(f"{where}: not a retrieval set over google/xtreme's one split and its two sentence columns")
        try:
            languages.lookup(node.lang, where=where)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def test_the_reference_list_is_xtremes_36_languages_and_the_replica_holds_it():
    assert len(TATOEBA_CONFIGS) == 36 and {lang for lang, _ in TATOEBA_CONFIGS.values()} == XTREME_TATOEBA
    # Tatoeba's own ISO 639-3 codes, not the macrolanguages: Mandarin, Iranian Persian, Swahili (individual)
    assert {TATOEBA_CONFIGS[c][0] for c in ("cmn", "pes", "swh")} == {"zh", "fa", "sw"}
    small = {lang: n for lang, n in TATOEBA_CONFIGS.values() if n < 1_000}
    assert small == {"jv": 205, "te": 234, "ta": 307, "sw": 390, "th": 548, "kk": 575, "ml": 687, "ka": 746}
    replicated = {c: e["splits"] for c, e in INDEX["google/xtreme"]["configs"].items() if c.startswith("tatoeba.")}
    assert replicated == {f"tatoeba.{c}": {"validation": n} for c, (_, n) in TATOEBA_CONFIGS.items()}, \
        "run python -m tests.hub_replicas.make_replicas"
    assert not any("tatoeba" in c for c in INDEX["google/xtreme"]["other_configs"])


@pytest.mark.parametrize("task", TASKS)
def test_every_shipped_tatoeba_set_names_a_real_config_in_its_language(task):
    cfg = compose_train(f"task={task}", "+stage=target")
    assert tatoeba_problems(cfg) == []
    names = sorted(n for n in cfg.task.evals if n.startswith("tatoeba_"))
    if task in ("xnli", "pawsx"):  # the tasks that score the encoder on Tatoeba: every language XTREME has
        assert names == sorted(f"tatoeba_{lang}" for lang in XTREME_TATOEBA)


def test_the_checks_fail_on_a_misspelt_config_a_wrong_language_and_a_config_that_does_not_exist():
    cfg = compose_train("task=xnli", "+stage=target", "task.evals.tatoeba_de.subset=tatoeba.ger",
                        "task.evals.tatoeba_zh.subset=tatoeba.zho", "task.evals.tatoeba_fr.lang=de",
                        "+task.evals={tatoeba_xx:{path:google/xtreme,subset:tatoeba.xxx,kind:retrieval,lang:xx}}")
    problems = tatoeba_problems(cfg)
    assert len(problems) == 4, problems
    for bad in ("tatoeba.ger", "tatoeba.zho", "lang='de'", "tatoeba.xxx"):
        assert sum(bad in p for p in problems) == 1, (bad, problems)


def test_a_misspelt_config_fails_on_the_replica_as_on_the_hub(hub_replica):
    cfg = compose_train("task=pawsx", "+stage=target")
    raw, _ = load_raw(dataset_spec(cfg.task.evals.tatoeba_jv), "hub")
    assert sorted(raw) == ["test"] and raw["test"].num_rows == 3  # the replica's rows; the hub has 205
    with pytest.raises(pytest.fail.Exception, match="no replica of config 'tatoeba.jv'"):
        load_raw(dataset_spec(compose_train("task=pawsx", "+stage=target", "task.evals.tatoeba_jv.subset=tatoeba.jv")
                              .task.evals.tatoeba_jv), "hub")


def test_family_genus_script_of_the_languages_xnli_and_pawsx_never_had():
    """WALS genera (itt/languages.py), as the rest of the table: Javanese is its own genus there."""
    expect = {"jv": ("Austronesian", "Javanese", "Latin"), "ka": ("Kartvelian", "Kartvelian", "Georgian"),
              "eu": ("Basque", "Basque", "Latin"), "kk": ("Turkic", "Turkic", "Cyrillic"),
              "tl": ("Austronesian", "Greater Central Philippine", "Latin"), "te": ("Dravidian", "South-Central Dravidian", "Telugu"),
              "he": ("Afro-Asiatic", "Semitic", "Hebrew"), "fa": ("Indo-European", "Iranian", "Arabic")}
    for code, want in expect.items():
        got = languages.lookup(code)
        assert (got.family, got.genus, got.script) == want, code


def test_an_eval_list_takes_patterns():
    """stage.evals / intermediate.evals: `tatoeba_*` is every Tatoeba set of the task (task order, each once); under
    source=embedded only those with a stand-in, like `all`; a pattern that matches nothing is an error."""
    def evals(*overrides):
        return identity.resolve(compose_train("task=xnli", "+stage=target", "stage.target=en", *overrides)).evals

    hub = evals("stage.evals=[de,tatoeba_*,tatoeba_de]")
    assert hub[0] == "de" and len(hub) == 37 and hub[1:] == tuple(sorted(f"tatoeba_{x}" for x in XTREME_TATOEBA))
    assert evals("stage.evals=[tatoeba_*]", "source=embedded") == ("tatoeba_de", "tatoeba_es", "tatoeba_fr")
    spec = identity.resolve(compose_train("experiment=xtreme_r", "+stage=target", "task=pawsx", "stage.target=en"))
    assert {step.evals for step in spec.chain()} == {hub[1:]}
    with pytest.raises(ConfigError, match=r"intermediate\.evals: pattern 'tatoba_\*' matches no eval set of task=xnli"):
        evals("intermediate.evals=[tatoba_*]")


def test_a_run_scored_on_tatoeba_is_another_run_than_before_its_metrics_changed():
    """acc searched each English sentence among the sources' translations the other way round before, and
    bucc_f1 was the F1 at the best threshold on the very pairs it scored (itt.tasks.retrieval): runs with a
    retrieval eval set get another id for each; an eval set of another kind keeps its payload."""
    spec = identity.resolve(compose_train("task=xnli", "+stage=target", "stage.target=en", "stage.evals=[de,tatoeba_de]"))
    scored = identity.run_payload(spec)["evals"]
    assert scored["tatoeba_de"]["acc_direction"] == "translation_to_source"
    assert scored["tatoeba_de"]["bucc_threshold"] == "cross_fitted_halves"
    assert "acc_direction" not in scored["de"] and "bucc_threshold" not in scored["de"]
