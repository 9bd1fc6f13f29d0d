#!/usr/bin/python3
"""profile_example.py — the Python binding on whatever model the path names:

  profile_example.py BUNDLE_DIR CAPTION IMAGE [CAPTION IMAGE ...]   profile ("-" = none)
  profile_example.py BERT_DIR TEXT...                 x_T of each text
  profile_example.py INCEPTION.safetensors IMAGE...   pool features of each image
  profile_example.py VOCAB.txt TEXT...                WordPiece ids

Finds the package in ../../bindings/python when it is not installed."""
import json
import os
import sys

try:
    import influencer_profiler as ipf
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'bindings', 'python'))
    import influencer_profiler as ipf


def head(v):
    v = v.tolist() if hasattr(v, 'tolist') else v
    return '[%d]: %s ...' % (len(v), ' '.join('%.5f' % x for x in v[:4]))


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, inputs = argv[1], argv[2:]
    print('libinfluencer_profiler', ipf.version(), 'numpy' if ipf.HAVE_NUMPY else 'lists')
    if os.path.exists(os.path.join(path, 'profiler.safetensors')):
        if len(inputs) % 2:
            raise SystemExit('posts are CAPTION IMAGE pairs')
        posts = [ipf.Post(id='post%d' % (i // 2),
                          caption=None if inputs[i] == '-' else inputs[i],
                          image_path=None if inputs[i + 1] == '-' else inputs[i + 1])
                 for i in range(0, len(inputs), 2)]
        with ipf.Model.load(path) as model, model.session() as s:
            print(json.dumps(s.profile(posts), indent=1))
    elif os.path.exists(os.path.join(path, 'config.json')):
        with ipf.Model.load_bert(path) as model, model.session() as s:
            for text, vec in zip(inputs, s.encode_texts(inputs)):
                print(text, head(vec))
    elif path.endswith('.safetensors'):
        with ipf.Model.load_inception(path) as model, model.session() as s:
            for image in inputs:
                print(image, head(s.encode_image_file(image)))
    else:
        with ipf.Model.load_vocab(path) as model, model.session() as s:
            for text in inputs:
                print('%s: %s' % (text, ' '.join(map(str, s.tokenize(text)))))
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv))
    except ipf.IPFError as e:
        print('error:', e, file=sys.stderr)
        sys.exit(1)
