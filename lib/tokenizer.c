/* tokenizer.c — one tokenizer API over WordPiece (lib/wordpiece.c) and
 * SentencePiece (lib/spm_shim.cc), and the public text-tokenizing calls.
 *
 * Both kinds take any bytes: invalid UTF-8 is dropped first, as Python's
 * bytes.decode('utf-8', errors='ignore').  Output is always
 *   WordPiece:     [CLS] pieces... [SEP]
 *   SentencePiece: <s> pieces... </s>   (<s>/</s> = the model's bos_id/eos_id,
 *                  each left out when the model disables it, i.e. id -1)
 * with the pieces cut to max_len minus the specials.  Read-only after load,
 * so one tokenizer may serve many threads.  Owner: tok. */
#include "tokenizer.h"

#include "spm_shim.h"
#include "wordpiece.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tokenizer {
    wordpiece *wp;  /* exactly one of wp, spm */
    spm_proc *spm;
    int32_t bos, eos; /* SentencePiece wrapping ids, -1 when absent */
};

ipf_status tokenizer_load_vocab(const char *vocab_path, int lower_case, tokenizer **out, ipf_err *e) {
    *out = NULL;
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", vocab_path);
    ipf_status st = wordpiece_load(vocab_path, lower_case, &t->wp, e);
    if (st) {
        free(t);
        return st;
    }
    t->bos = wordpiece_cls(t->wp);
    t->eos = wordpiece_sep(t->wp);
    *out = t;
    return IPF_OK;
}

ipf_status tokenizer_load_spm(const char *model_path, tokenizer **out, ipf_err *e) {
    *out = NULL;
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", model_path);
    char msg[512] = "";
    ipf_status st;
    if (spm_shim_load(model_path, &t->spm, msg, sizeof msg)) {
        free(t);
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: cannot load SentencePiece model: %s", model_path, msg);
    }
    int32_t n = spm_shim_size(t->spm);
    t->bos = spm_shim_bos(t->spm);
    t->eos = spm_shim_eos(t->spm);
    if (n <= 0 || t->bos >= n || t->eos >= n) {
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s: SentencePiece model has %d pieces, bos %d, eos %d", model_path, n,
                      t->bos, t->eos);
        tokenizer_free(t);
        return st;
    }
    if (t->bos < 0) t->bos = -1;
    if (t->eos < 0) t->eos = -1;
    *out = t;
    return IPF_OK;
}

void tokenizer_free(void *p) {
    tokenizer *t = p;
    if (!t) return;
    wordpiece_free(t->wp);
    spm_shim_free(t->spm);
    free(t);
}

int32_t tokenizer_vocab_size(const tokenizer *t) {
    return t->wp ? wordpiece_vocab_size(t->wp) : spm_shim_size(t->spm);
}

ipf_status tokenizer_encode(const tokenizer *t, const char *text, size_t len, int max_len, int32_t *ids, size_t cap,
                            size_t *n_ids, ipf_err *e) {
    if (n_ids) *n_ids = 0;
    if (!t || !n_ids || (!text && len) || (!ids && cap))
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "tokenize: NULL argument");
    int n_special = (t->bos >= 0) + (t->eos >= 0);
    if (max_len < 2 || max_len < n_special)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "tokenize: max length %d is below 2", max_len);
    size_t room = (size_t)(max_len - n_special);
    uint32_t *cps = ipf_malloc_array(len + 1, sizeof *cps);
    int32_t *body = ipf_malloc_array(room + 1, sizeof *body);
    char *u8 = NULL;
    ipf_status st = IPF_OK;
    if (!cps || !body) {
        st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "tokenize: out of memory for %zu bytes", len);
        goto done;
    }
    size_t ncp = len ? utf8_decode_ignore(text, len, cps) : 0, nb = 0;
    if (t->wp) {
        st = wordpiece_encode(t->wp, cps, ncp, body, room, &nb, e);
        if (st) goto done;
    } else {
        /* SentencePiece gets the same cleaned text Python would pass. */
        u8 = malloc(4 * ncp + 1);
        if (!u8) {
            st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "tokenize: out of memory for %zu bytes", len);
            goto done;
        }
        size_t ul = 0;
        for (size_t i = 0; i < ncp; i++) ul += utf8_put(cps[i], u8 + ul);
        char msg[512] = "";
        if (spm_shim_encode(t->spm, u8, ul, body, room, &nb, msg, sizeof msg)) {
            st = ipf_fail(e, IPF_ERR_TEXT, "tokenize: SentencePiece: %s", msg);
            goto done;
        }
        if (nb > room) nb = room;
    }
    size_t total = nb + (size_t)n_special;
    *n_ids = total;
    if (cap < total) {
        st = ipf_fail(e, IPF_ERR_BUFFER_TOO_SMALL, "tokenize: %zu ids do not fit in a buffer of %zu", total, cap);
        goto done;
    }
    size_t k = 0;
    if (t->bos >= 0) ids[k++] = t->bos;
    memcpy(ids + k, body, nb * sizeof *ids);
    k += nb;
    if (t->eos >= 0) ids[k++] = t->eos;
done:
    free(cps);
    free(body);
    free(u8);
    return st;
}

/* ---- public API (text section) ------------------------------------------ */

static ipf_status model_with_tokenizer(tokenizer *t, const char *path, ipf_model **out) {
    ipf_model *m;
    ipf_status st = ipf_model_alloc(&m);
    if (st) {
        tokenizer_free(t);
        return st;
    }
    ipf_model_set_part(m, IPF_PART_TOKENIZER, t, tokenizer_free);
    snprintf(m->path, sizeof m->path, "%s", path);
    *out = m;
    return IPF_OK;
}

IPF_API ipf_status ipf_model_load_vocab(const char *vocab_path, int32_t lower_case, ipf_model **out) {
    if (!out) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_load_vocab: out is NULL");
    *out = NULL;
    if (!vocab_path) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_load_vocab: path is NULL");
    tokenizer *t;
    ipf_status st = tokenizer_load_vocab(vocab_path, lower_case != 0, &t, NULL);
    return st ? st : model_with_tokenizer(t, vocab_path, out);
}

IPF_API ipf_status ipf_model_load_spm(const char *spm_model_path, ipf_model **out) {
    if (!out) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_load_spm: out is NULL");
    *out = NULL;
    if (!spm_model_path) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_load_spm: path is NULL");
    tokenizer *t;
    ipf_status st = tokenizer_load_spm(spm_model_path, &t, NULL);
    return st ? st : model_with_tokenizer(t, spm_model_path, out);
}

IPF_API ipf_status ipf_session_tokenize(ipf_session *session, const char *text, size_t len, int32_t *ids, size_t cap,
                                        size_t *n_ids) {
    if (!session) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_session_tokenize: session is NULL");
    if (!n_ids) return ipf_fail(&session->err, IPF_ERR_INVALID_ARGUMENT, "ipf_session_tokenize: n_ids is NULL");
    *n_ids = 0;
    const tokenizer *t = session->model->part[IPF_PART_TOKENIZER];
    if (!t) return ipf_fail(&session->err, IPF_ERR_NOT_FOUND, "ipf_session_tokenize: the model %s has no tokenizer",
                            session->model->path);
    int64_t max_len = session->opt[IPF_OPT_MAX_TOKENS];
    return tokenizer_encode(t, text, len, max_len > 1 << 20 ? 1 << 20 : (int)max_len, ids, cap, n_ids,
                            &session->err);
}
