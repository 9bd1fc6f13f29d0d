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
 * and the batch loss is the mean over the influencers.
 * Dropout multipliers are kept (0 or 1/(1-p)) so backward reuses them. */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void prof_acts_free(prof_acts *a) {
    free(a->xi);
    free(a->h);
    memset(a, 0, sizeof *a);
}

static int imax(int a, int b) { return a > b ? a : b; }

static int carve(float **base, float **const *slots, const size_t *sizes, size_t n, size_t extra_doubles) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += sizes[i];
    float *p = ipf_calloc_array(total + 2 * extra_doubles + 2, sizeof(float));
    if (!p) return -1;
    *base = p;
    for (size_t i = 0; i < n; i++) {
        *slots[i] = p;
        p += sizes[i];
    }
    return 0;
}

/* Per-post arrays (base a->xi) for P posts, per-influencer arrays (base a->h) for S. */
static ipf_status acts_reserve(prof_acts *a, const prof_config *c, int P, int S, ipf_err *e) {
    size_t N = (size_t)P, I = c->img_dim, X = c->text_dim, D = c->post_dim, A = c->att_dim, H = c->head_hidden;
    if (N > a->cap_p || !a->xi) {
        size_t wide = (size_t)imax(imax(imax(c->head_hidden, c->att_dim), c->img_dim), c->n_post);
        size_t sizes[] = {N * I, N * (I + X), N * D, N * D, N * D, N * H, N * c->n_post, N * A, N,
                          N * (I + X), N * D, N * wide};
        float **slots[] = {&a->xi, &a->x, &a->v, &a->mv, &a->vd, &a->ph, &a->pl, &a->r, &a->alpha,
                           &a->dx, &a->dv, &a->dtmp};
        float *old = a->xi, *base;
        if (carve(&base, slots, sizes, sizeof sizes / sizeof sizes[0], 0))
            return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory for training activations of %d posts", P);
        free(old);
        a->cap_p = N;
    }
    if ((size_t)S > a->cap_s || !a->h) {
        size_t M = (size_t)S;
        size_t sizes[] = {M * D, M * D, M * D, M * H, M * c->n_inf, M * (c->n_inf + H + 2 * D)};
        float **slots[] = {&a->h, &a->mh, &a->hd, &a->ih, &a->il, &a->ds};
        float *old = a->h, *base;
        if (carve(&base, slots, sizes, sizeof sizes / sizeof sizes[0], 3 * M))
            return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory for training activations of %d influencers", S);
        free(old);
        /* the doubles follow the floats, 8-byte aligned */
        size_t total = 0;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
        uintptr_t d = ((uintptr_t)(base + total) + 7) & ~(uintptr_t)7;
        a->seg_loss = (double *)d;
        a->seg_li = a->seg_loss + M;
        a->seg_lp = a->seg_li + M;
        a->cap_s = M;
    }
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
    int S = in->n_seg, I = c->img_dim, X = c->text_dim, D = c->post_dim, A = c->att_dim, H = c->head_hidden;
    if (S < 1 || !in->seg || in->seg[0] != 0)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "profiler training: bad batch (%d influencers)", S);
    for (int b = 0; b < S; b++) {
        if (in->seg[b + 1] <= in->seg[b])
            return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "profiler training: influencer %d of the batch has no posts",
                            b);
        if (in->y_inf[b] >= c->n_inf)
            return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "profiler training: influencer label %d out of range",
                            in->y_inf[b]);
    }
    int n = in->seg[S];
    ipf_status st = acts_reserve(a, c, n, S, e);
    if (st) return st;
    a->n = n;
    a->n_seg = S;
    size_t nD = (size_t)n * D;

    if (linear_forward(k, a->xi, in->pool, PARAM(in, PT_IMG_W), PARAM(in, PT_IMG_B), n, c->img_pool, I))
        return kfail(k, e, "img_proj");
    relu_inplace(a->xi, (size_t)n * I);
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

    if (in->pooling != POOL_MEAN) {
        if (linear_forward(k, a->r, a->vd, PARAM(in, PT_ATT_W), PARAM(in, PT_ATT_B), n, D, A))
            return kfail(k, e, "attention.proj");
        const float *ctx = PARAM(in, PT_ATT_C);
        for (int i = 0; i < n; i++) {
            float *r = a->r + (size_t)i * A;
            double s = 0;
            for (int j = 0; j < A; j++) {
                r[j] = tanhf(r[j]);
                s += (double)r[j] * ctx[j];
            }
            a->alpha[i] = (float)s;
        }
    }
    for (int b = 0; b < S; b++) {
        int lo = in->seg[b], hi = in->seg[b + 1];
        if (in->pooling == POOL_MEAN) {
            for (int i = lo; i < hi; i++) a->alpha[i] = 1.0f / (float)(hi - lo);
        } else {
            double mx = -INFINITY, z = 0;
            for (int i = lo; i < hi; i++) mx = a->alpha[i] > mx ? a->alpha[i] : mx;
            for (int i = lo; i < hi; i++) z += exp(a->alpha[i] - mx);
            for (int i = lo; i < hi; i++) a->alpha[i] = (float)(exp(a->alpha[i] - mx) / z);
        }
        float *h = a->h + (size_t)b * D;
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int i = lo; i < hi; i++) s += (double)a->alpha[i] * a->vd[(size_t)i * D + j];
            h[j] = (float)s;
        }
    }
    make_mask(a->mh, (size_t)S * D, in->mask_h, in->rng, in->dropout);
    for (size_t j = 0; j < (size_t)S * D; j++) a->hd[j] = a->h[j] * a->mh[j];
    if (linear_forward(k, a->ih, a->hd, PARAM(in, PT_IH1_W), PARAM(in, PT_IH1_B), S, D, H))
        return kfail(k, e, "inf_head.0");
    relu_inplace(a->ih, (size_t)S * H);
    if (linear_forward(k, a->il, a->ih, PARAM(in, PT_IH2_W), PARAM(in, PT_IH2_B), S, H, c->n_inf))
        return kfail(k, e, "inf_head.2");

    double tl = 0, ti = 0, tp = 0;
    for (int b = 0; b < S; b++) {
        double li = in->y_inf[b] >= 0 ? softmax_ce(a->il + (size_t)b * c->n_inf, c->n_inf, in->y_inf[b], NULL) : 0.0;
        double lp = 0;
        int labelled = 0;
        for (int i = in->seg[b]; i < in->seg[b + 1]; i++) {
            int y = in->y_post ? in->y_post[i] : -1;
            if (y < 0) continue;
            if (y >= c->n_post)
                return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "profiler training: post %d label %d out of range", i, y);
            lp += softmax_ce(a->pl + (size_t)i * c->n_post, c->n_post, y, NULL);
            labelled++;
        }
        if (labelled) lp /= labelled;
        a->seg_li[b] = li;
        a->seg_lp[b] = lp;
        a->seg_loss[b] = li + in->lambda_post * lp;
        tl += a->seg_loss[b];
        ti += li;
        tp += lp;
    }
    if (loss) *loss = tl / S;
    if (loss_inf) *loss_inf = ti / S;
    if (loss_post) *loss_post = tp / S;
    return IPF_OK;
}

