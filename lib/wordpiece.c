/* wordpiece.c — BERT WordPiece, reproducing google-research/bert
 * tokenization.py (FullTokenizer = BasicTokenizer + WordpieceTokenizer) as run
 * by Python 3.11, whose character database is Unicode 14.0.  ICU 72 knows
 * Unicode 15.0, so every property lookup goes through py_is_unicode14(): a
 * code point assigned after 14.0 is what Python sees, unassigned (Cn, no case
 * mapping, no decomposition, not cased, not case-ignorable).
 *
 * Pipeline (reference function in brackets):
 *   bytes -> code points            [convert_to_unicode: decode('utf-8','ignore')]
 *   drop NUL/U+FFFD/Cc/Cf, whitespace -> ' '            [_clean_text]
 *   ' ' around CJK ideographs                           [_tokenize_chinese_chars]
 *   split on str.isspace()                              [whitespace_tokenize]
 *   per token: lower() (full mapping, final sigma), NFD, drop Mn   [uncased only]
 *   split off punctuation, split on whitespace again    [_run_split_on_punc, whitespace_tokenize]
 *   greedy longest-match-first pieces, "##" prefix, [UNK] for a word that
 *   cannot be covered or is longer than WP_MAX_WORD_CHARS  [WordpieceTokenizer]
 */
#include "wordpiece.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uset.h>
#include <unicode/ustring.h>

struct wordpiece {
    int lower_case;
    int32_t n;              /* vocabulary size */
    char *blob;             /* all tokens, NUL-separated */
    uint32_t *tok_off;      /* (n) offset of each token in blob */
    uint32_t *tok_len;      /* (n) byte length */
    int32_t *table;         /* open-addressing hash: token id or -1 */
    uint32_t mask;          /* table size - 1 */
    int32_t max_chars;      /* longest token in code points */
    int32_t unk, cls, sep;
    USet *age14;            /* code points assigned in Unicode <= 14.0 */
    UNormalizer2 *nfd14;    /* NFD restricted to age14 (Python's unicodedata) */
};

/* ---- Python 3.11 character semantics ------------------------------------ */

int py_is_unicode14(uint32_t c) {
    UVersionInfo v;
    u_charAge((UChar32)c, v);
    if (v[0] == 0 && v[1] == 0) return 0; /* unassigned in ICU too */
    return v[0] < 14 || (v[0] == 14 && v[1] == 0);
}

static int8_t py_type(uint32_t c) {
    return py_is_unicode14(c) ? u_charType((UChar32)c) : U_UNASSIGNED;
}

void py_category(uint32_t c, char out[3]) {
    static const char *names[U_CHAR_CATEGORY_COUNT] = {
        [U_UNASSIGNED] = "Cn", [U_UPPERCASE_LETTER] = "Lu", [U_LOWERCASE_LETTER] = "Ll",
        [U_TITLECASE_LETTER] = "Lt", [U_MODIFIER_LETTER] = "Lm", [U_OTHER_LETTER] = "Lo",
        [U_NON_SPACING_MARK] = "Mn", [U_ENCLOSING_MARK] = "Me", [U_COMBINING_SPACING_MARK] = "Mc",
        [U_DECIMAL_DIGIT_NUMBER] = "Nd", [U_LETTER_NUMBER] = "Nl", [U_OTHER_NUMBER] = "No",
        [U_SPACE_SEPARATOR] = "Zs", [U_LINE_SEPARATOR] = "Zl", [U_PARAGRAPH_SEPARATOR] = "Zp",
        [U_CONTROL_CHAR] = "Cc", [U_FORMAT_CHAR] = "Cf", [U_PRIVATE_USE_CHAR] = "Co",
        [U_SURROGATE] = "Cs", [U_DASH_PUNCTUATION] = "Pd", [U_START_PUNCTUATION] = "Ps",
        [U_END_PUNCTUATION] = "Pe", [U_CONNECTOR_PUNCTUATION] = "Pc", [U_OTHER_PUNCTUATION] = "Po",
        [U_MATH_SYMBOL] = "Sm", [U_CURRENCY_SYMBOL] = "Sc", [U_MODIFIER_SYMBOL] = "Sk",
        [U_OTHER_SYMBOL] = "So", [U_INITIAL_PUNCTUATION] = "Pi", [U_FINAL_PUNCTUATION] = "Pf",
    };
    const char *s = names[py_type(c)];
    out[0] = s[0];
    out[1] = s[1];
    out[2] = 0;
}

