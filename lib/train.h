/* train.h — training internals (not installed).  Owner: train.
 *
 * Pieces, each in its own file:
 *   lib/train_rng.c   xoshiro256** seeded by splitmix64 (reproducible streams)
 *   lib/adam.c        Adam / AdamW over one flat parameter block
 *   lib/prof_train.c  profiler heads: forward with saved activations + backward
 *   lib/manifest.c    dataset manifest (JSON Lines, plain or gzip) + split
 *   lib/augment.c     Keras ImageDataGenerator-style image augmentation
 *   lib/train.c       the public ipf_trainer_* API, feature caching, checkpoints
 *
 * Letters as in profiler.h: P posts, E image pool (2048), I x_I (1024),
 * X x_T (768), D post width, A attention width, H head hidden, C_i / C_p.
 */
#ifndef IPF_TRAIN_H
#define IPF_TRAIN_H

#include "internal.h"
#include "profiler.h"
#include "safetensors.h"

/* ---- RNG ----------------------------------------------------------------- */
typedef struct ipf_rng {
    uint64_t s[4];
} ipf_rng;

IPF_INTERNAL void rng_seed(ipf_rng *r, uint64_t seed);
IPF_INTERNAL uint64_t rng_next(ipf_rng *r);
/* Uniform in [0,1) with 24 random bits (exactly representable in float). */
IPF_INTERNAL float rng_uniform(ipf_rng *r);
/* Uniform in [lo,hi). */
IPF_INTERNAL float rng_range(ipf_rng *r, float lo, float hi);
/* Uniform integer in [0,n), n >= 1 (rejection sampling, no modulo bias). */
IPF_INTERNAL uint64_t rng_below(ipf_rng *r, uint64_t n);
/* Fisher-Yates shuffle of n ints. */
IPF_INTERNAL void rng_shuffle(ipf_rng *r, int *a, size_t n);

/* ---- Adam ---------------------------------------------------------------- */
typedef enum adam_schedule { ADAM_SCHED_CONSTANT = 0, ADAM_SCHED_COSINE = 1, ADAM_SCHED_STEP = 2 } adam_schedule;

typedef struct adam_cfg {
    float lr, beta1, beta2, eps;
    float weight_decay;  /* 0 = none */
    int decoupled;       /* 1 = AdamW (torch.optim.AdamW), 0 = L2 added to the gradient (torch.optim.Adam) */
    float clip_norm;     /* > 0: scale gradients so their global L2 norm is at most this */
    int schedule;        /* adam_schedule */
    int64_t total_steps; /* cosine: steps to reach lr_min */
    float lr_min;        /* cosine floor */
    int64_t step_every;  /* step schedule: multiply by step_gamma every step_every steps */
    float step_gamma;
} adam_cfg;

IPF_INTERNAL void adam_cfg_default(adam_cfg *c);
/* The learning rate used at step t (1-based). */
IPF_INTERNAL float adam_lr_at(const adam_cfg *c, int64_t t);
/* One update of n parameters.  *t is the step count before the call; it is
 * incremented.  g is read only (clipping scales it on the fly).  Returns the global
 * gradient norm before clipping; when it is not finite nothing is updated
 * (not even *t). */
IPF_INTERNAL double adam_step(const adam_cfg *c, float *p, float *g, float *m, float *v, size_t n, int64_t *t);
/* The pieces of adam_step, for several parameter blocks sharing one step and
 * one global gradient norm: sum of squares of a block; the clipping factor
 * for a global norm; one block's update at step (1-based) with gradients
 * multiplied by gscale. */
IPF_INTERNAL double adam_sumsq(const float *g, size_t n);
IPF_INTERNAL float adam_clip_scale(const adam_cfg *c, double norm);
IPF_INTERNAL void adam_update(const adam_cfg *c, float *p, const float *g, float *m, float *v, size_t n, int64_t step,
                              float gscale);

/* ---- profiler training --------------------------------------------------- */
enum { POOL_ATTENTION = 0, POOL_MEAN = 1 };

/* Saved activations of a forward pass over a batch of S influencers whose
 * P posts are concatenated (influencer b owns posts seg[b] .. seg[b+1]-1).
 * The per-post layers run as one matrix product over all P posts.  Buffers
 * grow as needed and are reused between calls. */
