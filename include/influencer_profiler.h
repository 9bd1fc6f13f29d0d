/*
 * influencer_profiler.h — the whole public API of libinfluencer_profiler.
 *
 * A C library that profiles social-media influencers from their posts, after
 * "Multimodal Post Attentive Profiling for Influencer Marketing" (Kim et al.,
 * WWW 2020): BERT-base reads captions, Inception-v3 reads images, a post
 * vector joins both, attention over an influencer's posts gives an influencer
 * vector, and two heads classify the influencer and each post.
 *
 * This header is the reference documentation.  Conventions, for every call:
 *   - Every fallible call returns ipf_status; IPF_OK is 0.  Detail is kept on
 *     the handle (ipf_model_error, ipf_session_error, ipf_trainer_error) or,
 *     before a handle exists, in a thread-local message (ipf_last_error).
 *   - Handles are opaque, created through an out-parameter, and freed by a
 *     function that accepts NULL.
 *   - The caller owns the buffers it passes and states their capacity; the
 *     library owns its handles.  No pointer passed in is kept after a call
 *     returns unless the function says so.
 *   - Threads: an ipf_model is read-only after load and may be shared by any
 *     number of threads.  An ipf_session (and an ipf_trainer) must be used by
 *     one thread at a time; make one per thread.  Nothing is tied to the
 *     thread that created a handle.
 *   - The library never exits, aborts or prints; logging goes through
 *     ipf_set_log_callback.
 *   - No variadic functions and no structs by value cross this interface.
 *
 * Since 0.1.0 unless marked otherwise.
 */
#ifndef INFLUENCER_PROFILER_H
#define INFLUENCER_PROFILER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version: the Makefile reads these three lines; keep their form. */
#define IPF_VERSION_MAJOR 0
#define IPF_VERSION_MINOR 1
#define IPF_VERSION_PATCH 0
#define IPF_VERSION_NUMBER (IPF_VERSION_MAJOR * 10000 + IPF_VERSION_MINOR * 100 + IPF_VERSION_PATCH)

#if defined(IPF_BUILDING_LIBRARY) && defined(__GNUC__)
#define IPF_API __attribute__((visibility("default")))
#else
#define IPF_API
#endif

/* ------------------------------------------------------------------------ */
/* Status codes.  The list only grows; values never change.                  */
/* ------------------------------------------------------------------------ */
typedef enum ipf_status {
    IPF_OK = 0,
    IPF_ERR_INVALID_ARGUMENT = 1, /* NULL where a pointer is required, bad value */
    IPF_ERR_OUT_OF_MEMORY = 2,
    IPF_ERR_IO = 3,               /* a file could not be opened, read or written */
    IPF_ERR_FORMAT = 4,           /* a file or buffer is not of the expected format */
    IPF_ERR_SHAPE = 5,            /* a tensor or buffer has the wrong shape or size */
    IPF_ERR_UNSUPPORTED = 6,      /* valid, but not supported by this build */
    IPF_ERR_IMAGE = 7,            /* an image could not be decoded */
    IPF_ERR_TEXT = 8,             /* a caption is unusable (e.g. nothing left after cleaning) */
    IPF_ERR_CHECKSUM = 9,         /* stored CRC-32 or sha256 does not match */
    IPF_ERR_NUMERIC = 10,         /* NaN or infinity in an input or a result */
    IPF_ERR_BUFFER_TOO_SMALL = 11,/* the caller's buffer is too small; size was reported */
    IPF_ERR_LIMIT = 12,           /* an input is over a configured limit */
    IPF_ERR_BACKEND = 13,         /* oneDNN or OpenBLAS reported a failure */
    IPF_ERR_STATE = 14,           /* the call is not valid in the handle's current state */
    IPF_ERR_NOT_FOUND = 15,       /* a named item (class, tensor, file) does not exist */
    IPF_ERR_INTERNAL = 16
} ipf_status;

