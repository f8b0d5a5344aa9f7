"""The machine a run computes on is part of its id (``itt.hardware.machine``): the same config on another
kind of CPU, with another thread count or on other GPUs computes other numbers (``itt/bench/NOTES.md``,
"Numerics by machine"), so it is another run. ``config_id`` is the id without the machine: the report
counts one row per configuration and seed, whichever machine ran it last."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from hydra import compose, initialize_config_dir

from itt import hardware, identity, rows
from itt.report.ledger_frame import failed_runs, latest_ok, records_to_frame
from itt.train import CONF_DIR

BASE = ["model=bert", "task=sentiment", "+stage=target", "stage.target=domain", "source=embedded"]
XEON = "GenuineIntel avx512 bf16=amx"
EPYC = "AuthenticAMD avx512 bf16=avx512_bf16"


def make(*overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[*BASE, *overrides])


@pytest.fixture
def cpu(monkeypatch):
    """A CPU machine whose kernels, CPUs and kernel variables the test sets (``ids`` takes them afresh, as
    a new process would; the key a process took is kept for the rest of it: ``hardware.cpu_machine``)."""
    monkeypatch.setattr(hardware, "cuda_available", lambda: False)
    for name in (*hardware.KERNEL_ENV, *hardware.THREAD_ENV, hardware.INHERITED, "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    state = {"kernels": XEON, "cpus": 2}
    monkeypatch.setattr(hardware, "cpu_kernels", lambda: state["kernels"])
    monkeypatch.setattr(hardware, "cpu_count", lambda: state["cpus"])
    hardware.cpu_machine.cache_clear()
    yield state
    hardware.cpu_machine.cache_clear()


def ids(*overrides, new_process: bool = True) -> tuple[str, str]:
    if new_process:
        hardware.cpu_machine.cache_clear()
    cfg = make(*overrides)
    return identity.run_id(cfg), identity.config_id(cfg)


def test_another_cpu_or_thread_count_is_another_run_of_the_same_config(cpu, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "BASE", [*BASE, "model=minilm"])  # full size: torch's thread count
    xeon, config = ids()
    assert ids() == (xeon, config)
    cpu["kernels"] = EPYC
    epyc, epyc_config = ids()
    assert epyc != xeon and epyc_config == config
    cpu["cpus"] = 8
    assert ids()[0] not in (xeon, epyc) and ids()[1] == config
    for name, value in [("OMP_NUM_THREADS", "4"), ("MKL_NUM_THREADS", "4"), ("ATEN_CPU_CAPABILITY", "avx2"),
                        ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")]:
        monkeypatch.setenv(name, value)
        changed = ids()
        monkeypatch.delenv(name)
        assert changed[0] != ids()[0] and changed[1] == config, name
    # the thread count torch starts with, however it is told: the smaller of the two variables
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    one = ids()
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    assert ids() == one
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert ids() == one
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.delenv("MKL_NUM_THREADS")
    before = ids()
    monkeypatch.setenv("WANDB_MODE", "disabled")  # not a kernel setting
    assert ids() == before
    # the config id is the id itt gave before the machine was in it: the run payload without the machine
    spec = identity.resolve(make("stage.itt=false"))  # no parent (whose id in the payload is its own kind: below)
    assert "machine" in identity.run_payload(spec) and "machine" not in identity.run_payload(spec, machine=False)
    assert identity.run_payload(spec, machine=False) == {k: v for k, v in identity.run_payload(spec).items() if k != "machine"}


def test_an_itt_target_names_its_parent_by_the_parents_config_id_in_its_own(cpu):
    cfg = make("stage.itt=true")
    spec = identity.resolve(cfg)
    first = identity.run_id(cfg), identity.config_id(cfg), identity.run_id(spec.parent)
    cpu["kernels"] = EPYC
    hardware.cpu_machine.cache_clear()  # another process, on the other CPU
    second = identity.run_id(cfg), identity.config_id(cfg), identity.run_id(spec.parent)
    assert second[0] != first[0] and second[2] != first[2]  # the parent is another run on this CPU too
    assert second[1] == first[1]
    assert identity.run_payload(spec, machine=False)["parent"]["run_id"] == identity.config_id(spec.parent)


def test_gpus_are_told_apart_by_kind_not_only_by_compute_capability(monkeypatch):
    """cuBLAS picks kernels by architecture and by the GPU's size: an A30 and an A100 are both 8.0."""
    monkeypatch.setattr(hardware, "cuda_available", lambda: True)
    monkeypatch.setattr(hardware, "cuda_bf16", lambda: True)
    kinds = {"now": ["NVIDIA A100-SXM4-40GB (8.0)"]}
    monkeypatch.setattr(hardware, "gpu_kinds", lambda: kinds["now"])
    a100, config = ids()
    kinds["now"] = ["NVIDIA A30 (8.0)"]
    a30, a30_config = ids()
    kinds["now"] = ["NVIDIA H100 80GB HBM3 (9.0)"]
    h100, h100_config = ids()
    assert len({a100, a30, h100}) == 3 and a30_config == h100_config == config
    assert hardware.machine("cuda") == {"gpu": ["NVIDIA H100 80GB HBM3 (9.0)"]}


