/* ipf tokenize — captions to BERT ids (DESIGN.md §5).
 *   ipf tokenize (--vocab FILE [--cased] | --spm FILE) [--max-len 128]
 * stdin: JSON Lines {"id": ..., "text": "..."} or {"id": ..., "hex": "..."}
 * (raw caption bytes in hex, for bytes a JSON string cannot carry);
 * stdout: {"id": ..., "ids": [...]} per line, or {"id": ..., "error": "..."}
 * for a bad line; the exit status is 1 if any line failed.  Owner: tok. */
#include "ipf_tool.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_digit(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode hex into out (room for strlen(hex)/2 bytes); -1 if malformed. */
static long unhex(const char *hex, size_t len, char *out) {
    if (len % 2) return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (char)(hi << 4 | lo);
    }
    return (long)(len / 2);
}

static void emit(json_t *obj) {
    char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(obj);
}

static void emit_error(json_t *id, const char *msg) {
    json_t *o = json_object();
    json_object_set(o, "id", id ? id : json_null());
    json_object_set_new(o, "error", json_string(msg));
    emit(o);
}

/* One input line; returns 0 or 1 (an error line was written). */
static int tokenize_line(ipf_session *s, const char *line, int32_t *ids, size_t cap) {
    json_error_t jerr;
    json_t *in = json_loads(line, JSON_ALLOW_NUL, &jerr);
    char msg[512];
    if (!in || !json_is_object(in)) {
        snprintf(msg, sizeof msg, "not a JSON object: %s", in ? "wrong type" : jerr.text);
        json_decref(in);
        emit_error(NULL, msg);
        return 1;
    }
    json_t *id = json_object_get(in, "id");
    json_t *text = json_object_get(in, "text"), *hex = json_object_get(in, "hex");
    int bad = 1;
    char *buf = NULL;
    const char *data = NULL;
    size_t len = 0;
    if ((text != NULL) == (hex != NULL)) {
        emit_error(id, "need exactly one of \"text\" and \"hex\"");
    } else if (text && !json_is_string(text)) {
        emit_error(id, "\"text\" is not a string");
    } else if (hex && !json_is_string(hex)) {
        emit_error(id, "\"hex\" is not a string");
    } else if (text) {
        data = json_string_value(text);
        len = json_string_length(text);
    } else {
        size_t hl = json_string_length(hex);
        buf = malloc(hl / 2 + 1);
        long n = buf ? unhex(json_string_value(hex), hl, buf) : -1;
        if (n < 0) emit_error(id, "\"hex\" is not an even number of hex digits");
        else { data = buf; len = (size_t)n; }
    }
    if (data) {
        size_t n = 0;
        ipf_status st = ipf_session_tokenize(s, data, len, ids, cap, &n);
        if (st) {
            snprintf(msg, sizeof msg, "%s: %s", ipf_status_string(st), ipf_session_error(s));
            emit_error(id, msg);
        } else {
            json_t *o = json_object(), *a = json_array();
            json_object_set(o, "id", id ? id : json_null());
            for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer(ids[i]));
            json_object_set_new(o, "ids", a);
            emit(o);
            bad = 0;
        }
    }
    free(buf);
    json_decref(in);
    return bad;
}

static int usage(void) {
    fprintf(stderr, "usage: ipf tokenize (--vocab FILE [--cased] | --spm FILE) [--max-len N]\n"
                    "  stdin: {\"id\", \"text\"} or {\"id\", \"hex\"} per line; stdout: {\"id\", \"ids\"}\n");
    return 2;
}

int cmd_tokenize(int argc, char **argv) {
    const char *vocab = NULL, *spm = NULL;
    int cased = 0;
    long max_len = 128;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--vocab") && i + 1 < argc) vocab = argv[++i];
        else if (!strcmp(argv[i], "--spm") && i + 1 < argc) spm = argv[++i];
        else if (!strcmp(argv[i], "--cased")) cased = 1;
        else if (!strcmp(argv[i], "--max-len") && i + 1 < argc) {
            char *end;
            max_len = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i]) return usage();
        } else return usage();
    }
    if (!vocab == !spm || (spm && cased)) return usage();
    ipf_model *m;
    ipf_status st = vocab ? ipf_model_load_vocab(vocab, !cased, &m) : ipf_model_load_spm(spm, &m);
    if (st) {
        fprintf(stderr, "ipf tokenize: %s\n", ipf_last_error());
        return 1;
    }
    ipf_session *s;
    if ((st = ipf_session_create(m, &s))) {
        fprintf(stderr, "ipf tokenize: %s\n", ipf_last_error());
        ipf_model_free(m);
        return 1;
    }
    if ((st = ipf_session_set_option(s, IPF_OPT_MAX_TOKENS, max_len))) {
        fprintf(stderr, "ipf tokenize: --max-len: %s\n", ipf_session_error(s));
        ipf_session_free(s);
        ipf_model_free(m);
        return 2;
    }
    size_t cap = (size_t)max_len;
    int32_t *ids = malloc(cap * sizeof *ids);
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t n;
    long errors = 0, lineno = 0;
    while (ids && (n = getline(&line, &line_cap, stdin)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue; /* blank lines carry nothing */
        if (tokenize_line(s, line, ids, cap)) {
            errors++;
            fprintf(stderr, "ipf tokenize: line %ld failed\n", lineno);
        }
    }
    free(line);
    free(ids);
    ipf_session_free(s);
    ipf_model_free(m);
    fflush(stdout);
    if (errors) fprintf(stderr, "ipf tokenize: %ld line(s) failed\n", errors);
    return errors ? 1 : 0;
}
