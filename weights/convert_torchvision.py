#!/usr/bin/python3
"""Convert a torchvision (or timm) Inception-v3 checkpoint to safetensors
with torchvision tensor names, as ipf_model_load_inception reads them.

  convert_torchvision.py IN.pth OUT.safetensors [--keep-heads]

IN may hold a state_dict, {'state_dict': ...}, {'model': ...} or a pickled
nn.Module.  A "module." prefix (DataParallel) is stripped;
num_batches_tracked counters are dropped; so are the classifier (fc.*) and
the auxiliary head (AuxLogits.*) unless --keep-heads, since the library
only runs the trunk.  Needs PyTorch (Debian: python3-torch)."""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'gen'))
import stio  # noqa: E402  (the repository's tiny safetensors writer)


def state_dict_of(obj):
    if hasattr(obj, 'state_dict') and callable(obj.state_dict):
        return obj.state_dict()
    for key in ('state_dict', 'model', 'model_state_dict'):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            return obj[key]
    if isinstance(obj, dict):
        return obj
    raise SystemExit('unrecognised checkpoint: %s' % type(obj).__name__)


def convert(sd, keep_heads=False):
    out = {}
    for name, t in sd.items():
        if name.startswith('module.'):
            name = name[len('module.'):]
        if name.endswith('num_batches_tracked'):
            continue
        if not keep_heads and (name.startswith('fc.') or name.startswith('AuxLogits.')):
            continue
        a = t.detach().cpu().float().numpy() if hasattr(t, 'detach') else np.asarray(t, dtype=np.float32)
        out[name] = np.ascontiguousarray(a, dtype=np.float32)
    if 'Conv2d_1a_3x3.conv.weight' not in out:
        raise SystemExit('no Conv2d_1a_3x3.conv.weight: not a torchvision/timm Inception-v3 checkpoint')
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('input')
    ap.add_argument('output')
    ap.add_argument('--keep-heads', action='store_true', help='keep fc.* and AuxLogits.*')
    a = ap.parse_args(argv)
    import torch
    obj = torch.load(a.input, map_location='cpu')
    tensors = convert(state_dict_of(obj), a.keep_heads)
    tmp = a.output + '.tmp'
    stio.save(tmp, tensors, {'source': os.path.basename(a.input), 'converter': 'weights/convert_torchvision.py'})
    os.replace(tmp, a.output)
    n = sum(v.size for v in tensors.values())
    print('%s: %d tensors, %d parameters' % (a.output, len(tensors), n))


if __name__ == '__main__':
    main()
