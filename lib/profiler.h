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

#endif
