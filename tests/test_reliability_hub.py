"""Issue 5, point 3: an unreachable hub or a wrong model name fails in seconds with the name and the
way out; an unreachable W&B (or no API key) means an offline run, never a hang."""

from __future__ import annotations

import socket
import time

import pytest
from conftest import error_lines

from itt import hub_access, logger
from itt.errors import ConfigError, HubUnreachableError
from itt.models.loading import load_tokenizer

# Port 9 (discard) on localhost: refused at once, like a cluster node without outbound access.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def no_hub(monkeypatch, tmp_path):
    """An empty HF cache and an endpoint that refuses connections; restores online mode afterwards."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", UNREACHABLE)
    for name in hub_access.OFFLINE_ENV:  # set_offline() sets them: monkeypatch restores them afterwards
        monkeypatch.setenv(name, "0")  # recorded (so restored), then removed: delenv alone records nothing
        monkeypatch.delenv(name)
    import datasets.config  # noqa: PLC0415
    import huggingface_hub.constants  # noqa: PLC0415
    for module, attr in ((huggingface_hub.constants, "HF_HUB_OFFLINE"), (datasets.config, "HF_HUB_OFFLINE"),
                         (datasets.config, "HF_DATASETS_OFFLINE")):
        monkeypatch.setattr(module, attr, getattr(module, attr))
    hub_access.hub_reachable.cache_clear()
    yield
    hub_access.hub_reachable.cache_clear()


# Hang guards, not timing assertions: without the bounded probe these would wait out the libraries'
# retries (~25 s per file) or a hanging name lookup (30 s here); how long each takes is in the README.
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_hub_unreachable_fails_fast_with_the_model_name_and_the_way_out(run_itt, tmp_path):
    root = tmp_path / "root"
    # The command of the issue, as a user types it (source=hub is the default).
    result = run_itt("model=roberta", "task=sentiment", "+stage=intermediate", root=root, timeout=120,
                     env={"HF_HOME": tmp_path / "hf", "HF_ENDPOINT": UNREACHABLE, "HF_HUB_OFFLINE": None,
                          "HF_DATASETS_OFFLINE": None, "TRANSFORMERS_OFFLINE": None})
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Error executing job" not in result.stderr
    assert error_lines(result.stderr) == [
        "error: model 'FacebookAI/roberta-base' is not cached and the hub is unreachable: "
        "use source=embedded, or model.hub_id=<local folder>"], result.stderr[-3000:]
    assert not (root / "results.jsonl").exists()
    assert not (root / "runs").exists() or list((root / "runs").iterdir()) == []


def test_wrong_model_name_or_folder_names_it(no_hub):
    with pytest.raises(HubUnreachableError, match=r"'no-such-org/no-such-model' is not cached .* use source=embedded"):
        hub_access.ensure_offline_if_unreachable(2.0)
        load_tokenizer("no-such-org/no-such-model")
    with pytest.raises(ConfigError, match=r"'/no/such/folder': no such folder; .* or use source=embedded"):
        load_tokenizer("/no/such/folder")


def _slow_dns(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(30)
        raise socket.gaierror("too late")
    monkeypatch.setattr(socket, "getaddrinfo", hang)


@pytest.mark.timeout(15)  # the name lookup hangs for 30 s: only a bounded probe returns in time
def test_hub_probe_is_bounded_even_when_dns_hangs(no_hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    _slow_dns(monkeypatch)
    assert hub_access.hub_reachable(1.0) is False


@pytest.fixture
def fresh_wandb_probe(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc from `wandb login`
    monkeypatch.delenv("WANDB_MODE", raising=False)
    logger.wandb_offline.cache_clear()
    yield
    logger.wandb_offline.cache_clear()


def test_wandb_without_key_is_offline(fresh_wandb_probe, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert logger.wandb_offline() is True


@pytest.mark.timeout(20)  # the name lookup hangs for 30 s: only a bounded probe returns in time
def test_wandb_unreachable_is_offline_within_seconds(fresh_wandb_probe, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", UNREACHABLE)
    assert logger.wandb_offline() is True
    logger.wandb_offline.cache_clear()
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.invalid")
    _slow_dns(monkeypatch)
    assert logger.wandb_offline() is True


def _probe_in_a_fresh_process(env: dict) -> bool:
    import subprocess
    import sys

    from conftest import REPO, itt_env

    code = "from itt import hub_access; print(hub_access.hub_reachable(3.0))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                            env=itt_env({**{name: None for name in hub_access.OFFLINE_ENV}, "HTTP_PROXY": None,
                                         "HTTPS_PROXY": None, "ALL_PROXY": None, "NO_PROXY": None, **env}))
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip() == "True"


def test_hub_probe_goes_through_the_proxy_like_the_downloads():
    """On proxy-only cluster nodes a direct connection fails while the hub is reachable through
    HTTP(S)_PROXY: the probe must take the proxy, as huggingface_hub's downloads do."""
    import http.server
    import threading

    seen = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802 (http.server's naming)
            seen.append(self.requestline)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = "http://hub.invalid"  # no such host: only a proxy can answer for it
        assert _probe_in_a_fresh_process({"HF_ENDPOINT": endpoint}) is False
        proxy = f"http://127.0.0.1:{server.server_address[1]}"
        assert _probe_in_a_fresh_process({"HF_ENDPOINT": endpoint, "HTTP_PROXY": proxy}) is True
        assert any("hub.invalid" in line for line in seen), seen
    finally:
        server.shutdown()


# --- Issue 12, item 8: the row names the hub commit of every dataset and of the model it read -------------

def _fake_sha(repo_type: str, repo_id: str, revision) -> str:
    import hashlib  # noqa: PLC0415

    return hashlib.sha1(f"{repo_type}:{repo_id}@{revision}".encode()).hexdigest()


@pytest.fixture
def fake_hub_info(monkeypatch):
    """The hub answers repo_info with a sha of its arguments (no network); the calls are recorded."""
    from types import SimpleNamespace  # noqa: PLC0415

    import huggingface_hub  # noqa: PLC0415

    calls = []

    def repo_info(self, repo_id, *, revision=None, repo_type=None, **kwargs):
        calls.append((repo_type, repo_id, revision))
        return SimpleNamespace(sha=_fake_sha(repo_type, repo_id, revision))

    monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", repo_info)
    hub_access.resolved_revision.cache_clear()
    yield calls
    hub_access.resolved_revision.cache_clear()


def test_the_resolved_commit_of_every_hub_dataset_lands_in_the_row(fake_hub_info, monkeypatch, tmp_path):
    from hydra import compose, initialize_config_dir  # noqa: PLC0415

    from itt import identity, pipeline, rows  # noqa: PLC0415
    from itt.train import CONF_DIR  # noqa: PLC0415

    local = tmp_path / "tatoeba.csv"
    local.write_text("source_sentence,target_sentence\nHallo,Hello\n")
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["model=xlmr", "task=pawsx", "+stage=target", "stage.target=en",
                                          "stage.evals=[de,tatoeba_de]", "task.evals.de.revision=refs/pr/7",
                                          f"task.evals.tatoeba_de.path={local}", f"paths.root={tmp_path}"])
    assert cfg.source.name == "hub"
    spec = identity.resolve(cfg)

    def recorded(reachable: bool) -> dict:
        monkeypatch.setattr(hub_access, "hub_reachable", lambda *a, **k: reachable)
        hub_access.resolved_revision.cache_clear()  # one process is either online or offline
        row = rows.base_row(spec, identity.run_id(spec))
        pipeline._record_hub_revisions(row, cfg)
        return row

    offline = recorded(False)  # the hub cannot be asked: the configured revision (or null), never a guess
    assert [offline["dataset"]["revision"], offline["evals"]["de"]["revision"]] == [None, "refs/pr/7"]
    assert fake_hub_info == []

    row = recorded(True)
    paws_x = "google-research-datasets/paws-x"
    assert row["dataset"]["path"] == paws_x and row["dataset"]["revision"] == _fake_sha("dataset", paws_x, None)
    assert row["datasets"] == [row["dataset"]]
    assert row["evals"]["de"]["revision"] == _fake_sha("dataset", paws_x, "refs/pr/7")  # a pinned branch: its commit
    assert row["evals"]["tatoeba_de"]["revision"] is None  # a local file: its content fingerprint names it instead
    assert row["evals"]["tatoeba_de"]["fingerprint"]
    assert sorted(fake_hub_info, key=str) == sorted([("dataset", paws_x, None), ("dataset", paws_x, "refs/pr/7")], key=str)


