"""``python -m itt.bench`` end to end, tiny: training, evaluation (``--eval``) and a local dataset
(``--data``) each end with ``key=value`` floats.

Not timed tests: throughput on a shared CI machine says nothing; the figures only have to exist.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest

from conftest import REPO, itt_env

pytestmark = pytest.mark.slow


def _bench(*args, timeout=600) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "itt.bench", "--model", "bert", *args], cwd=REPO, env=itt_env(),
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _last_line_pairs(stdout: str) -> dict[str, float]:
    last = stdout.strip().splitlines()[-1]
    pairs = dict(item.split("=", 1) for item in last.split())
    values = {k: float(v) for k, v in pairs.items()}
    assert all(math.isfinite(v) and v > 0 for v in values.values()), values
    return values


def _pairs_tsv(path, rows=90, seed=0) -> None:
    """A header-less sentence-pair TSV (sentence1, sentence2, label), as XTREME's PAWS-X dev files."""
    rng = random.Random(seed)
    words = "the a cat dog sat on mat ran fast slow red blue house tree big small".split()
    with path.open("w") as f:
        for i in range(rows):
            first = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
            second = first if i % 2 else " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
            f.write(f"{first}\t{second}\t{i % 2}\n")


def test_bench_tiny_run_prints_key_value_floats(tmp_path):
    result = _bench("--steps", "3", "--warmup", "1", "--repeats", "1", "--root", str(tmp_path))
    values = _last_line_pairs(result.stdout)
    for key in ("itt_random_samples_per_s", "itt_grouped_samples_per_s", "hf_trainer_samples_per_s",
                "hf_trainer_grouped_samples_per_s", "bare_loop_samples_per_s", "ratio_random", "ratio_grouped",
                "ratio_vs_hf", "ratio_vs_hf_cpu", "ratio_vs_bare", "token_cache_hit"):
        assert key in values, f"{key} missing from the last line: {result.stdout.strip().splitlines()[-1]}"
    assert values["token_cache_hit"] == 1  # the second pass over the same data tokenized nothing
    # ratio_vs_hf is the like-for-like ratio against the faster HF configuration, and says which
    fastest = "random" if values["hf_trainer_samples_per_s"] >= values["hf_trainer_grouped_samples_per_s"] else "grouped"
    assert values["ratio_vs_hf"] == values[f"ratio_{fastest}"]
    assert f"ratio_vs_hf: itt (data.length_grouping={'false' if fastest == 'random' else 'true'}" in result.stdout
    assert "(a) itt, random batches" in result.stdout and "(c) HF Trainer, group_by_length" in result.stdout


def test_bench_compares_like_with_like(tmp_path):
    """Only hf_grouped listed: itt runs with length grouping (transformers' rule), not its random default."""
    result = _bench("--steps", "2", "--warmup", "1", "--repeats", "1", "--contenders", "itt,hf_grouped", "--no-eval",
                    "--root", str(tmp_path))
    values = _last_line_pairs(result.stdout)
    assert "itt_grouped_samples_per_s" in values and "itt_random_samples_per_s" not in values
    assert values["ratio_vs_hf"] == values["ratio_grouped"]


def test_bench_eval_mode_prints_the_eval_ratio(tmp_path):
    result = _bench("--eval", "--eval-sets", "3", "--eval-rows", "40", "--steps", "2", "--repeats", "2",
                    "--root", str(tmp_path))
    values = _last_line_pairs(result.stdout)
    for key in ("eval_itt_rows_per_s", "eval_hf_rows_per_s", "eval_ratio_vs_hf", "eval_ratio_vs_hf_cpu", "eval_rows"):
        assert key in values, key
    assert "eval sets (validation rows): intermediate" in result.stdout and ", e1 " in result.stdout


