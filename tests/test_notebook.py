"""The exploration notebook runs headless, in under a minute, and draws its plots."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import dwcp_data

import collector
from helpers import END

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "explore_training_data.ipynb"


@pytest.mark.slow
@pytest.mark.parametrize("source", ["synthetic", "collector"])
def test_notebook_executes(tmp_path, monkeypatch, source):
    if source == "collector":
        # The design document's collector's data, as `dwcp-data export` writes it.
        df = dwcp_data.generate_synthetic(50_000, seed=8, end=END)
        path = dwcp_data.write_training_data(collector.as_collected(df), tmp_path / "export.parquet")
        monkeypatch.setenv("DWCP_DATA_SOURCE", str(path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    assert time.perf_counter() - started < 60
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4, "the four figures are drawn"
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "ValidationReport" in html and "CleaningReport" in html
    assert "Regret against the oracle" in html, "the reference selector's regret is shown"
    assert "Data drift report" in html and 'data-column="rtt_ms"' in html, "this week's drift report is shown"
