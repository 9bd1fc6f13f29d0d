/* bert_api.c — public text-encoder entry points (header section "text"):
 * loading a Hugging Face BERT directory and encoding id sequences or
 * captions into x_T, the last layer's [CLS] vector. */
#include "bert.h"
#include "tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Sequences are encoded in groups of at most this many packed tokens, so a
 * huge batch needs bounded memory (~40 KB per token at BERT-base). */
#define BERT_CHUNK_TOKENS 4096
/* Captions tokenized per group in ipf_session_encode_text_batch. */
#define TEXT_CHUNK 64

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* tokenizer_config.json's do_lower_case; 1 when absent. */
static ipf_status read_lower_case(const char *dir, int *lower, ipf_err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    *lower = 1;
    if (!file_exists(path)) return IPF_OK;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return ipf_fail(e, IPF_ERR_FORMAT, "%s: line %d: %s", path, je.line, je.text);
    json_t *v = json_is_object(root) ? json_object_get(root, "do_lower_case") : NULL;
    ipf_status st = IPF_OK;
    if (v && !json_is_boolean(v)) st = ipf_fail(e, IPF_ERR_FORMAT, "%s: field 'do_lower_case' must be true or false", path);
    else if (v) *lower = json_is_true(v);
    json_decref(root);
    return st;
}

IPF_API ipf_status ipf_model_load_bert(const char *bert_dir, ipf_model **out) {
    if (!out) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_load_bert: out is NULL");
    *out = NULL;
    if (!bert_dir) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_load_bert: bert_dir is NULL");
    ipf_err_clear(NULL);
    bert *b;
    ipf_status st = bert_load(bert_dir, &b, NULL);
    if (st) return st;
    ipf_model *m;
    if ((st = ipf_model_alloc(&m))) {
        bert_free(b);
        return st;
    }
    snprintf(m->path, sizeof m->path, "%s", bert_dir);
    ipf_model_set_part(m, IPF_PART_BERT, b, bert_free);
    char vocab[4096];
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", bert_dir);
    if (file_exists(vocab)) {
        int lower;
        tokenizer *t = NULL;
        if ((st = read_lower_case(bert_dir, &lower, NULL)) || (st = tokenizer_load_vocab(vocab, lower, &t, NULL))) {
            ipf_model_free(m);
            return st;
        }
        ipf_model_set_part(m, IPF_PART_TOKENIZER, t, tokenizer_free);
        if (tokenizer_vocab_size(t) > bert_get_config(b)->vocab_size) {
            st = ipf_fail(NULL, IPF_ERR_FORMAT, "%s: %d entries, more than the model's vocab_size %d", vocab,
                          (int)tokenizer_vocab_size(t), bert_get_config(b)->vocab_size);
            ipf_model_free(m);
            return st;
        }
    }
    *out = m;
    return IPF_OK;
}

/* The session's BERT, or a failure naming the call. */
static ipf_status session_bert(ipf_session *s, const char *fn, const bert **b) {
    if (!s) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "%s: session is NULL", fn);
    ipf_err_clear(&s->err);
    *b = s->model->part[IPF_PART_BERT];
    if (!*b) return ipf_fail(&s->err, IPF_ERR_NOT_FOUND, "%s: the model has no text encoder (BERT)", fn);
    return IPF_OK;
}

static ipf_status check_out(ipf_session *s, const char *fn, const float *cls, size_t cls_cap, size_t n, size_t D) {
    if (n && !cls) return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: cls is NULL", fn);
    if (cls_cap / D < n)
        return ipf_fail(&s->err, IPF_ERR_BUFFER_TOO_SMALL, "%s: cls_cap %zu is less than %zu (%zu x %zu floats)", fn,
                        cls_cap, n * D, n, D);
    return IPF_OK;
}

/* Encode n already-checked sequences in token-bounded chunks. */
static ipf_status encode_chunks(const bert *b, ipf_session *s, const int32_t *const *ids, const int *lens, size_t n,
                                float *cls) {
    const size_t D = (size_t)bert_get_config(b)->hidden;
    size_t i = 0;
    while (i < n) {
        size_t j = i, tokens = 0;
        do tokens += (size_t)lens[j++];
        while (j < n && tokens + (size_t)lens[j] <= BERT_CHUNK_TOKENS);
        ipf_status st = bert_forward_cls(b, s, ids + i, lens + i, (int)(j - i), cls + i * D);
        if (st) return st;
        i = j;
    }
    return IPF_OK;
}

