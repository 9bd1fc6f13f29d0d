"""Tiny safetensors reader/writer for the golden generators (no extra package).

Format: u64 little-endian header length, JSON header, raw little-endian data.
"""
import json
import struct

import numpy as np

_DT = {np.dtype('float32'): 'F32', np.dtype('float16'): 'F16', np.dtype('float64'): 'F64',
       np.dtype('int64'): 'I64', np.dtype('int32'): 'I32', np.dtype('uint8'): 'U8'}
_NP = {v: k for k, v in _DT.items()}


def save(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (or torch tensor)."""
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        a = tensors[name]
        if hasattr(a, 'detach'):
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(a)
        b = a.tobytes()
        header[name] = {'dtype': _DT[a.dtype], 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop('__metadata__', {})
    out = {}
    for name, d in header.items():
        b, e = d['data_offsets']
        out[name] = np.frombuffer(data[b:e], dtype=_NP[d['dtype']]).reshape(d['shape']).copy()
    return out, meta
