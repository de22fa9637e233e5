"""[electrode]: the electrode-scale prediction (`fem-electrode scale`): the RVE's effective
properties carried through the thickness of the real electrode by a homogenized model."""

from dataclasses import dataclass

from fem_electrode.config.spec import Section, key


@dataclass(frozen=True)
class ElectrodeConfig:
    """Electrode-scale model: thicknesses, C-rates and resolution (`fem-electrode scale`)."""

    thickness: list[float] = key(
        [150.0, 250.0],
        "µm",
        "thicknesses of the porous electrode layer to predict (the RVE's microstructure throughout)",
        lo=0.0,
        hi=10000.0,
        lo_open=True,
        source="paper: 150-250 µm porous layer on a 600-800 µm dense layer",
    )
    c_rates: list[float] = key(
        [0.1, 0.6, 1.0],
        "1/h",
        "C-rates of the predicted cycles (one charge + discharge each, from protocol.start; 1 C from the "
        "NVP mass of the electrode)",
        lo=0.0,
        hi=100.0,
        lo_open=True,
        source="paper: cycling at 0.1 C and 0.6 C",
    )
    current_densities: list[float] | None = key(
        None,
        "A/m^2",
        "galvanostatic current densities (per projected area) predicted besides the C-rates, one cycle each "
        "(e.g. the paper's inferred 0.1 C: 0.28 A/m^2 = 28 µA/cm^2, docs/validation.md)",
        lo=0.0,
        lo_open=True,
    )
    diffusion_geometry: str = key(
        "auto",
        "-",
        "shape of the NVP domain that Na diffuses in: a layer (slab of thickness V_NVP/A) or a grain "
        "(sphere of radius 3 V_NVP/A); auto: slab for layered kinds (infiltrated, film, coated_cavity, "
        "column), sphere otherwise",
        choices=("auto", "slab", "sphere"),
    )
    conductivity: str = key(
        "z_one_sided",
        "-",
        "which effective conductivities of the RVE the model uses through the thickness: 'z_one_sided' "
        "(along z, current fed from the phase's entry face, NZSP the separator side, NVP the collector side, "
        "and taken up uniformly: how an electrode uses them; a generated RVE's NVP never touches z = 0, so "
        "its through-z value is 0) or 'lateral' (mean of the x and y through-conductivities; the infiltrated "
        "NVP clusters hang from the collector and need not connect sideways: often 0)",
        choices=("z_one_sided", "lateral"),
    )
    nodes_thickness: int = key(60, "-", "finite volumes through the electrode thickness", lo=4, hi=5000)
    nodes_particle: int = key(16, "-", "finite volumes across the NVP diffusion domain", lo=2, hi=1000)


SECTION = Section.from_config("electrode", ElectrodeConfig)
