/* ipf_go.h — included by every cgo preamble of the package.
 *
 * Functions beyond the core are declared weak, so the package links against
 * any 0.x library; before calling one, Go checks with ipf_go_has() that the
 * loaded library exports it and otherwise returns StatusUnsupported (the
 * same behaviour as the Python binding).  Files added later (train.go) list
 * their functions here with IPF_GO_WEAK too. */
#ifndef IPF_GO_H
#define IPF_GO_H
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include "influencer_profiler.h"

static inline int ipf_go_has(const char *name) { return dlsym(RTLD_DEFAULT, name) != NULL; }

#pragma weak ipf_model_load
#pragma weak ipf_model_load_inception
#pragma weak ipf_model_load_bert
#pragma weak ipf_model_load_vocab
#pragma weak ipf_model_load_spm
#pragma weak ipf_model_has
#pragma weak ipf_model_dim
#pragma weak ipf_model_class_name
#pragma weak ipf_session_preprocess_image
#pragma weak ipf_session_preprocess_rgb
#pragma weak ipf_session_encode_image_tensor
#pragma weak ipf_session_encode_image_file
#pragma weak ipf_session_encode_image_memory
#pragma weak ipf_session_encode_image_rgb
#pragma weak ipf_session_tokenize
#pragma weak ipf_session_encode_ids
#pragma weak ipf_session_encode_ids_batch
#pragma weak ipf_session_encode_text
#pragma weak ipf_session_encode_text_batch
#pragma weak ipf_session_encode_post
#pragma weak ipf_session_encode_posts
#pragma weak ipf_session_classify_post
#pragma weak ipf_session_pool
#pragma weak ipf_session_classify_influencer
#pragma weak ipf_session_profile
#pragma weak ipf_train_options_default
#pragma weak ipf_trainer_create
#pragma weak ipf_trainer_free
#pragma weak ipf_trainer_error
#pragma weak ipf_trainer_set_progress
#pragma weak ipf_trainer_set_feature_cache
#pragma weak ipf_trainer_load_data
#pragma weak ipf_trainer_data_info
#pragma weak ipf_trainer_step
#pragma weak ipf_trainer_epoch
#pragma weak ipf_trainer_evaluate
#pragma weak ipf_trainer_save_bundle
#pragma weak ipf_trainer_checkpoint_save
#pragma weak ipf_trainer_checkpoint_resume

#endif