/* A static English string for a status; never NULL, "unknown status" for an
 * unknown value.  Thread-safe. */
IPF_API const char *ipf_status_string(ipf_status status);

/* ------------------------------------------------------------------------ */
/* Version and ABI                                                           */
/* ------------------------------------------------------------------------ */
/* IPF_VERSION_NUMBER of the library actually loaded (may differ from the
 * header the caller compiled against). */
IPF_API uint32_t ipf_version_number(void);
/* "MAJOR.MINOR.PATCH"; static storage. */
IPF_API const char *ipf_version_string(void);
/* The ABI major version, equal to the soname's number. */
#define IPF_ABI_VERSION 0
IPF_API uint32_t ipf_abi_version(void);

/* ------------------------------------------------------------------------ */
/* Errors and logging                                                        */
/* ------------------------------------------------------------------------ */
/* The message of the last failed call made by this thread that had no handle
 * to keep it on (e.g. a failed ipf_model_load).  Empty string if none.  Valid
 * until the next library call on this thread. */
IPF_API const char *ipf_last_error(void);

typedef enum ipf_log_level {
    IPF_LOG_ERROR = 0,
    IPF_LOG_WARN = 1,
    IPF_LOG_INFO = 2,
    IPF_LOG_DEBUG = 3
} ipf_log_level;

/* Receives log lines (no trailing newline).  May be called from any thread
 * that runs a library call; must be thread-safe if the library is used from
 * several threads.  `message` is valid only during the call. */
typedef void (*ipf_log_fn)(void *user, ipf_log_level level, const char *message);

/* Install a process-wide log callback (NULL turns logging off, the default)
 * and the most verbose level passed to it.  Not thread-safe with respect to
 * concurrent library calls: install it before starting threads. */
IPF_API void ipf_set_log_callback(ipf_log_fn fn, void *user, ipf_log_level max_level);

/* ------------------------------------------------------------------------ */
/* Handles                                                                   */
/* ------------------------------------------------------------------------ */
typedef struct ipf_model ipf_model;     /* weights + configuration, shareable */
typedef struct ipf_session ipf_session; /* per-thread working state */
typedef struct ipf_trainer ipf_trainer; /* training state */

/* Compute backends.  AUTO = oneDNN where it supports an op, then OpenBLAS,
 * then the plain-C reference.  The environment variable IPF_BACKEND
 * (onednn|openblas|ref) overrides AUTO for new sessions. */
typedef enum ipf_backend {
    IPF_BACKEND_AUTO = 0,
    IPF_BACKEND_ONEDNN = 1,
    IPF_BACKEND_OPENBLAS = 2,
    IPF_BACKEND_REF = 3
} ipf_backend;

/* ===== section: model and session (owner: api) ===== */

/* Options, set per session with ipf_session_set_option.  Each has bounds
 * (ipf_option_bounds) and a default; out-of-bounds values are rejected with
 * IPF_ERR_INVALID_ARGUMENT and leave the option unchanged. */
typedef enum ipf_option {
    IPF_OPT_THREADS = 0,          /* compute threads, 1..256; default: online cores */
    IPF_OPT_BACKEND = 1,          /* an ipf_backend value; default AUTO (or $IPF_BACKEND) */
    IPF_OPT_MAX_IMAGE_PIXELS = 2, /* width*height limit before decoding, 1..2^31; default 50,000,000 */
    IPF_OPT_MAX_IMAGE_BYTES = 3,  /* encoded image size limit, 1..2^31; default 64 MiB */
    IPF_OPT_MAX_TOKENS = 4,       /* caption length incl. [CLS]/[SEP], 2..model max; default 128 */
    IPF_OPT_COUNT_ = 5            /* not an option: the number of options */
} ipf_option;

/* The inclusive bounds and default of an option.  Any out-pointer may be
 * NULL.  Thread-safe. */
