/* test_tokenizer.c — WordPiece against google-research/bert tokenization.py
 * (tests/fixtures/tokenizer_cases.jsonl, written by
 * tests/gen/_tokenizer_fixture.py), vocab validation, truncation, the public
 * size query, and a shared tokenizer used from several threads.  Ids are
 * integers, so every comparison is exact. */
#include "test.h"
#include "tokenizer.h"
#include "wordpiece.h"

#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

#define FIXTURE "tests/fixtures/tokenizer_cases.jsonl"

typedef struct tcase {
    char name[64];
    char *text;
    size_t len;
    int32_t *want[3];
    size_t n_want[3];
} tcase;

static const char *VOCAB_KEY[3] = {"uncased", "cased", "multilingual"};
static const char *VOCAB_FILE[3] = {"data/bert-base-uncased-vocab.txt", "data/bert-base-cased-vocab.txt",
                                    "data/bert-base-multilingual-cased-vocab.txt"};

static int hexval(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

static void free_cases(tcase *c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(c[i].text);
        for (int v = 0; v < 3; v++) free(c[i].want[v]);
    }
    free(c);
}

/* Parse the fixture; NULL (and a FAIL) if it is missing or malformed. */
static tcase *load_cases(size_t *n) {
    size_t len;
    char *buf = test_read_file(FIXTURE, &len);
    if (!buf) {
        FAILF("cannot read %s", FIXTURE);
        return NULL;
    }
    tcase *c = calloc(256, sizeof *c);
    *n = 0;
    for (char *line = strtok(buf, "\n"); line && *n < 256; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        if (!j) {
            FAILF("%s: bad JSON: %s", FIXTURE, jerr.text);
            continue;
        }
        tcase *t = &c[(*n)++];
        snprintf(t->name, sizeof t->name, "%s", json_string_value(json_object_get(j, "name")));
        const char *hex = json_string_value(json_object_get(j, "hex"));
        t->len = strlen(hex) / 2;
        t->text = malloc(t->len + 1);
        for (size_t i = 0; i < t->len; i++) t->text[i] = (char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
        for (int v = 0; v < 3; v++) {
            json_t *a = json_object_get(j, VOCAB_KEY[v]);
            t->n_want[v] = json_array_size(a);
            t->want[v] = malloc((t->n_want[v] + 1) * sizeof(int32_t));
            for (size_t i = 0; i < t->n_want[v]; i++)
                t->want[v][i] = (int32_t)json_integer_value(json_array_get(a, i));
        }
        json_decref(j);
    }
    free(buf);
    return c;
}

static int same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && !memcmp(a, b, na * sizeof *a);
}

static void print_ids(const char *what, const int32_t *a, size_t n) {
    fprintf(stderr, "      %s (%zu):", what, n);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", a[i]);
    fprintf(stderr, "\n");
}

TEST(tokenizer_reference_cases) {
    size_t nc;
    tcase *cases = load_cases(&nc);
    if (!cases) return;
    CHECK(nc >= 64);
    int ran = 0;
    for (int v = 0; v < 3; v++) {
        const char *path = test_shared_path(VOCAB_FILE[v]);
        if (!path) {
            fprintf(stderr, "    note: %s absent, %s cases not run\n", VOCAB_FILE[v], VOCAB_KEY[v]);
            continue;
        }
        tokenizer *t;
        ipf_err e;
        ipf_status st = tokenizer_load_vocab(path, v == 0, &t, &e);
        CHECK_OK(st, e.msg);
        if (st) continue;
        ran++;
        size_t ok = 0;
        for (size_t i = 0; i < nc; i++) {
            int32_t got[128];
            size_t n;
            st = tokenizer_encode(t, cases[i].text, cases[i].len, 128, got, 128, &n, &e);
            CHECK_OK(st, e.msg);
            if (!st && same_ids(got, n, cases[i].want[v], cases[i].n_want[v])) {
                ok++;
            } else {
                FAILF("%s case %s differs from tokenization.py", VOCAB_KEY[v], cases[i].name);
                print_ids("want", cases[i].want[v], cases[i].n_want[v]);
                print_ids("got ", got, st ? 0 : n);
            }
        }
        fprintf(stderr, "    %s: %zu/%zu cases match tokenization.py\n", VOCAB_KEY[v], ok, nc);
        tokenizer_free(t);
    }
    free_cases(cases, nc);
    if (!ran) SKIP("no BERT vocab under ../shared/data");
}

