"""`jg.cuda`: is a GPU usable, and arrays that stay on it across calls.

    import jitgraph as jg
    if jg.cuda.is_available():
        w = jg.cuda.to_device(w_host)     # copied once
        loss, w = step(x, y, w)           # device arrays in -> device arrays out, no copies
        w_host = w.get()                  # or np.asarray(w)
    else:
        print(jg.cuda.why_unavailable())

Scripted functions also take any object exposing `__cuda_array_interface__` (CuPy,
PyTorch, Numba, pycuda GPUArray) without copying it, and `DeviceArray` exposes the same
interface, so results can go straight to those libraries. Nothing here imports pycuda until
a GPU is actually asked for.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def is_available() -> bool:
    """True when pycuda imports, the driver initializes, a device exists and nvcc is on
    PATH."""
    from .backends.cuda_jit import probe
    return probe()[0]


def why_unavailable() -> str:
    """'' when available, else the reason (no pycuda, no driver, no device, no nvcc)."""
    from .backends.cuda_jit import probe
    return probe()[1]


class DeviceArray:
    """An immutable C-contiguous array in GPU memory. `get()` / `np.asarray(a)` copy it
    back; `__cuda_array_interface__` (version 3) lends it to other libraries."""

    __slots__ = ("_device", "_owner", "dtype", "ptr", "shape")
    __array_priority__ = 100

    def __init__(self, ptr: int, shape: tuple[int, ...], dtype: Any, owner: Any, device: Any):
        self.ptr = int(ptr)
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self._owner = owner          # keeps the allocation alive
        self._device = device

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d device array")
        return self.shape[0]

    def get(self) -> np.ndarray:
        """A NumPy copy (waits for the kernels that write this array)."""
        out = np.empty(self.shape, dtype=self.dtype)
        self._device.dtoh(out, self.ptr)
        self._device.sync()
        return out

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        a = self.get()
        return a if dtype is None else a.astype(dtype, copy=False)

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self.ptr, False),
                "strides": None, "version": 3, "stream": self._device.stream_handle}

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype.name})"


def to_device(array: Any) -> DeviceArray:
    """Copy a NumPy array (or anything np.asarray takes) to the GPU. Raises RuntimeError,
    with the reason, when CUDA is not available."""
    from .backends.cuda_jit import default_device
    dev = default_device()
    if isinstance(array, DeviceArray):
        return array
    a = np.ascontiguousarray(np.asarray(array))
    buf = dev.alloc(a.nbytes, "to_device")
    dev.htod(buf.ptr, a)
    return DeviceArray(buf.ptr, a.shape, a.dtype, buf.owner, dev)


def synchronize() -> None:
    """Wait for every queued kernel and copy (for timing)."""
    from .backends.cuda_jit import default_device
    default_device().sync()


__all__ = ["DeviceArray", "is_available", "synchronize", "to_device", "why_unavailable"]
