/* test_spm.c — the SentencePiece tokenizer against python3-sentencepiece
 * (goldens from tests/gen/spm.py: EncodeAsIds / EncodeAsPieces on the
 * fixture captions, decoded with errors='ignore').  Our sequence is
 * <s> + ids[:max_len-2] + </s> (spm-test.model has bos 1, eos 2).  Exact. */
#include "spm_shim.h"
#include "test.h"
#include "tokenizer.h"
#include "wordpiece.h"

#include <jansson.h>
#include <pthread.h>

static int hexv(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

TEST(spm_reference_cases) {
    if (test_golden_path("spm/absent")) SKIP("../shared/data/spm-test.model absent when goldens were made");
    const char *gp = test_golden_path("spm/cases.jsonl");
    if (!gp) {
        FAILF("golden spm/cases.jsonl missing: run make gen");
        return;
    }
    char golden[4096];
    snprintf(golden, sizeof golden, "%s", gp);
    const char *mp = test_shared_path("data/spm-test.model");
    if (!mp) SKIP("data/spm-test.model absent");
    tokenizer *t;
    ipf_err e;
    ipf_status st = tokenizer_load_spm(mp, &t, &e);
    CHECK_OK(st, e.msg);
    if (st) return;
    /* Pieces are checked through a second processor handle of the shim. */
    spm_proc *sp;
    char msg[256];
    REQUIRE(spm_shim_load(mp, &sp, msg, sizeof msg) == 0);
    CHECK_EQ_INT(tokenizer_vocab_size(t), 4000);
    CHECK_EQ_INT(spm_shim_bos(sp), 1);
    CHECK_EQ_INT(spm_shim_eos(sp), 2);

    size_t len;
    char *buf = test_read_file(golden, &len);
    REQUIRE(buf);
    size_t ncase = 0, ok = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *j = json_loads(line, JSON_ALLOW_NUL, &jerr);
        if (!j) {
            FAILF("spm/cases.jsonl: %s", jerr.text);
            continue;
        }
        ncase++;
        const char *name = json_string_value(json_object_get(j, "name"));
        const char *hex = json_string_value(json_object_get(j, "hex"));
        size_t tl = strlen(hex) / 2;
        char *text = malloc(tl + 1);
        for (size_t i = 0; i < tl; i++) text[i] = (char)(hexv(hex[2 * i]) << 4 | hexv(hex[2 * i + 1]));
        json_t *ids = json_object_get(j, "ids"), *pieces = json_object_get(j, "pieces");
        size_t nw = json_array_size(ids);
        int good = json_array_size(pieces) == nw;
        /* the wrapped, truncated sequence */
        int32_t got[128];
        size_t n;
        st = tokenizer_encode(t, text, tl, 128, got, 128, &n, &e);
        CHECK_OK(st, e.msg);
        size_t keep = nw < 126 ? nw : 126;
        if (!st && !(n == keep + 2)) FAILF("spm case %s: %zu ids, want %zu", name, n, keep + 2);
        good = good && !st && n == keep + 2 && got[0] == 1 && got[n - 1] == 2;
        for (size_t i = 0; good && i < keep; i++)
            good = got[1 + i] == (int32_t)json_integer_value(json_array_get(ids, i));
        /* every piece string, over the untruncated encoding of the text
         * decoded with errors='ignore' (what tokenizer_encode passes on) */
        uint32_t *cps = malloc((tl + 1) * sizeof *cps);
        char *clean = malloc(4 * tl + 1);
        size_t ncp = utf8_decode_ignore(text, tl, cps), cl = 0;
        for (size_t i = 0; i < ncp; i++) cl += utf8_put(cps[i], clean + cl);
        size_t np = 0, lens[2048], off = 0;
        static char pbuf[1 << 16];
        if (spm_shim_encode_pieces(sp, clean, cl, pbuf, sizeof pbuf, lens, 2048, &np, msg, sizeof msg)) {
            FAILF("spm case %s: %s", name, msg);
            good = 0;
        }
        good = good && np == nw;
        for (size_t i = 0; good && i < nw; i++) {
            json_t *wp = json_array_get(pieces, i);
            good = lens[i] == json_string_length(wp) && !memcmp(pbuf + off, json_string_value(wp), lens[i]);
            if (!good) FAILF("spm case %s: piece %zu differs (want \"%s\")", name, i, json_string_value(wp));
            off += lens[i];
        }
        free(cps);
        free(clean);
        if (good) ok++;
        else FAILF("spm case %s differs from python3-sentencepiece", name);
        free(text);
        json_decref(j);
    }
    free(buf);
    fprintf(stderr, "    spm: %zu/%zu cases match python3-sentencepiece\n", ok, ncase);
    CHECK(ncase >= 64);
    spm_shim_free(sp);
    tokenizer_free(t);
}

TEST(spm_public_api) {
    const char *mp = test_shared_path("data/spm-test.model");
    if (!mp) SKIP("data/spm-test.model absent");
    ipf_model *m;
    ipf_status st = ipf_model_load_spm(mp, &m);
    CHECK_OK(st, ipf_last_error());
    if (st) return;
    ipf_session *s;
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    size_t n;
    CHECK_EQ_INT(ipf_session_tokenize(s, "", 0, NULL, 0, &n), IPF_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ_INT(n, 2); /* <s> </s> */
    CHECK_OK(ipf_session_set_option(s, IPF_OPT_MAX_TOKENS, 3), ipf_session_error(s));
    int32_t ids[8];
    const char *txt = "light is refracted through the prism";
    CHECK_OK(ipf_session_tokenize(s, txt, strlen(txt), ids, 8, &n), ipf_session_error(s));
    CHECK(n == 3 && ids[0] == 1 && ids[2] == 2);
    ipf_session_free(s);
    ipf_model_free(m);
    /* a file that is not a model */
    CHECK_EQ_INT(ipf_model_load_spm("tests/fixtures/tokenizer_cases.jsonl", &m), IPF_ERR_FORMAT);
    CHECK(m == NULL);
}

/* One SentencePiece tokenizer shared by four threads (Encode is const). */
typedef struct spm_thread_arg {
    const tokenizer *t;
    int bad;
} spm_thread_arg;

static const char *SPM_TEXTS[] = {"light is refracted through the prism", "Привет мир", "今天很好",
                                  "colours of thin plates", ""};

static void *spm_worker(void *p) {
    spm_thread_arg *a = p;
    int32_t first[5][128];
    size_t nfirst[5];
    ipf_err e;
    for (int rep = 0; rep < 200; rep++)
        for (int i = 0; i < 5; i++) {
            int32_t ids[128];
            size_t n;
            if (tokenizer_encode(a->t, SPM_TEXTS[i], strlen(SPM_TEXTS[i]), 128, ids, 128, &n, &e)) {
                a->bad++;
                continue;
            }
            if (rep == 0) {
                memcpy(first[i], ids, n * sizeof *ids);
                nfirst[i] = n;
            } else if (n != nfirst[i] || memcmp(ids, first[i], n * sizeof *ids)) {
                a->bad++;
            }
        }
    return NULL;
}

TEST(spm_threads) {
    const char *mp = test_shared_path("data/spm-test.model");
    if (!mp) SKIP("data/spm-test.model absent");
    tokenizer *t;
    ipf_err e;
    ipf_status st = tokenizer_load_spm(mp, &t, &e);
    CHECK_OK(st, e.msg);
    if (st) return;
    pthread_t th[4];
    spm_thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (spm_thread_arg){t, 0};
        REQUIRE(pthread_create(&th[i], NULL, spm_worker, &a[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(a[i].bad, 0);
    }
    tokenizer_free(t);
}