typedef struct prof_acts {
    size_t cap_p, cap_s;
    int n, n_seg;
    float *xi;     /* (P,I)   relu(img_proj(pool)) */
    float *x;      /* (P,I+X) [x_I ; x_T] */
    float *v;      /* (P,D)   relu(post_proj(x)) before dropout */
    float *mv;     /* (P,D)   dropout multipliers (0 or 1/(1-p)); all 1 when not training */
    float *vd;     /* (P,D)   v * mv */
    float *ph;     /* (P,H)   relu(post_head.0(vd)) */
    float *pl;     /* (P,C_p) post logits */
    float *r;      /* (P,A)   tanh(attention.proj(vd)) */
    float *alpha;  /* (P)     attention weights (summing to 1 per influencer) */
    float *h;      /* (S,D)   influencer vectors */
    float *mh;     /* (S,D)   dropout multipliers on h */
    float *hd;     /* (S,D)   h * mh */
    float *ih;     /* (S,H)   relu(inf_head.0(hd)) */
    float *il;     /* (S,C_i) influencer logits */
    double *seg_loss, *seg_li, *seg_lp; /* (S) per-influencer loss and its two terms */
    /* backward scratch */
    float *dx;     /* (P,I+X) */
    float *dv;     /* (P,D) */
    float *dtmp;   /* (P,max(H,A,I,C_p)) */
    float *ds;     /* (S, C_i + H + 2D) */
} prof_acts;

IPF_INTERNAL void prof_acts_free(prof_acts *a);

/* Forward over S influencers: pool (P,E), xt (P,X) features of all their
 * posts.  dropout in [0,1): applied to v and h when rng != NULL (training);
 * fixed multipliers mask_v (P,D), mask_h (S,D) may be given instead (tests)
 * and take precedence.  y_inf (S): class or -1 (no influencer term); y_post
 * (P): class or -1 (unlabelled, skipped).  *loss receives the mean over the
 * influencers of CE(inf) + lambda * mean_labelled CE(post); *loss_inf and
 * *loss_post the means of the two terms (any may be NULL). */
typedef struct prof_train_in {
    const float *params;   /* flat block, prof_layout */
    const prof_config *cfg;
    const prof_layout *lay;
    int n_seg;             /* S */
    const int *seg;        /* (S+1) post offsets, seg[0] = 0, seg[S] = P */
    const float *pool;     /* (P,E) */
    const float *xt;       /* (P,X) */
    const int *y_inf;      /* (S) */
    const int *y_post;     /* (P) or NULL = all unlabelled */
    float lambda_post;
    float dropout;
    int pooling;           /* POOL_ATTENTION or POOL_MEAN */
    ipf_rng *rng;          /* NULL: no dropout (evaluation) */
    const float *mask_v;   /* optional fixed masks */
    const float *mask_h;
} prof_train_in;

IPF_INTERNAL ipf_status prof_train_forward(ipf_kctx *k, const prof_train_in *in, prof_acts *a, double *loss,
                                           double *loss_inf, double *loss_post, ipf_err *e);
/* Backward of the last prof_train_forward on `a`: ADDS scale * d(loss)/d(param)
 * into grads (flat block), and when non-NULL ADDS scale * d(loss)/d(pool)
 * into dpool (P,E) and d(loss)/d(x_T) into dxt (P,X). */
IPF_INTERNAL ipf_status prof_train_backward(ipf_kctx *k, const prof_train_in *in, prof_acts *a, float scale,
                                            float *grads, float *dpool, float *dxt, ipf_err *e);

/* Probabilities from the last forward: inf_probs (S,C_i), post_probs
 * (P,C_p); either may be NULL. */
IPF_INTERNAL void prof_train_probs(const prof_train_in *in, const prof_acts *a, float *inf_probs, float *post_probs);

/* ---- manifest ------------------------------------------------------------ */
typedef struct mf_post {
    char *post_id;
    char *caption;
    size_t caption_len;
    char *image;       /* absolute or manifest-relative resolved path; NULL if none */
    int post_label;    /* index into the post class list, -1 = none */
    int line;          /* 1-based line in the manifest */
    float *text_feature;  /* cached x_T (X floats) from the line, or NULL */
    float *image_feature; /* cached pool features (E floats), or NULL */
    float *features;      /* the allocation holding both (owned) */
} mf_post;

typedef struct mf_influencer {
    char *name;
    int label;         /* index into the influencer class list, -1 = none */
    int *posts;        /* indices into manifest.posts */
    int n_posts, cap_posts;
} mf_influencer;

typedef struct manifest {
    mf_post *posts;
    int n_posts, cap_posts;
    mf_influencer *infl;
    int n_infl, cap_infl;
    int skipped_missing_image; /* posts dropped because their image file does not exist */
    int skipped_blank;         /* blank lines */
    int text_dim, image_dim;   /* widths of cached features */
} manifest;

