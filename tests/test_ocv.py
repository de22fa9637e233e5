"""OCV laws and Butler–Volmer in NumPy, and the case checks that use them (no DOLFINx)."""

from __future__ import annotations

import numpy as np
import pytest

from fem_electrode.config import ConfigError, validate
from fem_electrode.physics.constants import Y_EPS, thermal_voltage
from fem_electrode.physics.kinetics import EXP_ARG_MAX, ButlerVolmer, safe_exp
from fem_electrode.physics.ocv import SmoothOCV, TableOCV, load_table


def test_smooth_ocv_formula_and_clipping():
    ocv = SmoothOCV(U0=3.37, tilt=0.05, temperature=298.15)
    assert ocv.value(0.5) == pytest.approx(3.37, abs=1e-15)
    y = 0.9
    expected = 3.37 + thermal_voltage(298.15) * np.log(0.1 / 0.9) - 0.05 * 0.4
    assert ocv.value(y) == pytest.approx(expected, rel=1e-14)
    u = ocv.value(np.array([-0.5, 0.0, 1.0, 1.5]))  # Newton overshoots stay finite
    assert np.all(np.isfinite(u))
    lo, hi = ocv.voltage_range()
    assert u[0] == u[1] == pytest.approx(hi) and u[2] == u[3] == pytest.approx(lo)
    assert lo < 2.8 and hi > 3.8  # wider than the default cut-offs
    assert ocv.value(1 - Y_EPS) == pytest.approx(lo)


def test_table_ocv_is_piecewise_linear_and_clipped(tmp_path):
    path = tmp_path / "ocv.csv"
    path.write_text("# NVP\ny,U\n0.0,3.9\n0.2,3.45\n0.8,3.35\n1.0,2.7\n")
    table = load_table(path)
    assert table.value(0.1) == pytest.approx(3.675, rel=1e-14)
    assert table.value(0.5) == pytest.approx(3.40, rel=1e-14)
    assert table.value(0.9) == pytest.approx(3.025, rel=1e-14)
    assert table.value(np.array([-1.0, 2.0])) == pytest.approx([3.9, 2.7])
    assert table.voltage_range() == (2.7, 3.9)


@pytest.mark.parametrize("text, match", [
    ("y,U\n0.0,3.9\n0.5,3.95\n1.0,2.7\n", "not monotonic"),
    ("y,U\n0.0,3.9\n0.0,3.5\n1.0,2.7\n", "increase strictly"),
    ("y,U\n0.0,3.9\n", "at least 2 rows"),
    ("y,U\n-0.1,3.9\n1.0,2.7\n", r"in \[0, 1\]"),
    ("y,U\n0.0,3.9\n0.5,abc\n", "expected two numbers"),
])
def test_bad_tables_are_refused(tmp_path, text, match):
    path = tmp_path / "ocv.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_table(path)


def test_table_constructor_checks_too():
    with pytest.raises(ValueError, match="not monotonic"):
        TableOCV((0.0, 0.5, 1.0), (3.9, 3.95, 2.7))


def test_butler_volmer_normalisation_and_inverse():
    bv = ButlerVolmer(i0_ref=2.0, alpha_a=0.5, alpha_c=0.5, temperature=298.15)
    assert bv.exchange_current(0.5) == pytest.approx(2.0, rel=1e-15)
    assert bv.exchange_current(0.9) == pytest.approx(2.0 * np.sqrt(1.8 * 0.2), rel=1e-14)
    for i in (-50.0, -1e-3, 0.0, 0.3, 7.0):
        eta = bv.overpotential_symmetric(i, 0.3)
        assert bv.current(eta, 0.3) == pytest.approx(i, rel=1e-12, abs=1e-15)
    assert bv.current(0.01, 0.5) > 0.0  # anodic for eta > 0
    # linear continuation of exp: finite and C1 at the switch
    x = np.array([EXP_ARG_MAX - 1e-6, EXP_ARG_MAX + 1e-6, 1e4])
    e = safe_exp(x)
    assert np.all(np.isfinite(e)) and e[1] / e[0] == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="i0_ref must be > 0"):
        ButlerVolmer(i0_ref=0.0, alpha_a=0.5, alpha_c=0.5, temperature=298.15)


@pytest.mark.parametrize("data, match", [
    ({"materials": {"sigma_e_nzsp": 0.0}}, "materials.sigma_e_nzsp = 0.0"),
    ({"materials": {"sigma_s_nvp": -1.0}}, "materials.sigma_s_nvp = -1.0"),
    ({"materials": {"D_nvp": 0.0}}, "materials.D_nvp = 0.0"),
    ({"electrochemistry": {"i0_ref": 0.0}}, "electrochemistry.i0_ref = 0.0"),
    ({"protocol": {"c_rate": 0.0}}, "protocol.c_rate = 0.0"),
    ({"electrochemistry": {"initial_y": 1.0}}, "electrochemistry.initial_y = 1.0"),
    ({"electrochemistry": {"initial_y": 0.0}}, "electrochemistry.initial_y = 0.0"),
    ({"protocol": {"cutoff_low": 3.9, "cutoff_high": 3.0}}, "must be below cutoff_high"),
    ({"protocol": {"cutoff_high": 4.5}}, "cutoff_high = 4.5 V lies above the OCV range"),
    ({"protocol": {"cutoff_low": 2.0}}, "cutoff_low = 2.0 V lies below the OCV range"),
    ({"protocol": {"cutoff_high": 3.2}}, "initial OCV"),
    ({"electrochemistry": {"ocv": "table"}}, "needs ocv_table"),
    ({"electrochemistry": {"ocv": "table", "ocv_table": "/no/such/ocv.csv"}}, "does not exist"),
])
def test_bad_input_is_a_clear_config_error(data, match):
    with pytest.raises(ConfigError, match=match):
        validate(data)


def test_table_in_case_checks_range_and_monotonicity(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("y,U\n0.0,4.0\n0.5,3.4\n1.0,2.6\n")
    validate({"electrochemistry": {"ocv": "table", "ocv_table": str(good)}})
    bad = tmp_path / "bad.csv"
    bad.write_text("y,U\n0.0,4.0\n0.5,3.4\n0.7,3.5\n1.0,2.6\n")
    with pytest.raises(ConfigError, match="not monotonic"):
        validate({"electrochemistry": {"ocv": "table", "ocv_table": str(bad)}})
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("y,U\n0.0,3.6\n1.0,3.0\n")
    with pytest.raises(ConfigError, match="cutoff_high = 3.8 V lies above the OCV range 3 ... 3.6 V"):
        validate({"electrochemistry": {"ocv": "table", "ocv_table": str(narrow)}})