#define GRAD(g, in, t) ((g) + (in)->lay->offset[t])

ipf_status prof_train_backward(ipf_kctx *k, const prof_train_in *in, prof_acts *a, float scale, float *grads,
                               float *dpool, float *dxt, ipf_err *e) {
    const prof_config *c = in->cfg;
    int n = a->n, S = a->n_seg, I = c->img_dim, X = c->text_dim, D = c->post_dim, A = c->att_dim,
        H = c->head_hidden, Ci = c->n_inf, Cp = c->n_post;
    size_t nD = (size_t)n * D;
    float w_inf = scale / (float)S; /* d(mean over influencers)/d(each) */
    float *dil = a->ds, *dih = dil + (size_t)S * Ci, *dhd = dih + (size_t)S * H, *dh = dhd + (size_t)S * D;
    memset(a->dv, 0, nD * sizeof(float)); /* d(loss)/d(vd), accumulated from both heads */

    /* influencer head, batched over the S influencers */
    int any_inf = 0;
    for (int b = 0; b < S; b++) {
        float *d = dil + (size_t)b * Ci;
        int y = in->y_inf[b];
        if (y < 0) {
            memset(d, 0, sizeof(float) * Ci);
            continue;
        }
        any_inf = 1;
        softmax_ce(a->il + (size_t)b * Ci, Ci, y, d);
        d[y] -= 1.0f;
        for (int j = 0; j < Ci; j++) d[j] *= w_inf;
    }
    if (any_inf) {
        memset(dih, 0, sizeof(float) * (size_t)S * (H + 2 * D));
        if (linear_backward(k, dih, GRAD(grads, in, PT_IH2_W), GRAD(grads, in, PT_IH2_B), dil, a->ih,
                            PARAM(in, PT_IH2_W), S, H, Ci))
            return kfail(k, e, "inf_head.2 backward");
        relu_backward_inplace(dih, a->ih, (size_t)S * H);
        if (linear_backward(k, dhd, GRAD(grads, in, PT_IH1_W), GRAD(grads, in, PT_IH1_B), dih, a->hd,
                            PARAM(in, PT_IH1_W), S, D, H))
            return kfail(k, e, "inf_head.0 backward");
        for (size_t j = 0; j < (size_t)S * D; j++) dh[j] = dhd[j] * a->mh[j];
        float *dz = a->dtmp; /* (P,A) */
        const float *ctx = PARAM(in, PT_ATT_C);
        float *dctx = GRAD(grads, in, PT_ATT_C);
        float *dalpha = a->dx; /* (P) borrowed; dx is cleared below */
        for (int b = 0; b < S; b++) {
            const float *dhb = dh + (size_t)b * D;
            for (int i = in->seg[b]; i < in->seg[b + 1]; i++)
                for (int j = 0; j < D; j++) a->dv[(size_t)i * D + j] += a->alpha[i] * dhb[j];
            if (in->pooling == POOL_MEAN) continue;
            /* alpha = softmax(s), s_i = r_i . ctx, r = tanh(z) */
            double dot_sum = 0;
            for (int i = in->seg[b]; i < in->seg[b + 1]; i++) {
                double s = 0;
                for (int j = 0; j < D; j++) s += (double)dhb[j] * a->vd[(size_t)i * D + j];
                dalpha[i] = (float)s;
                dot_sum += s * a->alpha[i];
            }
            for (int i = in->seg[b]; i < in->seg[b + 1]; i++) {
                float ds = (float)(a->alpha[i] * (dalpha[i] - dot_sum));
                const float *r = a->r + (size_t)i * A;
                float *dzi = dz + (size_t)i * A;
                for (int j = 0; j < A; j++) {
                    dctx[j] += ds * r[j];
                    dzi[j] = ds * ctx[j] * (1.0f - r[j] * r[j]);
                }
            }
        }
        if (in->pooling != POOL_MEAN &&
            linear_backward(k, a->dv, GRAD(grads, in, PT_ATT_W), GRAD(grads, in, PT_ATT_B), dz, a->vd,
                            PARAM(in, PT_ATT_W), n, D, A))
            return kfail(k, e, "attention.proj backward");
    }

    /* post head over the labelled posts of every influencer */
    if (in->y_post && in->lambda_post != 0) {
        float *dpl = a->dx; /* (P,C_p) borrowed */
        int any = 0;
        for (int b = 0; b < S; b++) {
            int labelled = 0;
            for (int i = in->seg[b]; i < in->seg[b + 1]; i++) labelled += in->y_post[i] >= 0;
            float w = labelled ? w_inf * in->lambda_post / (float)labelled : 0;
            for (int i = in->seg[b]; i < in->seg[b + 1]; i++) {
                float *d = dpl + (size_t)i * Cp;
                int y = in->y_post[i];
                if (y < 0) {
                    memset(d, 0, sizeof(float) * Cp);
                    continue;
                }
                any = 1;
                softmax_ce(a->pl + (size_t)i * Cp, Cp, y, d);
                d[y] -= 1.0f;
                for (int j = 0; j < Cp; j++) d[j] *= w;
            }
        }
        if (any) {
            float *dph = a->dtmp; /* (P,H) */
            memset(dph, 0, sizeof(float) * (size_t)n * H);
            if (linear_backward(k, dph, GRAD(grads, in, PT_PH2_W), GRAD(grads, in, PT_PH2_B), dpl, a->ph,
                                PARAM(in, PT_PH2_W), n, H, Cp))
                return kfail(k, e, "post_head.2 backward");
            relu_backward_inplace(dph, a->ph, (size_t)n * H);
            if (linear_backward(k, a->dv, GRAD(grads, in, PT_PH1_W), GRAD(grads, in, PT_PH1_B), dph, a->vd,
                                PARAM(in, PT_PH1_W), n, D, H))
                return kfail(k, e, "post_head.0 backward");
        }
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
    if (inf_probs)
        for (int b = 0; b < a->n_seg; b++)
            softmax_ce(a->il + (size_t)b * c->n_inf, c->n_inf, -1, inf_probs + (size_t)b * c->n_inf);
    if (post_probs)
        for (int i = 0; i < a->n; i++)
            softmax_ce(a->pl + (size_t)i * c->n_post, c->n_post, -1, post_probs + (size_t)i * c->n_post);
}
