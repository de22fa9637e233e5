"""[electrochemistry]: kinetics, OCV, separator and initial state."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fem_electrode.config.spec import Section, key
from fem_electrode.physics import ocv as ocv_laws


def _checks(v: Mapping[str, Any]) -> list[str]:
    problems = []
    if v["ocv"] == "table":
        if not v["ocv_table"]:
            problems.append("ocv = 'table' needs ocv_table = 'path/to/ocv.csv' (columns y, U in V)")
        else:
            try:
                ocv_laws.load_table(v["ocv_table"])
            except ValueError as exc:
                problems.append(f"ocv_table = {v['ocv_table']!r}: {exc}")
    return problems


def check_cutoffs_against_ocv(case: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Cross-section check: [protocol] cut-offs inside the OCV range, start not beyond its cut-off."""
    e, p = case["electrochemistry"], case["protocol"]
    try:
        law = ocv_laws.from_config(dict(e))
    except ValueError:
        return []  # reported by the section check
    lo, hi = law.voltage_range()
    where = f"the OCV range {lo:.4g} ... {hi:.4g} V (electrochemistry.ocv = {e['ocv']!r})"
    problems = []
    if p["cutoff_low"] < lo:
        problems.append(f"protocol.cutoff_low = {p['cutoff_low']} V lies below {where}")
    if p["cutoff_high"] > hi:
        problems.append(f"protocol.cutoff_high = {p['cutoff_high']} V lies above {where}")
    u0 = float(law.value(e["initial_y"]))
    if p["start"] == "charge" and u0 >= p["cutoff_high"]:
        problems.append(
            f"the run starts with a charge but the initial OCV U(initial_y = "
            f"{e['initial_y']}) = {u0:.4f} V is not below protocol.cutoff_high = "
            f"{p['cutoff_high']} V"
        )
    if p["start"] == "discharge" and u0 <= p["cutoff_low"]:
        problems.append(
            f"the run starts with a discharge but the initial OCV U(initial_y = "
            f"{e['initial_y']}) = {u0:.4f} V is not above protocol.cutoff_low = "
            f"{p['cutoff_low']} V"
        )
    return problems


@dataclass(frozen=True)
class ElectrochemistryConfig:
    """Butler-Volmer kinetics at NVP|NZSP, the OCV of NVP and the lumped separator."""

    temperature: float = key(298.15, "K", "cell temperature", lo=200.0, hi=500.0)
    i0_ref: float = key(
        1.0,
        "A/m^2",
        "exchange current density at half filling: i0(y) = i0_ref (y/0.5)^alpha_c ((1-y)/0.5)^alpha_a",
        lo=0.0,
        lo_open=True,
        source="estimate, 0.1 ... 10 A/m^2",
    )
    alpha_a: float = key(0.5, "-", "anodic transfer coefficient", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    alpha_c: float = key(
        0.5, "-", "cathodic transfer coefficient", lo=0.0, hi=1.0, lo_open=True, hi_open=True
    )
    ocv: str = key(
        "default",
        "-",
        "open-circuit voltage: 'default', a smooth stand-in for the two-phase plateau (ocv_U0, "
        "ocv_slope); 'two_phase', the shipped NVP table: a flat plateau at 3.40 V between y = 0.1 and 0.9 "
        "(fem_electrode/physics/data/nvp_two_phase_ocv.csv, its sources and what in it is data); or "
        "'table', a CSV of your own (ocv_table)",
        choices=("default", "two_phase", "table"),
    )
    ocv_table: str = key(
        "",
        "-",
        "CSV with columns y, U [V] (path relative to the working directory); y = (x-1)/2 in Na_xV2(PO4)3 "
        "increasing, U strictly decreasing; linear between rows",
    )
    ocv_U0: float = key(
        3.37,
        "V",
        "plateau voltage vs Na/Na+ of the default OCV",
        lo=0.0,
        hi=10.0,
        source="estimate: the V3+/V4+ plateau is reported at about 3.4 V (Zeng et al., Front. Chem. 8 "
        "(2020) 635; Jian et al. 2013); 3.37 V is this model's choice within that",
    )
    ocv_slope: float = key(0.05, "V", "linear tilt of the default OCV plateau", lo=0.0, hi=1.0)
    initial_y: float = key(
        0.99,
        "-",
        "initial filling y = c/c_max (y = 1 is Na3V2(PO4)3, discharged)",
        lo=0.0,
        hi=1.0,
        lo_open=True,
        hi_open=True,
    )
    separator_thickness: float = key(
        700e-6,
        "m",
        "dense NZSP separator thickness, lumped as an ohmic resistance in series",
        lo=0.0,
        source="paper: 600-800 µm",
    )
    collector_conductance: float = key(
        1e6,
        "S/m^2",
        "Au|NVP contact conductance of the equipotential current collector (1e6 S/m^2 = 0.01 Ohm cm^2: "
        "ideal contact; the current divides between NVP regions by impedance)",
        lo=0.0,
        lo_open=True,
        source="assumed ideal contact",
    )
    asr_na_nzsp: float = key(
        0.0023,
        "Ohm m^2",
        "area-specific resistance of the Na|NZSP interface, lumped in series",
        lo=0.0,
        source="Batteries 2023, 9, 8 (23 ... 2700 Ohm cm^2)",
    )


SECTION = Section.from_config("electrochemistry", ElectrochemistryConfig, checks=(_checks,))
