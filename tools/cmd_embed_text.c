/* cmd_embed_text.c — `ipf embed-text --bert DIR`: JSON Lines in on stdin,
 * each {"id", "text"} or {"id", "ids": [...]}; out one line each,
 * {"id", "cls": [hidden floats]} or {"id", "error"}.  A bad line does not
 * stop the rest; the exit status is 1 if any line failed. */
#include "ipf_tool.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage_embed_text(void) {
    fprintf(stderr, "usage: ipf embed-text --bert DIR [--threads N] [--max-len N] < lines.jsonl\n"
                    "  input lines:  {\"id\": ..., \"text\": \"...\"} or {\"id\": ..., \"ids\": [101, ..., 102]}\n"
                    "  output lines: {\"id\": ..., \"cls\": [floats]} or {\"id\": ..., \"error\": \"...\"}\n");
}

/* Write {"id": <id>, "error": msg} and note it on stderr. */
static void line_error(json_t *id, long lineno, const char *msg) {
    json_t *o = json_object();
    json_object_set(o, "id", id ? id : json_null());
    json_object_set_new(o, "error", json_string(msg));
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) printf("%s\n", s);
    free(s);
    json_decref(o);
    fprintf(stderr, "ipf embed-text: line %ld: %s\n", lineno, msg);
}

/* Encode one parsed line into cls; 0 or an error message in err. */
static int encode_line(ipf_session *s, json_t *o, int64_t vocab_max, float *cls, size_t dim, int32_t **idbuf,
                       size_t *idcap, char *err, size_t errcap) {
    json_t *text = json_object_get(o, "text"), *ids = json_object_get(o, "ids");
    if (text && ids) {
        snprintf(err, errcap, "give either \"text\" or \"ids\", not both");
        return -1;
    }
    ipf_status st;
    if (text) {
        if (!json_is_string(text)) {
            snprintf(err, errcap, "\"text\" must be a string");
            return -1;
        }
        st = ipf_session_encode_text(s, json_string_value(text), json_string_length(text), cls, dim);
    } else if (ids) {
        if (!json_is_array(ids)) {
            snprintf(err, errcap, "\"ids\" must be an array of integers");
            return -1;
        }
        size_t n = json_array_size(ids);
        if (n > *idcap) {
            int32_t *p = realloc(*idbuf, (n ? n : 1) * sizeof *p);
            if (!p) {
                snprintf(err, errcap, "out of memory");
                return -1;
            }
            *idbuf = p;
            *idcap = n;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array_get(ids, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > vocab_max) {
                snprintf(err, errcap, "\"ids\"[%zu] is not an integer in [0, %lld]", i, (long long)vocab_max);
                return -1;
            }
            (*idbuf)[i] = (int32_t)json_integer_value(v);
        }
        st = ipf_session_encode_ids(s, *idbuf, n, cls, dim);
    } else {
        snprintf(err, errcap, "the line has neither \"text\" nor \"ids\"");
        return -1;
    }
    if (st) {
        snprintf(err, errcap, "%s", ipf_session_error(s));
        return -1;
    }
    return 0;
}

int cmd_embed_text(int argc, char **argv) {
    const char *dir = NULL;
    long threads = 0, max_len = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bert") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) { long long x_; if (tool_int_arg("embed-text", "--threads", argv[++i], 1, 256, &x_)) return 2; threads = (long)x_; }
        else if (!strcmp(argv[i], "--max-len") && i + 1 < argc) { long long x_; if (tool_int_arg("embed-text", "--max-len", argv[++i], 2, 512, &x_)) return 2; max_len = (long)x_; }
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage_embed_text();
            return 0;
        } else {
            fprintf(stderr, "ipf embed-text: unknown or incomplete option '%s'\n", argv[i]);
            usage_embed_text();
            return 2;
        }
    }
    if (!dir) {
        usage_embed_text();
        return 2;
    }
    ipf_model *m = NULL;
    ipf_session *s = NULL;
    if (ipf_model_load_bert(dir, &m) || ipf_session_create(m, &s)) {
        fprintf(stderr, "ipf embed-text: %s\n", ipf_last_error());
        ipf_model_free(m);
        return 1;
    }
    if ((threads && ipf_session_set_option(s, IPF_OPT_THREADS, threads)) ||
        (max_len && ipf_session_set_option(s, IPF_OPT_MAX_TOKENS, max_len))) {
        fprintf(stderr, "ipf embed-text: %s\n", ipf_session_error(s));
        ipf_session_free(s);
        ipf_model_free(m);
        return 2;
    }
    int64_t dim = 0, vocab = 0;
    if (ipf_model_dim(m, IPF_DIM_TEXT, &dim) || dim <= 0) {
        fprintf(stderr, "ipf embed-text: %s\n", ipf_last_error());
        ipf_session_free(s);
        ipf_model_free(m);
        return 1;
    }
    /* ids are checked against the BERT vocabulary by the library; here only the int32 range */
    vocab = INT32_MAX;
    float *cls = malloc((size_t)dim * sizeof *cls);
    int32_t *idbuf = NULL;
    size_t idcap = 0, cap = 0;
    char *line = NULL, err[1200];
    long lineno = 0, failed = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len) continue; /* blank line */
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)len, 0, &je);
        json_t *id = json_is_object(o) ? json_object_get(o, "id") : NULL;
        int bad;
        if (!o || !json_is_object(o)) {
            snprintf(err, sizeof err, "not a JSON object: %s", o ? "wrong type" : je.text);
            bad = 1;
        } else {
            bad = encode_line(s, o, vocab - 1, cls, (size_t)dim, &idbuf, &idcap, err, sizeof err) != 0;
        }
        if (bad) {
            line_error(id, lineno, err);
            failed++;
        } else {
            char *ids = json_dumps(id ? id : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
            printf("{\"id\":%s,\"cls\":[", ids ? ids : "null");
            free(ids);
            for (int64_t j = 0; j < dim; j++) printf(j ? ",%.9g" : "%.9g", cls[j]);
            printf("]}\n");
        }
        json_decref(o);
    }
    free(line);
    free(idbuf);
    free(cls);
    ipf_session_free(s);
    ipf_model_free(m);
    if (failed) fprintf(stderr, "ipf embed-text: %ld of %ld lines failed\n", failed, lineno);
    return failed ? 1 : 0;
}
