"""The literate demo (demos/demo_rve.py) runs as a user would run it, serially and on 2 ranks,
and writes its figure."""

from __future__ import annotations

import runpy
import sys

from conftest import ROOT


def test_demo_rve_runs_and_plots(comm, mpi_tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["demo_rve.py", str(mpi_tmp_path)])
    runpy.run_path(str(ROOT / "demos" / "demo_rve.py"), run_name="__main__")
    if comm.rank == 0:
        printed = capsys.readouterr().out
        assert "after 5 min at 1 C" in printed and "strain accommodation index" in printed
        assert (mpi_tmp_path / "demo-rve.png").stat().st_size > 10_000
