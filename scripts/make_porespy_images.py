"""Make the porespy test images under ``tests/data/``: microstructures that no one here made.

Where ``tests/data/porespy-*.npy`` came from (issue 16: "images that no one here made:
microstructures from the porespy generators (two- and three-phase)"). Every phase comes from a
porespy generator; this script only stacks the generators' boolean images into one label image.
porespy's convention is True = void; the labels below are the files' own (the test's case maps
them with ``image_labels``), deliberately not the mesher's internal codes.

- ``porespy-two-phase.npy`` (48³, uint8): a dense NVP | NZSP composite, no pore.
  ``blobs(porosity=0.35, blobiness=1)``: True (the "void" of porespy) = NVP, label 1;
  False = NZSP, label 0.
- ``porespy-three-phase.npy`` (48³, uint8): NVP grains and pores in an NZSP matrix.
  ``blobs(porosity=0.2, blobiness=1)``: True = pore, label 0; elsewhere, the spheres of
  ``overlapping_spheres(r=6, porosity=0.6)`` (False = inside a sphere) = NVP, label 1;
  the rest = NZSP, label 2.

porespy is not a dependency of the project (nor of its venv, whose versions DOLFINx pins): run this
in a venv of its own, e.g.

    python3 -m venv /tmp/porespy-venv && /tmp/porespy-venv/bin/pip install porespy==3.2.0
    /tmp/porespy-venv/bin/python scripts/make_porespy_images.py [-o tests/data]

Made with porespy 3.2.0, numpy 2.4.6, scipy 1.17.1 (Python 3.11). The seeds are fixed; another
porespy or numpy version may give other voxels, so the files, not this script, are the test input
(the script prints the versions and each file's phase fractions and SHA-256).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

#: Image edge (voxels): 48³ uint8 = 108 kB per file.
SIZE = 48
#: porespy version the files were made with (a different one is reported, not refused).
MADE_WITH = "3.2.0"
#: Seeds of the generator calls.
SEED_TWO_PHASE, SEED_PORES, SEED_GRAINS = 16, 17, 18


def two_phase(shape: list[int]) -> np.ndarray:
    """NZSP 0 | NVP 1 (no pore): a porespy ``blobs`` field."""
    import porespy as ps

    nvp = ps.generators.blobs(shape=shape, porosity=0.35, blobiness=1, seed=SEED_TWO_PHASE)
    return nvp.astype(np.uint8)


def three_phase(shape: list[int]) -> np.ndarray:
    """pore 0 | NVP 1 | NZSP 2: pores from ``blobs``, NVP grains from ``overlapping_spheres``."""
    import porespy as ps

    pore = ps.generators.blobs(shape=shape, porosity=0.2, blobiness=1, seed=SEED_PORES)
    outside_spheres = ps.generators.overlapping_spheres(shape=shape, r=6, porosity=0.6, seed=SEED_GRAINS)
    out = np.full(shape, 2, dtype=np.uint8)
    out[~outside_spheres] = 1
    out[pore] = 0
    return out


def main() -> None:
    import porespy as ps
    import scipy

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "data")
    args = ap.parse_args()
    print(f"porespy {ps.__version__} (files made with {MADE_WITH}), numpy {np.__version__}, "
          f"scipy {scipy.__version__}")
    args.out.mkdir(parents=True, exist_ok=True)
    shape = [SIZE] * 3
    for name, image in (("porespy-two-phase.npy", two_phase(shape)),
                        ("porespy-three-phase.npy", three_phase(shape))):
        path = args.out / name
        np.save(path, image)
        labels, counts = np.unique(image, return_counts=True)
        fractions = ", ".join(f"label {k}: {c / image.size:.4f}" for k, c in zip(labels, counts, strict=True))
        print(f"{path} {image.shape} {image.dtype}: {fractions}; "
              f"sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
