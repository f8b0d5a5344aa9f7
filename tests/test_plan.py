"""``python -m itt.plan``: what a sweep will do, before it runs, without training or importing torch."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from conftest import ITT_TINY, REPO, itt_env, read_ledger, run_itt, run_sweep

DEMO = ("-m", "experiment=demo", "+stage=target")


def _statuses(output: str) -> dict[str, str]:
    return {m.group(2): m.group(1) for m in re.finditer(r"^  (cached|elsewhere|failed|to train)\s+\S+\s+(\S+)", output, re.M)}


def test_the_demo_grid_before_any_run_is_36_targets_and_9_intermediates_to_train(tmp_path):
    result = run_itt(*DEMO, root=tmp_path, module="itt.plan")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "36 run(s) named by the sweep:"
    assert "intermediate run(s) they pull in: 9" in lines
    statuses = _statuses(result.stdout)
    assert len(statuses) == 45 and set(statuses.values()) == {"to train"}
    assert sum("-intermediate-" in run_id for run_id in statuses) == 9
    assert lines[-1].startswith("summary: 45 to train, 0 failed before (rerun), 0 cached; work to do: ")
    assert not (tmp_path / "results.jsonl").exists() and not (tmp_path / "runs").exists()  # nothing trained


@pytest.mark.slow
def test_after_a_sweep_everything_is_cached_and_a_deleted_row_is_exactly_what_is_left(tmp_path):
    grid = ("-m", "model=bert", "task=sentiment", "+stage=target", "stage.target=domain,crosslingual",
            "stage.itt=true,false", *ITT_TINY)
    first, _ = run_sweep(*grid[1:], root=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    planned = run_itt(*grid, root=tmp_path, module="itt.plan")
    statuses = _statuses(planned.stdout)
    assert len(statuses) == 4 and set(statuses.values()) == {"cached"}, planned.stdout  # cached targets pull nothing
    assert "summary: 0 to train, 0 failed before (rerun), 4 cached" in planned.stdout

    rows = read_ledger(tmp_path)
    victim = next(r for r in rows if r["stage"] == "target" and r["itt"])  # an ITT target
    kept = [r for r in rows if r["run_id"] != victim["run_id"]]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    again = run_itt(*grid, root=tmp_path, module="itt.plan")
    statuses = _statuses(again.stdout)
    assert [k for k, v in statuses.items() if v == "to train"] == [victim["run_id"]], again.stdout
    assert statuses[victim["intermediate_run_id"]] == "cached"  # its intermediate is reused, not retrained
    assert re.search(rf"to train\s+target\s+{re.escape(victim['run_id'])}.*est ~\d+s", again.stdout)  # comparable runs


def test_a_bad_command_is_one_error_line(tmp_path):
    result = run_itt("-m", "model=bret", "+stage=target", root=tmp_path, module="itt.plan")
    assert result.returncode == 2 and result.stderr.strip().startswith("error: model=bret is not an option of model")


def test_the_paper_grid_is_108_distinct_targets_that_pull_27_distinct_intermediates(tmp_path):
    """The acceptance of issue 12: what `python -m itt.plan -m experiment=paper +stage=target` lists, in-process
    (composition only: nothing is read, downloaded or trained)."""
    from itt import plan  # noqa: PLC0415

    targets, pulled = plan.plan(["experiment=paper", "+stage=target", f"paths.root={tmp_path}"])
    target_ids, inter_ids = [p.run_id for p in targets], [p.run_id for p in pulled]
    assert len(target_ids) == len(set(target_ids)) == 108
    assert len(inter_ids) == len(set(inter_ids)) == 27  # one per model x task x seed, each pulled once
    assert {p.stage for p in targets} == {"target"} and {p.stage for p in pulled} == {"intermediate"}
    assert not set(target_ids) & set(inter_ids)
    assert {p.status for p in [*targets, *pulled]} == {"to train"}
    assert sorted({tuple(i.split("-")[:2]) + (i.split("-")[-2],) for i in inter_ids}) == sorted(
        (m, t, f"s{s}") for m in ("bert", "roberta", "xlnet")
        for t in ("text_classification", "sentiment", "sentence_similarity") for s in (0, 1, 2))


def test_a_run_that_failed_before_is_listed_with_its_error_and_planning_never_imports_torch(tmp_path):
    grid = ("-m", "model=bert", "task=sentiment", "+stage=target", "stage.target=domain", "stage.itt=true,false",
            *ITT_TINY)
    before = _statuses(run_itt(*grid, root=tmp_path, module="itt.plan").stdout)
    victim = next(run_id for run_id in before if "-intermediate-" not in run_id)
    failed = {"run_id": victim, "stage": "target", "status": "failed", "time": "2026-01-01T00:00:00+00:00",
              "error": "DataError: data/x.csv row 3: label 7 is not a declared label"}
    (tmp_path / "results.jsonl").write_text(json.dumps(failed) + "\n")

    # In-process, as the command runs it, so that the modules it imported can be read afterwards.
    script = ("import sys; from itt.plan import main; code = main(sys.argv[1:]); "
              "print('TORCH', 'torch' in sys.modules); sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", script, *grid[1:], f"paths.root={tmp_path}"], cwd=REPO,
                            env=itt_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    statuses = _statuses(result.stdout)
    assert statuses[victim] == "failed" and list(statuses.values()).count("failed") == 1, result.stdout
    assert re.search(rf"failed\s+target\s+{re.escape(victim)}.*error: DataError: data/x.csv row 3", result.stdout)
    assert "1 failed before (rerun)" in result.stdout
    assert "TORCH False" in result.stdout  # planning a sweep never loads torch


def test_a_task_config_of_ones_own_plans_with_config_dir_as_itt_train_takes_it(tmp_path):
    # docs/crosslingual.md's local-file recipe: a task config kept outside the repository, added with
    # --config-dir. itt.plan "takes the same arguments as itt.train", so it must take that flag too
    # (it was handed to Hydra's override parser: "error: LexerNoViableAltException: --config-dir").
    conf = tmp_path / "conf" / "task"
    conf.mkdir(parents=True)
    (conf / "my_sentiment.yaml").write_text("defaults: [sentiment, _self_]\nname: my_sentiment\n")
    args = ("model=bert", "task=my_sentiment", "+stage=target", "stage.target=domain", "source=embedded")
    for flag in (["--config-dir", str(tmp_path / "conf")], [f"--config-dir={tmp_path / 'conf'}"], ["-cd", str(tmp_path / "conf")]):
        result = run_itt(*flag, *args, root=tmp_path, module="itt.plan")
        assert result.returncode == 0, result.stderr[-2000:]
        statuses = _statuses(result.stdout)
        assert len(statuses) == 2 and all(run_id.startswith("bert-my_sentiment-") for run_id in statuses), result.stdout
    missing = run_itt("--config-dir", str(tmp_path / "nowhere"), *args, root=tmp_path, module="itt.plan")
    assert missing.returncode == 2 and missing.stderr.strip() == f"error: --config-dir {tmp_path / 'nowhere'}: no such directory"
    other = run_itt("--config-name", "x", *args, root=tmp_path, module="itt.plan")
    assert other.returncode == 2 and "itt.plan takes overrides, -m and --config-dir only" in other.stderr


def test_a_local_file_is_planned_at_its_own_size_not_at_the_specs_max_rows_cap(tmp_path):
    # A hub spec capped at max_rows pointed at a smaller local file (PAWS-X dev, 2,000 rows, under pawsx's
    # en spec capped at 3,000) was planned at the cap: 2,100 training rows instead of ~1,400.
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"review number {i},{'pos' if i % 2 else 'neg'}\n" for i in range(200)))
    headerless = tmp_path / "reviews.tsv"
    headerless.write_text("".join(f"review number {i}\t{'pos' if i % 2 else 'neg'}" + ("\n" if i < 99 else "") for i in range(100)))
    common = ("model=bert", "task=sentiment", "+stage=target", "stage.target=domain", "stage.itt=false", "source=embedded",
              "task.datasets.domain.splits={train:train,validation:null,test:null}")
    result = run_itt(*common, f"task.datasets.domain.path={data}", root=tmp_path, module="itt.plan")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rows x epochs 140 x " in result.stdout, result.stdout  # 200 rows (the header is not one) x 0.70
    capped = run_itt(*common, f"task.datasets.domain.path={data}", "task.datasets.domain.max_rows=100", root=tmp_path,
                     module="itt.plan")
    assert "rows x epochs 70 x " in capped.stdout, capped.stdout  # a cap below the file's size still applies
    bare = run_itt(*common, f"task.datasets.domain.path={headerless}", "task.datasets.domain.columns=[text,label]",
                   root=tmp_path, module="itt.plan")
    assert "rows x epochs 70 x " in bare.stdout, bare.stdout  # no header, no newline after the last row
    # split=official carves a train-only file 70/15/15 too (itt.data.splitting._official): not all 200 rows
    official = run_itt(*common, f"task.datasets.domain.path={data}", "split=official", root=tmp_path, module="itt.plan")
    assert "rows x epochs 140 x " in official.stdout, official.stdout


def test_a_run_named_by_several_jobs_is_planned_and_counted_once(tmp_path):
    # experiment=sequence_study_demo: 10 jobs, 11 runs (docs/multitask.md): its 5 stage.itt=false jobs are one run,
    # trained once and answered from the ledger by the others. The plan listed it 5 times and summed
    # "15 to train" and its rows x epochs 5 times.
    from itt import plan  # noqa: PLC0415

    targets, pulled = plan.plan(["experiment=sequence_study_demo", "+stage=target", f"paths.root={tmp_path}"])
    assert len(targets) == len({p.run_id for p in targets}) == 6 and len(pulled) == 5
    assert sorted(p.jobs for p in targets) == [1, 1, 1, 1, 1, 5]
    lines = plan.render(targets, pulled)
    assert lines[0] == "6 run(s) named by the sweep (10 jobs):"
    assert lines[-1].startswith("summary: 11 to train, 0 failed before (rerun), 0 cached; ")
    rows = sum(p.rows * p.epochs for p in [*targets, *pulled])
    assert f"work to do: {rows:,} training rows x epochs" in lines[-1]


def test_a_run_ok_on_another_kind_of_machine_is_elsewhere_with_a_note_naming_it(tmp_path):
    """The run id holds the machine (itt.hardware.machine): a row of the same config from another CPU is
    not this machine's cached run, but the plan says where it is ok (its config_id is this run's): a sweep
    planned on a login node sees what its compute nodes finished."""
    grid = ("-m", "model=bert", "task=sentiment", "+stage=target", "stage.target=domain", "stage.itt=false", *ITT_TINY)
    script = ("import sys; from hydra import compose, initialize_config_dir; from itt import identity; "
              "from itt.train import CONF_DIR\n"
              "with initialize_config_dir(config_dir=CONF_DIR, version_base='1.3'):\n"
              "    cfg = compose('train', overrides=sys.argv[1:])\n"
              "print(identity.run_id(cfg), identity.config_id(cfg))")
    ids = subprocess.run([sys.executable, "-c", script, *grid[1:], f"paths.root={tmp_path}"], cwd=REPO, env=itt_env(),
                         capture_output=True, text=True, timeout=300)
    assert ids.returncode == 0, ids.stderr[-2000:]
    run_id, config_id = ids.stdout.split()
    other = {"run_id": config_id[:-8] + "0badc0de", "config_id": config_id, "stage": "target", "status": "ok",
             "time": "2026-01-01T00:00:00+00:00", "machine": {"cpu": "GenuineIntel avx512 bf16=amx", "cpus": 64}}
    (tmp_path / "results.jsonl").write_text(json.dumps(other) + "\n")
    planned = run_itt(*grid, root=tmp_path, module="itt.plan")
    assert planned.returncode == 0, planned.stderr[-2000:]
    assert _statuses(planned.stdout) == {run_id: "elsewhere"}, planned.stdout
    assert re.search(rf"elsewhere\s+target\s+{re.escape(run_id)}.*note: ok as {re.escape(other['run_id'])} on "
                     r"GenuineIntel avx512 bf16=amx: cached for jobs on that kind of machine", planned.stdout), planned.stdout
    assert "0 to train, 0 failed before (rerun), 0 cached, 1 ok on another kind of machine" in planned.stdout


def test_a_chains_intermediates_are_listed_in_the_order_they_train(tmp_path):
    """A chain's steps each start from the one before: the plan lists them oldest first, as the sweep trains them
    (it listed the last step before the first)."""
    from hydra import compose, initialize_config_dir

    from itt import identity, plan
    from itt.train import CONF_DIR

    command = ["model=bert", "task=sentiment", "+stage=target", "stage.target=domain", "source=embedded",
               "intermediate.steps=[intermediate,crosslingual]", f"paths.root={tmp_path}"]
    targets, pulled = plan.plan(command)
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        chain = identity.resolve(compose("train", overrides=command)).chain()
    assert len(targets) == 1 and len(chain) == 2
    assert [p.run_id for p in pulled] == [identity.run_id(step) for step in chain]
    assert [p.status for p in pulled] == ["to train", "to train"]


def test_force_plans_what_itt_train_force_trains_again_each_run_once_per_sweep(tmp_path):
    """``itt.train ... force=true`` trains the runs a command names again, though the ledger has them ok; the plan
    listed them ``cached`` and counted no work for them. Now they are ``to train`` with a note and counted in the work
    (once: a run several jobs name is trained by one of them, the others find this sweep's row); the intermediates
    they pull in are reused, as itt.train reuses them."""
    from itt import plan  # noqa: PLC0415

    command = ["experiment=sequence_study_demo", "+stage=target", f"paths.root={tmp_path}"]
    targets, pulled = plan.plan(command)
    ok = [{"run_id": p.run_id, "stage": p.stage, "status": "ok", "time": "2026-01-01T00:00:00+00:00"}
          for p in [*targets, *pulled]]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ok))
    assert {p.status for p in [*plan.plan(command)[0]]} == {"cached"}

    targets, pulled = plan.plan([*command, "force=true"])
    assert {p.status for p in targets} == {"to train"} and all(p.forced for p in targets)
    assert {p.status for p in pulled} == {"cached"} and not any(p.forced for p in pulled)
    lines = plan.render(targets, pulled)
    shared = next(p for p in targets if p.jobs == 5)  # the no-ITT target of the sweep's 5 stage.itt=false jobs
    [line] = [line for line in lines if shared.run_id in line]
    assert re.search(r"^  to train\s+target\s+", line) and "(5 jobs, trained once per sweep)" in line, line
    assert "note: force=true: ok before, trained again" in line, line
    assert lines[-1].startswith("summary: 6 to train (6 of them ok before: force=true), 0 failed before (rerun), 5 cached; ")
    work = sum(p.rows * p.epochs for p in targets)
    assert f"work to do: {work:,} training rows x epochs" in lines[-1], lines[-1]
