"""notebooks/compare.ipynb: its cells parse and call what itt.report has (fast), and it executes
headless (nbclient) against a synthetic ledger and measures.jsonl (slow)."""

from __future__ import annotations

import ast
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
from IPython.core.inputtransformer2 import TransformerManager

import itt.report

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


# measures.jsonl for the ledger above: amazon (the intermediate) against each evaluated set's key.
# vocab_overlap names no model (joined to every model), unigram_js one line per model.
OVERLAP = {"reviews-en": 0.6, "reviews-de": 0.4, "xnli:fr@fr/general": 0.3, "xnli:sw@sw/general": 0.1}


def write_measures(root: Path) -> None:
    lines = []
    for b_key, overlap in OVERLAP.items():
        lines.append({"a_key": "amazon", "b_key": b_key, "model": None, "measure": "vocab_overlap",
                      "value": overlap, "n_a": 100, "n_b": 100, "params": {"k": 10000}, "seed": 0})
        for model in ("bert", "roberta"):
            lines.append({"a_key": "amazon", "b_key": b_key, "model": model, "measure": "unigram_js",
                          "value": 0.7 - overlap, "n_a": 100, "n_b": 100, "params": {}, "seed": 0})
    (root / "measures.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))


def code_cells(nb) -> list[str]:
    return ["".join(c.source) for c in nb.cells if c.cell_type == "code"]


def test_cells_parse_use_only_what_itt_report_has_and_keep_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    imported: set[str] = set()
    for src in code_cells(nb):
        tree = ast.parse(TransformerManager().transform_cell(src))  # `%matplotlib` -> get_ipython()
        imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                     and node.module == "itt.report" for a in node.names}
    assert imported and all(hasattr(itt.report, name) for name in imported), imported - set(dir(itt.report))
    # the gain-vs-divergence view calls the report's own functions (no logic of its own)
    assert {"build_report", "render_rho_markdown", "gain_vs_measure_plots"} <= imported
    divergence = [src for src in code_cells(nb) if "report.gains" in src or "gain_vs_measure_plots(" in src]
    assert any("render_rho_markdown(rho)" in src for src in divergence)
    assert any("gain_vs_measure_plots(gains, rho)" in src for src in divergence)
    text = "\n".join("".join(c.source) for c in nb.cells if c.cell_type == "markdown")
    assert "## Gain vs divergence" in text and "docs/divergence.md" in text
    assert "python -m itt.measure -m experiment=divergence_study +stage=target" in text
    assert (REPO / "conf" / "experiment" / "divergence_study.yaml").is_file()
    for cell in nb.cells:  # outputs cleared: the notebook in git holds no results
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


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
    write_measures(root)
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

    # gain vs divergence: the ρ table, the joined points and one scatter per measure
    assert "## Gain vs divergence" in text and "vocab_overlap" in text and "unigram_js" in text
    assert "| zero-shot |" in text  # own test sets and zero-shot languages: ρ per scope too
    (scatter_cell,) = [c for c in nb.cells if c.cell_type == "code" and "gain_vs_measure_plots(" in c.source]
    assert len([o for o in scatter_cell.outputs if "image/png" in o.get("data", {})]) == 2
