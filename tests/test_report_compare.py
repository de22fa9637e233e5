"""``fem-electrode compare`` end to end on real meshes and a real mechanics solve.

``--mechanics-only``: both designs are meshed by the geometry layer and solved by
``fem-electrode mechanics`` (two child processes side by side) at a uniform NVP filling
(y = 0, fully charged); the report, comparison.json and
views.py are built from those run folders (screenshots too when pvpython is installed).
The full protocol (``fem-electrode run`` per design) is the same code path with the job
runner; see test_compare_full_protocol.

Serial: compare starts its own child processes (and pvpython); one rank drives them.
"""

from __future__ import annotations

import argparse
import json
import tomllib

import pytest

from fem_electrode.campaign import compare
from fem_electrode.commands import compare as compare_cmd
from fem_electrode.config import validate
from fem_electrode.report import pvrun

pytestmark = [pytest.mark.serial, pytest.mark.slow]

TINY = {
    "case": {"name": "tiny"},
    "geometry": {"box": [4.0, 4.0, 4.0], "porosity": 0.2, "nvp_fraction": 0.155, "seed": 3, "seeds": 1,
                 "pore_radius_mean": 0.8, "pore_radius_min": 0.55, "pore_radius_max": 1.1},
    "mesh": {"size_max": 0.8, "threads": 1},
    "protocol": {"c_rate": 1.0, "output_interval": 900.0},
}


def test_variants_share_everything_but_the_design(tmp_path):
    case = validate(TINY)
    items = compare.variants(case, tmp_path)
    assert [v.design for v in items] == ["infiltrated", "cosintered"]
    a, b = (v.case.to_dict() for v in items)
    assert a["geometry"].pop("kind") == "infiltrated" and b["geometry"].pop("kind") == "cosintered"
    for section in ("geometry", "materials", "electrochemistry", "protocol", "mechanics", "solver"):
        assert a[section] == b[section], section
    paper = compare.variants(case, tmp_path, "paper")
    assert [(v.folder, v.case.protocol.c_rate, v.case.protocol.hold_minutes) for v in paper] == [
        ("infiltrated-0.1C", 0.1, 20.0), ("cosintered-0.1C", 0.1, 20.0),
        ("infiltrated-0.6C", 0.6, 20.0), ("cosintered-0.6C", 0.6, 20.0)]
    assert all(v.case.geometry.box == [20.0, 20.0, 20.0] for v in paper)
    assert all(v.case.solver.linear == "iterative" for v in paper)  # MUMPS would not fit