@pytest.mark.slow
def test_the_commit_of_a_hub_model_lands_in_the_row(run_itt, tmp_path):
    """A hub model loaded from the HF cache (offline here): the row names the snapshot's commit, and the
    device the run used."""
    import shutil  # noqa: PLC0415

    import torch  # noqa: PLC0415
    from conftest import read_ledger  # noqa: PLC0415
    from hydra import compose, initialize_config_dir  # noqa: PLC0415

    from itt.models import embedded  # noqa: PLC0415
    from itt.train import CONF_DIR  # noqa: PLC0415

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        model_cfg = compose("train", overrides=["model=bert"]).model
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "models--itt-test--tiny-bert"  # the HF cache layout of hub repo itt-test/tiny-bert
    shutil.copytree(embedded.build(model_cfg, tmp_path / "cache"), repo / "snapshots" / sha)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    data = tmp_path / "reviews.csv"
    data.write_text("\n".join(["body,sentiment"] + [f"{'great fine' if i % 2 else 'awful bad'} item {i},{'pos' if i % 2 else 'neg'}"
                                                    for i in range(60)]))
    result = run_itt("source=hub", "logger=csv", "model=bert", "model.hub_id=itt-test/tiny-bert", "task=sentiment",
                     "+stage=intermediate", "trainer.max_epochs=1", f"task.datasets.intermediate.path={data}",
                     "task.datasets.intermediate.text_fields=[body]", "task.datasets.intermediate.label_field=sentiment",
                     "task.datasets.intermediate.labels=[neg,pos]", "task.datasets.intermediate.label_map=null",
                     root=tmp_path / "out", env={"HF_HUB_CACHE": tmp_path / "hf", "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = read_ledger(tmp_path / "out")
    assert row["status"] == "ok" and row["model_info"]["hub_id"] == "itt-test/tiny-bert"
    assert row["model_info"]["revision"] == sha
    assert row["dataset"]["revision"] is None  # a local file
    assert row["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


def test_an_unreachable_hub_dataset_is_named_by_its_place_in_the_config(monkeypatch):
    # task=pawsx with its target pointed at a local file, offline: the first hub eval set failed with
    # "point task.datasets.<role>.path at a local file", naming neither the eval set nor where it lives.
    import datasets  # noqa: PLC0415

    from itt.data import loading  # noqa: PLC0415
    from itt.schema import DatasetSpec  # noqa: PLC0415

    def unreachable(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'google-research-datasets/paws-x' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    monkeypatch.setattr(loading, "ensure_offline_if_unreachable", lambda timeout_s: None)
    spec = DatasetSpec(path="google-research-datasets/paws-x", subset="de", text_fields=["sentence1", "sentence2"])
    with pytest.raises(HubUnreachableError) as raised:
        loading.load_raw(spec, "hub", 1.0, where="task.evals.de (google-research-datasets/paws-x)")
    assert str(raised.value) == (
        "task.evals.de (google-research-datasets/paws-x): dataset 'google-research-datasets/paws-x' (subset de) is not "
        "cached and the hub is unreachable: use source=embedded, or point its path at a local csv/tsv/jsonl/parquet "
        "file (or leave it out: stage.evals)")
