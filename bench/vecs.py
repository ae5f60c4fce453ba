"""Readers/writers for .fvecs / .ivecs (per row: int32 dim, then dim 4-byte values)."""
import os

import numpy as np


def _read(path, dtype, max_rows=0):
    raw = np.fromfile(path, dtype=np.int32, count=1)
    if raw.size == 0:
        raise ValueError(f"{path}: empty")
    dim = int(raw[0])
    row = dim + 1
    total = os.path.getsize(path) // 4
    if total % row:
        raise ValueError(f"{path}: size is not a multiple of the row size")
    rows = total // row
    if max_rows:
        if max_rows > rows:
            raise ValueError(f"{path}: has {rows} rows, need {max_rows}")
        rows = max_rows
    a = np.fromfile(path, dtype=np.int32, count=rows * row).reshape(rows, row)
    if not (a[:, 0] == dim).all():
        raise ValueError(f"{path}: inconsistent row dimensions")
    return np.ascontiguousarray(a[:, 1:].view(dtype))


def read_fvecs(path, max_rows=0):
    return _read(path, np.float32, max_rows)


def read_ivecs(path, max_rows=0):
    return _read(path, np.int32, max_rows)


def write_ivecs(path, x):
    x = np.asarray(x, dtype=np.int32)
    out = np.empty((x.shape[0], x.shape[1] + 1), dtype=np.int32)
    out[:, 0] = x.shape[1]
    out[:, 1:] = x
    out.tofile(path + ".tmp")
    os.replace(path + ".tmp", path)
