"""Write tests/fixtures/tokenizer_cases.jsonl: hard captions and the WordPiece
ids google-research/bert's tokenization.py gives for them.

Usage (not run by `make gen`; the fixture is committed):
    /usr/bin/python3 tests/gen/_tokenizer_fixture.py PATH/TO/tokenization.py [SHARED_DATA_DIR]

tokenization.py is the unmodified file from github.com/google-research/bert
(it is read at run time, never copied into this repository).  Its imports are
satisfied here without touching the file: `tensorflow` is replaced by a stub
whose tf.gfile.GFile is the builtin open() (UTF-8 text mode, as load_vocab
expects), and `six` is stubbed too if it is not installed.

Exactly what the expected ids are, per caption bytes B and vocabulary V:
    tok = FullTokenizer(V, do_lower_case)      # uncased: True; cased, multilingual-cased: False
    tok.wordpiece_tokenizer.max_input_chars_per_word = 100
        # Hugging Face BertTokenizer's value (google-research's default is 200):
        # a word of more than 100 code points after BasicTokenizer becomes [UNK].
        # This is the only departure from the reference.
    pieces = tok.tokenize(B)                   # bytes: convert_to_unicode = B.decode('utf-8', 'ignore')
    ids = [CLS] + ids(pieces)[:128 - 2] + [SEP]   # max_len 128, truncation keeps the head
"[SEP]" etc. inside a caption are ordinary text (the reference has no special-
token handling), so they become "[", "sep", "]" pieces.

Each output line: {"name", "hex" (caption bytes), "uncased", "cased",
"multilingual"} with "n_pieces_<vocab>" the untruncated piece counts.
Python 3.11's unicodedata is Unicode 14.0; the C side matches it.
"""
import importlib.util
import json
import os
import sys
import types

MAX_LEN = 128
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "tokenizer_cases.jsonl")

VOCABS = [
    ("uncased", "bert-base-uncased-vocab.txt", True),
    ("cased", "bert-base-cased-vocab.txt", False),
    ("multilingual", "bert-base-multilingual-cased-vocab.txt", False),
]