def test_a_headerless_tsv_without_columns_is_one_line_that_says_so(tmp_path):
    """Forgetting --columns on XTREME's header-less dev files printed a 30-line traceback."""
    _pairs_tsv(tmp_path / "dev-en.tsv")
    result = subprocess.run([sys.executable, "-m", "itt.bench", "--model", "bert", "--data", str(tmp_path / "dev-en.tsv"),
                             "--root", str(tmp_path / "root")], cwd=REPO, env=itt_env(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert str(tmp_path / "dev-en.tsv") in line and "without a header row" in line and "--columns" in line


def test_bench_reads_a_local_headerless_tsv(tmp_path):
    train, other = tmp_path / "dev-en.tsv", tmp_path / "dev-de.tsv"
    _pairs_tsv(train)
    _pairs_tsv(other, seed=1)
    data = ["--data", str(train), "--columns", "sentence1,sentence2,label", "--root", str(tmp_path / "root")]
    result = _bench(*data, "--warmup", "1", "--repeats", "1", "--contenders", "itt,hf")
    values = _last_line_pairs(result.stdout)
    assert "ratio_random" in values and "itt_random_val_acc" in values
    assert f"data: {train}" in result.stdout and "train 63 (2 batches)" in result.stdout  # 70 % of 90 rows, one epoch
    result = _bench(*data, "--eval", "--eval-data", str(other), "--repeats", "1")
    assert "eval_ratio_vs_hf" in _last_line_pairs(result.stdout)
    assert "e0 " in result.stdout


def test_bench_rejects_unknown_contender(tmp_path):
    cmd = [sys.executable, "-m", "itt.bench", "--contenders", "itt,nope", "--root", str(tmp_path)]
    result = subprocess.run(cmd, cwd=REPO, env=itt_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "nope" in result.stderr


def test_profile_families_keep_layer_norm_apart_from_the_clipping_norm():
    from itt.bench.profile import family

    assert family("aten::native_layer_norm") == family("aten::native_layer_norm_backward") == "LayerNorm"
    assert family("aten::linalg_vector_norm") == family("aten::_foreach_norm") == "gradient norm (clipping)"
    assert family("aten::bernoulli_") == "dropout" and family("aten::addmm") == "matrix products"


def test_the_profile_and_the_bare_loop_train_the_runs_model_with_one_step(tmp_path, monkeypatch):
    """``--profile`` profiles the bare contender's step (``BareLoop``) on the model ``build_run`` gives:
    an itt model setting (``model.eager_attention``) reaches the profile as it reaches training."""
    from itt.bench.__main__ import parse_args
    from itt.bench.contenders import BareLoop
    from itt.bench.profile import profile_steps
    from itt.bench.setup import Bench

    args = parse_args(["--model", "bert", "--steps", "2", "--profile", "1", "--itt-overrides",
                       "model.eager_attention=true", "--root", str(tmp_path)])
    bench = Bench(args, tmp_path)
    bench.prepare_data()
    loop = BareLoop(bench, "random", 3)
    assert loop.model.config._attn_implementation == "eager"
    assert len(list(loop.batches(3))) == 3  # into the second epoch of a 2-batch training set
    attention = []
    step = BareLoop.step

    def recording(self, batch):
        attention.append(self.model.config._attn_implementation)
        step(self, batch)

    monkeypatch.setattr(BareLoop, "step", recording)
    profiled = profile_steps(bench, "random", steps=1, warmup=1)
    assert attention == ["eager", "eager"]  # the warm-up step and the profiled one
    assert profiled["steps"] == 1 and dict(profiled["families"])["matrix products"] > 0


def test_a_root_that_is_a_file_is_an_argument_error(tmp_path, capsys):
    """``--root`` naming a file was a FileExistsError traceback (``mkdir``), after the argument check."""
    from itt.bench.__main__ import parse_args

    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file\n")
    with pytest.raises(SystemExit) as info:
        parse_args(["--root", str(blocker)])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(f"error: --root {blocker}: a file, not a folder")


def test_a_precision_both_contenders_cannot_run_is_an_argument_error(capsys):
    """``--precision foo`` failed only after ~11 s of setup (the model and data loaded first)."""
    from itt.bench.__main__ import parse_args

    with pytest.raises(SystemExit) as info:
        parse_args(["--precision", "bf16"])
    assert info.value.code == 2
    assert "argument --precision: invalid choice: 'bf16'" in capsys.readouterr().err