def test_a_gpu_kind_is_the_same_from_torch_and_from_nvidia_smi(monkeypatch):
    """The cached-run check runs before torch is imported (nvidia-smi), the pipeline after: one run id."""
    import torch

    monkeypatch.setattr(hardware.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(hardware.subprocess, "run", lambda cmd, **kw: type("Done", (), {
        "stdout": "NVIDIA A100-SXM4-40GB, 8.0\nNVIDIA A100-SXM4-40GB, 8.0\n"})())
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    hardware._nvidia_gpus.cache_clear()
    try:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as if torch were not imported yet
        before = hardware.gpu_kinds()
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=None: "NVIDIA A100-SXM4-40GB")
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i=None: (8, 0))
        assert hardware.gpu_kinds() == before == ["NVIDIA A100-SXM4-40GB (8.0)"]
        assert hardware.device_name("cuda") == "cuda (NVIDIA A100-SXM4-40GB)"
    finally:
        hardware._nvidia_gpus.cache_clear()


@pytest.mark.parametrize("cpuinfo, expected", [
    ("vendor_id\t: GenuineIntel\nflags\t\t: fpu avx2 fma avx512f avx512bw avx512vl avx512dq avx512_bf16 amx_bf16 amx_tile\n",
     XEON),
    ("vendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 fma avx512f avx512bw avx512vl avx512dq avx512_bf16\n", EPYC),
    ("vendor_id\t: GenuineIntel\nflags\t\t: fpu avx avx2 fma\n", "GenuineIntel avx2 bf16=none"),
    ("vendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx\n", "AuthenticAMD default bf16=none"),
    # only the first processor is read (every core of a node is alike)
    ("vendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 fma\n\nvendor_id\t: GenuineIntel\nflags\t\t: amx_bf16 amx_tile\n",
     "AuthenticAMD avx2 bf16=none"),
])
def test_cpu_kernels_are_read_from_cpuinfo(monkeypatch, cpuinfo, expected):
    monkeypatch.setattr(hardware, "_cpuinfo_text", lambda: cpuinfo)
    assert hardware.cpu_kernels() == expected


def test_without_cpuinfo_the_platform_names_the_cpu(monkeypatch):
    monkeypatch.setattr(hardware, "_cpuinfo_text", lambda: "")
    monkeypatch.setattr(hardware.platform, "machine", lambda: "arm64")
    monkeypatch.setattr(hardware.platform, "processor", lambda: "arm")
    assert hardware.cpu_kernels() == "arm64 arm"


@pytest.mark.skipif(not hardware._cpuinfo_text(), reason="no /proc/cpuinfo")
def test_the_vector_isa_read_before_torch_is_the_one_torch_dispatches_to(monkeypatch):
    """Read from /proc/cpuinfo before torch is imported (the cached-rerun path), it must be what ATen uses."""
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    assert hardware.cpu_kernels().split()[1] == torch.backends.cpu.get_cpu_capability().lower()


def test_the_row_records_the_machine_and_the_config_id(cpu):
    cfg = make("model=minilm")
    spec = identity.resolve(cfg)
    row = rows.base_row(spec, identity.run_id(spec))
    assert row["machine"] == {"cpu": XEON, "cpus": 2} == identity.run_payload(spec)["machine"]
    assert hardware.machine("cpu") == {"cpu": XEON, "cpus": 2}
    assert row["config_id"] == identity.config_id(spec) != row["run_id"]


@pytest.mark.parametrize("model", ["bert", "roberta", "xlnet"])
def test_a_tiny_stand_in_encoder_is_one_thread_on_any_cpu_count(cpu, monkeypatch, model):
    """The embedded encoders train on one thread (itt.trainer.auto_threads) whatever the CPU count: their id
    and row say so, and a machine with more CPUs computes the same run. OMP_NUM_THREADS still wins."""
    two = ids(f"model={model}")
    spec = identity.resolve(make(f"model={model}"))
    assert rows.base_row(spec, two[0])["machine"] == {"cpu": XEON, "threads": 1}
    cpu["cpus"] = 8
    assert ids(f"model={model}") == two
    cpu["kernels"] = EPYC  # another kind of CPU is still another run
    assert ids(f"model={model}")[0] != two[0]
    cpu["kernels"] = XEON
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert ids(f"model={model}")[0] != two[0]
    model_cfg = make(f"model={model}").model
    width = model_cfg.embedded.config.get("hidden_size") or model_cfg.embedded.config.get("d_model")

    class Model(torch.nn.Module):  # what auto_threads reads: the built model's config
        config = type("Config", (), {"hidden_size" if model != "xlnet" else "d_model": width})()

    monkeypatch.delenv("OMP_NUM_THREADS")
    hardware.cpu_machine.cache_clear()  # a process started without it
    from itt.trainer import auto_threads

    assert auto_threads(Model()) == 1  # the id's one thread is what training uses


