"""Trainer binding (train.py) on the small golden bundle (tests/gen/profiler.py:
E=40, X=16, classes cats/dogs/birds, posts a-d) with a generated manifest of
cached features, as tests/check_45_cli_train.sh does."""
import ctypes
import json
import os
import random
import shutil
import tempfile

from _util import golden, ipf, need_file, need_symbol, unittest

INF, POST = ['cats', 'dogs', 'birds'], ['a', 'b', 'c', 'd']


def write_manifest(path, n_inf=24, n_posts=6, seed=0):
    """n_inf influencers x n_posts posts, features around per-class means (pure Python)."""
    rng = random.Random(seed)
    mt = [[rng.gauss(0, 1) for _ in range(16)] for _ in range(4)]
    mi = [[abs(rng.gauss(0, 1)) for _ in range(40)] for _ in range(4)]
    with open(path, 'w') as f:
        for i in range(n_inf):
            c = i % 3
            for j in range(n_posts):
                pc = c if rng.random() < 0.7 else 3
                line = {'influencer': 'u%d' % i, 'post': 'u%d/%d' % (i, j), 'caption': None,
                        'text_feature': [round(x + rng.gauss(0, 0.8), 5) for x in mt[pc]],
                        'image_feature': [round(abs(x + rng.gauss(0, 0.8)), 5) for x in mi[pc]],
                        'influencer_label': INF[c], 'post_label': POST[pc] if rng.random() < 0.7 else None}
                f.write(json.dumps(line) + '\n')


OPTS = dict(seed=3, batch_influencers=4, posts_per_influencer=4, lr=3e-3, val_fraction=0.25, threads=1)


class TestTrainOptions(unittest.TestCase):
    def test_struct_layout(self):
        from influencer_profiler import train
        # sizes of the C structs on x86-64 (include/influencer_profiler.h)
        self.assertEqual(ctypes.sizeof(train.CTrainOptions), 152)
        self.assertEqual(ctypes.sizeof(train.CTrainMetrics), 1128)
        self.assertEqual(train.CTrainOptions.aug_cache_mb.offset, 128)

    def test_defaults(self):
        need_symbol(self, 'ipf_train_options_default')
        o = ipf.TrainOptions()
        self.assertAlmostEqual(o.lr, 1e-3, places=9)
        self.assertEqual(o.batch_influencers, 8)
        self.assertEqual(o.posts_per_influencer, 20)
        self.assertEqual(o.seed, 1)
        self.assertEqual(o.pooling, ipf.Pooling.ATTENTION)
        self.assertAlmostEqual(o.dropout, 0.5)
        c = o.replace(lr_schedule='cosine', augment=True).to_c()
        self.assertEqual(c.lr_schedule, 1)
        self.assertEqual(c.augment, 1)
        with self.assertRaises(TypeError):
            ipf.TrainOptions(no_such_field=1)