static ipf_status encode_ids(ipf_session *session, const char *fn, const int32_t *const *ids, const size_t *n_ids,
                             size_t n, float *cls, size_t cls_cap) {
    const bert *b;
    ipf_status st = session_bert(session, fn, &b);
    if (st) return st;
    const bert_config *c = bert_get_config(b);
    if (n && (!ids || !n_ids)) return ipf_fail(&session->err, IPF_ERR_INVALID_ARGUMENT, "%s: ids or n_ids is NULL", fn);
    if (n > INT32_MAX) return ipf_fail(&session->err, IPF_ERR_LIMIT, "%s: n %zu is too large", fn, n);
    if ((st = check_out(session, fn, cls, cls_cap, n, (size_t)c->hidden))) return st;
    if (!n) return IPF_OK;
    int *lens = ipf_malloc_array(n, sizeof *lens);
    if (!lens) return ipf_fail(&session->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    for (size_t i = 0; i < n && !st; i++) {
        if (n_ids[i] < 1 || n_ids[i] > (size_t)c->max_position)
            st = ipf_fail(&session->err, n_ids[i] ? IPF_ERR_LIMIT : IPF_ERR_INVALID_ARGUMENT,
                          "%s: sequence %zu has %zu ids; must be 1..%d", fn, i, n_ids[i], c->max_position);
        else if (!ids[i])
            st = ipf_fail(&session->err, IPF_ERR_INVALID_ARGUMENT, "%s: ids[%zu] is NULL", fn, i);
        else
            lens[i] = (int)n_ids[i];
    }
    if (!st) st = bert_validate(b, &session->err, ids, lens, (int)n);
    if (!st) st = encode_chunks(b, session, ids, lens, n, cls);
    free(lens);
    return st;
}

IPF_API ipf_status ipf_session_encode_ids_batch(ipf_session *session, const int32_t *const *ids, const size_t *n_ids,
                                                size_t n, float *cls, size_t cls_cap) {
    return encode_ids(session, "ipf_session_encode_ids_batch", ids, n_ids, n, cls, cls_cap);
}

IPF_API ipf_status ipf_session_encode_ids(ipf_session *session, const int32_t *ids, size_t n_ids, float *cls,
                                          size_t cls_cap) {
    return encode_ids(session, "ipf_session_encode_ids", &ids, &n_ids, 1, cls, cls_cap);
}

static ipf_status encode_text(ipf_session *session, const char *fn, const char *const *texts, const size_t *lens,
                              size_t n, float *cls, size_t cls_cap) {
    const bert *b;
    ipf_status st = session_bert(session, fn, &b);
    if (st) return st;
    const tokenizer *t = session->model->part[IPF_PART_TOKENIZER];
    if (!t) return ipf_fail(&session->err, IPF_ERR_NOT_FOUND, "%s: the model has no tokenizer (vocab.txt)", fn);
    const bert_config *c = bert_get_config(b);
    const size_t D = (size_t)c->hidden;
    if (n && (!texts || !lens)) return ipf_fail(&session->err, IPF_ERR_INVALID_ARGUMENT, "%s: texts or lens is NULL", fn);
    if ((st = check_out(session, fn, cls, cls_cap, n, D))) return st;
    int max_len = (int)session->opt[IPF_OPT_MAX_TOKENS];
    if (max_len > c->max_position) max_len = c->max_position;
    size_t chunk = n < TEXT_CHUNK ? n : TEXT_CHUNK;
    int32_t *buf = ipf_malloc_array(chunk * (size_t)max_len, sizeof *buf);
    const int32_t **ptrs = ipf_malloc_array(chunk, sizeof *ptrs);
    int *nids = ipf_malloc_array(chunk, sizeof *nids);
    if (!buf || !ptrs || !nids) st = ipf_fail(&session->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    for (size_t i0 = 0; i0 < n && !st; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        for (size_t j = 0; j < m && !st; j++) {
            size_t i = i0 + j, got = 0;
            if (!texts[i] && lens[i]) {
                st = ipf_fail(&session->err, IPF_ERR_INVALID_ARGUMENT, "%s: texts[%zu] is NULL", fn, i);
                break;
            }
            ptrs[j] = buf + j * (size_t)max_len;
            st = tokenizer_encode(t, texts[i] ? texts[i] : "", lens[i], max_len, buf + j * (size_t)max_len,
                                  (size_t)max_len, &got, &session->err);
            if (st) {
                char msg[IPF_ERRMSG_CAP];
                snprintf(msg, sizeof msg, "%s", session->err.msg);
                ipf_fail(&session->err, st, "%s: caption %zu: %s", fn, i, msg);
            }
            nids[j] = (int)got;
        }
        if (!st) st = bert_validate(b, &session->err, (const int32_t *const *)ptrs, nids, (int)m);
        if (!st) st = encode_chunks(b, session, (const int32_t *const *)ptrs, nids, m, cls + i0 * D);
    }
    free(buf);
    free(ptrs);
    free(nids);
    return st;
}

IPF_API ipf_status ipf_session_encode_text_batch(ipf_session *session, const char *const *texts, const size_t *lens,
                                                 size_t n, float *cls, size_t cls_cap) {
    return encode_text(session, "ipf_session_encode_text_batch", texts, lens, n, cls, cls_cap);
}

IPF_API ipf_status ipf_session_encode_text(ipf_session *session, const char *text, size_t len, float *cls,
                                           size_t cls_cap) {
    return encode_text(session, "ipf_session_encode_text", &text, &len, 1, cls, cls_cap);
}