IPF_API ipf_status ipf_option_bounds(ipf_option option, int64_t *min_value, int64_t *max_value,
                                     int64_t *default_value);

/* Free a model.  NULL is accepted.  Every session created from it must be
 * freed first. */
IPF_API void ipf_model_free(ipf_model *model);

/* Create a session for `model`, which must outlive it.  Thread-safe with
 * respect to other sessions of the same model. */
IPF_API ipf_status ipf_session_create(const ipf_model *model, ipf_session **out);
/* Free a session.  NULL is accepted. */
IPF_API void ipf_session_free(ipf_session *session);
/* The message of the last failed call on this session ("" if none).  Valid
 * until the next call on the session. */
IPF_API const char *ipf_session_error(const ipf_session *session);
IPF_API ipf_status ipf_session_set_option(ipf_session *session, ipf_option option, int64_t value);
IPF_API ipf_status ipf_session_get_option(const ipf_session *session, ipf_option option,
                                          int64_t *value);


/* Model components, for ipf_model_has. */
typedef enum ipf_component {
    IPF_COMPONENT_IMAGE_ENCODER = 0, /* Inception-v3 trunk */
    IPF_COMPONENT_TEXT_ENCODER = 1,  /* BERT */
    IPF_COMPONENT_TOKENIZER = 2,     /* WordPiece vocab or SentencePiece model */
    IPF_COMPONENT_PROFILER = 3       /* post encoder, attention, heads */
} ipf_component;

/* Load a model bundle directory (DESIGN.md §4):
 *   profiler.safetensors            required: heads, config, class names, CRC-32
 *   bert/{config.json,vocab.txt,model.safetensors}   optional text encoder
 *   inception/model.safetensors     optional image encoder
 * Without an encoder, posts must carry cached features for that modality.
 * On failure *out is NULL and ipf_last_error() names the file at fault. */
IPF_API ipf_status ipf_model_load(const char *bundle_dir, ipf_model **out);
/* Load only an Inception-v3 trunk (torchvision/timm names) from a safetensors
 * file.  transform_input: 1 for Google-trained weights (torchvision's
 * inception_v3 default), 0 otherwise. */
IPF_API ipf_status ipf_model_load_inception(const char *safetensors_path, int32_t transform_input,
                                            ipf_model **out);
/* Load only a BERT encoder from a Hugging Face directory (config.json,
 * model.safetensors, and vocab.txt which, when present, gives the model a
 * WordPiece tokenizer; lower-casing follows tokenizer_config.json's
 * do_lower_case, default 1). */
IPF_API ipf_status ipf_model_load_bert(const char *bert_dir, ipf_model **out);
/* A model holding only a WordPiece tokenizer (BERT vocab.txt). */
IPF_API ipf_status ipf_model_load_vocab(const char *vocab_path, int32_t lower_case, ipf_model **out);
/* A model holding only a SentencePiece tokenizer (.model file). */
IPF_API ipf_status ipf_model_load_spm(const char *spm_model_path, ipf_model **out);
/* 1 if the model has the component, else 0 (also for a NULL model). */
IPF_API int32_t ipf_model_has(const ipf_model *model, ipf_component component);

/* Dimensions, for sizing buffers. */
typedef enum ipf_dim {
    IPF_DIM_IMAGE_POOL = 0,        /* Inception pool features: 2048 */
    IPF_DIM_IMAGE = 1,             /* x_I: 1024 */
    IPF_DIM_TEXT = 2,              /* x_T: BERT hidden, 768 */
    IPF_DIM_POST = 3,              /* post vector v: 256 */
    IPF_DIM_INFLUENCER_CLASSES = 4,/* 8 in the paper */
    IPF_DIM_POST_CLASSES = 5,      /* 10 in the paper */
    IPF_DIM_MAX_TOKENS = 6,        /* BERT max positions */
    IPF_DIM_VOCAB = 7,             /* tokenizer vocabulary size */
    IPF_DIM_IMAGE_SIZE = 8         /* side of a preprocessed image (crop): 299; any model */
} ipf_dim;
/* IPF_ERR_NOT_FOUND when the model lacks the component that defines it. */
IPF_API ipf_status ipf_model_dim(const ipf_model *model, ipf_dim dim, int64_t *value);

