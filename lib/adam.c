/* adam.c — Adam and AdamW over one flat parameter block (one loop), with
 * torch.optim.Adam's bias correction and epsilon placement:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 * computed in torch's order (step_size = lr / bc1, denom = sqrt(v)/sqrt(bc2) + eps)
 * so trajectories match PyTorch to float rounding.  Weight decay: added to
 * the gradient (Adam, L2) or applied to the parameter (AdamW, decoupled).
 * Optional global-norm clipping (torch.nn.utils.clip_grad_norm_) and a
 * learning-rate schedule (constant, cosine to lr_min, step decay). */
#include "train.h"

#include <math.h>

void adam_cfg_default(adam_cfg *c) {
    c->lr = 1e-3f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->weight_decay = 0;
    c->decoupled = 0;
    c->clip_norm = 0;
    c->schedule = ADAM_SCHED_CONSTANT;
    c->total_steps = 0;
    c->lr_min = 0;
    c->step_every = 0;
    c->step_gamma = 0.1f;
}

float adam_lr_at(const adam_cfg *c, int64_t t) {
    switch (c->schedule) {
    case ADAM_SCHED_COSINE: {
        if (c->total_steps <= 0) return c->lr;
        double f = (double)(t - 1) / (double)c->total_steps;
        if (f > 1) f = 1;
        return (float)(c->lr_min + 0.5 * (c->lr - c->lr_min) * (1 + cos(M_PI * f)));
    }
    case ADAM_SCHED_STEP:
        if (c->step_every <= 0) return c->lr;
        return (float)(c->lr * pow(c->step_gamma, (double)((t - 1) / c->step_every)));
    default:
        return c->lr;
    }
}

double adam_sumsq(const float *g, size_t n) {
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    return ss;
}

float adam_clip_scale(const adam_cfg *c, double norm) {
    /* torch.nn.utils.clip_grad_norm_: max_norm / (total_norm + 1e-6) when over */
    return c->clip_norm > 0 && norm > c->clip_norm ? (float)(c->clip_norm / (norm + 1e-6)) : 1.0f;
}

void adam_update(const adam_cfg *c, float *p, const float *g, float *m, float *v, size_t n, int64_t step,
                 float gscale) {
    float lr = adam_lr_at(c, step);
    float b1 = c->beta1, b2 = c->beta2, eps = c->eps, wd = c->weight_decay;
    /* bias corrections in double, as torch computes them with Python floats */
    float step_size = (float)(lr / (1.0 - pow(b1, (double)step)));
    float bc2_sqrt = (float)sqrt(1.0 - pow(b2, (double)step));
    int decoupled = c->decoupled;
    for (size_t i = 0; i < n; i++) {
        float gi = gscale == 1.0f ? g[i] : g[i] * gscale;
        if (wd != 0) {
            if (decoupled) p[i] *= 1.0f - lr * wd;
            else gi += wd * p[i];
        }
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] -= (step_size * m[i]) / denom; /* torch addcdiv order */
    }
}

double adam_step(const adam_cfg *c, float *p, float *g, float *m, float *v, size_t n, int64_t *t) {
    double norm = sqrt(adam_sumsq(g, n));
    if (!isfinite(norm)) return norm; /* caller reports; parameters and state stay as they were */
    adam_update(c, p, g, m, v, n, ++*t, adam_clip_scale(c, norm));
    return norm;
}