/* str.isspace(): bidirectional class WS, B or S, or category Zs
 * (CPython's makeunicodedata.py). */
int py_isspace(uint32_t c) {
    if (c == ' ' || (c >= 9 && c <= 13)) return 1;
    if (c < 0x80 && !(c >= 0x1c && c <= 0x1f)) return 0;
    if (!py_is_unicode14(c)) return 0;
    if (u_charType((UChar32)c) == U_SPACE_SEPARATOR) return 1;
    int b = u_getIntPropertyValue((UChar32)c, UCHAR_BIDI_CLASS);
    return b == U_WHITE_SPACE_NEUTRAL || b == U_BLOCK_SEPARATOR || b == U_SEGMENT_SEPARATOR;
}

/* _is_whitespace: ' ', \t, \n, \r or category Zs. */
static int bert_is_whitespace(uint32_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || py_type(c) == U_SPACE_SEPARATOR;
}

/* _is_control: category Cc or Cf, except \t \n \r. */
int bert_is_control(uint32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    int8_t t = py_type(c);
    return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR;
}

/* _is_punctuation: all non-alphanumeric printable ASCII, or category P*. */
int bert_is_punctuation(uint32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
        return 1;
    switch (py_type(c)) {
    case U_DASH_PUNCTUATION: case U_START_PUNCTUATION: case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION: case U_OTHER_PUNCTUATION: case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
        return 1;
    default:
        return 0;
    }
}

/* _is_chinese_char: the reference's CJK ranges, verbatim. */
static int bert_is_chinese(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B820 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static int py_cased(uint32_t c) {
    return py_is_unicode14(c) && u_hasBinaryProperty((UChar32)c, UCHAR_CASED);
}
static int py_case_ignorable(uint32_t c) {
    return py_is_unicode14(c) && u_hasBinaryProperty((UChar32)c, UCHAR_CASE_IGNORABLE);
}

/* str.lower() of s[i] within s: full case mapping (SpecialCasing's
 * unconditional entries, e.g. U+0130 -> i + U+0307), and CPython's
 * handle_capital_sigma for U+03A3.  Writes at most 3 code points. */
static size_t py_lower_at(const uint32_t *s, size_t n, size_t i, uint32_t out[3]) {
    uint32_t c = s[i];
    if (c < 0x80) {
        out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        return 1;
    }
    if (c == 0x3A3) {
        /* Final_Sigma: \p{cased} \p{case-ignorable}* U+03A3 !(\p{case-ignorable}* \p{cased}) */
        size_t j = i;
        uint32_t p = 0;
        int found = 0;
        while (j > 0) {
            p = s[--j];
            if (!py_case_ignorable(p)) { found = 1; break; }
        }
        int final = found && py_cased(p);
        if (final) {
            size_t k = i + 1;
            while (k < n && py_case_ignorable(s[k])) k++;
            final = k == n || !py_cased(s[k]);
        }
        out[0] = final ? 0x3C2 : 0x3C3;
        return 1;
    }
    if (!py_is_unicode14(c) || !u_hasBinaryProperty((UChar32)c, UCHAR_CHANGES_WHEN_LOWERCASED)) {
        out[0] = c;
        return 1;
    }
    UChar src[2], dst[8];
    int32_t sl = 0;
    U16_APPEND_UNSAFE(src, sl, (UChar32)c);
    UErrorCode err = U_ZERO_ERROR;
    int32_t dl = u_strToLower(dst, 8, src, sl, "", &err);
    if (U_FAILURE(err) || dl > 8) {
        out[0] = c;
        return 1;
    }
    size_t m = 0;
    for (int32_t k = 0; k < dl && m < 3;) {
        UChar32 d;
        U16_NEXT(dst, k, dl, d);
        out[m++] = (uint32_t)d;
    }
    return m;
}

/* ---- UTF-8 --------------------------------------------------------------- */

size_t utf8_decode_ignore(const char *str, size_t len, uint32_t *cps) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n = 0;
    while (i < len) {
        unsigned b = s[i];
        if (b < 0x80) {
            cps[n++] = b;
            i++;
            continue;
        }
        /* Well-formed sequences (Unicode Table 3-7); anything else drops the
         * lead byte and resumes at the next one.  Dropping one byte at a time
         * equals Python's maximal-subpart errors under 'ignore', because a
         * lone continuation byte is itself always dropped. */
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        uint32_t c;
        if (b >= 0xC2 && b <= 0xDF) { need = 1; c = b & 0x1F; }
        else if (b >= 0xE0 && b <= 0xEF) {
            need = 2; c = b & 0x0F;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F; /* no surrogates */
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3; c = b & 0x07;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F; /* <= U+10FFFF */
        } else {
            i++;
            continue;
        }
        int ok = len - i > need;
        for (size_t k = 1; ok && k <= need; k++) {
            unsigned t = s[i + k];
            unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
            if (t < l || t > h) ok = 0;
            else c = (c << 6) | (t & 0x3F);
        }
        if (!ok) {
            i++;
            continue;
        }
        cps[n++] = c;
        i += need + 1;
    }
    return n;
}

