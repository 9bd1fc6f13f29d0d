"""Sessions on a tokenizer-only model (BERT vocab from ../shared/data):
options, errors with the session's message, lifetimes, tokenize."""
import threading

from _util import ipf, need_symbol, shared, unittest

VOCAB = shared('data/bert-base-uncased-vocab.txt')
SPM = shared('data/spm-test.model')


class TestSession(unittest.TestCase):
    def setUp(self):
        need_symbol(self, 'ipf_model_load_vocab')
        if not VOCAB:
            self.skipTest('shared data/bert-base-uncased-vocab.txt absent')
        self.model = ipf.Model.load_vocab(VOCAB, lower_case=True)

    def tearDown(self):
        self.model.close()

    def test_components(self):
        self.assertTrue(self.model.has(ipf.Component.TOKENIZER))
        self.assertTrue(self.model.has('tokenizer'))
        self.assertFalse(self.model.has(ipf.Component.IMAGE_ENCODER))
        self.assertEqual(self.model.dim(ipf.Dim.VOCAB), 30522)
        with self.assertRaises(ipf.NotFoundError):
            self.model.dim(ipf.Dim.IMAGE_POOL)

    def test_options(self):
        with self.model.session() as s:
            lo, hi, de = ipf.option_bounds('max_tokens')
            self.assertEqual(s.max_tokens, de)
            s.max_tokens = 16
            self.assertEqual(s.get_option(ipf.Option.MAX_TOKENS), 16)
            s.threads = 1
            self.assertEqual(s.threads, 1)
            s.backend = 'ref'
            self.assertEqual(s.backend, ipf.Backend.REF)
            with self.assertRaises(ipf.InvalidArgumentError) as cm:
                s.threads = 0
            self.assertIn('outside', cm.exception.message)
            self.assertEqual(s.threads, 1)  # unchanged
            with self.assertRaises(ipf.InvalidArgumentError):
                s.set_option('max_tokens', hi + 1)
            with self.assertRaises(ValueError):
                s.backend = 'cuda'

    def test_session_kwargs(self):
        with self.model.session(threads=1, max_tokens=8) as s:
            self.assertEqual((s.threads, s.max_tokens), (1, 8))

    def test_tokenize(self):
        with self.model.session() as s:
            self.assertEqual(s.tokenize('Hello world'), [101, 7592, 2088, 102])
            self.assertEqual(s.tokenize(b'hello world'), [101, 7592, 2088, 102])
            self.assertEqual(s.tokenize(''), [101, 102])
            s.max_tokens = 4
            ids = s.tokenize('one two three four five six')
            self.assertEqual(len(ids), 4)
            self.assertEqual((ids[0], ids[-1]), (101, 102))

    def test_tokenize_grows_buffer(self):
        with self.model.session() as s:
            s.max_tokens = 300
            ids = s.tokenize(' '.join(['word'] * 400))
            self.assertEqual(len(ids), 300)

    def test_encode_without_encoder(self):
        with self.model.session() as s:
            with self.assertRaises(ipf.IPFError) as cm:
                s.encode_ids([101, 102])
            self.assertTrue(cm.exception.message)

    def test_lifetimes(self):
        s = self.model.session()
        s.close()
        s.close()  # idempotent
        with self.assertRaises(ipf.StateError):
            s.tokenize('x')
        s2 = self.model.session()
        self.model.close()  # closes s2 first
        self.assertTrue(s2.closed)
        with self.assertRaises(ipf.StateError):
            s2.threads
        self.model.close()
        with self.assertRaises(ipf.StateError):
            self.model.session()

    def test_threads_share_model(self):
        results, errors = {}, []

        def work(i):
            try:
                with self.model.session(threads=1) as s:
                    for _ in range(20):
                        results[i] = s.tokenize('hello world %d' % i)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        for i in range(4):
            self.assertEqual(results[i][:3], [101, 7592, 2088])


class TestSpm(unittest.TestCase):
    def test_spm(self):
        need_symbol(self, 'ipf_model_load_spm')
        if not SPM:
            self.skipTest('shared data/spm-test.model absent')
        with ipf.Model.load_spm(SPM) as m, m.session() as s:
            self.assertTrue(m.has('tokenizer'))
            ids = s.tokenize('hello world')
            self.assertGreaterEqual(len(ids), 3)
            self.assertTrue(all(isinstance(i, int) for i in ids))


if __name__ == '__main__':
    unittest.main()
