"""The run-folder contract: every numeric key that a run, a two-way run and the mechanics alone
write to metrics.json is declared in the metrics schema; the thin-film h is decided once for
every path (a run with one-way mechanics and ``mechanics --from-run`` on the same infiltrated
mesh report the same h and h_source). Serially and on 2 ranks."""

from __future__ import annotations

import json

import pytest
from test_run import column, make_case

from fem_electrode.config import validate
from fem_electrode.outputs import snapshots
from fem_electrode.run import simulation
from fem_electrode.run.folder import METRICS_SCHEMA, RunFolder, is_text_key
from fem_electrode.run.mechanics_only import nvp_state, solve_prescribed
from fem_electrode.util.nested import flatten


def undeclared(metrics: dict) -> list[str]:
    """Keys of a metrics.json (flattened) that the schema neither declares nor lists as text."""
    return [k for k, v in flatten(metrics).items()
            if k not in METRICS_SCHEMA and not (isinstance(v, str) and is_text_key(k))]


def test_every_written_metric_is_declared(comm, mpi_tmp_path):
    protocol = {"hold_minutes": 0.0, "rest_minutes": 0.0, "output_interval": 1200.0}
    two = simulation.run(make_case(mechanics={"coupling": "two_way"}, protocol=protocol,
                                   materials={"D_nvp": 1e-13}),
                         mpi_tmp_path / "two", domain=column(comm))
    assert two.status == "completed", two.reason
    assert "coupling" in two.metrics["solver"] and "mechanics" in two.metrics
    assert undeclared(two.metrics) == []
    mech = solve_prescribed(validate({"mechanics": {"prescribed_y": 0.2}}), mpi_tmp_path / "mech", 0.2,
                            domain=column(comm))
    assert undeclared(mech) == []
    if comm.rank == 0:  # the file on disk is what readers see
        on_disk = json.loads(RunFolder(mpi_tmp_path / "two").metrics.read_text())
        assert undeclared(on_disk) == []
    # a key the schema does not know is caught (the check itself can fail)
    assert undeclared({"mechanics": {"new_quantity_Pa": 1.0}}) == ["mechanics.new_quantity_Pa"]


#: A tiny infiltrated RVE: seconds to mesh, a charge at 20 C in a few dozen steps.
INFILTRATED = {
    "case": {"name": "h-check"},
    "geometry": {"kind": "infiltrated", "box": [3.0, 3.0, 3.0], "seed": 4, "pore_radius_mean": 0.6,
                 "pore_radius_min": 0.45, "pore_radius_max": 0.75},
    "mesh": {"size_max": 1.0, "elements_across_layer": 1},
    "protocol": {"c_rate": 20.0, "cycles": 1, "output_interval": 30.0, "dt_initial": 2.0},
    "mechanics": {"coupling": "one_way"},
    "solver": {"linear": "direct"},
}


@pytest.mark.slow
def test_run_and_mechanics_from_run_decide_the_same_h(comm, mpi_tmp_path):
    case = validate({**INFILTRATED, "mesh": {**INFILTRATED["mesh"], "directory": str(mpi_tmp_path / "m")}})
    result = simulation.run(case, mpi_tmp_path / "run")  # builds the mesh, with its provenance
    assert result.status == "completed", result.reason
    run_h = result.metrics["mechanics"]["thin_film"]
    state = nvp_state(case, None, "test", from_run=str(mpi_tmp_path / "run"))
    assert isinstance(state, snapshots.Snapshot)
    data = solve_prescribed(case, mpi_tmp_path / "mech", state)  # the same mesh, reused
    mech_h = data["mechanics"]["thin_film"]
    assert run_h["h_source"] == mech_h["h_source"] == "mesh provenance"
    assert run_h["h"] == mech_h["h"]
    # the layer thickness the geometry solved for nvp_fraction, not the mean V_NVP / A_interface
    if comm.rank == 0:
        resolved = json.loads((mpi_tmp_path / "m" / "h-check.json").read_text())["resolved"]
        assert run_h["h"] == pytest.approx(resolved["layer_thickness"] * 1e-6, rel=1e-12)