static size_t utf8_len(uint32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

size_t utf8_put(uint32_t c, char *o) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xC0 | (c >> 6)); o[1] = (char)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12)); o[1] = (char)(0x80 | ((c >> 6) & 0x3F)); o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18)); o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F)); o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* ---- vocabulary ---------------------------------------------------------- */

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

int32_t wordpiece_id(const wordpiece *w, const char *tok, size_t len) {
    for (uint32_t h = hash_bytes(tok, len) & w->mask;; h = (h + 1) & w->mask) {
        int32_t id = w->table[h];
        if (id < 0) return -1;
        if (w->tok_len[id] == len && !memcmp(w->blob + w->tok_off[id], tok, len)) return id;
    }
}

void wordpiece_free(wordpiece *w) {
    if (!w) return;
    if (w->nfd14) unorm2_close(w->nfd14);
    if (w->age14) uset_close(w->age14);
    free(w->blob);
    free(w->tok_off);
    free(w->tok_len);
    free(w->table);
    free(w);
}

int32_t wordpiece_vocab_size(const wordpiece *w) { return w->n; }
int32_t wordpiece_cls(const wordpiece *w) { return w->cls; }
int32_t wordpiece_sep(const wordpiece *w) { return w->sep; }

#define VOCAB_MAX_BYTES (256u << 20)

static ipf_status read_whole(const char *path, char **out, size_t *len, ipf_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return ipf_fail(e, IPF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory reading", path);
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        if (cap >= VOCAB_MAX_BYTES) {
            free(buf);
            fclose(f);
            return ipf_fail(e, IPF_ERR_LIMIT, "%s: larger than %u bytes, not a vocabulary", path, VOCAB_MAX_BYTES);
        }
        char *nb = realloc(buf, cap *= 2);
        if (!nb) free(buf);
        buf = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ipf_fail(e, IPF_ERR_IO, "%s: read error", path);
    }
    *out = buf;
    *len = n;
    return IPF_OK;
}

