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
        monkeypatch.delenv(name, raising=False)
    import datasets.config  # noqa: PLC0415
    import huggingface_hub.constants  # noqa: PLC0415
    for module, attr in ((huggingface_hub.constants, "HF_HUB_OFFLINE"), (datasets.config, "HF_HUB_OFFLINE"),
                         (datasets.config, "HF_DATASETS_OFFLINE")):
        monkeypatch.setattr(module, attr, getattr(module, attr))
    hub_access.hub_reachable.cache_clear()
    yield
    hub_access.hub_reachable.cache_clear()


@pytest.mark.slow
def test_hub_unreachable_fails_fast_with_the_model_name_and_the_way_out(run_itt, tmp_path):
    root = tmp_path / "root"
    start = time.monotonic()
    # The command of the issue, as a user types it (source=hub is the default).
    result = run_itt("model=roberta", "task=sentiment", "+stage=intermediate", root=root, timeout=120,
                     env={"HF_HOME": tmp_path / "hf", "HF_ENDPOINT": UNREACHABLE, "HF_HUB_OFFLINE": None,
                          "HF_DATASETS_OFFLINE": None, "TRANSFORMERS_OFFLINE": None})
    elapsed = time.monotonic() - start
    assert result.returncode == 2, result.stderr[-3000:]
    assert elapsed < 60, f"took {elapsed:.0f}s"
    assert "Traceback" not in result.stderr and "Error executing job" not in result.stderr
    assert error_lines(result.stderr) == [
        "error: tokenizer 'FacebookAI/roberta-base' is not cached and the hub is unreachable: "
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


def test_hub_probe_is_bounded_even_when_dns_hangs(no_hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    _slow_dns(monkeypatch)
    start = time.monotonic()
    assert hub_access.hub_reachable(1.0) is False
    assert time.monotonic() - start < 3


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


def test_wandb_unreachable_is_offline_within_seconds(fresh_wandb_probe, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", UNREACHABLE)
    assert logger.wandb_offline() is True
    logger.wandb_offline.cache_clear()
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.invalid")
    _slow_dns(monkeypatch)
    start = time.monotonic()
    assert logger.wandb_offline() is True
    assert time.monotonic() - start < 5
