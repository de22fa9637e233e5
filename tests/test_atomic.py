"""Atomic writes: all or nothing, readable by the group like any other file."""

from __future__ import annotations

import os
import stat

import pytest

from fem_electrode.util import atomic


@pytest.mark.serial
def test_failed_write_leaves_nothing(tmp_path):
    """Serial: per-process temporary folder, no MPI involved."""
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.serial
def test_written_file_has_umask_mode(tmp_path):
    """Serial: per-process temporary folder, no MPI involved."""
    old = os.umask(0o022)
    try:
        path = atomic.write_json(tmp_path / "a.json", {"x": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text().strip() == '{\n  "x": 1\n}'
