"""The dwcp-data command, run through its console script."""

from __future__ import annotations

import json
import shutil
import subprocess

import polars as pl

import dwcp_data


def dwcp(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("dwcp-data")
    assert exe, "the dwcp-data console script is installed with the wheel"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


def test_generate_writes_parquet(tmp_path):
    out = tmp_path / "sub" / "data.parquet"
    proc = dwcp(
        "generate", "-n", "5000", "--seed", "3", "--end", "2025-11-14T12:34:56Z", "--out", str(out), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows"] == 5000
    df = pl.read_parquet(out)
    assert df.schema == dwcp_data.SCHEMA
    assert list(tmp_path.joinpath("sub").iterdir()) == [out]  # no temporary file left behind


def test_generate_writes_csv_with_the_document_header(tmp_path):
    out = tmp_path / "data.csv"
    assert dwcp("generate", "-n", "10", "--out", str(out)).returncode == 0
    assert out.read_text().splitlines()[0] == ",".join(dwcp_data.SCHEMA.names())


def test_bad_input_exits_2(tmp_path):
    proc = dwcp("generate", "-n", "-5", "--out", str(tmp_path / "x.parquet"))
    assert proc.returncode == 2 and "`n`" in proc.stderr
    proc = dwcp("generate", "--out", str(tmp_path / "x.txt"))
    assert proc.returncode == 2 and "format" in proc.stderr
    assert dwcp("generate").returncode == 2  # --out missing
    assert not list(tmp_path.iterdir())
