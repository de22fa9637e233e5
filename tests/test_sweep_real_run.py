"""A sweep of the REAL solver: ``fem-electrode run`` on a tiny case, through the default
``[run] command`` (``fem-electrode run {case} -o {dir} {resume}``) and ``mpiexec -n 1``.

The other sweep and Slurm tests use the stand-in ``tests/stand_in_run.py``; this one checks
that the real run fits the job step: it exits 0, writes ``metrics.json`` into the case
folder, and ``collect`` finds its metrics.
"""

from __future__ import annotations

import pytest
from sweep_helpers import cli, status

from fem_electrode.campaign.collect import collect

TINY = """
[sweep]
name = "tiny"

[base.case]
name = "tiny"

[base.geometry]
kind = "film"
box = [2.0, 2.0, 2.0]
film_thickness = 1.0

[base.mesh]
size_max = 0.5

# The coarse mesh (0.5 µm) must resolve the diffusion layer: at the default D = 1e-16 m^2/s a
# 4 C charge empties a ~0.14 µm surface layer, P1 undershoots below c = 0 and Newton stalls
# before the cut-off. D = 1e-14 m^2/s (top of the literature range) gives sqrt(D t) ~ 1 µm.
[base.materials]
D_nvp = 1e-14

[base.protocol]
cycles = 1
dt_initial = 10.0
dt_max = 120.0

[grid]
"protocol.c_rate" = [4.0, 8.0]
"""


@pytest.mark.serial
def test_sweep_of_the_real_run_on_a_tiny_case(tmp_path):
    """Serial: drives external processes; no MPI communicator to share."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    root = tmp_path / "runs" / "tiny"
    rc = cli("sweep", path, "-o", root, "-n", "1")
    cases = sorted(p for p in root.iterdir() if (p / "case.toml").is_file())
    assert len(cases) == 2
    for case in cases:
        st = status(case)
        log = (case / "job.log").read_text()[-3000:]
        assert st["state"] == "done", f"{case.name}: {st.get('reason')}\n{log}"
        assert (case / "metrics.json").is_file()
    assert rc == 0
    res = collect(root, metrics=["capacity*"])
    assert [r["state"] for r in res.rows] == ["done", "done"] and res.metrics
    assert all(m.startswith("capacity") for m in res.metrics) and res.plots
    assert (root / "results.csv").is_file()
