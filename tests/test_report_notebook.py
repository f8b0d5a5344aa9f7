"""Execute notebooks/compare.ipynb headless (nbclient) against a synthetic ledger."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from report_ledger import base_row, dataset, eval_set, intermediate_row, target_row
from report_ledger import write_ledger as write_rows

import ipykernel  # noqa: E402,F401 (dev dependencies: a missing one must fail, not skip)
import nbclient  # noqa: E402
import nbformat  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "compare.ipynb"


def write_ledger(root: Path) -> None:
    """New-shape rows (tests/report_ledger.py): two models × two targets × no-ITT/ITT × 3 seeds;
    the cross-lingual target is also scored zero-shot in de, fr and sw."""
    rows = []
    for m, base in (("bert", 0.80), ("roberta", 0.85)):
        for seed in (0, 1, 2):
            inter = intermediate_row(f"{m}-int-{seed}", dataset("intermediate", "amazon"),
                                     model=m, task="sentiment", seed=seed, source="embedded",
                                     split="paper", hparams_id="nb000001")
            rows.append(inter)
            for tgt, gain, lang in (("domain", 0.02, "en"), ("crosslingual", 0.01, "de")):
                for itt in (False, True):
                    v = base + 0.003 * seed + (gain + 0.002 * (seed % 2) if itt else 0.0)
                    evals = {} if tgt == "domain" else {
                        lg: eval_set(lg, v - off) for lg, off in (("fr", 0.05), ("sw", 0.2))}
                    rows.append(target_row(
                        f"{m}-{tgt}-{itt}-{seed}", model=m, task="sentiment", seed=seed,
                        source="embedded", split="paper", hparams_id="nb000001", value=v,
                        data=dataset(tgt, f"reviews-{lang}", lang=lang), evals=evals,
                        parent=inter if itt else None))
    rows.append(base_row("x-fail", model="xlnet", task="sentiment", status="failed",
                         error="OOM", value=None))
    write_rows(root, rows)


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """Pin kernel "python3" to *this* interpreter and make `itt` importable in it.

    A user- or system-level kernelspec called python3 may point at another Python (without
    pandas/itt); JUPYTER_PATH is searched first, so a spec written here wins everywhere (CI,
    laptops). PYTHONPATH covers a checkout that was not `pip install -e`'d.
    """
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test)", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # no user startup files
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    root = tmp_path / "outputs"
    root.mkdir()
    write_ledger(root)
    monkeypatch.setenv("ITT_ROOT", str(root))
    return root


@pytest.mark.slow
def test_notebook_executes(kernel_env):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on any failing cell

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/markdown", ""))
                     + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "group: source=embedded split=paper hparams=nb000001" in text
    assert "| bert |" in text and "Δ (ITT − no-ITT)" in text
    assert str(kernel_env.resolve()) in text  # it read the ledger named by ITT_ROOT, not ../outputs
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 3  # heatmap + bars + Δ by language
    assert "eval_family" in text and "Niger-Congo" in text  # the long table
    assert "Cross-lingual view" in text and "family Indo-European" in text
    assert "x-fail" in text or any("x-fail" in str(o.get("data", {})) for o in outputs)