def test_the_threads_key_is_what_torch_starts_with(monkeypatch):
    """torch's default intra-op thread count: OMP_NUM_THREADS or MKL_NUM_THREADS (the smaller), else the CPUs."""
    script = "import torch; print(torch.get_num_threads())"
    for env in ({}, {"OMP_NUM_THREADS": "1"}, {"MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "2"}):
        for name in hardware.THREAD_ENV:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        torch_threads = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                       env=dict(os.environ), check=True).stdout.strip()
        key = hardware.cpu_threads()
        assert int(torch_threads) == key.get("threads", key.get("cpus")), env


def _row(run_id, config_id, status="ok", parent=None, time="2026-11-28T07:00:00+00:00", acc=0.5, seed=0):
    row = {"run_id": run_id, "status": status, "time": time, "stage": "target" if parent else "intermediate",
           "model": "bert", "task": "sentiment", "seed": seed, "parent_run_id": parent, "metrics": {"test/acc": acc}}
    if config_id is not None:
        row["config_id"] = config_id
    return row


def test_the_report_counts_one_row_per_config_and_points_children_at_the_parent_that_counts():
    df = records_to_frame([
        _row("inter-xeon", None, time="2026-11-27T10:00:00+00:00"),  # a row from before config_id: its run id is it
        _row("target-xeon", None, parent="inter-xeon", time="2026-11-27T11:00:00+00:00", acc=0.6),
        _row("inter-epyc", "inter-xeon", time="2026-11-28T07:00:00+00:00"),
        _row("other-seed", "other-seed", seed=1),
    ])
    counted = latest_ok(df)
    assert sorted(counted["run_id"]) == ["inter-epyc", "other-seed", "target-xeon"]
    # the target trained on the Xeon's intermediate; the row that counts for that config is now the EPYC's
    assert counted.set_index("run_id").loc["target-xeon", "parent_run_id"] == "inter-epyc"


def test_a_config_that_failed_on_one_machine_and_ran_on_another_is_not_failed():
    df = records_to_frame([
        _row("a-xeon", "a", status="failed"), _row("a-epyc", "a"),
        _row("b-xeon", "b", status="failed"),
    ])
    assert list(failed_runs(df)["run_id"]) == ["b-xeon"]
    assert list(latest_ok(df)["run_id"]) == ["a-epyc"]


def test_a_process_keeps_its_key_when_lightning_sets_the_thread_count_and_its_ddp_workers_take_it(cpu, monkeypatch):
    """Lightning's DDP launcher sets OMP_NUM_THREADS when it starts its workers: the run id of the process
    that already named its run directory must not move, and the workers must name the same one."""
    monkeypatch.setattr(sys.modules[__name__], "BASE", [*BASE, "model=minilm"])  # full size: torch's thread count
    first = ids()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what Lightning does at fit, in this process
    assert ids(new_process=False) == first
    # a DDP worker: a child of this process with LOCAL_RANK 1, started with the variable Lightning set
    monkeypatch.setattr(hardware.os, "getppid", lambda: int(hardware.os.environ[hardware.INHERITED].split(":")[0]))
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert ids() == first
    # any other child (LOCAL_RANK unset: a job, a script's subprocess) takes its own
    monkeypatch.delenv("LOCAL_RANK")
    assert ids()[0] != first[0]


def test_gpus_are_read_as_torch_sees_them_from_nvidia_smi(monkeypatch):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return type("Done", (), {"stdout": "NVIDIA A100-SXM4-40GB, 8.0\n"})()

    monkeypatch.setattr(hardware.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(hardware.subprocess, "run", fake_run)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    hardware._nvidia_gpus.cache_clear()
    try:
        assert hardware._nvidia_gpus() == (("NVIDIA A100-SXM4-40GB", 8.0),)
        assert "--id=2,3" in calls[-1]  # nvidia-smi lists every GPU of the node unless told which
    finally:
        hardware._nvidia_gpus.cache_clear()


def test_status_and_chains_read_a_config_run_on_two_machines_as_one_run():
    from itt.report.chain import follow_chain
    from itt.report.status import ledger_status

    df = records_to_frame([
        _row("i-xeon", "i", time="2026-11-27T10:00:00+00:00"),
        _row("t-xeon", "t", status="failed", parent="i-xeon", time="2026-11-27T11:00:00+00:00"),
        _row("i-epyc", "i", time="2026-11-28T07:00:00+00:00"),
        _row("t-epyc", "t", parent="i-epyc", time="2026-11-28T08:00:00+00:00"),
    ])
    states = ledger_status(df).set_index("config_id")
    assert len(states) == 2 and set(states["state"]) == {"ok"}  # t failed on the Xeon, ran on the EPYC
    assert states.loc["t", "run_id"] == "t-epyc"
    # the Xeon's intermediate row was replaced by the EPYC's: asking for it gives the row that counts
    assert [r["run_id"] for r in follow_chain(df, "i-xeon")] == ["i-epyc"]
    assert [r["run_id"] for r in follow_chain(df, "t-epyc")] == ["i-epyc", "t-epyc"]