/* ---- small hand-made vocabularies ---------------------------------------- */

static char tmpdir[64];

static void remove_tmpdir(void) { rmdir(tmpdir); } /* files are unlinked after use */

static const char *write_tmp(const char *name, const char *data, size_t len) {
    static char path[128];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/ipf_tok_XXXXXX");
        if (!mkdtemp(tmpdir)) return NULL;
        atexit(remove_tmpdir);
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(data, 1, len, f);
    fclose(f);
    return path;
}
#define WRITE_TMP(name, lit) write_tmp(name, lit, sizeof lit - 1)

static const char TINY[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n##aff\n##able\na\nb\nc\n,\n!\nhello\n##s\n";

static void expect_load_error(const char *file, const char *data, size_t len, ipf_status want, const char *needle) {
    const char *p = write_tmp(file, data, len);
    REQUIRE(p);
    tokenizer *t = NULL;
    ipf_err e;
    ipf_status st = tokenizer_load_vocab(p, 1, &t, &e);
    unlink(p);
    CHECK_EQ_INT(st, want);
    CHECK(t == NULL);
    if (!strstr(e.msg, needle)) FAILF("%s: message \"%s\" lacks \"%s\"", file, e.msg, needle);
    tokenizer_free(t);
}
#define EXPECT_LOAD_ERROR(file, lit, st, needle) expect_load_error(file, lit, sizeof lit - 1, st, needle)

TEST(tokenizer_vocab_validation) {
    EXPECT_LOAD_ERROR("empty_line.txt", "[UNK]\n[CLS]\n\n[SEP]\n", IPF_ERR_FORMAT, "line 3: empty");
    EXPECT_LOAD_ERROR("blank_end.txt", "[UNK]\n[CLS]\n[SEP]\n\n", IPF_ERR_FORMAT, "line 4: empty");
    EXPECT_LOAD_ERROR("dup.txt", "[UNK]\n[CLS]\nfoo\n[SEP]\nfoo\n", IPF_ERR_FORMAT, "line 5: duplicate token (first on line 3)");
    EXPECT_LOAD_ERROR("dup_strip.txt", "[UNK]\n[CLS]\n[SEP]\nfoo\n foo \n", IPF_ERR_FORMAT, "line 5: duplicate");
    EXPECT_LOAD_ERROR("no_unk.txt", "[CLS]\n[SEP]\n", IPF_ERR_FORMAT, "no [UNK]");
    EXPECT_LOAD_ERROR("no_sep.txt", "[UNK]\n[CLS]\n", IPF_ERR_FORMAT, "no [SEP]");
    EXPECT_LOAD_ERROR("bad_utf8.txt", "[UNK]\n[CLS]\n[SEP]\nca\xc3\n", IPF_ERR_FORMAT, "line 4: not valid UTF-8");
    EXPECT_LOAD_ERROR("surrogate.txt", "[UNK]\n\xed\xa0\x80\n", IPF_ERR_FORMAT, "line 2: not valid UTF-8");
    EXPECT_LOAD_ERROR("lone_cr.txt", "[UNK]\n[CLS]\n[SEP]\na\rb\n", IPF_ERR_FORMAT, "line 4: carriage return");
    EXPECT_LOAD_ERROR("empty.txt", "", IPF_ERR_FORMAT, "empty vocabulary");
    tokenizer *t;
    ipf_err e;
    CHECK_EQ_INT(tokenizer_load_vocab("/nonexistent/vocab.txt", 1, &t, &e), IPF_ERR_IO);
    CHECK(strstr(e.msg, "/nonexistent/vocab.txt") != NULL);

    /* CRLF and a missing final newline are accepted (load_vocab strips). */
    const char *p = WRITE_TMP("crlf.txt", "[UNK]\r\n[CLS]\r\n[SEP]\r\nx");
    REQUIRE(p);
    ipf_status st = tokenizer_load_vocab(p, 1, &t, &e);
    unlink(p);
    CHECK_OK(st, e.msg);
    if (!st) {
        CHECK_EQ_INT(tokenizer_vocab_size(t), 4);
        int32_t ids[8];
        size_t n;
        CHECK_OK(tokenizer_encode(t, "x y", 3, 8, ids, 8, &n, &e), e.msg);
        CHECK_EQ_INT(n, 4);
        CHECK(ids[0] == 1 && ids[1] == 3 && ids[2] == 0 && ids[3] == 2);
        tokenizer_free(t);
    }
}

TEST(tokenizer_wordpiece_rules) {
    const char *p = write_tmp("tiny.txt", TINY, sizeof TINY - 1);
    REQUIRE(p);
    tokenizer *t;
    ipf_err e;
    ipf_status st = tokenizer_load_vocab(p, 1, &t, &e);
    unlink(p);
    CHECK_OK(st, e.msg);
    if (st) return;
    int32_t ids[256];
    size_t n;
    /* greedy longest match with ## continuation; case folded; punctuation split */
    const char *s = "UnAffable, HELLOs!";
    CHECK_OK(tokenizer_encode(t, s, strlen(s), 128, ids, 256, &n, &e), e.msg);
    int32_t want1[] = {2, 4, 5, 6, 10, 12, 13, 11, 3};
    CHECK(same_ids(ids, n, want1, 9));
    /* one uncoverable piece makes the whole word a single [UNK] */
    CHECK_OK(tokenizer_encode(t, "unaffablex a", 12, 128, ids, 256, &n, &e), e.msg);
    int32_t want2[] = {2, 1, 7, 3};
    CHECK(same_ids(ids, n, want2, 4));
    /* 100 characters is a word, 101 is [UNK] even when coverable */
    char w[256];
    memset(w, 'a', sizeof w);
    CHECK_OK(tokenizer_encode(t, w, 100, 128, ids, 256, &n, &e), e.msg);
    CHECK_EQ_INT(n, 2 + 1); /* "a" then no "##a": [UNK] */
    CHECK_EQ_INT(ids[1], 1);
    /* truncation keeps [CLS] + the first max_len-2 pieces + [SEP] */
    const char *many = "a b c a b c a b c";
    CHECK_OK(tokenizer_encode(t, many, strlen(many), 5, ids, 256, &n, &e), e.msg);
    int32_t want3[] = {2, 7, 8, 9, 3};
    CHECK(same_ids(ids, n, want3, 5));
    CHECK_OK(tokenizer_encode(t, many, strlen(many), 2, ids, 256, &n, &e), e.msg);
    CHECK(n == 2 && ids[0] == 2 && ids[1] == 3);
    CHECK_EQ_INT(tokenizer_encode(t, many, strlen(many), 1, ids, 256, &n, &e), IPF_ERR_INVALID_ARGUMENT);
    /* too small a buffer reports the size */
    CHECK_EQ_INT(tokenizer_encode(t, many, strlen(many), 128, ids, 4, &n, &e), IPF_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ_INT(n, 11);
    /* empty and all-ignorable captions give [CLS] [SEP] */
    CHECK_OK(tokenizer_encode(t, NULL, 0, 128, ids, 256, &n, &e), e.msg);
    CHECK_EQ_INT(n, 2);
    CHECK_OK(tokenizer_encode(t, "\x00\xff \xe2\x80\x8b", 6, 128, ids, 256, &n, &e), e.msg);
    CHECK_EQ_INT(n, 2);
    tokenizer_free(t);
}

TEST(tokenizer_utf8_ignore) {
    /* bytes.decode('utf-8', 'ignore') */
    uint32_t cps[32];
    static const char in1[] = "a\xe2\x82" "b\xed\xa0\x80" "c\xf4\x90\x80\x80" "d\xe2\x82\xac";
    size_t n = utf8_decode_ignore(in1, sizeof in1 - 1, cps);
    uint32_t want[] = {'a', 'b', 'c', 'd', 0x20AC};
    CHECK_EQ_INT(n, 5);
    CHECK(n == 5 && !memcmp(cps, want, sizeof want));
    n = utf8_decode_ignore("\xc0\xaf\xe0\x80\xaf\xf0\x8f\xbf\xbf\xf8\x88\x80\x80\x80", 14, cps);
    CHECK_EQ_INT(n, 0);
    n = utf8_decode_ignore("\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 8, cps);
    CHECK(n == 2 && cps[0] == 0x1F600 && cps[1] == 0x10FFFF);
    /* Unicode 15.0 additions are unassigned for Python 3.11 */
    char cat[3];
    py_category(0x1FAE8, cat);
    CHECK_STR_EQ(cat, "Cn");
    py_category(0x11F00, cat);
    CHECK_STR_EQ(cat, "Cn");
    py_category(0x0301, cat);
    CHECK_STR_EQ(cat, "Mn");
    CHECK(py_isspace(0x2028) && py_isspace(0x1C) && !py_isspace(0x200B));
}

TEST(tokenizer_public_api) {
    const char *p = write_tmp("tiny_api.txt", TINY, sizeof TINY - 1);
    REQUIRE(p);
    ipf_model *m;
    CHECK_EQ_INT(ipf_model_load_vocab("/nonexistent/v.txt", 1, &m), IPF_ERR_IO);
    CHECK(m == NULL && strstr(ipf_last_error(), "/nonexistent/v.txt"));
    CHECK_EQ_INT(ipf_model_load_spm("/nonexistent/x.model", &m), IPF_ERR_FORMAT);
    ipf_status st = ipf_model_load_vocab(p, 1, &m);
    unlink(p);
    CHECK_OK(st, ipf_last_error());
    if (st) return;
    ipf_session *s;
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    const char *text = "a b c a b c a b c";
    size_t n = 99;
    CHECK_EQ_INT(ipf_session_tokenize(s, text, strlen(text), NULL, 0, &n), IPF_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ_INT(n, 11);
    int32_t ids[16];
    CHECK_OK(ipf_session_tokenize(s, text, strlen(text), ids, 16, &n), ipf_session_error(s));
    CHECK(n == 11 && ids[0] == 2 && ids[10] == 3);
    CHECK_OK(ipf_session_set_option(s, IPF_OPT_MAX_TOKENS, 4), ipf_session_error(s));
    CHECK_OK(ipf_session_tokenize(s, text, strlen(text), ids, 16, &n), ipf_session_error(s));
    CHECK(n == 4 && ids[0] == 2 && ids[1] == 7 && ids[2] == 8 && ids[3] == 3);
    CHECK_EQ_INT(ipf_session_tokenize(s, text, strlen(text), ids, 16, NULL), IPF_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(ipf_session_tokenize(s, NULL, 3, ids, 16, &n), IPF_ERR_INVALID_ARGUMENT);
    ipf_session_free(s);
    ipf_model_free(m);
    /* a model without a tokenizer */
    REQUIRE(ipf_model_alloc(&m) == IPF_OK);
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    CHECK_EQ_INT(ipf_session_tokenize(s, text, strlen(text), ids, 16, &n), IPF_ERR_NOT_FOUND);
    CHECK(strstr(ipf_session_error(s), "no tokenizer") != NULL);
    ipf_session_free(s);
    ipf_model_free(m);
}

/* ---- threads ------------------------------------------------------------- */

typedef struct thread_arg {
    const tokenizer *t;
    const tcase *cases;
    size_t n;
    int bad;
} thread_arg;

static void *tokenize_all(void *p) {
    thread_arg *a = p;
    ipf_err e;
    for (int rep = 0; rep < 3; rep++)
        for (size_t i = 0; i < a->n; i++) {
            int32_t got[128];
            size_t n;
            if (tokenizer_encode(a->t, a->cases[i].text, a->cases[i].len, 128, got, 128, &n, &e) ||
                !same_ids(got, n, a->cases[i].want[0], a->cases[i].n_want[0]))
                a->bad++;
        }
    return NULL;
}

TEST(tokenizer_threads) {
    const char *path = test_shared_path(VOCAB_FILE[0]);
    if (!path) SKIP("%s absent", VOCAB_FILE[0]);
    size_t nc;
    tcase *cases = load_cases(&nc);
    if (!cases) return;
    tokenizer *t;
    ipf_err e;
    ipf_status st = tokenizer_load_vocab(path, 1, &t, &e);
    CHECK_OK(st, e.msg);
    if (!st) {
        enum { NT = 4 };
        pthread_t th[NT];
        thread_arg a[NT];
        for (int i = 0; i < NT; i++) {
            a[i] = (thread_arg){t, cases, nc, 0};
            REQUIRE(pthread_create(&th[i], NULL, tokenize_all, &a[i]) == 0);
        }
        for (int i = 0; i < NT; i++) {
            pthread_join(th[i], NULL);
            CHECK_EQ_INT(a[i].bad, 0);
        }
        tokenizer_free(t);
    }
    free_cases(cases, nc);
}
