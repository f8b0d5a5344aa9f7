"""Fail fast, not after minutes of retries, when the Hugging Face hub cannot be reached.

transformers/datasets retry an unreachable hub for ~25 s per file before giving up. A 5 s probe tells
us up front; when it fails we switch both libraries to offline mode, so whatever is already in the
local cache still loads and anything else fails at once with a line we write ourselves. The hub probe
is one HTTP request through ``huggingface_hub``'s own HTTP client, so it goes wherever the downloads
would: through ``HTTPS_PROXY``/``HTTP_PROXY`` on proxy-only cluster nodes, to ``HF_ENDPOINT`` on a
mirror. Any HTTP answer, even an error status, means reachable.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

OFFLINE_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def http_reachable(url: str, timeout_s: float) -> bool:
    """An HTTP answer from ``url`` within ``timeout_s`` in all, through huggingface_hub's client (which
    honours the proxy variables); the thread bounds name lookup too, which no client timeout covers."""
    answer: list[bool] = []

    def probe() -> None:
        from huggingface_hub.utils import get_session  # noqa: PLC0415

        try:
            get_session().head(url, timeout=timeout_s, follow_redirects=False)
            answer.append(True)
        except Exception:  # noqa: BLE001 (any transport failure: connection, proxy, TLS, timeout)
            answer.append(False)

    thread = threading.Thread(target=probe, name="probe-hub", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(answer and answer[0])


@functools.lru_cache(maxsize=None)
def hub_reachable(timeout_s: float = 5.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    return http_reachable(os.environ.get("HF_ENDPOINT", "https://huggingface.co"), timeout_s)


def set_offline() -> None:
    for name in OFFLINE_ENV:
        os.environ[name] = "1"
    # The libraries read these flags at import time; patch the ones already imported.
    for module, attr in (("huggingface_hub.constants", "HF_HUB_OFFLINE"), ("datasets.config", "HF_HUB_OFFLINE"),
                         ("datasets.config", "HF_DATASETS_OFFLINE")):
        if module in sys.modules:
            setattr(sys.modules[module], attr, True)


def ensure_offline_if_unreachable(timeout_s: float = 5.0) -> bool:
    """Returns True when the hub is usable; otherwise switches to offline (cache-only) mode."""
    if hub_reachable(timeout_s):
        return True
    log.info("Hugging Face hub unreachable: offline mode, only cached models and datasets load")
    set_offline()
    return False


@functools.lru_cache(maxsize=None)
def resolved_revision(repo_id: str, revision: str | None = None, repo_type: str = "dataset") -> str | None:
    """The commit sha that ``revision`` (a branch, tag or None for main) of a hub repo points at now, for
    the ledger: a rerun months later can tell whether it read the same data. None when the hub cannot
    be asked (offline) or does not know the repo."""
    if not hub_reachable():
        return None
    try:
        from huggingface_hub import HfApi  # noqa: PLC0415

        return HfApi().repo_info(repo_id, revision=revision, repo_type=repo_type, timeout=10).sha
    except Exception:  # noqa: BLE001 (any failure only means the row cannot name the commit)
        return None


def cached_revision(repo_id: str | None, revision: str | None = None, repo_type: str = "model") -> str | None:
    """The commit sha of the hub repo files ``from_pretrained`` just read: the snapshot of the local HF cache
    that ``revision`` (None: main) points at, online or offline. None for a local folder or a repo not in
    the cache. (transformers 5 no longer sets ``config._commit_hash``, which older itt read.)"""
    if not repo_id or Path(repo_id).expanduser().exists():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415
        from transformers.utils.hub import extract_commit_hash  # noqa: PLC0415

        path = try_to_load_from_cache(repo_id, "config.json", revision=revision, repo_type=repo_type)
    except Exception:  # noqa: BLE001 (not a valid repo id: the row cannot name a commit)
        return None
    return extract_commit_hash(path, None) if isinstance(path, str) else None