def load_reference(path):
    tf = types.ModuleType("tensorflow")
    tf.gfile = types.SimpleNamespace(GFile=lambda p, mode="r": open(p, mode, encoding="utf-8"))
    sys.modules["tensorflow"] = tf
    try:
        import six  # noqa: F401
    except ImportError:
        six = types.ModuleType("six")
        six.PY2, six.PY3 = False, True
        sys.modules["six"] = six
    spec = importlib.util.spec_from_file_location("bert_tokenization", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def u(s):
    return s.encode("utf-8")


LONG_EN = u("Had the best brunch ever with my favourite people, avocado toast and flat whites all round! ") * 6
CASES = [
    ("ascii_basic", u("Hello, World! This is a simple caption.")),
    ("travel_emoji_flag", u("Just landed in Paris ✈️🇫🇷 #travel #wanderlust @airfrance")),
    ("zwj_family", u("Family time 👨‍👩‍👧‍👦 ❤️ love these guys!!!")),
    ("url_query", u("Check out https://example.com/shop?item=123&ref=ig_post#top now")),
    ("prices", u("Only $19.99 (was €29,99) — 30% off!!! Use code SAVE30 £5 ¥100 ₹250 ₩1000 ₿0.01 ¢50")),
    ("repeated_punct", u("OMG!!!!!!?????....... sooo goooood ;-) :D <3 ...")),
    ("thai", u("อาหารไทยอร่อยมาก 🍜 #bangkok สวัสดีครับ")),
    ("arabic", u("مرحبا بكم في مطعمنا الجديد! #طعام ٣٠٪ خصم")),
    ("hebrew_niqqud", u("שָׁלוֹם עוֹלָם! בוקר טוב")),
    ("devanagari", u("नमस्ते दुनिया! योग और ध्यान 🧘‍♀️ क़ीमत")),
    ("cjk_chinese", u("今天的晚餐非常好吃！我爱北京天安门。")),
    ("japanese_mixed", u("東京でラーメンを食べました🍜 とても美味しい！ｶﾀｶﾅ")),
    ("korean", u("오늘의 패션 코디 #ootd 안녕하세요 한국어")),
    ("greek_final_sigma", u("ΟΔΥΣΣΕΥΣ ΚΑΙ ΣΟΦΟΣ. Σ ΑΣ, ΣΑΣ ΌΣΟΣ ΑΣ'Α Α.Σ ΑΣ\u0301 ΑΣ\u00ad Σ\u0308 όσος")),
    ("turkish_dotted", u("İstanbul'da KIZILAY ve Iğdır şehri İİİ i̇stanbul")),
    ("fullwidth", u("ＦＵＬＬＷＩＤＴＨ\u3000ｔｅｘｔ！ １２３ ＠ｕｓｅｒ ＃ｔａｇ")),
    ("zero_width", u("zero\u200bwidth\u200cnon\u200djoiner\ufeffbom\u2060wj\u00adsoft")),
    ("controls", b"tab\there\nnewline\rcr\x0bvt\x0cff\x1cfs\x1fus\x7fdel" + u("\u0085nel\u009fapc")),
    ("nul_and_fffd", u("nul\x00byte and \ufffd replacement\ufffd\ufffdchar")),
    ("combining_accents", u("Cafe\u0301 nai\u0308ve re\u0301sume\u0301 A\u030angstro\u0308m")),
    ("precomposed_accents", u("café naïve résumé Zoë Brontë Dvořák Ångström ÀÉÎÕÜ")),
    ("invalid_bytes", b"bad \xff\xfe bytes \xc3\x28 lone \xa0\xa1 cont \x80end"),
    ("truncated_multibyte", b"trunc \xe2\x82 mid \xe2\x82\xacok \xf0\x9f\x98 end \xf0\x9f\x98\x80\xf0\x9f"),
    ("overlong", b"over \xc0\xaf \xc1\xbf \xe0\x80\xaf \xe0\x9f\xbf \xf0\x80\x80\xaf long\xc0\x80"),
    ("utf8_surrogates", b"sur \xed\xa0\x80\xed\xb0\x80 rogate \xed\x9f\xbf ok \xed\xbf\xbfx"),
    ("beyond_10ffff", b"big \xf4\x90\x80\x80 \xf5\x80\x80\x80 \xf8\x88\x80\x80\x80 \xfc\x84\x80\x80\x80\x80 \xf4\x8f\xbf\xbf end"),
    ("special_tokens_as_text", u("[SEP] is not special [CLS] [UNK] [MASK] [PAD] ##ing")),
    ("long_over_128", LONG_EN),
    ("word_over_100", u("short " + "a" * 101 + " " + "b" * 100 + " " + "x" * 99 + "\u0301 end")),
    ("word_accents_100", u("é" * 60 + "e\u0301" * 60 + " " + "é" * 100 + " " + "ü" * 101)),
    ("hashtags_mentions", u("#MondayMotivation #fitfam @nike @adidas_originals #NoPainNoGain #2020goals")),
    ("skin_tones_flags", u("👍🏽👏🏿🏳️‍🌈🇺🇸🇯🇵 🤦🏻‍♂️ 🧑🏾‍🤝‍🧑🏼")),
    ("unicode15_chars", u("new \U0001FAE8 shaking \U00011F00x kawi\U00011F41 \U0001E030mod \U0001F6DC \U00031350 ΣΑ\U0001E030Σ A\U0001E08FΣ")),
    ("mixed_script_word", u("helloмирworld123abc Привет世界hola")),
    ("numbers", u("1,000,000 3.14159 10:30pm 2020-01-01 +1(555)123-4567 ½ ² ٣")),
    ("email", u("contact me: jane.doe+ig@gmail.com or DM 📩")),
    ("whitespace_runs", u("   lots    of \t\t spaces   \n\n")),
    ("empty", b""),
    ("only_ignorable", u(" \t\n\x00\u200b\ufffd \u2028 ")),
    ("only_punct", u("!!!???...,,,;;;:::---___~~~")),
    ("compat_ligatures", u("ﬁancé ﬂower ﬀ ℌ ™ ㎏ Ⅻ ⁵")),
    ("vietnamese", u("Tiếng Việt rất đẹp, phở bò ngon quá! TIẾNG VIỆT")),
    ("cyrillic", u("Привет, МИР! Ёлка й Й")),
    ("german_sharp_s", u("STRAẞE Straße MASSE Fußball")),
    ("titlecase_digraphs", u("ǅungla ǈ Ǌ ΐ ᾈ ǰ")),
    ("unicode_spaces", u("a\u00a0b\u2000c\u2028d\u2029e\u3000f\u1680g\u202fh\u205fi\u180ej")),
    ("bidi_marks", u("\u200eleft\u200fright\u202aembed\u202c\u2066iso\u2069")),
    ("emoji_only", u("🔥🔥🔥💯💯🙌")),
    ("symbols", u("∑∫√∞ ≠ ≤ ♪♫ ©® ° ← → ★")),
    ("cjk_ext_compat", u("𠀀𠀁 丽 豈 〇 ㄅ 㐀 𪜀 𫝀 𫠠 𬺰")),
    ("hangul_nfd", u("한국어 가나다 가")),
    ("cherokee_armenian", u("ᏣᎳᎩ ꮳꮃꭹ ԵՐԵՎԱՆ ﬓ")),
    ("quotes", u("“smart quotes” ‘single’ «guillemets» „German“ ‹›")),
    ("dashes", u("em—dash en–dash ‐hyphen ―bar ‒fig ⁓swung")),
    ("units", u("5kg 10km/h 25°C 100% 3x 6'2\" 9½")),
    ("url_unicode", u("https://例え.jp/パス?q=検索&x=%E2%9C%93")),
    ("brands_case", u("iPhone McDonald's YouTube LOL WTF eBay")),
    ("apostrophes", u("don't won’t it's l'amour rock'n'roll")),
    ("crlf_nul_mid", b"line one\r\nline\x00two\r\n\x00"),
    ("long_cjk", u("我爱北京天安门天安门上太阳升") * 12),
    ("zalgo", u("Z̴̡̪a̸̝͊l̷̢̛g̵o̶ t̸e̷x̵t̶")),
    ("long_punct", u("a!") * 80),
    ("private_use_nonchar", u("pua\ue000x \U000F0000 \ufdd0 \uffff \U0010FFFF end")),
    ("mixed_everything", u("@chef_mario: Pasta🍝 at Café Déjà-Vu (NYC) — $25/plate!! #foodie #ΠΑΣΤΑ #意面 ") + b"\xff" + u(" ok")),
]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    ref = load_reference(sys.argv[1])
    data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "..", "..", "shared", "data")
    toks = []
    for name, fname, lower in VOCABS:
        t = ref.FullTokenizer(os.path.join(data, fname), do_lower_case=lower)
        t.wordpiece_tokenizer.max_input_chars_per_word = 100
        toks.append((name, t))
    names = set()
    with open(OUT, "w", encoding="utf-8") as f:
        for name, raw in CASES:
            assert name not in names, name
            names.add(name)
            row = {"name": name, "hex": raw.hex()}
            for vname, t in toks:
                pieces = t.tokenize(raw)
                ids = t.convert_tokens_to_ids(pieces)
                row[vname] = [t.vocab["[CLS]"]] + ids[: MAX_LEN - 2] + [t.vocab["[SEP]"]]
                row["n_pieces_" + vname] = len(ids)
            f.write(json.dumps(row) + "\n")
    print("wrote %d cases to %s" % (len(CASES), OUT))


if __name__ == "__main__":
    main()
