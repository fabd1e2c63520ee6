"""Minimal GGUF (version 3) writer and reader: what the replica converter (onnx_to_gguf.py) needs.

GGUF, as documented by ggml: little-endian; magic "GGUF", uint32 version, uint64 tensor count, uint64 metadata
count; metadata as (string key, uint32 value type, value); tensor infos as (string name, uint32 n_dims, uint64 dims
with the fastest-varying first, uint32 ggml type, uint64 offset into the data section); then padding to
`general.alignment` (32 by default) and the tensor data, each tensor at an aligned offset. A string is a uint64 byte
length and UTF-8 bytes; an array is a uint32 element type, a uint64 count and the elements.
"""
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

# metadata value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i", FLOAT32: "<f",
           BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}

# ggml tensor types used here, with (block size in elements, bytes per block)
F32, F16, Q4_0, Q4_1 = 0, 1, 2, 3
TYPE_SIZE = {F32: (1, 4), F16: (1, 2), Q4_0: (32, 18), Q4_1: (32, 20)}
TYPE_NAME = {F32: "F32", F16: "F16", Q4_0: "Q4_0", Q4_1: "Q4_1"}


def tensor_bytes(ggml_type, dims):
    block, size = TYPE_SIZE[ggml_type]
    n = int(np.prod(dims, dtype=np.int64))
    if dims[0] % block:
        raise ValueError(f"{TYPE_NAME[ggml_type]} needs the first dimension ({dims[0]}) to be a multiple of {block}")
    return n // block * size


def _pad(n, align=ALIGNMENT):
    return (align - n % align) % align


class GGUFWriter:
    """Collects metadata and tensors (raw bytes in ggml layout), then writes the file in one pass."""

    def __init__(self):
        self.kv = []  # (key, type, value, element type for arrays)
        self.tensors = []  # (name, dims, ggml type, bytes)

    def add(self, key, vtype, value, etype=None):
        self.kv.append((key, vtype, value, etype))

    def add_string(self, key, value):
        self.add(key, STRING, value)

    def add_u32(self, key, value):
        self.add(key, UINT32, int(value))

    def add_f32(self, key, value):
        self.add(key, FLOAT32, float(value))

    def add_bool(self, key, value):
        self.add(key, BOOL, bool(value))

    def add_array(self, key, etype, values):
        self.add(key, ARRAY, list(values), etype)

    def add_tensor(self, name, dims, ggml_type, data):
        """dims: ggml order (fastest-varying first); data: bytes-like of exactly the tensor's size."""
        data = bytes(data) if not isinstance(data, (bytes, bytearray)) else data
        want = tensor_bytes(ggml_type, dims)
        if len(data) != want:
            raise ValueError(f"tensor {name}: {len(data)} bytes, {TYPE_NAME[ggml_type]} {list(dims)} needs {want}")
        self.tensors.append((name, [int(d) for d in dims], ggml_type, data))

    @staticmethod
    def _str(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    def _value(self, vtype, value, etype):
        if vtype == STRING:
            return self._str(value)
        if vtype == ARRAY:
            out = [struct.pack("<IQ", etype, len(value))]
            if etype == STRING:
                out.extend(self._str(v) for v in value)
            else:
                out.append(np.asarray(value, dtype=np.dtype(_SCALAR[etype])).tobytes())
            return b"".join(out)
        return struct.pack(_SCALAR[vtype], value)

    def write(self, path):
        head = [GGUF_MAGIC, struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))]
        for key, vtype, value, etype in self.kv:
            head.append(self._str(key) + struct.pack("<I", vtype) + self._value(vtype, value, etype))
        offset = 0
        offsets = []
        for name, dims, gtype, data in self.tensors:
            offsets.append(offset)
            head.append(self._str(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
                        + struct.pack("<IQ", gtype, offset))
            offset += len(data) + _pad(len(data))
        header = b"".join(head)
        with open(path, "wb") as f:
            f.write(header)
            f.write(b"\0" * _pad(len(header)))
            for (_, _, _, data), off in zip(self.tensors, offsets):
                f.write(data)
                f.write(b"\0" * _pad(len(data)))


def read_gguf(path):
    """Header, metadata and tensor infos of a GGUF file: {version, metadata, tensors: [{name, dims, type, offset,
    nbytes}], data_start}. Raises ValueError on anything malformed."""
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return vals if len(vals) > 1 else vals[0]

    def string():
        nonlocal pos
        n = take("<Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(vtype):
        if vtype == STRING:
            return string()
        if vtype == ARRAY:
            etype, n = take("<I"), take("<Q")
            return [value(etype) for _ in range(n)]
        if vtype not in _SCALAR:
            raise ValueError(f"{path}: unknown metadata type {vtype}")
        return take(_SCALAR[vtype])

    if buf[:4] != GGUF_MAGIC:
        raise ValueError(f"{path}: not a GGUF file (magic {buf[:4]!r})")
    pos = 4
    version, n_tensors, n_kv = take("<I"), take("<Q"), take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("<I"))
    tensors = []
    for _ in range(n_tensors):
        name = string()
        nd = take("<I")
        dims = list(struct.unpack_from(f"<{nd}Q", buf, pos))
        pos += 8 * nd
        gtype, offset = take("<I"), take("<Q")
        tensors.append({"name": name, "dims": dims, "type": gtype, "offset": offset, "nbytes": tensor_bytes(gtype, dims)})
    align = meta.get("general.alignment", ALIGNMENT)
    data_start = pos + _pad(pos, align)
    for t in tensors:
        if data_start + t["offset"] + t["nbytes"] > len(buf):
            raise ValueError(f"{path}: tensor {t['name']} runs past the end of the file")
    return {"version": version, "metadata": meta, "tensors": tensors, "data_start": data_start}
