"""``stress_samples.npz`` from a real mechanics solution (layered NVP|NZSP column, uniform
delithiation y = 0): every quadrature sample arrives on rank 0 with its weight, so the
distributions in the report match the ``mechanics`` metrics. Runs serially and on 2 ranks."""

from __future__ import annotations

import numpy as np
import pytest
from builders import Mechanics
from layered import layered_box

from fem_electrode.config import validate
from fem_electrode.outputs import stress_samples as samples
from fem_electrode.report.rundata import read_stress_samples

L = (1e-6, 1e-6, 2e-6)
N = (2, 2, 4)


def test_samples_match_the_metrics(comm, mpi_tmp_path):
    domain = layered_box(comm, L, N, z_interface=1e-6)
    mech = Mechanics(domain, validate({}))
    mech.solve_y(0.0)
    metrics = mech.metrics()
    path = samples.write_stress_samples(mech.post, mpi_tmp_path / "stress_samples.npz", time=7.0, y_mean=0.0)
    mech.destroy()
    if comm.rank != 0:
        assert path is None
        return
    groups, meta = read_stress_samples(path)
    assert meta == {"time": 7.0, "y_mean": 0.0}
    n_cells = 6 * np.prod(N) // 2
    for phase in ("NVP", "NZSP"):
        ref = metrics["phases"][phase]
        for qty in ("von_mises", "hydrostatic", "max_principal"):
            s = groups[phase][qty]
            assert s.values.size == 4 * n_cells  # 4 quadrature points per tetrahedron
            assert s.weights.sum() == pytest.approx(ref["volume"], rel=1e-6)
            mean = float(s.values @ s.weights / s.weights.sum())
            assert mean == pytest.approx(ref[qty]["mean"], rel=1e-5, abs=1e-3 * abs(ref["von_mises"]["mean"]))
            assert s.values.max() == pytest.approx(ref[qty]["max"], rel=1e-5)
    tn = groups["interface"]["normal_traction"]
    assert tn.weights.sum() == pytest.approx(L[0] * L[1], rel=1e-6)
    assert float(tn.values @ tn.weights / tn.weights.sum()) == pytest.approx(
        metrics["interface"]["normal_traction"]["mean"], rel=1e-4, abs=1e3)


def test_thinning_keeps_a_seeded_subset():
    rng = np.random.default_rng(0)
    n = samples.MAX_SAMPLES + 10
    group = {"volume": np.ones(n), "von_mises": np.arange(n, dtype=float)}
    out = samples._thin(group, "volume", rng)
    assert out["volume"].size == samples.MAX_SAMPLES
    assert np.all(np.diff(out["von_mises"]) > 0)  # order kept, no duplicates