typedef enum ipf_head {
    IPF_HEAD_INFLUENCER = 0,
    IPF_HEAD_POST = 1
} ipf_head;
/* The name of class `index` of a head; *name points into the model and lives
 * as long as it. */
IPF_API ipf_status ipf_model_class_name(const ipf_model *model, ipf_head head, int32_t index, const char **name);

/* ===== end section: model and session ===== */

/* ===== section: images (owner: image) ===== */


/* Decode an encoded image (JPEG baseline/progressive incl. CMYK, PNG incl.
 * palette and 16-bit, BMP, GIF first frame, TGA, PSD, PNM; 1-4 channels)
 * and preprocess it as DESIGN.md §4: converted to RGB as PIL's
 * convert('RGB') does (gray replicated, alpha dropped, 16-bit samples reduced
 * to their high byte), short side to 342 with PIL's antialiased bilinear
 * filter, centre crop 299, scale to [0,1], ImageNet mean/std — the same
 * numbers as torchvision on PIL for lossless formats (docs/IMAGES.md).  out
 * receives (3, 299, 299) float32 CHW (the sizes come from the model's image
 * configuration); out_cap is its capacity in floats (else
 * IPF_ERR_BUFFER_TOO_SMALL).  IPF_ERR_LIMIT when over
 * IPF_OPT_MAX_IMAGE_PIXELS/BYTES (checked from the header, before decoding),
 * IPF_ERR_IMAGE when it is empty, truncated, corrupt or not an image; the
 * session's message says why.  Works with any session (no encoder needed). */
IPF_API ipf_status ipf_session_preprocess_image(ipf_session *session, const void *data, size_t len, float *out,
                                                size_t out_cap);
/* Same from interleaved 8-bit pixels, row-major (height, width, channels),
 * channels 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA; alpha dropped).
 * IPF_ERR_SHAPE for other channel counts or an empty size. */
IPF_API ipf_status ipf_session_preprocess_rgb(ipf_session *session, const uint8_t *pixels, int32_t width,
                                              int32_t height, int32_t channels, float *out, size_t out_cap);
/* Inception-v3 on n already-preprocessed images x (n, 3, height, width),
 * height and width >= 75: pool receives (n, 2048) global-average-pooled
 * Mixed_7c features; pool_cap is its capacity in floats. */
IPF_API ipf_status ipf_session_encode_image_tensor(ipf_session *session, const float *x, int32_t n,
                                                   int32_t height, int32_t width, float *pool, size_t pool_cap);
/* Read, decode, preprocess and encode one image file: pool receives 2048 floats. */
IPF_API ipf_status ipf_session_encode_image_file(ipf_session *session, const char *path, float *pool,
                                                 size_t pool_cap);
/* Same from an encoded image in memory. */
IPF_API ipf_status ipf_session_encode_image_memory(ipf_session *session, const void *data, size_t len,
                                                   float *pool, size_t pool_cap);
/* Same from interleaved 8-bit pixels (see ipf_session_preprocess_rgb). */
IPF_API ipf_status ipf_session_encode_image_rgb(ipf_session *session, const uint8_t *pixels, int32_t width,
                                                int32_t height, int32_t channels, float *pool, size_t pool_cap);

/* ===== end section: images ===== */

/* ===== section: text (owner: text) ===== */