ipf_status wordpiece_load(const char *path, int lower_case, wordpiece **out, ipf_err *e) {
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    ipf_status st = read_whole(path, &buf, &len, e);
    if (st) return st;
    wordpiece *w = calloc(1, sizeof *w);
    if (!w) {
        free(buf);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    w->lower_case = lower_case;
    w->blob = buf;
    w->unk = w->cls = w->sep = -1;

    /* Count lines: a final newline does not start another line. */
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    if (len && buf[len - 1] != '\n') lines++;
    if (lines == 0 || lines > INT32_MAX / 4) {
        wordpiece_free(w);
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: %s", path, lines ? "too many lines" : "empty vocabulary");
    }
    uint32_t tsize = 1;
    while (tsize < 2 * lines) tsize <<= 1;
    w->tok_off = ipf_malloc_array(lines, sizeof *w->tok_off);
    w->tok_len = ipf_malloc_array(lines, sizeof *w->tok_len);
    w->table = ipf_malloc_array(tsize, sizeof *w->table);
    uint32_t *cps = ipf_malloc_array(len + 1, sizeof *cps);
    if (!w->tok_off || !w->tok_len || !w->table || !cps) {
        free(cps);
        wordpiece_free(w);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    memset(w->table, 0xff, (size_t)tsize * sizeof *w->table);
    w->mask = tsize - 1;

    size_t pos = 0;
    for (size_t line = 1; pos < len; line++) {
        char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t ln = end - pos;
        /* Strict UTF-8: the decoder drops invalid bytes, so a shorter
         * re-encoding means the line was not valid. */
        size_t nc = utf8_decode_ignore(buf + pos, ln, cps), bytes = 0;
        for (size_t k = 0; k < nc; k++) bytes += utf8_len(cps[k]);
        if (bytes != ln) {
            free(cps);
            wordpiece_free(w);
            return ipf_fail(e, IPF_ERR_FORMAT, "%s: line %zu: not valid UTF-8", path, line);
        }
        /* str.strip(), as load_vocab does (this also takes a CR of CRLF). */
        size_t a = 0, b = nc, boff = 0, eoff = ln;
        for (; a < b && py_isspace(cps[a]); a++) boff += utf8_len(cps[a]);
        for (; b > a && py_isspace(cps[b - 1]); b--) eoff -= utf8_len(cps[b - 1]);
        if (a == b) {
            free(cps);
            wordpiece_free(w);
            return ipf_fail(e, IPF_ERR_FORMAT, "%s: line %zu: empty token", path, line);
        }
        char *tok = buf + pos + boff;
        size_t tl = eoff - boff;
        if (memchr(tok, '\r', tl)) { /* Python's universal newlines would split it */
            free(cps);
            wordpiece_free(w);
            return ipf_fail(e, IPF_ERR_FORMAT, "%s: line %zu: carriage return inside a token", path, line);
        }
        if (wordpiece_id(w, tok, tl) >= 0) {
            int32_t first = wordpiece_id(w, tok, tl);
            free(cps);
            wordpiece_free(w);
            return ipf_fail(e, IPF_ERR_FORMAT, "%s: line %zu: duplicate token (first on line %d)", path, line,
                            first + 1);
        }
        int32_t id = w->n++;
        w->tok_off[id] = (uint32_t)(pos + boff);
        w->tok_len[id] = (uint32_t)tl;
        uint32_t h = hash_bytes(tok, tl) & w->mask;
        while (w->table[h] >= 0) h = (h + 1) & w->mask;
        w->table[h] = id;
        if ((int32_t)(b - a) > w->max_chars) w->max_chars = (int32_t)(b - a);
        pos = end + 1;
    }
    free(cps);
    w->unk = wordpiece_id(w, "[UNK]", 5);
    w->cls = wordpiece_id(w, "[CLS]", 5);
    w->sep = wordpiece_id(w, "[SEP]", 5);
    const char *missing = w->unk < 0 ? "[UNK]" : w->cls < 0 ? "[CLS]" : w->sep < 0 ? "[SEP]" : NULL;
    if (missing) {
        wordpiece_free(w);
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: no %s token", path, missing);
    }

    /* NFD as Python 3.11 computes it: code points assigned after Unicode
     * 14.0 are left alone (ICU passes code points outside the set through). */
    UErrorCode err = U_ZERO_ERROR;
    UChar pat[32];
    u_uastrcpy(pat, "[:age=14.0:]");
    w->age14 = uset_openPattern(pat, -1, &err);
    if (U_SUCCESS(err)) uset_freeze(w->age14);
    const UNormalizer2 *nfd = U_SUCCESS(err) ? unorm2_getNFDInstance(&err) : NULL;
    if (U_SUCCESS(err)) w->nfd14 = unorm2_openFiltered(nfd, w->age14, &err);
    if (U_FAILURE(err)) {
        wordpiece_free(w);
        return ipf_fail(e, IPF_ERR_INTERNAL, "%s: ICU normalizer: %s", path, u_errorName(err));
    }
    *out = w;
    return IPF_OK;
}

/* ---- encoding ------------------------------------------------------------ */

typedef struct wp_work {
    const wordpiece *w;
    int32_t *pieces;
    size_t max_pieces, n;
    char *u8;           /* scratch: one word in UTF-8 */
    char *cand;         /* scratch: "##" + a piece of it */
    size_t *off;        /* scratch: byte offset of each code point */
    size_t cap;         /* capacity of off in code points */
} wp_work;

/* WordpieceTokenizer.tokenize for one word. */
static void wp_word(wp_work *k, const uint32_t *c, size_t m) {
    const wordpiece *w = k->w;
    if (m == 0 || k->n >= k->max_pieces) return;
    if (m > WP_MAX_WORD_CHARS) {
        k->pieces[k->n++] = w->unk;
        return;
    }
    /* piece [s,e) is u8[off[s] .. off[e]); a continuation is looked up as
     * "##" + piece, assembled in cand */
    size_t b = 0;
    for (size_t i = 0; i < m; i++) {
        k->off[i] = b;
        b += utf8_put(c[i], k->u8 + b);
    }
    k->off[m] = b;
    int32_t local[WP_MAX_WORD_CHARS];
    size_t nl = 0, start = 0;
    while (start < m) {
        size_t end = m;
        if (end - start > (size_t)w->max_chars) end = start + (size_t)w->max_chars;
        int32_t id = -1;
        for (; end > start; end--) {
            const char *p = k->u8 + k->off[start];
            size_t pl = k->off[end] - k->off[start];
            if (start > 0) {
                memcpy(k->cand + 2, p, pl);
                id = wordpiece_id(w, k->cand, pl + 2);
            } else {
                id = wordpiece_id(w, p, pl);
            }
            if (id >= 0) break;
        }
        if (id < 0) {
            k->pieces[k->n++] = w->unk;
            return;
        }
        local[nl++] = id;
        start = end;
    }
    for (size_t i = 0; i < nl && k->n < k->max_pieces; i++) k->pieces[k->n++] = local[i];
}

/* _run_split_on_punc, then whitespace_tokenize, feeding each word on. */
static void wp_split(wp_work *k, const uint32_t *s, size_t n) {
    size_t ws = 0;
    for (size_t i = 0; i <= n; i++) {
        int brk = i == n || py_isspace(s[i]) || bert_is_punctuation(s[i]);
        if (!brk) continue;
        wp_word(k, s + ws, i - ws);
        if (i < n && !py_isspace(s[i])) wp_word(k, s + i, 1);
        ws = i + 1;
    }
}

ipf_status wordpiece_encode(const wordpiece *w, const uint32_t *cps, size_t n, int32_t *pieces, size_t max_pieces,
                            size_t *n_out, ipf_err *e) {
    *n_out = 0;
    ipf_status st = IPF_OK;
    /* _clean_text; _tokenize_chinese_chars's padding is implied below by
     * making each CJK ideograph a token of its own. */
    uint32_t *t = ipf_malloc_array(n + 1, sizeof *t);
    wp_work k = {.w = w, .pieces = pieces, .max_pieces = max_pieces};
    uint32_t *low = NULL;
    UChar *u16 = NULL, *nfd = NULL;
    size_t low_cap = 0, u16_cap = 0, nfd_cap = 0;
    k.cap = WP_MAX_WORD_CHARS + 1;
    k.off = malloc((k.cap + 1) * sizeof *k.off);
    k.u8 = malloc(4 * k.cap);
    k.cand = malloc(4 * k.cap + 2);
    if (k.cand) k.cand[0] = k.cand[1] = '#';
    if (!t || !k.off || !k.u8 || !k.cand) {
        st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "tokenize: out of memory for %zu code points", n);
        goto done;
    }
    size_t tn = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cps[i];
        if (c == 0 || c == 0xFFFD || bert_is_control(c)) continue;
        t[tn++] = bert_is_whitespace(c) ? ' ' : c;
    }
    /* whitespace_tokenize */
    for (size_t i = 0; i < tn && k.n < max_pieces;) {
        if (py_isspace(t[i])) { i++; continue; }
        size_t j = i + 1;
        if (!bert_is_chinese(t[i]))
            while (j < tn && !py_isspace(t[j]) && !bert_is_chinese(t[j])) j++;
        const uint32_t *tok = t + i;
        size_t tl = j - i;
        i = j;
        if (!w->lower_case) {
            wp_split(&k, tok, tl);
            continue;
        }
        /* token.lower(), then _run_strip_accents (NFD, drop Mn) */
        if (3 * tl > low_cap) {
            free(low);
            low_cap = 3 * tl;
            low = ipf_malloc_array(low_cap, sizeof *low);
            free(u16);
            u16_cap = 2 * low_cap + 1;
            u16 = ipf_malloc_array(u16_cap, sizeof *u16);
            if (!low || !u16) {
                st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "tokenize: out of memory for a %zu-character word", tl);
                goto done;
            }
        }
        size_t ln = 0;
        int ascii = 1;
        for (size_t q = 0; q < tl; q++) {
            ln += py_lower_at(tok, tl, q, low + ln);
            ascii &= tok[q] < 0x80;
        }
        if (ascii) { /* NFD leaves ASCII alone and ASCII has no Mn */
            wp_split(&k, low, ln);
            continue;
        }
        int32_t ul = 0;
        for (size_t q = 0; q < ln; q++) U16_APPEND_UNSAFE(u16, ul, (UChar32)low[q]);
        UErrorCode err = U_ZERO_ERROR;
        int32_t nl = unorm2_normalize(w->nfd14, u16, ul, nfd, (int32_t)nfd_cap, &err);
        if (err == U_BUFFER_OVERFLOW_ERROR || (size_t)nl > nfd_cap) {
            free(nfd);
            nfd_cap = (size_t)nl + 16;
            nfd = ipf_malloc_array(nfd_cap, sizeof *nfd);
            if (!nfd) {
                st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "tokenize: out of memory normalizing");
                goto done;
            }
            err = U_ZERO_ERROR;
            nl = unorm2_normalize(w->nfd14, u16, ul, nfd, (int32_t)nfd_cap, &err);
        }
        if (U_FAILURE(err)) {
            st = ipf_fail(e, IPF_ERR_INTERNAL, "tokenize: ICU NFD failed: %s", u_errorName(err));
            goto done;
        }
        /* back to code points, dropping Mn; reuse `low` (NFD may grow the
         * text, so size it for the worst case first) */
        if ((size_t)nl > low_cap) {
            free(low);
            low_cap = (size_t)nl;
            low = ipf_malloc_array(low_cap, sizeof *low);
            if (!low) {
                st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "tokenize: out of memory normalizing");
                goto done;
            }
            free(u16);
            u16_cap = 2 * low_cap + 1;
            u16 = ipf_malloc_array(u16_cap, sizeof *u16);
            if (!u16) {
                st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "tokenize: out of memory normalizing");
                goto done;
            }
        }
        ln = 0;
        for (int32_t q = 0; q < nl;) {
            UChar32 c;
            U16_NEXT(nfd, q, nl, c);
            if (py_type((uint32_t)c) != U_NON_SPACING_MARK) low[ln++] = (uint32_t)c;
        }
        wp_split(&k, low, ln);
    }
    *n_out = k.n;
done:
    free(t);
    free(low);
    free(u16);
    free(nfd);
    free(k.off);
    free(k.u8);
    free(k.cand);
    return st;
}
