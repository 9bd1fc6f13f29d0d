/* spm_shim.h — C view of libsentencepiece's SentencePieceProcessor
 * (lib/spm_shim.cc, the library's only C++).  No exception crosses it.
 * Owner: tok. */
#ifndef IPF_SPM_SHIM_H
#define IPF_SPM_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPM_INTERNAL __attribute__((visibility("hidden")))

typedef struct spm_proc spm_proc;

/* 0 on success; otherwise -1 with a message in err (NUL-terminated). */
SPM_INTERNAL int spm_shim_load(const char *path, spm_proc **out, char *err, size_t err_cap);
SPM_INTERNAL void spm_shim_free(spm_proc *p);
SPM_INTERNAL int32_t spm_shim_size(const spm_proc *p);
SPM_INTERNAL int32_t spm_shim_bos(const spm_proc *p); /* -1 when the model has none */
SPM_INTERNAL int32_t spm_shim_eos(const spm_proc *p);
/* Encode valid UTF-8 (NULs allowed) as SentencePieceProcessor::Encode does:
 * the first min(total, cap) ids go to ids, *n_total receives the count.
 * 0 on success, -1 with a message.  Thread-safe (Encode is const). */
SPM_INTERNAL int spm_shim_encode(const spm_proc *p, const char *text, size_t len, int32_t *ids, size_t cap,
                                 size_t *n_total, char *err, size_t err_cap);
/* Encode to pieces (Encode(input, &pieces): an unknown span comes back as
 * its own text, not "<unk>").  The pieces are concatenated into buf with their
 * byte lengths in lens; *n receives the count.  -1 with a message on failure
 * or when buf/lens are too small.  For tests. */
SPM_INTERNAL int spm_shim_encode_pieces(const spm_proc *p, const char *text, size_t len, char *buf, size_t buf_cap,
                                        size_t *lens, size_t lens_cap, size_t *n, char *err, size_t err_cap);
/* The piece of an id, NUL-terminated into buf (truncated to cap); its full
 * length is returned, or -1 for an id out of range. */
SPM_INTERNAL int spm_shim_piece(const spm_proc *p, int32_t id, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