/* Tokenize a caption with the model's tokenizer: `len` bytes of UTF-8
 * (invalid bytes are dropped, as Python's errors='ignore'), giving the full
 * [CLS] ... [SEP] sequence truncated to IPF_OPT_MAX_TOKENS.  *n_ids receives
 * the count; when cap is too small, IPF_ERR_BUFFER_TOO_SMALL is returned with
 * *n_ids set, so a call with ids=NULL, cap=0 queries the size.  A caption
 * that is empty after cleaning still gives [CLS] [SEP]. */
IPF_API ipf_status ipf_session_tokenize(ipf_session *session, const char *text, size_t len, int32_t *ids,
                                        size_t cap, size_t *n_ids);
/* BERT on one id sequence (as from ipf_session_tokenize, starting with
 * [CLS]): cls receives the last layer's [CLS] vector (IPF_DIM_TEXT floats).
 * Ids must be < the vocabulary size and n_ids <= IPF_DIM_MAX_TOKENS. */
IPF_API ipf_status ipf_session_encode_ids(ipf_session *session, const int32_t *ids, size_t n_ids, float *cls,
                                          size_t cls_cap);
/* n sequences of different lengths at once; cls receives (n, IPF_DIM_TEXT).
 * Gives the same vectors as encoding them one by one; each costs its own
 * length, not the longest. */
IPF_API ipf_status ipf_session_encode_ids_batch(ipf_session *session, const int32_t *const *ids,
                                                const size_t *n_ids, size_t n, float *cls, size_t cls_cap);
/* Tokenize and encode one caption. */
IPF_API ipf_status ipf_session_encode_text(ipf_session *session, const char *text, size_t len, float *cls,
                                           size_t cls_cap);
/* Tokenize and encode n captions; cls receives (n, IPF_DIM_TEXT). */
IPF_API ipf_status ipf_session_encode_text_batch(ipf_session *session, const char *const *texts,
                                                 const size_t *lens, size_t n, float *cls, size_t cls_cap);

/* ===== end section: text ===== */

/* ===== section: profiler (owner: api) ===== */


/* One post.  Crosses the ABI by pointer; set struct_size = sizeof(ipf_post)
 * (later versions only append fields).  Each modality comes from the first
 * of: cached feature, raw input.  A post with neither modality is an error;
 * a post with one is encoded with zeros for the other (documented choice:
 * the model sees "no caption" / "no image" as a zero feature).
 * All pointers are borrowed for the duration of the call. */
typedef struct ipf_post {
    size_t struct_size;
    const char *caption;        /* UTF-8 caption bytes, or NULL */
    size_t caption_len;
    const void *image_data;     /* encoded image bytes, or NULL */
    size_t image_len;
    const char *image_path;     /* image file path, used when image_data is NULL */
    const float *text_feature;  /* cached x_T (IPF_DIM_TEXT floats), or NULL */
    const float *image_feature; /* cached Inception pool features (IPF_DIM_IMAGE_POOL floats), or NULL */
} ipf_post;

/* Encode one post.  Any of the out-pointers may be NULL:
 *   text_feature  IPF_DIM_TEXT floats (x_T; zeros when no caption)
 *   image_feature IPF_DIM_IMAGE_POOL floats (pool; zeros when no image)
 *   post_vec      IPF_DIM_POST floats (v)
 * so callers can store features once and pass them back later.
 * IPF_ERR_NUMERIC if a cached feature holds NaN or infinity. */
IPF_API ipf_status ipf_session_encode_post(ipf_session *session, const ipf_post *post, float *text_feature,
                                           float *image_feature, float *post_vec);
/* n posts at once: post_vecs receives (n, IPF_DIM_POST). */
IPF_API ipf_status ipf_session_encode_posts(ipf_session *session, const ipf_post *posts, size_t n,
                                            float *post_vecs, size_t post_vecs_cap);
/* Post head: probs receives IPF_DIM_POST_CLASSES softmax probabilities. */
IPF_API ipf_status ipf_session_classify_post(ipf_session *session, const float *post_vec, float *probs,
                                             size_t probs_cap);
