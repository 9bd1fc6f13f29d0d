/* prof_train.c — the profiler heads (DESIGN.md §1) for training: forward with
 * saved activations, loss, and backward to every PT_* tensor of the flat
 * block plus d(loss)/d(pool) and d(loss)/d(x_T) so encoder fine-tuning can
 * chain.  Mirrors, per influencer with P posts:
 *   x_I = relu(img_proj(pool))                    (P,I)
 *   v   = relu(post_proj([x_I ; x_T]))            (P,D)
 *   vd  = dropout(v)                              (P,D)  torch.nn.Dropout(p)
 *   post logits = post_head.2(relu(post_head.0(vd)))        (P,C_p)
 *   r = tanh(attention.proj(vd)), alpha = softmax(r . r_c)  (P)   [or 1/P: mean pooling]
 *   h = sum_i alpha_i vd_i, hd = dropout(h)       (D)
 *   inf logits = inf_head.2(relu(inf_head.0(hd))) (C_i)
 *   loss = CE(inf) + lambda * mean over labelled posts CE(post)
 * Dropout multipliers are kept (0 or 1/(1-p)) so backward reuses them. */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void prof_acts_free(prof_acts *a) {
    free(a->xi);
    memset(a, 0, sizeof *a);
}

static int imax(int a, int b) { return a > b ? a : b; }

/* One arena for all activations of up to n posts; a->xi is its base. */
static ipf_status acts_reserve(prof_acts *a, const prof_config *c, int n, ipf_err *e) {
    if ((size_t)n <= a->cap_n && a->xi) return IPF_OK;
    size_t N = (size_t)n, I = c->img_dim, X = c->text_dim, D = c->post_dim, A = c->att_dim, H = c->head_hidden;
    size_t wide = (size_t)imax(imax(c->head_hidden, c->att_dim), c->img_dim);
    size_t sizes[] = {N * I, N * (I + X), N * D, N * D, N * D, N * H, N * c->n_post, N * A, N,
                      D, D, D, H, (size_t)c->n_inf, N * (I + X), N * D, N * wide, c->n_inf + H + 2 * D};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
    float *base = ipf_calloc_array(total, sizeof(float));
    if (!base) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory for training activations of %d posts", n);
    free(a->xi);
    float **slots[] = {&a->xi, &a->x, &a->v, &a->mv, &a->vd, &a->ph, &a->pl, &a->r, &a->alpha,
                       &a->h, &a->mh, &a->hd, &a->ih, &a->il, &a->dx, &a->dv, &a->dtmp, &a->ds};
    float *p = base;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *slots[i] = p;
        p += sizes[i];
    }
    a->cap_n = N;
    return IPF_OK;
}

static void relu_inplace(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

/* dx *= (y > 0), y the ReLU output (torch.relu backward: zero gradient at 0) */
static void relu_backward_inplace(float *dx, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(y[i] > 0)) dx[i] = 0;
}

