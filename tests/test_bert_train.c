/* test_bert_train.c — top-k BERT fine-tuning (lib/bert_train.c) against
 * PyTorch autograd in float64 (tests/gen/bert.py, small config, ragged
 * batch): the train forward equals the golden [CLS], and every trained
 * parameter's gradient of sum(cls * R) matches. */
#include "bert.h"
#include "safetensors.h"
#include "test.h"

#include <unistd.h>

/* 1 if some element differs by more than tol. */
static int max_diff_over(const float *a, const float *b, size_t n, double tol) {
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > tol) return 1;
    return 0;
}

static void train_check(int k) {
    char dir[4096], gpath[4096];
    REQUIRE(test_golden_path("bert/bert_small"));
    snprintf(dir, sizeof dir, "%s", test_golden_path("bert/bert_small"));
    const char *gp = test_golden_path(k == 1 ? "bert/small_grads_k1.safetensors" : "bert/small_grads_k2.safetensors");
    REQUIRE(gp);
    snprintf(gpath, sizeof gpath, "%s", gp);
    ipf_model *m;
    REQUIRE(ipf_model_load_bert(dir, &m) == IPF_OK);
    ipf_session *s;
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    const bert *b = m->part[IPF_PART_BERT];
    const int D = bert_get_config(b)->hidden;

    int nd;
    int64_t sh[8];
    char dt;
    int64_t *lens64 = test_load_npy(test_golden_path("bert/small_batch_lens.npy"), &nd, sh, &dt);
    int n = (int)sh[0];
    int64_t *ids64 = test_load_npy(test_golden_path("bert/small_batch_ids.npy"), &nd, sh, &dt);
    double *R64 = test_load_npy(test_golden_path("bert/small_train_R.npy"), &nd, sh, &dt);
    double *cls64 = test_load_npy(test_golden_path(k == 1 ? "bert/small_train_cls_k1.npy" : "bert/small_train_cls_k2.npy"),
                                  &nd, sh, &dt);
    REQUIRE(lens64 && ids64 && R64 && cls64);
    int lens[16], total = 0;
    int32_t ids[1024];
    const int32_t *ptr[16];
    for (int i = 0; i < n; i++) {
        lens[i] = (int)lens64[i];
        ptr[i] = ids + total;
        total += lens[i];
    }
    for (int i = 0; i < total; i++) ids[i] = (int32_t)ids64[i];
    float *R = malloc(sizeof(float) * (size_t)n * D), *want = malloc(sizeof(float) * (size_t)n * D);
    for (int i = 0; i < n * D; i++) R[i] = (float)R64[i], want[i] = (float)cls64[i];

    bert_train *t;
    CHECK_OK(bert_train_create(b, k, &t, &s->err), s->err.msg);
    float *hidden = malloc(sizeof(float) * (size_t)total * D), *cls = malloc(sizeof(float) * (size_t)n * D);
    CHECK_OK(bert_forward_hidden(b, s, ptr, lens, n, bert_train_first_layer(t), hidden), s->err.msg);
    for (int rep = 0; rep < 2; rep++) { /* twice: gradients accumulate, then zero_grad resets */
        if (rep) bert_train_zero_grad(t);
        CHECK_OK(bert_train_forward(t, &s->kctx, hidden, lens, n, cls, &s->err), s->err.msg);
        /* same tolerance as the inference goldens (test_bert.c) */
        CHECK_CLOSE(cls, want, (size_t)n * D, 5e-5, 1e-4);
        CHECK_OK(bert_train_backward(t, &s->kctx, R, &s->err), s->err.msg);
    }
    st_file *g;
    REQUIRE(st_open(gpath, &g, &s->err) == IPF_OK);
    CHECK_EQ_INT(bert_train_param_count(t), st_count(g));
    double worst = 0;
    for (size_t i = 0; i < bert_train_param_count(t); i++) {
        const bert_param *p = bert_train_param(t, i);
        const float *ref;
        int64_t shape[2] = {p->shape[0], p->shape[1]};
        if (st_get_f32(g, p->name, p->ndim, shape, &ref, &s->err)) {
            FAILF("%s", s->err.msg);
            continue;
        }
        size_t cnt = (size_t)p->shape[0] * (p->ndim == 2 ? (size_t)p->shape[1] : 1);
        double gmax = 0, dmax = 0;
        for (size_t j = 0; j < cnt; j++) {
            gmax = fmax(gmax, fabs(ref[j]));
            dmax = fmax(dmax, fabs((double)p->grad[j] - ref[j]));
        }
        /* float32 backward through <= 2 layers against float64 autograd:
         * errors scale with the tensor's largest gradient; measured below
         * 1e-5 of it, so 1e-4 * max|g| (+1e-6 for all-tiny tensors). */
        if (!CHECK_CLOSE(p->grad, ref, cnt, 1e-4 * gmax + 1e-6, 1e-4)) fprintf(stderr, "      in %s\n", p->name);
        if (gmax > 1e-6) worst = fmax(worst, dmax / gmax); /* key biases have zero gradient (softmax shift) */
    }
    fprintf(stderr, "    k=%d: %zu tensors, max |grad error| / max |grad| = %.3g\n", k, bert_train_param_count(t), worst);
    st_close(g);

    /* A step changes the weights; saved under their HF names and loaded into
     * a fresh model with bert_load_layers, inference then equals the train
     * forward on the new weights. */
    size_t np, ng;
    float *pp = bert_train_params(t, &np), *gg = bert_train_grads(t, &ng);
    for (size_t j = 0; j < np; j++) pp[j] -= 0.05f * gg[j];
    CHECK_OK(bert_train_forward(t, &s->kctx, hidden, lens, n, cls, &s->err), s->err.msg);
    size_t nt = bert_train_param_count(t);
    st_wtensor *wt = calloc(nt, sizeof *wt);
    for (size_t i = 0; i < nt; i++) {
        const bert_param *p = bert_train_param(t, i);
        wt[i].name = p->name;
        wt[i].ndim = p->ndim;
        wt[i].shape[0] = p->shape[0];
        wt[i].shape[1] = p->shape[1];
        wt[i].data = p->data;
    }
    char tuned[128];
    snprintf(tuned, sizeof tuned, "/tmp/ipf_test_bert_tuned_%d_k%d.safetensors", (int)getpid(), k);
    CHECK_OK(st_write(tuned, wt, nt, NULL, 0, &s->err), s->err.msg);
    free(wt);
    ipf_model *m2;
    REQUIRE(ipf_model_load_bert(dir, &m2) == IPF_OK);
    st_file *tf;
    REQUIRE(st_open(tuned, &tf, &s->err) == IPF_OK);
    int loaded = 0;
    CHECK_OK(bert_load_layers(m2->part[IPF_PART_BERT], tf, "", &loaded, &s->err), s->err.msg);
    CHECK_EQ_INT(loaded, (int)nt);
    st_close(tf);
    remove(tuned);
    ipf_session *s2;
    REQUIRE(ipf_session_create(m2, &s2) == IPF_OK);
    float *cls2 = malloc(sizeof(float) * (size_t)n * D);
    size_t nids[16];
    for (int i = 0; i < n; i++) nids[i] = (size_t)lens[i];
    CHECK_OK(ipf_session_encode_ids_batch(s2, ptr, nids, (size_t)n, cls2, (size_t)n * D), ipf_session_error(s2));
    CHECK_CLOSE(cls2, cls, (size_t)n * D, 1e-5, 1e-5);
    CHECK(max_diff_over(cls2, want, (size_t)n * D, 1e-3)); /* the step did change the output */
    free(cls2);
    ipf_session_free(s2);
    ipf_model_free(m2);
    free(hidden); free(cls); free(R); free(want);
    free(lens64); free(ids64); free(R64); free(cls64);
    bert_train_free(t);
    ipf_session_free(s);
    ipf_model_free(m);
}

TEST(bert_train_top1_grads) { train_check(1); }
TEST(bert_train_top2_grads) { train_check(2); }

TEST(bert_train_bad_args) {
    const char *dir = test_golden_path("bert/bert_small");
    REQUIRE(dir);
    ipf_model *m;
    REQUIRE(ipf_model_load_bert(dir, &m) == IPF_OK);
    ipf_err e;
    bert_train *t = (bert_train *)1;
    CHECK_EQ_INT(bert_train_create(m->part[IPF_PART_BERT], 0, &t, &e), IPF_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL);
    CHECK_EQ_INT(bert_train_create(m->part[IPF_PART_BERT], 3, &t, &e), IPF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(e.msg, "1..2") != NULL);
    REQUIRE(bert_train_create(m->part[IPF_PART_BERT], 1, &t, &e) == IPF_OK);
    ipf_kctx k;
    kctx_init(&k);
    float d[64] = {0};
    CHECK_EQ_INT(bert_train_backward(t, &k, d, &e), IPF_ERR_STATE);
    kctx_destroy(&k);
    bert_train_free(t);
    ipf_model_free(m);
}
