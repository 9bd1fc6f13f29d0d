"""Library-independent parts: versions, statuses, errors, options, loading failures."""
import os
import tempfile

from _util import ipf, need_symbol, unittest


class TestCore(unittest.TestCase):
    def test_versions(self):
        v = ipf.version()
        major, minor, patch = (int(x) for x in v.split('.'))
        self.assertEqual(ipf.version_number(), major * 10000 + minor * 100 + patch)
        self.assertEqual(ipf.abi_version(), ipf.ABI_VERSION)
        self.assertTrue(os.path.exists(ipf.library_path()) or '/' not in ipf.library_path())

    def test_status_strings(self):
        self.assertEqual(ipf.status_string(0), 'ok')
        self.assertEqual(ipf.status_string(9999), 'unknown status')
        for s in ipf.Status:
            self.assertNotEqual(ipf.status_string(s), 'unknown status', s)

    def test_error_classes(self):
        for s in ipf.Status:
            if s == ipf.Status.OK:
                continue
            e = ipf.errors.from_status(s, 'detail about thing')
            self.assertIsInstance(e, ipf.IPFError)
            self.assertIsNot(type(e), ipf.IPFError, s)
            self.assertEqual(e.status, s)
            self.assertEqual(e.message, 'detail about thing')
            self.assertIn(ipf.status_string(s), str(e))
        self.assertIsInstance(ipf.errors.from_status(1, ''), ValueError)
        self.assertIsInstance(ipf.errors.from_status(3, ''), OSError)
        self.assertIsInstance(ipf.errors.from_status(15, ''), LookupError)
        unknown = ipf.errors.from_status(77, 'future')
        self.assertIs(type(unknown), ipf.IPFError)
        self.assertEqual(unknown.status, 77)

    def test_option_bounds(self):
        for o in ipf.Option:
            lo, hi, de = ipf.option_bounds(o)
            self.assertLessEqual(lo, de)
            self.assertLessEqual(de, hi)
        self.assertEqual(ipf.option_bounds('threads')[0], 1)
        self.assertEqual(ipf.option_bounds(ipf.Option.MAX_TOKENS)[2], 128)
        with self.assertRaises(ValueError):
            ipf.option_bounds(77)  # not an Option
        with self.assertRaises(ValueError):
            ipf.option_bounds('no_such_option')

    def test_raw_bad_option_message(self):
        # Go below the enum check to see the library's own message.
        import ctypes
        st = ipf._lib.lib().ipf_option_bounds(77, None, None, None)
        self.assertEqual(st, ipf.Status.INVALID_ARGUMENT)
        self.assertIn('unknown option', ipf.last_error())

    def test_log_callback_install_and_remove(self):
        lines = []
        ipf.set_log_callback(lambda lvl, msg: lines.append((lvl, msg)), ipf.LogLevel.DEBUG)
        ipf.set_log_callback(None)

    def test_bad_paths(self):
        d = tempfile.mkdtemp()
        missing = os.path.join(d, 'missing')
        for name, call in [
            ('ipf_model_load', lambda: ipf.Model.load(missing)),
            ('ipf_model_load_inception', lambda: ipf.Model.load_inception(missing + '.safetensors')),
            ('ipf_model_load_bert', lambda: ipf.Model.load_bert(missing)),
            ('ipf_model_load_vocab', lambda: ipf.Model.load_vocab(missing + '.txt')),
            ('ipf_model_load_spm', lambda: ipf.Model.load_spm(missing + '.model')),
        ]:
            with self.subTest(name):
                if not ipf._lib.lib().has(name):
                    with self.assertRaises(ipf.UnsupportedError):
                        call()
                    continue
                with self.assertRaises(ipf.IPFError) as cm:
                    call()
                self.assertIn(cm.exception.status, (ipf.Status.IO, ipf.Status.NOT_FOUND, ipf.Status.FORMAT))
                self.assertIn('missing', cm.exception.message)

    def test_garbage_file(self):
        need_symbol(self, 'ipf_model_load_inception')
        with tempfile.NamedTemporaryFile(suffix='.safetensors') as f:
            f.write(b'\x05\x00\x00\x00\x00\x00\x00\x00{bad}')
            f.flush()
            with self.assertRaises(ipf.FormatError) as cm:
                ipf.Model.load_inception(f.name)
            self.assertIn(os.path.basename(f.name), cm.exception.message)

    def test_model_needs_handle(self):
        with self.assertRaises(ValueError):
            ipf.Model(None)


if __name__ == '__main__':
    unittest.main()
