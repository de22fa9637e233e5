"""Reading a labelled (segmented) 3D image for ``geometry.kind = "image"``, before any meshing.

Formats: ``.npy``; a multi-page ``.tif``/``.tiff`` (pages along axis 0); a folder of 2D
``.tif``/``.tiff`` slices (sorted by file name, slice k = index k of axis 0); raw voxels (any
other file, with ``image_shape`` and ``image_dtype``: little-endian, C order, no header).
Every check that can fail on the user's input (unreadable file, shape, crop, memory, labels)
raises ``ValueError`` naming the case key, from the header where possible (the memory check
runs before the voxels are read). Array axes are the file's (0, 1, 2) until :func:`orient`
turns them into the model's x, y, z (z from the separator to the current collector).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Phase codes of the prepared image (the mesher's labels).
PORE, NZSP, NVP = 0, 1, 2
#: Phase name -> code.
CODES = {"pore": PORE, "NZSP": NZSP, "NVP": NVP}
#: Down-sampling keeps the first of these on a tie (thin NVP layers survive ties).
TIE_ORDER = (NVP, NZSP, PORE)
#: Peak memory of meshing per voxel of the prepared image (bytes): labels, padded copy,
#: component labels (int32), face and corner index arrays (int64) and the surface; measured
#: about 60 B/voxel on a 200³ three-phase image (benchmarks/bench_image_mesh.py), with margin.
MEMORY_BYTES_PER_VOXEL = 100
#: Bytes per GiB (``image_max_memory`` is in GiB).
GIB = 1 << 30
#: Read files in chunks of this many bytes for the checksum.
HASH_CHUNK = 1 << 22
NPY_SUFFIXES = (".npy",)
TIFF_SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True)
class Source:
    """An image file (or folder) whose header has been read."""

    path: Path
    format: str  #: "npy", "tiff", "folder" or "raw"
    shape: tuple[int, int, int]  #: array sizes along the file's axes 0, 1, 2
    dtype: np.dtype
    files: tuple[Path, ...] = ()  #: the slices of a folder, in order


def _bad(key: str, value: object, problem: str) -> ValueError:
    return ValueError(f"geometry.{key} = {value!r}: {problem}")


def _check_dtype(path: Path, dtype: np.dtype) -> None:
    if not (np.issubdtype(dtype, np.integer) or dtype == np.bool_):
        raise _bad("image", str(path), f"the voxels are {dtype}, not integer labels (segment the image first "
                   "and store one integer label per phase)")


def _tiff_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        return tuple(int(n) for n in series.shape), np.dtype(series.dtype)


def open_source(path: str | Path, raw_shape: list[float] | None = None, raw_dtype: str = "uint8") -> Source:
    """Find the format and read the header (shape, data type) of ``geometry.image``."""
    p = Path(path)
    if not p.exists():
        raise _bad("image", str(path), "no such file or folder")
    try:
        if p.is_dir():
            files = tuple(sorted(f for f in p.iterdir() if f.suffix.lower() in TIFF_SUFFIXES))
            if not files:
                raise _bad("image", str(path), "the folder holds no .tif/.tiff slices")
            shape2d, dtype = _tiff_header(files[0])
            if len(shape2d) != 2:
                raise _bad("image", str(path), f"slice {files[0].name} has shape {shape2d}, not a 2D image")
            src = Source(p, "folder", (len(files), shape2d[0], shape2d[1]), dtype, files)
        elif p.suffix.lower() in NPY_SUFFIXES:
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
            src = Source(p, "npy", _three(p, arr.shape), arr.dtype)
        elif p.suffix.lower() in TIFF_SUFFIXES:
            shape, dtype = _tiff_header(p)
            src = Source(p, "tiff", _three(p, shape), dtype)
        else:
            src = _raw(p, raw_shape, raw_dtype)
    except ValueError as exc:
        if str(exc).startswith("geometry."):
            raise
        raise _bad("image", str(path), f"cannot be read: {exc}") from None
    except OSError as exc:
        raise _bad("image", str(path), f"cannot be read: {exc.strerror or exc}") from None
    _check_dtype(p, src.dtype)
    return src


def _three(path: Path, shape: tuple[int, ...]) -> tuple[int, int, int]:
    squeezed = tuple(n for n in shape if n != 1) if len(shape) > 3 else shape
    if len(squeezed) != 3:
        raise _bad("image", str(path), f"array of shape {tuple(shape)}: a 3D labelled image is needed")
    return int(squeezed[0]), int(squeezed[1]), int(squeezed[2])


def _raw(path: Path, shape: list[float] | None, dtype_name: str) -> Source:
    if shape is None:
        raise _bad("image_shape", None, f"{path.name} is read as raw voxels (not .npy or .tif/.tiff): give "
                   "image_shape = [n0, n1, n2] and image_dtype")
    dims = (int(shape[0]), int(shape[1]), int(shape[2]))
    dtype = np.dtype(dtype_name).newbyteorder("<")
    expected = int(np.prod(dims)) * dtype.itemsize
    size = path.stat().st_size
    if size != expected:
        raise _bad("image_shape", list(dims), f"{path.name} has {size} bytes, image_shape x image_dtype "
                   f"({dtype_name}) needs {expected}")
    return Source(path, "raw", dims, dtype)


def crop_slices(src: Source, crop: list[float] | None) -> tuple[slice, slice, slice]:
    """The crop as slices of the file's array (checked against its shape)."""
    if crop is None:
        return slice(None), slice(None), slice(None)
    out = []
    for axis in range(3):
        a, b = int(crop[2 * axis]), int(crop[2 * axis + 1])
        if b > src.shape[axis]:
            raise _bad("image_crop", [int(c) for c in crop], f"stop {b} beyond the image's axis {axis} "
                       f"(size {src.shape[axis]}; the image has shape {list(src.shape)})")
        out.append(slice(a, b))
    return out[0], out[1], out[2]


