"""Make ``examples/image-synthetic.npy``: a small segmented image of an infiltrated electrode.

The pore space is a network of overlapping balls (pore formers) grown from the current
collector (array axis 2, last index) downwards: the first balls cut the collector face, every
further ball overlaps a ball already placed, and none comes closer than ``SEPARATOR_GAP``
voxels to the separator face (index 0 of axis 2), so the whole pore space is open to the
collector, as in the infiltrated design (``pore_connectivity = 1``). Its walls carry an NVP
layer ``COAT`` voxels thick (pore voxels within ``COAT`` voxels of the scaffold), the rest of
the pore space stays empty and the scaffold is NZSP. NVP therefore lines connected pore walls
and reaches the collector, and the NZSP scaffold (≈ 80 vol%) touches the separator everywhere.

Labels: pore 0, NZSP 1, NVP 2 (uint8, axes 0, 1, 2 = x, y, z; ``image_axis = "+2"``).
Deterministic (``SEED``). Lengths in voxels; the case file gives the voxel size (µm).

    .venv/bin/python scripts/make_example_image.py [-o examples/image-synthetic.npy]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage

#: Image edge (voxels): 40³ uint8 = 64 kB.
SIZE = 40
#: Pore-former radius (voxels) and its spread (uniform in [RADIUS - SPREAD, RADIUS + SPREAD]).
RADIUS, SPREAD = 4.5, 1.0
#: Pore-space (NVP + empty pore) volume fraction to reach.
PORE_SPACE = 0.20
#: NVP layer thickness on the pore walls (voxels).
COAT = 2.0
#: No pore-former voxel closer than this to the separator face (voxels).
SEPARATOR_GAP = 2
#: A new ball's centre lies, from the nearest placed centre, between these fractions of the sum
#: of the two radii: it overlaps the network (so the network stays connected) without sitting
#: inside it.
OVERLAP_MIN, OVERLAP_MAX = 0.6, 0.9
#: No z-slab crossed by a new ball may exceed this multiple of ``PORE_SPACE``.
SLAB_MAX = 1.5
#: Balls that cut the collector face at the start.
ROOTS = 4
#: Give up after this many rejected candidate balls (the fraction is then not reached).
MAX_TRIES = 20_000
#: Random seed.
SEED = 7
#: Labels written to the image.
PORE, NZSP, NVP = 0, 1, 2
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "examples" / "image-synthetic.npy"


def _ball(shape: tuple[int, int, int], centre: np.ndarray, radius: float) -> np.ndarray:
    """Voxels whose centres lie within ``radius`` of ``centre`` (voxel units)."""
    axes = [np.arange(n) + 0.5 - c for n, c in zip(shape, centre, strict=True)]
    return (axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2
            <= radius**2)


def pore_network(size: int = SIZE, seed: int = SEED) -> np.ndarray:
    """Boolean pore space: overlapping balls, each new one overlapping one already placed (the
    first ones cut the collector face z = size), spread evenly in depth (``SLAB_MAX``)."""
    rng = np.random.default_rng(seed)
    shape = (size, size, size)
    pore = np.zeros(shape, dtype=bool)
    centres: list[np.ndarray] = []
    radii: list[float] = []

    def add(c: np.ndarray, r: float) -> None:
        centres.append(c)
        radii.append(r)
        pore[...] |= _ball(shape, c, r)

    for _ in range(ROOTS):
        r = RADIUS + SPREAD * rng.uniform(-1.0, 1.0)
        add(np.array([rng.uniform(0, size), rng.uniform(0, size), size - 0.5 * r]), r)
    for _ in range(MAX_TRIES):
        if pore.mean() >= PORE_SPACE:
            break
        r = RADIUS + SPREAD * rng.uniform(-1.0, 1.0)
        c = rng.uniform((0.0, 0.0, SEPARATOR_GAP + r), (size, size, size))
        gap = np.linalg.norm(np.asarray(centres) - c, axis=1) / (np.asarray(radii) + r)
        if not (np.any(gap < OVERLAP_MAX) and gap.min() > OVERLAP_MIN):
            continue  # must overlap the network, but not sit inside a ball of it
        lo, hi = int(max(c[2] - r, 0)), int(min(c[2] + r, size))
        trial = pore[:, :, lo:hi] | _ball(shape, c, r)[:, :, lo:hi]
        if trial.mean() > SLAB_MAX * PORE_SPACE:
            continue  # keep the pores evenly spread in depth
        add(c, r)
    return pore


def make(size: int = SIZE, seed: int = SEED) -> np.ndarray:
    """The labelled image: NZSP scaffold, NVP on the pore walls, empty pore inside."""
    pore = pore_network(size, seed)
    depth = ndimage.distance_transform_edt(pore)  # distance from the scaffold, voxels
    out = np.full(pore.shape, NZSP, dtype=np.uint8)
    out[pore] = PORE
    out[pore & (depth <= COAT)] = NVP
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--size", type=int, default=SIZE)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()
    image = make(args.size, args.seed)
    np.save(args.output, image)
    print(f"{args.output}: {image.shape} {image.dtype}, fractions "
          + ", ".join(f"{name} {np.mean(image == code):.3f}" for name, code in
                      (("NZSP", NZSP), ("NVP", NVP), ("pore", PORE))))


if __name__ == "__main__":
    main()
