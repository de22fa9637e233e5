"""fem_electrode: finite-element microstructure solver for NVP|NZSP solid-state electrodes.

Geometry (pure gmsh) lives in :mod:`fem_electrode.geometry`; everything that needs
DOLFINx imports it through :mod:`fem_electrode.fem.fenicsx`.
"""

__version__ = "0.1.0"