def cropped_shape(src: Source, slices: tuple[slice, slice, slice]) -> tuple[int, int, int]:
    """Voxels along the file's axes after ``image_crop``."""
    dims = [len(range(*s.indices(n))) for s, n in zip(slices, src.shape, strict=True)]
    return dims[0], dims[1], dims[2]


def prepared_voxels(src: Source, slices: tuple[slice, slice, slice], downsample: int) -> int:
    """Voxels of the image that is meshed: after ``image_crop`` and ``image_downsample`` (trailing
    voxels that fill no block dropped), from the header alone."""
    return int(np.prod([n // downsample for n in cropped_shape(src, slices)]))


def check_memory(src: Source, slices: tuple[slice, slice, slice], downsample: int, limit_gib: float) -> int:
    """Bytes the read and the meshing need (estimate); ``ValueError`` above ``limit_gib``."""
    dims = cropped_shape(src, slices)
    read = int(np.prod(dims)) * src.dtype.itemsize
    meshed = prepared_voxels(src, slices, downsample) * MEMORY_BYTES_PER_VOXEL
    need = read + meshed
    if need > limit_gib * GIB:
        raise _bad("image_max_memory", limit_gib, f"the image ({' x '.join(map(str, dims))} voxels after "
                   f"image_crop, down-sampled {downsample}x) needs about {need / GIB:.1f} GiB to mesh; crop "
                   "it (image_crop), down-sample it (image_downsample) or raise image_max_memory")
    return need


def read(src: Source, slices: tuple[slice, slice, slice]) -> np.ndarray:
    """The cropped voxels (a fresh in-memory array, the file's data type)."""
    try:
        if src.format == "npy":
            arr = np.load(src.path, mmap_mode="r", allow_pickle=False)
            return np.array(arr.reshape(src.shape)[slices])
        if src.format == "raw":
            mm = np.memmap(src.path, dtype=src.dtype, mode="r", shape=src.shape)
            return np.array(mm[slices])
        import tifffile

        if src.format == "tiff":
            return np.asarray(tifffile.imread(src.path)).reshape(src.shape)[slices].copy()
        files = src.files[slices[0]]
        stack = []
        for f in files:
            page = np.asarray(tifffile.imread(f))
            if page.shape != src.shape[1:]:
                raise _bad("image", str(src.path), f"slice {f.name} has shape {page.shape}, the first "
                           f"slice {src.shape[1:]}")
            stack.append(page[slices[1], slices[2]])
        return np.stack(stack)
    except ValueError as exc:
        if str(exc).startswith("geometry."):
            raise
        raise _bad("image", str(src.path), f"cannot be read: {exc}") from None
    except OSError as exc:
        raise _bad("image", str(src.path), f"cannot be read: {exc.strerror or exc}") from None


def checksum(src: Source) -> str:
    """SHA-256 of the file (a folder: of every slice's name and bytes, in order)."""
    h = hashlib.sha256()
    for f in src.files or (src.path,):
        if src.files:
            h.update(f.name.encode())
        with open(f, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                h.update(chunk)
    return h.hexdigest()


def relabel(image: np.ndarray, labels: dict[str, int]) -> np.ndarray:
    """Phase codes (:data:`CODES`) from the image's labels; every voxel must carry a listed
    label and every listed label must occur (``ValueError`` naming ``image_labels``)."""
    values, counts = np.unique(image, return_counts=True)
    found = {int(v): int(c) for v, c in zip(values, counts, strict=True)}
    wanted = {int(v): name for name, v in labels.items()}
    other = {v: c for v, c in found.items() if v not in wanted}
    if other:
        listed = ", ".join(f"{v} ({c} voxels)" for v, c in sorted(other.items()))
        raise _bad("image_labels", dict(labels), f"the image also holds label(s) {listed}; every label must "
                   "be given a phase (NZSP, NVP, pore), or crop them away")
    absent = [f"{name} = {v}" for v, name in wanted.items() if v not in found]
    if absent:
        raise _bad("image_labels", dict(labels), f"no voxel of {', '.join(absent)} in the image (labels "
                   f"present: {sorted(found)})")
    lut_keys = np.array(sorted(wanted), dtype=np.int64)
    lut_codes = np.array([CODES[wanted[int(v)]] for v in lut_keys], dtype=np.uint8)
    return lut_codes[np.searchsorted(lut_keys, image.astype(np.int64, copy=False))]


def downsample(codes: np.ndarray, factor: int) -> np.ndarray:
    """Majority vote over ``factor``³ blocks (ties: :data:`TIE_ORDER`); trailing voxels that
    fill no block are dropped."""
    if factor == 1:
        return codes
    dims = [n // factor for n in codes.shape]
    if min(dims) < 1:
        raise _bad("image_downsample", factor, f"larger than the (cropped) image {list(codes.shape)}")
    blocks = codes[: dims[0] * factor, : dims[1] * factor, : dims[2] * factor].reshape(
        dims[0], factor, dims[1], factor, dims[2], factor)
    counts = np.stack([(blocks == c).sum(axis=(1, 3, 5), dtype=np.int32) for c in TIE_ORDER])
    return np.asarray(TIE_ORDER, dtype=np.uint8)[np.argmax(counts, axis=0)]


def orient(codes: np.ndarray, spacing: tuple[float, float, float], axis: str) -> tuple[
        np.ndarray, tuple[float, float, float]]:
    """The image in model axes: z = the file axis of ``axis`` ("+k" / "-k"), reversed for "-",
    so that z = 0 faces the separator; x, y = the other two file axes in order."""
    k = int(axis[1])
    order = [a for a in range(3) if a != k] + [k]
    out = np.transpose(codes, order)
    if axis[0] == "-":
        out = out[:, :, ::-1]
    h = (spacing[order[0]], spacing[order[1]], spacing[order[2]])
    return np.ascontiguousarray(out), h
