/* test_core.c — status strings, versions, options, session lifecycle. */
#include "influencer_profiler.h"
#include "test.h"

TEST(core_status_strings) {
    CHECK_STR_EQ(ipf_status_string(IPF_OK), "ok");
    CHECK_STR_EQ(ipf_status_string((ipf_status)9999), "unknown status");
    for (int s = 0; s <= IPF_ERR_INTERNAL; s++) CHECK(strcmp(ipf_status_string((ipf_status)s), "unknown status") != 0);
}

TEST(core_version) {
    CHECK_EQ_INT(ipf_version_number(), IPF_VERSION_NUMBER);
    char buf[64];
    snprintf(buf, sizeof buf, "%d.%d.%d", IPF_VERSION_MAJOR, IPF_VERSION_MINOR, IPF_VERSION_PATCH);
    CHECK_STR_EQ(ipf_version_string(), buf);
    CHECK_EQ_INT(ipf_abi_version(), IPF_ABI_VERSION);
}

TEST(core_option_bounds) {
    int64_t lo, hi, def;
    CHECK_OK(ipf_option_bounds(IPF_OPT_THREADS, &lo, &hi, &def), ipf_last_error());
    CHECK(lo == 1 && hi >= def && def >= 1);
    CHECK_EQ_INT(ipf_option_bounds((ipf_option)77, &lo, &hi, &def), IPF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ipf_last_error(), "unknown option") != NULL);
}

TEST(core_session_null_args) {
    ipf_session *s = (ipf_session *)1;
    CHECK_EQ_INT(ipf_session_create(NULL, &s), IPF_ERR_INVALID_ARGUMENT);
    CHECK(s == NULL);
    CHECK(strstr(ipf_last_error(), "model is NULL") != NULL);
    ipf_session_free(NULL);
    ipf_model_free(NULL);
}

TEST(core_image_size_dim_any_model) {
    /* IPF_DIM_IMAGE_SIZE is defined for every model: a tokenizer-only one uses the default crop */
    const char *vocab = test_shared_path("data/bert-base-uncased-vocab.txt");
    if (!vocab) SKIP("../shared/data/bert-base-uncased-vocab.txt is absent");
    ipf_model *m = NULL;
    REQUIRE(ipf_model_load_vocab(vocab, 1, &m) == IPF_OK);
    int64_t side = 0;
    CHECK_OK(ipf_model_dim(m, IPF_DIM_IMAGE_SIZE, &side), ipf_last_error());
    CHECK_EQ_INT(side, 299);
    CHECK_EQ_INT(ipf_model_dim(m, (ipf_dim)99, &side), IPF_ERR_INVALID_ARGUMENT);
    ipf_model_free(m);
}
