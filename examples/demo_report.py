#!/usr/bin/python3
"""Print the demo's results like the paper's Tables 1 and 2: per-class F1,
accuracy and macro F1 of the influencer head and the post head on held-out
influencers, one column per model.

    demo_report.py NAME=EVAL.json [NAME=EVAL.json ...]

Each EVAL.json holds the JSON line printed by `ipf train --epochs 0` (an
evaluation of a trained bundle on a test manifest).
"""
import json
import sys


def main():
    runs = []
    for arg in sys.argv[1:]:
        name, path = arg.split('=', 1)
        with open(path) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        runs.append((name, lines[-1]))
    if not runs:
        sys.exit(__doc__)
    for title, head, acc, macro in (('Table 1 - influencer classification (held-out influencers)', 'influencer_f1',
                                     'influencer_accuracy', 'influencer_macro_f1'),
                                    ('Table 2 - post classification (labelled posts of held-out influencers)',
                                     'post_f1', 'post_accuracy', 'post_macro_f1')):
        classes = list(runs[0][1][head].keys())
        w = max(12, max(len(n) for n, _ in runs) + 2)
        print('\n' + title)
        print('%-10s %7s' % ('F1', 'support') + ''.join('%*s' % (w, n) for n, _ in runs))
        for c in classes:
            print('%-10s %7d' % (c, runs[0][1][head][c]['support']) +
                  ''.join('%*.3f' % (w, r[head][c]['f1']) for _, r in runs))
        print('%-10s %7s' % ('accuracy', '') + ''.join('%*.3f' % (w, r[acc]) for _, r in runs))
        print('%-10s %7s' % ('macro F1', '') + ''.join('%*.3f' % (w, r[macro]) for _, r in runs))
    n = runs[0][1]
    print('\n(%d held-out influencers, %d labelled posts)' % (n['n_influencers'], n['n_posts']))


if __name__ == '__main__':
    main()