def test_compare_mechanics_only_end_to_end(tmp_path, capsys):
    case_file = tmp_path / "tiny.toml"
    case_file.write_text("""
[case]
name = "tiny"
[geometry]
box = [4.0, 4.0, 4.0]
seed = 3
pore_radius_mean = 0.8
pore_radius_min = 0.55
pore_radius_max = 1.1
[mesh]
size_max = 0.8
threads = 1
""")
    parser = argparse.ArgumentParser()
    compare_cmd.add_arguments(parser)
    out = tmp_path / "cmp"
    args = parser.parse_args([str(case_file), "-o", str(out), "--mechanics-only"])
    assert compare_cmd.run(args) == 0
    printed = capsys.readouterr().out.split()
    assert printed[0].endswith("report.html")

    data = json.loads((out / "comparison.json").read_text())
    proto = data["protocols"][0]
    assert proto["label"] == "mechanics only, y = 0"
    on_disk = {}
    for design in ("infiltrated", "cosintered"):
        mech = proto["runs"][design]["metrics"]["mechanics"]
        assert mech["y_mean"] == 0.0
        # A fully charged NVP shrinks by the Vegard volume strain ε_v = Ω c_max (y − y_ref); bonded
        # to NZSP of the same Young's modulus it is in hydrostatic tension. For equal moduli the
        # Eshelby solution of ANY inclusion shape in a large body is σ_h = −2 E ε_v / (9 (1 − ν))
        # with tr ε(u) / ε_v = (1 + ν) / (3 (1 − ν)) (Mura 1987, §3-4: the displacement is the
        # gradient of a Newtonian potential). Measured on these RVEs (rollers, free top): σ_h −3.6 % and
        # −0.7 %, index +2.6 % and +0.5 % (infiltrated, co-sintered).
        resolved = tomllib.loads((out / design / "case.toml").read_text())
        mat, mech_case = resolved["materials"], resolved["mechanics"]
        assert mat["E_nvp"] == mat["E_nzsp"]  # the unsourced default: equal moduli
        eps_v = mat["omega_nvp"] * mat["c_max"] * (0.0 - mech_case["y_ref"])
        nu = mat["nu_nvp"]
        sigma_h = -2.0 * mat["E_nvp"] * eps_v / (9.0 * (1.0 - nu))
        assert sigma_h == pytest.approx(2.01e9, rel=0.01)  # the defaults of 2026: 2.0 GPa
        assert mech["phases"]["NVP"]["hydrostatic"]["mean"] == pytest.approx(sigma_h, rel=0.05)
        assert mech["strain_accommodation_index"] == pytest.approx((1 + nu) / (3 * (1 - nu)), rel=0.05)
        fractions = proto["runs"][design]["mesh"]["measured"]["volume_fractions"]
        assert fractions["NVP"] == pytest.approx(0.155, abs=0.01)
        on_disk[design] = json.loads((out / design / "metrics.json").read_text())
    # the comparison row against each design's own run folder (a swap of the designs inverts it)
    rows = {r["key"]: r for r in proto["metrics"]}
    vm = rows["mechanics.phases.NVP.von_mises.p95"]
    inf, co = (on_disk[d]["mechanics"]["phases"]["NVP"]["von_mises"]["p95"]
               for d in ("infiltrated", "cosintered"))
    assert inf != co
    assert (vm["infiltrated"], vm["cosintered"]) == (inf, co)
    assert vm["ratio_infiltrated_over_cosintered"] == pytest.approx(inf / co, rel=1e-12)
    # von Mises: lower is better, a tie within 2 % of the larger value
    expected = ("tie" if abs(inf - co) <= 0.02 * max(inf, co)
                else "infiltrated" if inf < co else "cosintered")
    assert vm["winner"] == expected

    html = (out / "report.html").read_text()
    assert "microstructures" in (out / "report.md").read_text()
    assert html.count("data:image/png;base64,") >= 4
    assert (out / "views.py").is_file()
    for design in ("infiltrated", "cosintered"):
        assert (out / design / "stress_samples.npz").is_file()
        assert (out / design / "fields" / "von_mises.xdmf").is_file()
    if pvrun.pvpython() is not None:
        shots = json.loads((out / "views" / "views.json").read_text())
        assert "infiltrated_von_mises" in shots["files"]
        assert "ParaView, von Mises stress" in html

    # a second call finds the results and only rebuilds the report
    before = (out / "infiltrated" / "metrics.json").stat().st_mtime_ns
    assert compare_cmd.run(parser.parse_args([str(case_file), "-o", str(out), "--mechanics-only",
                                              "--no-screenshots"])) == 0
    assert (out / "infiltrated" / "metrics.json").stat().st_mtime_ns == before


STAND_IN = '''
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from report_synthetic import toy_run
case, out = Path(sys.argv[1]), Path(sys.argv[3])
design = "infiltrated" if 'kind = "infiltrated"' in case.read_text() else "cosintered"
good = design == "infiltrated"
toy_run(out, design, capacity=95.0 if good else 80.0, gap=0.03 if good else 0.05,
        nvp_vm_p95=2.5e9 if good else 1.5e9, accommodation=0.6 if good else 0.4)
'''


def test_job_runner_runs_both_designs_side_by_side(tmp_path):
    """The job runner (child processes via the sweep's job step, two at a time) with a STAND-IN
    solver that writes synthetic run folders: status.json, skip when done, curves in the report."""
    from pathlib import Path

    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN.format(tests=str(Path(__file__).parent)))
    runner = compare.job_runner(command=f"{{python}} {script} {{case}} -o {{dir}}")
    out = tmp_path / "cmp"
    paths = compare.compare(validate(TINY), out, runner=runner, jobs=2, screenshots=False)
    for design in ("infiltrated", "cosintered"):
        assert json.loads((out / design / "status.json").read_text())["state"] == "done"
    data = json.loads(paths["json"].read_text())
    rows = {r["key"]: r for r in data["protocols"][0]["metrics"]}
    assert rows["capacity_discharge_mAh_per_g"]["winner"] == "infiltrated"
    assert "voltage_capacity" in paths["markdown"].read_text()
    stamp = (out / "cosintered" / "metrics.json").stat().st_mtime_ns
    compare.compare(validate(TINY), out, runner=runner, jobs=2, screenshots=False)
    assert (out / "cosintered" / "metrics.json").stat().st_mtime_ns == stamp  # done: not re-run


def test_compare_full_protocol(tmp_path):
    """Both designs through `fem-electrode run` (one 1 C cycle on the tiny RVE) and the report."""
    out = tmp_path / "cmp"
    paths = compare.compare(validate(TINY), out, jobs=2)
    data = json.loads(paths["json"].read_text())
    for design in ("infiltrated", "cosintered"):
        m = data["protocols"][0]["runs"][design]["metrics"]
        assert m["status"] == "completed"
        assert m["capacity_discharge_mAh_per_g"] > 0 and m["polarization_V"] > 0
        assert "mechanics" in m
    md = paths["markdown"].read_text()
    assert "voltage_capacity" in md and "stress_cdf" in md