/* Stable log-softmax cross entropy of one row; probs (may be NULL) receives softmax. */
static double softmax_ce(const float *logits, int n, int y, float *probs) {
    double mx = logits[0];
    for (int i = 1; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    double z = 0;
    for (int i = 0; i < n; i++) z += exp((double)logits[i] - mx);
    double lse = mx + log(z);
    if (probs)
        for (int i = 0; i < n; i++) probs[i] = (float)exp((double)logits[i] - lse);
    return y >= 0 ? lse - logits[y] : 0.0;
}

static void make_mask(float *m, size_t n, const float *fixed, ipf_rng *rng, float p) {
    if (fixed) {
        memcpy(m, fixed, n * sizeof *m);
    } else if (rng && p > 0) {
        float keep = 1.0f / (1.0f - p);
        for (size_t i = 0; i < n; i++) m[i] = rng_uniform(rng) < p ? 0.0f : keep;
    } else {
        for (size_t i = 0; i < n; i++) m[i] = 1.0f;
    }
}

#define PARAM(in, t) ((in)->params + (in)->lay->offset[t])

static ipf_status kfail(ipf_kctx *k, ipf_err *e, const char *what) {
    return ipf_fail(e, IPF_ERR_BACKEND, "profiler training: %s failed: %s", what, k->err);
}

ipf_status prof_train_forward(ipf_kctx *k, const prof_train_in *in, prof_acts *a, double *loss, double *loss_inf,
                              double *loss_post, ipf_err *e) {
    const prof_config *c = in->cfg;
    int n = in->n, I = c->img_dim, X = c->text_dim, D = c->post_dim, A = c->att_dim, H = c->head_hidden;
    if (n < 1) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "profiler training: an influencer needs at least 1 post");
    if (in->y_inf >= c->n_inf)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "profiler training: influencer label %d out of range", in->y_inf);
    ipf_status st = acts_reserve(a, c, n, e);
    if (st) return st;
    a->n = n;
    size_t nI = (size_t)n * I, nD = (size_t)n * D;

    if (linear_forward(k, a->xi, in->pool, PARAM(in, PT_IMG_W), PARAM(in, PT_IMG_B), n, c->img_pool, I))
        return kfail(k, e, "img_proj");
    relu_inplace(a->xi, nI);
    for (int i = 0; i < n; i++) { /* x = [x_I ; x_T], image first */
        memcpy(a->x + (size_t)i * (I + X), a->xi + (size_t)i * I, sizeof(float) * I);
        memcpy(a->x + (size_t)i * (I + X) + I, in->xt + (size_t)i * X, sizeof(float) * X);
    }
    if (linear_forward(k, a->v, a->x, PARAM(in, PT_POST_W), PARAM(in, PT_POST_B), n, I + X, D))
        return kfail(k, e, "post_proj");
    relu_inplace(a->v, nD);
    make_mask(a->mv, nD, in->mask_v, in->rng, in->dropout);
    for (size_t i = 0; i < nD; i++) a->vd[i] = a->v[i] * a->mv[i];

    if (linear_forward(k, a->ph, a->vd, PARAM(in, PT_PH1_W), PARAM(in, PT_PH1_B), n, D, H))
        return kfail(k, e, "post_head.0");
    relu_inplace(a->ph, (size_t)n * H);
    if (linear_forward(k, a->pl, a->ph, PARAM(in, PT_PH2_W), PARAM(in, PT_PH2_B), n, H, c->n_post))
        return kfail(k, e, "post_head.2");

    if (in->pooling == POOL_MEAN) {
        for (int i = 0; i < n; i++) a->alpha[i] = 1.0f / (float)n;
    } else {
        if (linear_forward(k, a->r, a->vd, PARAM(in, PT_ATT_W), PARAM(in, PT_ATT_B), n, D, A))
            return kfail(k, e, "attention.proj");
        const float *ctx = PARAM(in, PT_ATT_C);
        double mx = -INFINITY;
        for (int i = 0; i < n; i++) {
            float *r = a->r + (size_t)i * A;
            double s = 0;
            for (int j = 0; j < A; j++) {
                r[j] = tanhf(r[j]);
                s += (double)r[j] * ctx[j];
            }
            a->alpha[i] = (float)s;
            mx = s > mx ? s : mx;
        }
        double z = 0;
        for (int i = 0; i < n; i++) z += exp(a->alpha[i] - mx);
        for (int i = 0; i < n; i++) a->alpha[i] = (float)(exp(a->alpha[i] - mx) / z);
    }
    for (int j = 0; j < D; j++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += (double)a->alpha[i] * a->vd[(size_t)i * D + j];
        a->h[j] = (float)s;
    }
    make_mask(a->mh, (size_t)D, in->mask_h, in->rng, in->dropout);
    for (int j = 0; j < D; j++) a->hd[j] = a->h[j] * a->mh[j];
    if (linear_forward(k, a->ih, a->hd, PARAM(in, PT_IH1_W), PARAM(in, PT_IH1_B), 1, D, H))
        return kfail(k, e, "inf_head.0");
    relu_inplace(a->ih, (size_t)H);
    if (linear_forward(k, a->il, a->ih, PARAM(in, PT_IH2_W), PARAM(in, PT_IH2_B), 1, H, c->n_inf))
        return kfail(k, e, "inf_head.2");

    double li = in->y_inf >= 0 ? softmax_ce(a->il, c->n_inf, in->y_inf, NULL) : 0.0;
    double lp = 0;
    int labelled = 0;
    for (int i = 0; i < n; i++) {
        int y = in->y_post ? in->y_post[i] : -1;
        if (y < 0) continue;
        if (y >= c->n_post)
            return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "profiler training: post %d label %d out of range", i, y);
        lp += softmax_ce(a->pl + (size_t)i * c->n_post, c->n_post, y, NULL);
        labelled++;
    }
    if (labelled) lp /= labelled;
    if (loss) *loss = li + in->lambda_post * lp;
    if (loss_inf) *loss_inf = li;
    if (loss_post) *loss_post = lp;
    return IPF_OK;
}