/* Attention pooling over n >= 1 post vectors (n, IPF_DIM_POST):
 * influencer_vec receives IPF_DIM_POST floats, alpha (may be NULL) the n
 * attention weights (summing to 1). */
IPF_API ipf_status ipf_session_pool(ipf_session *session, const float *post_vecs, size_t n,
                                    float *influencer_vec, float *alpha, size_t alpha_cap);
/* Influencer head: probs receives IPF_DIM_INFLUENCER_CLASSES probabilities. */
IPF_API ipf_status ipf_session_classify_influencer(ipf_session *session, const float *influencer_vec,
                                                   float *probs, size_t probs_cap);
/* Everything for one influencer in one call: encode n >= 1 posts, pool,
 * classify.  inf_probs: IPF_DIM_INFLUENCER_CLASSES floats; post_probs (may be
 * NULL): (n, IPF_DIM_POST_CLASSES); alpha (may be NULL): n floats. */
IPF_API ipf_status ipf_session_profile(ipf_session *session, const ipf_post *posts, size_t n, float *inf_probs,
                                       float *post_probs, float *alpha);

/* ===== end section: profiler ===== */

/* ===== section: training (owner: train) ===== */

/* Training (DESIGN.md §1): loss = CE(influencer) + lambda_post * mean over
 * the labelled posts of CE(post) (unlabelled posts are skipped; an
 * unlabelled influencer contributes only its post term), averaged over the
 * influencers of a step; Adam; dropout on the post and influencer vectors.
 * Trained: the profiler (post encoder, attention, both heads) and, with
 * inception_trainable_blocks = k > 0, Inception's top k mixed blocks (the
 * paper: 2, Mixed_7b and Mixed_7c), and with bert_trainable_layers = j > 0
 * BERT's top j layers (the paper keeps BERT frozen).
 * Features: what cannot change is computed once per post at load time and
 * kept in memory: x_T (j = 0) or the hidden states below the top j layers
 * (j > 0), and the Inception pool features (k = 0) or the frozen trunk's
 * output below the top k blocks (k > 0).  With augmentation on, the
 * preprocessed image is cached and the frozen trunk is rerun on every
 * augmented copy (the transform changes every layer's input).  A manifest
 * line may carry "text_feature" / "image_feature" arrays instead (as for
 * `ipf profile`); such posts need no encoder.
 *
 * A trainer is used by one thread at a time.  It keeps its own copy of the
 * parameters; the model it was created from is not modified and must
 * outlive the trainer. */

typedef enum ipf_lr_schedule {
    IPF_LR_CONSTANT = 0,
    IPF_LR_COSINE = 1, /* from lr to lr_min over all epochs' steps */
    IPF_LR_STEP = 2    /* multiply by lr_step_gamma every lr_step_epochs epochs */
} ipf_lr_schedule;

typedef enum ipf_pooling {
    IPF_POOLING_ATTENTION = 0, /* the paper's attention over post vectors */
    IPF_POOLING_MEAN = 1       /* plain mean of post vectors (ablation) */
} ipf_pooling;

/* Training options.  Crosses the ABI by pointer: fill with
 * ipf_train_options_default (which sets struct_size), then change fields.
 * Later versions only append fields. */
