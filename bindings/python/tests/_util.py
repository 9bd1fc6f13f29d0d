"""Helpers shared by the binding tests: paths to the repo, goldens, shared data."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(REPO, 'bindings', 'python'))

import influencer_profiler as ipf  # noqa: E402

BUILD = os.environ.get('B', 'build')
if not os.path.isabs(BUILD):
    BUILD = os.path.join(REPO, BUILD)
GOLDENS = os.environ.get('IPF_GOLDEN_DIR') or os.path.join(BUILD, 'goldens')


def golden(rel):
    return os.path.join(GOLDENS, rel)


def shared(rel):
    """../shared relative to the repo (the worktrees' symlink), or /work/shared."""
    for base in (os.path.join(REPO, '..', 'shared'), '/work/shared'):
        p = os.path.join(base, rel)
        if os.path.exists(p):
            return p
    return None


def need_symbol(tc, name):
    if not ipf._lib.lib().has(name):
        tc.skipTest('%s not in this library build yet' % name)


def need_file(tc, path, why):
    """Goldens are made by `make gen`: once the loader exists a missing one is a failure."""
    if not os.path.exists(path):
        tc.fail('%s missing (%s); run make gen' % (path, why))


def to_list(x):
    return x.tolist() if hasattr(x, 'tolist') else x


def flat(x):
    x = to_list(x)
    out = []
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(reversed(v))
        else:
            out.append(float(v))
    return out


def max_abs_diff(a, b):
    a, b = flat(a), flat(b)
    assert len(a) == len(b), (len(a), len(b))
    return max((abs(x - y) for x, y in zip(a, b)), default=0.0)


__all__ = ['ipf', 'unittest', 'golden', 'shared', 'need_symbol', 'need_file', 'to_list', 'flat',
           'max_abs_diff', 'REPO', 'BUILD', 'GOLDENS']