#define GRAD(g, in, t) ((g) + (in)->lay->offset[t])

ipf_status prof_train_backward(ipf_kctx *k, const prof_train_in *in, prof_acts *a, float scale, float *grads,
                               float *dpool, float *dxt, ipf_err *e) {
    const prof_config *c = in->cfg;
    int n = a->n, I = c->img_dim, X = c->text_dim, D = c->post_dim, A = c->att_dim, H = c->head_hidden;
    size_t nD = (size_t)n * D;
    float *dil = a->ds, *dih = dil + c->n_inf, *dhd = dih + H, *dh = dhd + D;
    memset(a->dv, 0, nD * sizeof(float)); /* d(loss)/d(vd), accumulated from both heads */

    /* influencer head and pooling */
    if (in->y_inf >= 0) {
        softmax_ce(a->il, c->n_inf, in->y_inf, dil);
        dil[in->y_inf] -= 1.0f;
        for (int j = 0; j < c->n_inf; j++) dil[j] *= scale;
        memset(dih, 0, sizeof(float) * (size_t)(H + 2 * D));
        if (linear_backward(k, dih, GRAD(grads, in, PT_IH2_W), GRAD(grads, in, PT_IH2_B), dil, a->ih,
                            PARAM(in, PT_IH2_W), 1, H, c->n_inf))
            return kfail(k, e, "inf_head.2 backward");
        relu_backward_inplace(dih, a->ih, (size_t)H);
        if (linear_backward(k, dhd, GRAD(grads, in, PT_IH1_W), GRAD(grads, in, PT_IH1_B), dih, a->hd,
                            PARAM(in, PT_IH1_W), 1, D, H))
            return kfail(k, e, "inf_head.0 backward");
        for (int j = 0; j < D; j++) dh[j] = dhd[j] * a->mh[j];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < D; j++) a->dv[(size_t)i * D + j] += a->alpha[i] * dh[j];
        if (in->pooling != POOL_MEAN) {
            /* alpha = softmax(s), s_i = r_i . ctx, r = tanh(z) */
            float *dz = a->dtmp; /* (P,A) */
            const float *ctx = PARAM(in, PT_ATT_C);
            float *dctx = GRAD(grads, in, PT_ATT_C);
            double dot_sum = 0;
            float *dalpha = a->dx; /* (P) borrowed; dx is cleared below */
            for (int i = 0; i < n; i++) {
                double s = 0;
                for (int j = 0; j < D; j++) s += (double)dh[j] * a->vd[(size_t)i * D + j];
                dalpha[i] = (float)s;
                dot_sum += s * a->alpha[i];
            }
            for (int i = 0; i < n; i++) {
                float ds = (float)(a->alpha[i] * (dalpha[i] - dot_sum));
                const float *r = a->r + (size_t)i * A;
                float *dzi = dz + (size_t)i * A;
                for (int j = 0; j < A; j++) {
                    dctx[j] += ds * r[j];
                    dzi[j] = ds * ctx[j] * (1.0f - r[j] * r[j]);
                }
            }
            if (linear_backward(k, a->dv, GRAD(grads, in, PT_ATT_W), GRAD(grads, in, PT_ATT_B), dz, a->vd,
                                PARAM(in, PT_ATT_W), n, D, A))
                return kfail(k, e, "attention.proj backward");
        }
    }

    /* post head over labelled posts */
    int labelled = 0;
    for (int i = 0; i < n; i++) labelled += in->y_post && in->y_post[i] >= 0;
    if (labelled && in->lambda_post != 0) {
        float *dpl = a->dx; /* (P,C_p) borrowed */
        float w = scale * in->lambda_post / (float)labelled;
        for (int i = 0; i < n; i++) {
            float *d = dpl + (size_t)i * c->n_post;
            int y = in->y_post[i];
            if (y < 0) {
                memset(d, 0, sizeof(float) * (size_t)c->n_post);
                continue;
            }
            softmax_ce(a->pl + (size_t)i * c->n_post, c->n_post, y, d);
            d[y] -= 1.0f;
            for (int j = 0; j < c->n_post; j++) d[j] *= w;
        }
        float *dph = a->dtmp; /* (P,H) */
        memset(dph, 0, sizeof(float) * (size_t)n * H);
        if (linear_backward(k, dph, GRAD(grads, in, PT_PH2_W), GRAD(grads, in, PT_PH2_B), dpl, a->ph,
                            PARAM(in, PT_PH2_W), n, H, c->n_post))
            return kfail(k, e, "post_head.2 backward");
        relu_backward_inplace(dph, a->ph, (size_t)n * H);
        if (linear_backward(k, a->dv, GRAD(grads, in, PT_PH1_W), GRAD(grads, in, PT_PH1_B), dph, a->vd,
                            PARAM(in, PT_PH1_W), n, D, H))
            return kfail(k, e, "post_head.0 backward");
    }

    /* dropout, post encoder */
    for (size_t i = 0; i < nD; i++) a->dv[i] *= a->mv[i];
    relu_backward_inplace(a->dv, a->v, nD);
    memset(a->dx, 0, sizeof(float) * (size_t)n * (I + X));
    if (linear_backward(k, a->dx, GRAD(grads, in, PT_POST_W), GRAD(grads, in, PT_POST_B), a->dv, a->x,
                        PARAM(in, PT_POST_W), n, I + X, D))
        return kfail(k, e, "post_proj backward");
    float *dxi = a->dtmp; /* (P,I) */
    for (int i = 0; i < n; i++) {
        const float *dxr = a->dx + (size_t)i * (I + X);
        memcpy(dxi + (size_t)i * I, dxr, sizeof(float) * I);
        if (dxt)
            for (int j = 0; j < X; j++) dxt[(size_t)i * X + j] += dxr[I + j];
    }
    relu_backward_inplace(dxi, a->xi, (size_t)n * I);
    if (linear_backward(k, dpool, GRAD(grads, in, PT_IMG_W), GRAD(grads, in, PT_IMG_B), dxi, in->pool,
                        PARAM(in, PT_IMG_W), n, c->img_pool, I))
        return kfail(k, e, "img_proj backward");
    return IPF_OK;
}

void prof_train_probs(const prof_train_in *in, const prof_acts *a, float *inf_probs, float *post_probs) {
    const prof_config *c = in->cfg;
    if (inf_probs) softmax_ce(a->il, c->n_inf, -1, inf_probs);
    if (post_probs)
        for (int i = 0; i < a->n; i++)
            softmax_ce(a->pl + (size_t)i * c->n_post, c->n_post, -1, post_probs + (size_t)i * c->n_post);
}