typedef struct ipf_train_options {
    size_t struct_size;
    float lr;                  /* 1e-3 */
    float beta1, beta2, eps;   /* 0.9, 0.999, 1e-8 (torch.optim.Adam) */
    float weight_decay;        /* 0 */
    int32_t decoupled_weight_decay; /* 1: AdamW; 0: L2 added to the gradient (default) */
    float clip_norm;           /* > 0: clip the global gradient norm; 0 (default) = off */
    int32_t lr_schedule;       /* ipf_lr_schedule; IPF_LR_CONSTANT */
    float lr_min;              /* cosine floor; 0 */
    int32_t lr_step_epochs;    /* step schedule period in epochs; 10 */
    float lr_step_gamma;       /* step schedule factor; 0.1 */
    float dropout;             /* on post and influencer vectors, [0,1); 0.5 */
    float lambda_post;         /* weight of the post loss; 1 */
    int32_t posts_per_influencer;      /* posts sampled per influencer per step; 20; 0 = all */
    int32_t eval_posts_per_influencer; /* posts per influencer at evaluation; 0 (default) = all */
    int32_t batch_influencers; /* influencers per optimisation step; 8 */
    int32_t epochs;            /* for callers that loop (the CLI); 10 */
    uint64_t seed;             /* everything random derives from it; 1 */
    int32_t pooling;           /* ipf_pooling; attention */
    float val_fraction;        /* stratified validation split of influencers; 0.2 */
    int32_t standardize_features; /* 1: train on features standardised with the training
                                     set's mean/std; folded exactly into img_proj / post_proj
                                     when saving, so the saved model takes raw features; 0 */
    int32_t augment;           /* 1: augment images (reruns the trunk per copy); 0 */
    float aug_rotation_deg;    /* 30 */
    float aug_shift;           /* fraction of width/height; 0.2 */
    float aug_zoom;            /* 0.2 */
    int32_t aug_hflip;         /* 1 */
    float aug_channel_shift;   /* normalised units; 0.1 */
    int32_t aug_fill_nearest;  /* 1: nearest edge; 0: constant 0 */
    int64_t aug_cache_mb;      /* preprocessed-image cache budget (MiB); 1024 */
    int32_t inception_trainable_blocks; /* top Inception blocks trained, 0..11; the paper uses 2
                                           (Mixed_7b, Mixed_7c); default 0 (heads only, fastest) */
    int32_t bert_trainable_layers;      /* top BERT layers trained; default 0 (frozen, as the paper) */
    int32_t threads;           /* compute threads; 0 = the session default */
    int32_t missing_image_is_error; /* 1: a manifest post whose image file is missing fails
                                       load_data; 0 (default): dropped and counted */
} ipf_train_options;

/* Fill *options with the defaults above.  Thread-safe. */
IPF_API ipf_status ipf_train_options_default(ipf_train_options *options);

/* Per-class metrics for up to this many classes per head. */
#define IPF_TRAIN_MAX_CLASSES 64

/* Metrics of an epoch or an evaluation.  Set struct_size = sizeof before
 * the call (later versions only append fields). */
typedef struct ipf_train_metrics {
    size_t struct_size;
    int32_t epoch;             /* completed epochs */
    int64_t step;              /* optimisation steps so far */
    double train_loss;         /* mean training loss of the last epoch (ipf_trainer_epoch), else 0 */
    double loss;               /* evaluation loss (same definition, no dropout) */
    double loss_influencer, loss_post;
    double influencer_accuracy, post_accuracy;
    double influencer_macro_f1, post_macro_f1; /* over classes present in truth or predictions */
    int32_t n_influencers;     /* labelled influencers evaluated */
    int32_t n_posts;           /* labelled posts evaluated */
    int32_t n_influencer_classes, n_post_classes;
    float influencer_f1[IPF_TRAIN_MAX_CLASSES];
    float post_f1[IPF_TRAIN_MAX_CLASSES];
    int32_t influencer_support[IPF_TRAIN_MAX_CLASSES]; /* true examples per class */
    int32_t post_support[IPF_TRAIN_MAX_CLASSES];
} ipf_train_metrics;

/* Progress of long calls: stage is "features", "train" or "evaluate"; done
 * out of total units (posts or influencers).  Called on the calling thread. */
typedef void (*ipf_progress_fn)(void *user, const char *stage, int64_t done, int64_t total);

/* Create a trainer from a model with a profiler (and the encoders the data
 * needs).  options may be NULL for the defaults.  The model must outlive the
 * trainer.  IPF_ERR_NOT_FOUND for inception_trainable_blocks > 0 without an
 * image encoder, or bert_trainable_layers > 0 without BERT and its tokenizer. */
