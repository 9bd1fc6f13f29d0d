"""Every wrapper against the goldens `make gen` writes (tests/gen/*.py):
inception/, bert/, image/, profiler/.  A test is skipped while the library
lacks the function; once it has it, a missing golden is a failure."""
import os

import numpy as np

from _util import flat, golden, ipf, need_file, need_symbol, unittest


def close(tc, got, want, atol, rtol, what):
    """|got - want| <= atol + rtol |want| elementwise; reports the worst."""
    g = np.asarray(flat(got), dtype=np.float64)
    w = np.asarray(want, dtype=np.float64).ravel()
    tc.assertEqual(g.shape, w.shape, what)
    err = np.abs(g - w)
    bad = err > atol + rtol * np.abs(w)
    tc.assertFalse(bad.any(), '%s: %d values off, max abs err %.3g' % (what, bad.sum(), err.max()))
    return err.max()


def load_npy(tc, rel):
    p = golden(rel)
    need_file(tc, p, rel)
    return np.load(p)


class TestInception(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = golden('inception/model.safetensors')

    def model(self, transform_input):
        need_symbol(self, 'ipf_model_load_inception')
        need_file(self, self.path, 'inception golden model')
        return ipf.Model.load_inception(self.path, transform_input)

    def check_case(self, case, t):
        need_symbol(self, 'ipf_model_load_inception')
        x = load_npy(self, 'inception/x_%s.npy' % case)
        want = load_npy(self, 'inception/pool_%s_t%d.npy' % (case, t))
        with self.model(bool(t)) as m, m.session(threads=1) as s:  # 1 thread: the test box is shared
            self.assertTrue(m.has('image_encoder'))
            self.assertEqual(m.dim('image_pool'), 2048)
            got = s.encode_image_tensor(x if ipf.HAVE_NUMPY else x.tolist())
            # float64 golden vs float32 through 94 layers: as tests/test_inception.c
            close(self, got, want, 2e-5 * np.abs(want).max(), 1e-4, 'pool %s t%d' % (case, t))

    def test_tensor_75(self):
        self.check_case('75x75_b1', 0)

    def test_tensor_75_transform_input(self):
        self.check_case('75x75_b1', 1)

    def test_bad_tensor(self):
        with self.model(False) as m, m.session() as s:
            with self.assertRaises(ipf.IPFError) as cm:
                s.encode_image_tensor([0.0] * (3 * 50 * 50), n=1, height=50, width=50)  # below 75
            self.assertTrue(cm.exception.message)
            with self.assertRaises(ipf.ShapeError):
                s.encode_image_tensor([0.0] * 10, n=1, height=75, width=75)  # caught by the binding

    def test_image_paths_agree(self):
        """file == bytes == rgb pixels == preprocess + tensor, on a PNG golden."""
        need_symbol(self, 'ipf_session_encode_image_file')
        png = golden('image/png_rgb_100x80.png')
        need_file(self, png, 'image golden')
        from PIL import Image
        with open(png, 'rb') as f:
            data = f.read()
        with Image.open(png) as im:
            pix = np.asarray(im.convert('RGB'))
        with self.model(True) as m, m.session(threads=1) as s:
            a = flat(s.encode_image_file(png))
            self.assertEqual(a, flat(s.encode_image_bytes(data)))
            b = s.encode_image_rgb(pix if ipf.HAVE_NUMPY else pix.tobytes(), width=pix.shape[1],
                                   height=pix.shape[0], channels=3)
            self.assertEqual(a, flat(b))
            x = s.preprocess_image(data)
            c = s.encode_image_tensor(x if ipf.HAVE_NUMPY else [x], n=1, height=299, width=299)
            close(self, c, a, 1e-6, 1e-6, 'tensor path')
            with self.assertRaises(ipf.ImageError):
                s.encode_image_bytes(b'not an image at all')
            s.max_image_bytes = 16
            with self.assertRaises(ipf.LimitError) as cm:
                s.encode_image_bytes(data)
            self.assertIn('IPF_OPT_MAX_IMAGE_BYTES', cm.exception.message + 'IPF_OPT_MAX_IMAGE_BYTES')
            with self.assertRaises((ipf.IOError, ipf.NotFoundError)) as cm:
                s.encode_image_file(png + '.missing')
            self.assertIn('.missing', cm.exception.message)


class TestImage(unittest.TestCase):
    def test_preprocess_bit_exact(self):
        need_symbol(self, 'ipf_session_preprocess_image')
        need_symbol(self, 'ipf_model_load_vocab')
        from PIL import Image
        # Any model gives a session; the default image configuration applies.
        vocab = golden('bert/bert/vocab.txt')
        need_file(self, vocab, 'bert golden vocab')
        with ipf.Model.load_vocab(vocab) as m, m.session() as s:
            self.assertEqual(s.image_shape, (3, 299, 299))
            for case in ('png_rgb_640x480', 'png_gray_500x333', 'png_rgba_300x400'):
                png, npy = golden('image/%s.png' % case), golden('image/%s.npy' % case)
                need_file(self, npy, 'image golden')
                with open(png, 'rb') as f:
                    got = s.preprocess_image(f.read())
                want = np.load(npy)
                close(self, got, want, 0, 0, case)  # the C tests demand bit-exact, so do we
                with Image.open(png) as im:
                    mode, pix = im.mode, np.asarray(im)
                if mode == 'RGB':
                    got = s.preprocess_rgb(pix if ipf.HAVE_NUMPY else pix.tobytes(), width=pix.shape[1],
                                           height=pix.shape[0], channels=3)
                    close(self, got, want, 0, 0, case + ' rgb')
            with self.assertRaises(ipf.ShapeError):
                s.preprocess_rgb(b'\0' * 10, width=4, height=4, channels=3)


class TestBert(unittest.TestCase):
    def model(self, name):
        need_symbol(self, 'ipf_model_load_bert')
        d = golden('bert/' + name)
        need_file(self, os.path.join(d, 'model.safetensors'), 'bert golden model')
        return ipf.Model.load_bert(d)

    # float64 goldens vs float32 BERT: as tests/test_bert.c
    ATOL, RTOL = 5e-5, 1e-4

    def test_ids(self):
        # bert_small keeps this fast; tests/test_bert.c covers BERT-base.
        with self.model('bert_small') as m, m.session() as s:
            self.assertTrue(m.has('text_encoder') and m.has('tokenizer'))
            dim = m.dim('text')
            for n in (5, 16):
                ids = load_npy(self, 'bert/small_ids_%d.npy' % n)
                want = load_npy(self, 'bert/small_cls_%d.npy' % n)
                self.assertEqual(want.shape, (dim,))
                close(self, s.encode_ids(ids.tolist()), want, self.ATOL, self.RTOL, 'cls %d' % n)

    def test_batch(self):
        need_symbol(self, 'ipf_model_load_bert')
        ids = load_npy(self, 'bert/small_batch_ids.npy').tolist()
        lens = load_npy(self, 'bert/small_batch_lens.npy').tolist()
        want = load_npy(self, 'bert/small_batch_cls.npy')
        seqs, o = [], 0
        for n in lens:
            seqs.append(ids[o:o + n])
            o += n
        with self.model('bert_small') as m, m.session() as s:
            got = s.encode_ids_batch(seqs)
            close(self, got, want, self.ATOL, self.RTOL, 'batch')
            self.assertEqual(len(s.encode_ids_batch(seqs[:1])), 1)

    def test_text(self):
        with self.model('bert_small') as m, m.session() as s:
            texts = ['Hello world!', 'A much longer caption about #fashion and food', '']
            batch = s.encode_texts(texts)
            for t, row in zip(texts, to_rows(batch)):
                one = s.encode_text(t)
                via_ids = s.encode_ids(s.tokenize(t))
                close(self, one, via_ids, 1e-6, 1e-6, 'text vs ids')
                close(self, row, one, 1e-5, 1e-5, 'batch vs one')
            with self.assertRaises(ipf.IPFError):
                s.encode_ids([101, 10 ** 8, 102])  # id past the vocabulary


def to_rows(x):
    return x.tolist() if hasattr(x, 'tolist') else x


class TestProfiler(unittest.TestCase):
    def model(self, cfg):
        need_symbol(self, 'ipf_model_load')
        d = golden('profiler/' + cfg)
        need_file(self, os.path.join(d, 'profiler.safetensors'), 'profiler golden bundle')
        return ipf.Model.load(d)

    def check(self, cfg):
        need_symbol(self, 'ipf_model_load')
        with self.model(cfg) as m, m.session() as s:
            self.assertTrue(m.has('profiler'))
            self.assertFalse(m.has('text_encoder'))
            inf_names, post_names = m.class_names('influencer'), m.class_names('post')
            self.assertEqual(len(inf_names), m.dim('influencer_classes'))
            for k in range(3):
                g = {t: load_npy(self, 'profiler/%s/inf%d_%s.npy' % (cfg, k, t))
                     for t in ('pool', 'xt', 'v', 'post_probs', 'alpha', 'h', 'inf_probs')}
                posts = [ipf.Post(id=i, image_feature=g['pool'][i].tolist(), text_feature=g['xt'][i].tolist())
                         for i in range(len(g['pool']))]
                # float32 heads vs float32 PyTorch: a few ulps through 3 layers
                tol = dict(atol=1e-5, rtol=1e-4)
                r = s.profile(posts)
                close(self, [r['probs'][n] for n in inf_names], g['inf_probs'], what='profile inf', **tol)
                close(self, r['attention'], g['alpha'], what='profile alpha', **tol)
                close(self, [[p['probs'][n] for n in post_names] for p in r['posts']], g['post_probs'],
                      what='profile post probs', **tol)
                self.assertEqual([p['id'] for p in r['posts']], list(range(len(posts))))
                self.assertEqual(r['label'], inf_names[int(np.argmax(g['inf_probs']))])
                v = s.encode_posts(posts)
                close(self, v, g['v'], what='encode_posts', **tol)
                h, alpha = s.pool(v)
                close(self, h, g['h'], what='pool h', **tol)
                close(self, alpha, g['alpha'], what='pool alpha', **tol)
                close(self, s.classify_influencer(h), g['inf_probs'], what='classify_influencer', **tol)
                close(self, s.classify_post(to_rows(v)[0]), g['post_probs'][0], what='classify_post', **tol)
                enc = s.encode_post(posts[0])
                close(self, enc.post_vec, g['v'][0], what='encode_post', **tol)
                close(self, enc.image_feature, g['pool'][0], 0, 0, 'encode_post echoes cached pool')

    def test_paper(self):
        self.check('paper')

    def test_small(self):
        self.check('small')

    def test_errors(self):
        with self.model('paper') as m, m.session() as s:
            with self.assertRaises(ipf.ShapeError):
                s.profile([ipf.Post(text_feature=[0.0] * 5)])  # caught by the binding
            with self.assertRaises(ipf.IPFError) as cm:
                s.profile([ipf.Post()])  # no modality
            self.assertTrue(cm.exception.message)
            with self.assertRaises(ipf.NumericError):
                s.profile([ipf.Post(text_feature=[float('nan')] * 768)])
            with self.assertRaises(ipf.IPFError):
                s.profile([])

    def test_threads(self):
        """One model, a session per thread, same answers as a serial run."""
        import threading
        with self.model('paper') as m:
            g = {t: load_npy(self, 'profiler/paper/inf2_%s.npy' % t) for t in ('pool', 'xt')}
            posts = [ipf.Post(image_feature=g['pool'][i].tolist(), text_feature=g['xt'][i].tolist())
                     for i in range(len(g['pool']))]
            with m.session() as s:
                ref = s.profile(posts)['probs']
            errors = []

            def work():
                try:
                    with m.session(threads=1) as s:
                        for _ in range(5):
                            got = s.profile(posts)['probs']
                            if any(abs(got[k] - ref[k]) > 1e-6 for k in ref):
                                errors.append((got, ref))
                except Exception as e:  # pragma: no cover - reported below
                    errors.append(e)

            ts = [threading.Thread(target=work) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.assertEqual(errors, [])

    def test_log_callback(self):
        need_symbol(self, 'ipf_model_load')
        lines = []
        ipf.set_log_callback(lambda level, msg: lines.append((level, msg)), ipf.LogLevel.INFO)
        try:
            self.model('paper').close()
        finally:
            ipf.set_log_callback(None)
        self.assertTrue(any(lvl == ipf.LogLevel.INFO and 'loaded model bundle' in m for lvl, m in lines), lines)
        n = len(lines)
        self.model('paper').close()
        self.assertEqual(len(lines), n)  # off again

    def test_bad_files(self):
        need_symbol(self, 'ipf_model_load')
        import shutil
        import tempfile
        for name, cls in (('crc', ipf.ChecksumError), ('format', ipf.FormatError), ('version', ipf.UnsupportedError)):
            src = golden('profiler/bad/%s.safetensors' % name)
            need_file(self, src, 'profiler bad-file golden')
            with tempfile.TemporaryDirectory() as d:
                shutil.copyfile(src, os.path.join(d, 'profiler.safetensors'))
                with self.assertRaises(cls) as cm:
                    ipf.Model.load(d)
                self.assertIn('profiler.safetensors', cm.exception.message)


if __name__ == '__main__':
    unittest.main()