/* Read a JSON Lines manifest (plain or gzip).  Class names are checked
 * against inf_names (n_inf) and post_names (n_post).  Any malformed line (bad
 * JSON, missing influencer, wrong field type, unknown class, an influencer
 * given two different labels) is an error naming the file and line number;
 * blank lines are skipped.  A missing image file is an error when
 * missing_image_is_error, otherwise the post is dropped and counted in
 * skipped_missing_image.  Posts are grouped by influencer in order of first
 * appearance.  Optional "text_feature" / "image_feature" arrays (as for
 * `ipf profile`) are cached features of text_dim / image_dim numbers, used
 * instead of the encoders. */
IPF_INTERNAL ipf_status manifest_read(const char *path, const char (*inf_names)[PROF_CLASS_NAME_CAP], int n_inf,
                                      const char (*post_names)[PROF_CLASS_NAME_CAP], int n_post, int text_dim,
                                      int image_dim, int missing_image_is_error, manifest *m, ipf_err *e);
IPF_INTERNAL void manifest_free(manifest *m);
/* Stratified split by influencer label: each class contributes
 * round(fraction * count) influencers (at least 1 when the class has >= 2 and
 * fraction > 0) to validation, chosen by seed.  is_val receives n_infl flags. */
IPF_INTERNAL void manifest_split(const manifest *m, int n_classes, double fraction, uint64_t seed, uint8_t *is_val);

/* ---- augmentation -------------------------------------------------------- */
typedef struct augment_cfg {
    float rotation_deg;   /* uniform in [-r, r] degrees */
    float shift_frac;     /* width and height shift, fraction of the size, [-s, s] */
    float zoom;           /* scale factor in [1-z, 1+z] for each axis (Keras zoom_range) */
    int hflip;            /* flip left-right with probability 1/2 */
    float channel_shift;  /* add uniform [-c, c] per channel (normalised units) */
    int fill_nearest;     /* 1: nearest edge pixel, 0: constant fill_value */
    float fill_value;
} augment_cfg;

/* out (C,H,W) = random transform of in (C,H,W); in != out.  Bilinear
 * sampling.  With every range zero and hflip off, out == in exactly. */
IPF_INTERNAL void augment_image(const augment_cfg *c, ipf_rng *r, const float *in, float *out, int C, int H, int W);

/* ---- trainer internals (lib/train.c), for tests ---------------------------- */
/* A trainer over a bare configuration and parameters (no model, no encoders). */
IPF_INTERNAL ipf_status train_create_raw(const prof_config *c, const float *params, const ipf_train_options *o,
                                         ipf_trainer **out, ipf_err *e);
/* Take ownership of a manifest and one allocation holding pool features
 * (n_posts,E) followed by text features (n_posts,X); split and prepare. */
IPF_INTERNAL ipf_status train_set_data(ipf_trainer *t, manifest *m, float *features);
IPF_INTERNAL const float *train_params(const ipf_trainer *t, size_t *n);
/* Loss (no dropout) over the first S training influencers, all posts, with
 * gradients left in the trainer's blocks; fine-tuned Inception params/grads. */
IPF_INTERNAL ipf_status train_debug_loss(ipf_trainer *t, int S, double *loss);
IPF_INTERNAL float *train_inc_params(ipf_trainer *t, size_t *n);
IPF_INTERNAL float *train_inc_grads(ipf_trainer *t);
IPF_INTERNAL float *train_bert_params(ipf_trainer *t, size_t *n);
IPF_INTERNAL float *train_bert_grads(ipf_trainer *t);
/* For lib/train_model.c: the model side of the trainer. */
IPF_INTERNAL ipf_status train_attach_model(ipf_trainer *t, const ipf_model *model, int image_side, ipf_err *e);
/* Parameters with feature standardisation folded in (malloc'ed; NULL when out of memory). */
IPF_INTERNAL float *train_export_params(ipf_trainer *t);
IPF_INTERNAL ipf_status train_link_encoders(ipf_trainer *t, const char *out_dir);
IPF_INTERNAL ipf_err *train_err(ipf_trainer *t);
/* Fine-tuned encoder tensors to store beside the heads ("inception.<block>.<branch>.weight|bias",
 * flat); *out and *names are malloc'ed (free both), *n may be 0. */
IPF_INTERNAL ipf_status train_extra_tensors(ipf_trainer *t, st_wtensor **out, char **names, size_t *n);
IPF_INTERNAL const prof_config *train_config(const ipf_trainer *t);

#endif