IPF_API ipf_status ipf_trainer_create(const ipf_model *model, const ipf_train_options *options,
                                      ipf_trainer **out);
/* Free a trainer.  NULL is accepted. */
IPF_API void ipf_trainer_free(ipf_trainer *trainer);
/* The message of the last failed call on this trainer ("" if none). */
IPF_API const char *ipf_trainer_error(const ipf_trainer *trainer);
/* Install a progress callback (NULL: none). */
IPF_API ipf_status ipf_trainer_set_progress(ipf_trainer *trainer, ipf_progress_fn fn, void *user);
/* Use `path` as a feature cache: when it exists and was made from the same
 * posts (ids, captions, image paths) and widths, load_data reads features
 * from it instead of running the encoders; otherwise load_data writes it.
 * Call before ipf_trainer_load_data.  The string is copied. */
IPF_API ipf_status ipf_trainer_set_feature_cache(ipf_trainer *trainer, const char *path);
/* Read a manifest (DESIGN.md §4; plain or gzip), split influencers into
 * training and validation (stratified, by seed), and compute every post's
 * features (the slow part).  Replaces any data loaded before. */
IPF_API ipf_status ipf_trainer_load_data(ipf_trainer *trainer, const char *manifest_path);
/* Counts after load_data: training / validation influencers, posts, and
 * posts dropped because their image file was missing.  Any may be NULL. */
IPF_API ipf_status ipf_trainer_data_info(const ipf_trainer *trainer, int32_t *train_influencers,
                                         int32_t *val_influencers, int32_t *posts, int32_t *dropped_posts);
/* One optimisation step on the next batch_influencers training influencers
 * (reshuffled each epoch); *loss (may be NULL) receives the batch loss.
 * IPF_ERR_NUMERIC on a non-finite loss or gradient: nothing is updated. */
IPF_API ipf_status ipf_trainer_step(ipf_trainer *trainer, double *loss);
/* Steps to the end of the current epoch, then evaluates on the validation
 * split; metrics (may be NULL) receives both. */
IPF_API ipf_status ipf_trainer_epoch(ipf_trainer *trainer, ipf_train_metrics *metrics);
/* Evaluate on the validation split (on the training split when there is no
 * validation split), without dropout: loss, accuracy and per-class F1 of
 * both heads. */
IPF_API ipf_status ipf_trainer_evaluate(ipf_trainer *trainer, ipf_train_metrics *metrics);
/* Write a model bundle to out_dir (created if needed): profiler.safetensors
 * with the trained weights (fine-tuned Inception blocks as extra tensors
 * "inception.<block>.<branch>.weight|bias", BatchNorm folded, flat; BERT
 * layers as "bert.encoder.layer.N...." Hugging Face names), and the
 * encoders of the source bundle (bert/, inception/) linked (symlink) or,
 * where linking fails, copied. */
IPF_API ipf_status ipf_trainer_save_bundle(ipf_trainer *trainer, const char *out_dir);
/* Save parameters, Adam state, RNG, epoch/step and data order to `path`
 * atomically (temporary file, fsync, rename): a failure, including a full
 * disk, leaves any previous checkpoint intact. */
IPF_API ipf_status ipf_trainer_checkpoint_save(ipf_trainer *trainer, const char *path);
/* Restore a checkpoint saved by a trainer of the same configuration and
 * data; training then continues bit-exactly as if never interrupted (same
 * thread count).  IPF_ERR_CHECKSUM for a damaged file, IPF_ERR_STATE when
 * the model configuration or the data differ. */
IPF_API ipf_status ipf_trainer_checkpoint_resume(ipf_trainer *trainer, const char *path);

/* ===== end section: training ===== */

#ifdef __cplusplus
}
#endif
#endif /* INFLUENCER_PROFILER_H */
