"""Fail fast, not after minutes of retries, when the Hugging Face hub cannot be reached.

transformers/datasets retry an unreachable hub for ~25 s per file before giving up. A 5 s TCP probe
tells us up front; when it fails we switch both libraries to offline mode, so whatever is already in
the local cache still loads and anything else fails at once with a line we write ourselves.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
import threading
from urllib.parse import urlparse

log = logging.getLogger(__name__)

OFFLINE_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def _endpoint() -> tuple[str, int]:
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    return url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)


def tcp_reachable(host: str, port: int, timeout_s: float) -> bool:
    """A TCP connect within ``timeout_s`` in all, name lookup included: ``create_connection``'s timeout
    does not cover DNS, which on a cluster without outbound DNS can hang for 30 s or more."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, name=f"probe-{host}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(answer and answer[0])


@functools.lru_cache(maxsize=None)
def hub_reachable(timeout_s: float = 5.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    return tcp_reachable(*_endpoint(), timeout_s)


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