class TestTrainer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='ipf_pytrain_')
        cls.manifest = os.path.join(cls.tmp, 'm.jsonl')
        write_manifest(cls.manifest)
        cls.bundle = golden('profiler/small')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        need_symbol(self, 'ipf_trainer_create')
        need_file(self, os.path.join(self.bundle, 'profiler.safetensors'), 'profiler golden bundle')

    def run_epochs(self, model, n, checkpoint=None, resume=None, **kw):
        opts = dict(OPTS, **kw)
        with ipf.Trainer(model, ipf.TrainOptions(**opts)) as tr:
            info = tr.load_data(self.manifest)
            if resume:
                tr.resume(resume)
            ms = [tr.epoch() for _ in range(n)]
            if checkpoint:
                tr.save_checkpoint(checkpoint)
            return info, ms

    def test_train_save_load(self):
        stages = []
        with ipf.Model.load(self.bundle) as model:
            with ipf.Trainer(model, progress=lambda s, d, t: stages.append(s), **OPTS) as tr:
                info = tr.load_data(self.manifest)
                self.assertEqual(info['posts'], 144)
                self.assertEqual(info['train_influencers'] + info['val_influencers'], 24)
                self.assertEqual(info['dropped_posts'], 0)
                loss = tr.step()
                self.assertTrue(loss == loss and loss > 0)
                ms = [tr.epoch() for _ in range(4)]
                self.assertEqual([m['epoch'] for m in ms], [1, 2, 3, 4])
                self.assertLess(ms[-1]['train_loss'], ms[0]['train_loss'], 'training loss did not decrease')
                self.assertEqual(ms[-1]['n_influencers'], 6)
                self.assertEqual(set(ms[-1]['influencer_f1']), set(INF))
                self.assertEqual(set(ms[-1]['post_f1']), set(POST))
                self.assertEqual(sum(ms[-1]['influencer_support'].values()), 6)
                ev = tr.evaluate()
                self.assertAlmostEqual(ev['loss'], ms[-1]['loss'], delta=1e-6 + 1e-5 * abs(ms[-1]['loss']))
                out = os.path.join(self.tmp, 'out')
                tr.save_bundle(out)
                self.assertEqual(tr.error(), '')
            self.assertIn('train', stages)
        with ipf.Model.load(out) as m2, m2.session(threads=1) as s:
            self.assertEqual(m2.class_names('influencer'), INF)
            with open(self.manifest) as f:
                lines = [json.loads(l) for l in f][:6]
            r = s.profile([ipf.Post(text_feature=l['text_feature'], image_feature=l['image_feature'])
                           for l in lines])
            self.assertIn(r['label'], INF)
            self.assertAlmostEqual(sum(r['probs'].values()), 1.0, places=4)
            # the saved weights evaluate to the last epoch's validation loss
            with ipf.Trainer(m2, **OPTS) as tr2:
                tr2.load_data(self.manifest)
                ev2 = tr2.evaluate()
            self.assertAlmostEqual(ev2['loss'], ms[-1]['loss'], delta=1e-6 + 1e-5 * abs(ms[-1]['loss']))
            self.assertEqual(ev2['influencer_accuracy'], ms[-1]['influencer_accuracy'])

    def test_resume_identical(self):
        ck = os.path.join(self.tmp, 'ck')
        with ipf.Model.load(self.bundle) as model:
            _, straight = self.run_epochs(model, 4)
            self.run_epochs(model, 2, checkpoint=ck)
            _, resumed = self.run_epochs(model, 2, resume=ck)
        self.assertEqual([m['epoch'] for m in resumed], [3, 4])
        self.assertEqual(straight[2:], resumed)

    def test_bad_manifest(self):
        bad = os.path.join(self.tmp, 'bad.jsonl')
        with open(self.manifest) as f:
            lines = f.readlines()
        lines[4] = lines[4].replace('"cats"', '"horses"')
        with open(bad, 'w') as f:
            f.writelines(lines)
        with ipf.Model.load(self.bundle) as model, ipf.Trainer(model, **OPTS) as tr:
            with self.assertRaises(ipf.IPFError) as cm:
                tr.load_data(bad)
            msg = str(cm.exception.message)
            self.assertIn('bad.jsonl:5', msg)
            self.assertIn('horses', msg)
            self.assertIn('horses', tr.error())
            with self.assertRaises(ipf.IPFError):
                tr.load_data(os.path.join(self.tmp, 'does_not_exist.jsonl'))

    def test_finetune_without_encoder(self):
        with ipf.Model.load(self.bundle) as model:
            with self.assertRaises(ipf.NotFoundError) as cm:
                ipf.Trainer(model, inception_trainable_blocks=2)
            self.assertIn('image encoder', cm.exception.message)

    def test_closed(self):
        with ipf.Model.load(self.bundle) as model:
            tr = ipf.Trainer(model, **OPTS)
            tr.close()
            tr.close()
            with self.assertRaises(ipf.StateError):
                tr.step()
            tr = ipf.Trainer(model, **OPTS)
        self.assertTrue(tr.closed)  # closing the model closed its trainer


if __name__ == '__main__':
    unittest.main()
