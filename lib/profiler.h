/* profiler.h — the profiler's own model: post encoder, attention pooling and
 * the two heads (DESIGN.md §1).  Owner: api (forward), train (backward).
 *
 * Parameters live in one flat float block (llm.c style) so Adam is one loop
 * and a checkpoint is one write; prof_layout gives each tensor's offset.
 * Letters: P posts, I image width (1024), E image pool width (2048),
 * X text width (768), D post width (256), A attention width (256),
 * H head hidden (256), C_i influencer classes, C_p post classes. */
#ifndef IPF_PROFILER_H
#define IPF_PROFILER_H

#include "image.h"
#include "safetensors.h"
#include "internal.h"

#define PROF_MAX_CLASSES 64
#define PROF_CLASS_NAME_CAP 64

typedef struct prof_config {
    int img_pool;   /* E = 2048 */
    int img_dim;    /* I = 1024: Linear(E->I)+ReLU gives x_I */
    int text_dim;   /* X = 768 */
    int post_dim;   /* D = 256 */
    int att_dim;    /* A = 256 */
    int head_hidden;/* H = 256 */
    int n_inf;      /* C_i = 8 */
    int n_post;     /* C_p = 10 */
    char inf_names[PROF_MAX_CLASSES][PROF_CLASS_NAME_CAP];
    char post_names[PROF_MAX_CLASSES][PROF_CLASS_NAME_CAP];
    image_cfg image;    /* preprocessing for the image encoder (DESIGN.md §4) */
    int transform_input;/* 1: torchvision's transform_input for Google-trained Inception weights */
} prof_config;

/* Tensor order inside the flat block; names are those in profiler.safetensors. */
typedef enum prof_tensor {
    PT_IMG_W,  /* img_proj.weight   (I,E) */
    PT_IMG_B,  /* img_proj.bias     (I) */
    PT_POST_W, /* post_proj.weight  (D,I+X)  input is [x_I ; x_T], image first */
    PT_POST_B, /* post_proj.bias    (D) */
    PT_PH1_W,  /* post_head.0.weight (H,D) */
    PT_PH1_B,  /* post_head.0.bias  (H) */
    PT_PH2_W,  /* post_head.2.weight (C_p,H) */
    PT_PH2_B,  /* post_head.2.bias  (C_p) */
    PT_ATT_W,  /* attention.proj.weight (A,D) */
    PT_ATT_B,  /* attention.proj.bias (A) */
    PT_ATT_C,  /* attention.context (A)   r_c */
    PT_IH1_W,  /* inf_head.0.weight (H,D) */
    PT_IH1_B,  /* inf_head.0.bias   (H) */
    PT_IH2_W,  /* inf_head.2.weight (C_i,H) */
    PT_IH2_B,  /* inf_head.2.bias   (C_i) */
    PT_COUNT_
} prof_tensor;

typedef struct prof_layout {
    size_t offset[PT_COUNT_];
    size_t size[PT_COUNT_];
    int ndim[PT_COUNT_];
    int64_t shape[PT_COUNT_][2];
    size_t total;
} prof_layout;

IPF_INTERNAL const char *prof_tensor_name(prof_tensor t);
IPF_INTERNAL void prof_layout_init(prof_layout *l, const prof_config *c);

/* The paper's configuration: widths above, the 8 + 10 class names, image
 * preprocessing resize 342 / crop 299 / ImageNet mean,std, transform_input 1. */
IPF_INTERNAL void prof_config_default(prof_config *c);
/* Dimensions in range (1..65536, classes 1..PROF_MAX_CLASSES), names non-empty
 * and unique per head.  Errors name the field; `what` prefixes them (a path). */
IPF_INTERNAL ipf_status prof_config_check(const prof_config *c, const char *what, ipf_err *e);
/* The configuration as the JSON kept in the file's "config" metadata, and
 * back.  to_json returns a malloc'ed string (NULL when out of memory). */
IPF_INTERNAL char *prof_config_to_json(const prof_config *c);
IPF_INTERNAL ipf_status prof_config_from_json(prof_config *c, const char *json, const char *what, ipf_err *e);

/* The profiler's weights: configuration, layout and one flat float block
 * (owned).  Read-only once loaded; a trainer may point a copy of the struct
 * at its own block to run the same forward functions. */
typedef struct prof_model {
    prof_config cfg;
    prof_layout lay;
    float *params; /* (lay.total) */
} prof_model;

/* profiler.safetensors (format "ipf-profiler", format_version "1"):
 * every PT_* tensor by prof_tensor_name with its layout shape (other tensors,
 * e.g. fine-tuned encoder blocks, are ignored here), __metadata__ keys
 * format, format_version, config (JSON, see prof_config_to_json) and crc32
 * (zlib CRC-32 of the data area, 8 lower-case hex digits).  A CRC mismatch is
 * IPF_ERR_CHECKSUM naming the file. */
IPF_INTERNAL ipf_status prof_load(const char *path, prof_model **out, ipf_err *e);
/* Write params (laid out by prof_layout_init(c)) with the metadata above;
 * atomic (st_write).  extra/n_extra: more tensors to store after the PT_*
 * ones (fine-tuned encoder blocks), may be NULL/0. */
IPF_INTERNAL ipf_status prof_save(const char *path, const prof_config *c, const float *params,
                                  const st_wtensor *extra, size_t n_extra, ipf_err *e);
/* A model with nn.Linear's default initialisation (weights and biases
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and r_c U(-1/sqrt(A), 1/sqrt(A)),
 * from a deterministic generator seeded with `seed`. */
IPF_INTERNAL ipf_status prof_create(const prof_config *c, uint64_t seed, prof_model **out, ipf_err *e);
IPF_INTERNAL void prof_free(void *m);
static inline const float *prof_param(const prof_model *m, prof_tensor t) { return m->params + m->lay.offset[t]; }

/* Forward pieces (DESIGN.md §1), batched over P posts; each returns 0, or -1
 * with the kernel's message in k->err.  Activations are what a backward pass
 * needs; all buffers are the caller's.
 *   encode:     pool (P,E), xt (P,X) -> xi (P,I) = ReLU(img_proj(pool)),
 *               x (P,I+X) = [xi ; xt], v (P,D) = ReLU(post_proj(x))
 *   post head:  v (P,D) -> hid (P,H) = ReLU(post_head.0(v)), logits (P,C_p)
 *   attention:  v (P,D) -> r (P,A) = tanh(attention.proj(v)),
 *               alpha (P) = softmax(r . r_c), h (D) = sum alpha_i v_i
 *   inf head:   h (D) -> hid (H), logits (C_i) */
IPF_INTERNAL int prof_encode(const prof_model *m, ipf_kctx *k, const float *pool, const float *xt, int P, float *xi,
                             float *x, float *v);
IPF_INTERNAL int prof_post_head(const prof_model *m, ipf_kctx *k, const float *v, int P, float *hid, float *logits);
IPF_INTERNAL int prof_attention(const prof_model *m, ipf_kctx *k, const float *v, int P, float *r, float *alpha,
                                float *h);
IPF_INTERNAL int prof_inf_head(const prof_model *m, ipf_kctx *k, const float *h, float *hid, float *logits);

/* Apply the fine-tuned encoder tensors stored in a profiler.safetensors at
 * `path` ("inception.*" folded convolutions, "bert.*" Hugging Face layer
 * names) to the model's encoders; *n_applied (may be NULL) counts tensors.
 * ipf_model_load calls it; call only while the model is private. (bundle.c) */
IPF_INTERNAL ipf_status bundle_apply_finetuned(ipf_model *m, const char *path, int *n_applied, ipf_err *e);

#endif
