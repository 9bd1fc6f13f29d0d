/* inception.h — Inception-v3 trunk (torchvision Inception3 names).  Owner: cnn. */
#ifndef IPF_INCEPTION_H
#define IPF_INCEPTION_H

#include "internal.h"

#define INCEPTION_POOL_DIM 2048

typedef struct inception inception;

/* Load the trunk from a safetensors file with torchvision / timm Inception3
 * names (AuxLogits.* and fc.* ignored).  transform_input folds torchvision's
 * input transform for Google-trained weights. */
IPF_INTERNAL ipf_status inception_load(const char *path, int transform_input, inception **out, ipf_err *e);
IPF_INTERNAL void inception_free(void *inc);

/* x (N,3,H,W) preprocessed, H,W >= 75  ->  pool (N,2048) global-average-
 * pooled Mixed_7c features.  Runs in chunks of up to 8 images, so the
 * session's workspace stays bounded whatever N.  Errors go to s->err. */
IPF_INTERNAL ipf_status inception_forward(const inception *inc, ipf_session *s, const float *x, int N, int H,
                                          int W, float *pool);
/* Same with the oneDNN activation layout forced (KL_BLK8, KL_BLK16; -1 =
 * this CPU's preferred one), so tests cover the layout of other CPUs. */
IPF_INTERNAL ipf_status inception_forward_layout(const inception *inc, ipf_session *s, const float *x, int N, int H,
                                                 int W, int layout, float *pool);

/* ---- fine-tuning the top blocks (used by the trainer) ------------------
 *
 * The trunk has INCEPTION_NBLOCKS mixed blocks, Mixed_5b ... Mixed_7c, below
 * them the stem (Conv2d_1a_3x3 ... maxpool2).  k counts trainable blocks from
 * the top: 1..INCEPTION_NBLOCKS, or INCEPTION_NBLOCKS + 1 for the whole trunk,
 * stem included (then the "features" are the image itself and stem tensors
 * are named "Conv2d_1a_3x3.weight" etc.).  The paper fine-tunes the top k = 2
 * (Mixed_7b, Mixed_7c) with everything below frozen, so the trainer:
 *   1. computes the frozen features once per image (they can be cached):
 *        inception_trunk_shape(inc, H, W, k, &C, &FH, &FW)   -> 1280, 8, 8 for 299x299, k 2
 *        inception_forward_trunk_to(inc, s, x, N, H, W, k, feat)  feat (N,C,FH,FW) NCHW
 *   2. creates one training object per trainer (not thread-safe, one thread):
 *        inception_train_create(inc, k, &t, e)
 *      It holds float copies of the top k blocks' parameters, i.e. of the
 *      *folded* convolutions (BasicConv2d = conv + eval-mode BN folded into a
 *      conv with bias, ReLU after): one flat array, inception_train_params(),
 *      and a gradient array of the same layout, inception_train_grads().
 *      Tensor i (0 <= i < inception_train_count()) is named
 *      "<block>.<branch>.weight" (M,C,KH,KW) or "<block>.<branch>.bias" (M),
 *      e.g. "Mixed_7c.branch3x3dbl_3a.weight", at params + offset, count
 *      floats; tensors start 64-byte aligned, the gaps are zero.  An
 *      optimizer may update params in place between steps (Adam over the
 *      whole flat array is fine: gaps stay zero).
 *   3. per batch: inception_train_forward(t, s, feat, N, FH, FW, pool) runs
 *      the top k blocks in training form (plain NCHW, weights re-read every
 *      call), keeps every activation for the backward pass and writes pool
 *      (N,2048); then inception_train_backward(t, s, dpool, dfeat) ADDS the
 *      parameter gradients into grads (zero them yourself between steps) and,
 *      when dfeat is not NULL, the feature gradient into dfeat (N,C,FH,FW).
 *      BN stays in eval mode (folded): its statistics are not updated.
 *   4. to use the fine-tuned weights at inference, save the named tensors and,
 *      while loading a model (before sharing it), call inception_set_folded()
 *      for each: it replaces that folded conv's weight or bias.
 * Errors go to s->err (or e). */
#define INCEPTION_NBLOCKS 11

IPF_INTERNAL ipf_status inception_trunk_shape(const inception *inc, int H, int W, int k, int *C, int *FH, int *FW,
                                              ipf_err *e);
/* x (N,3,H,W) -> feat (N,C,FH,FW): everything below the top k blocks (k = 0:
 * the full Mixed_7c output before pooling; k = INCEPTION_NBLOCKS + 1: a copy
 * of x). */
IPF_INTERNAL ipf_status inception_forward_trunk_to(const inception *inc, ipf_session *s, const float *x, int N, int H,
                                                   int W, int k, float *feat);

typedef struct inception_train inception_train;
IPF_INTERNAL ipf_status inception_train_create(const inception *inc, int k, inception_train **out, ipf_err *e);
IPF_INTERNAL void inception_train_free(inception_train *t);
IPF_INTERNAL size_t inception_train_count(const inception_train *t);
IPF_INTERNAL void inception_train_tensor(const inception_train *t, size_t i, const char **name, size_t *offset,
                                         size_t *count);
IPF_INTERNAL size_t inception_train_nparams(const inception_train *t);
IPF_INTERNAL float *inception_train_params(inception_train *t);
IPF_INTERNAL float *inception_train_grads(inception_train *t);
/* C of the features the first trainable block takes (1280 for k = 2). */
IPF_INTERNAL int inception_train_feature_channels(const inception_train *t);
/* feat (N,C,FH,FW) -> pool (N,2048) (pool may be NULL). */
IPF_INTERNAL ipf_status inception_train_forward(inception_train *t, ipf_session *s, const float *feat, int N, int FH,
                                                int FW, float *pool);
/* dpool (N,2048) of the last forward -> grads +=, dfeat += (dfeat may be NULL). */
IPF_INTERNAL ipf_status inception_train_backward(inception_train *t, ipf_session *s, const float *dpool, float *dfeat);
/* Replace a folded conv's weight or bias ("<block>.<branch>.weight|bias",
 * count floats) in a model being loaded. */
IPF_INTERNAL ipf_status inception_set_folded(inception *inc, const char *name, const float *data, size_t count,
                                             ipf_err *e);
/* Re-pack, for oneDNN, the weights that inception_set_folded() replaced (call
 * once after the replacements, still before sharing the model; without it
 * each session reorders those convs' weights itself).  inception_load()
 * packs everything already. */
IPF_INTERNAL void inception_prepack(inception *inc);
/* Apply every tensor of f whose name starts with prefix (e.g. "inception."
 * in profiler.safetensors, as the trainer saves them) with
 * inception_set_folded(), then inception_prepack().  *napplied (may be NULL)
 * receives the count.  For a bundle loader, before sharing the model. */
struct st_file;
IPF_INTERNAL ipf_status inception_apply_folded(inception *inc, struct st_file *f, const char *prefix, int *napplied,
                                               ipf_err *e);

#endif
