/* profile_example.c — profile one influencer with the C API.
 *
 *   profile_example BUNDLE_DIR CAPTION IMAGE [CAPTION IMAGE ...]
 *
 * Each post is a caption and an image path; "-" leaves either out.  Prints
 * the influencer's class probabilities and, per post, its attention weight
 * and most probable class.  Build:
 *   cc profile_example.c $(pkg-config --cflags --libs influencer_profiler) */
#include <influencer_profiler.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, ipf_status st, const char *msg) {
    fprintf(stderr, "%s: %s: %s\n", what, ipf_status_string(st), msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4 || (argc - 2) % 2) {
        fprintf(stderr, "usage: %s BUNDLE_DIR CAPTION IMAGE [CAPTION IMAGE ...]  (\"-\" = none)\n", argv[0]);
        return 2;
    }
    printf("libinfluencer_profiler %s\n", ipf_version_string());

    ipf_model *model = NULL;
    ipf_status st = ipf_model_load(argv[1], &model);
    if (st != IPF_OK) return fail("load", st, ipf_last_error());

    ipf_session *session = NULL;
    st = ipf_session_create(model, &session);
    if (st != IPF_OK) {
        ipf_model_free(model);
        return fail("session", st, ipf_last_error());
    }

    size_t n = (size_t)(argc - 2) / 2;
    int64_t n_inf = 0, n_post = 0;
    ipf_model_dim(model, IPF_DIM_INFLUENCER_CLASSES, &n_inf);
    ipf_model_dim(model, IPF_DIM_POST_CLASSES, &n_post);
    ipf_post *posts = calloc(n, sizeof *posts);
    float *inf = calloc((size_t)n_inf, sizeof *inf);
    float *post_probs = calloc(n * (size_t)n_post, sizeof *post_probs);
    float *alpha = calloc(n, sizeof *alpha);
    int rc = 1;
    if (!posts || !inf || !post_probs || !alpha) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *cap = argv[2 + 2 * i], *img = argv[3 + 2 * i];
        posts[i].struct_size = sizeof posts[i];
        if (strcmp(cap, "-")) {
            posts[i].caption = cap;
            posts[i].caption_len = strlen(cap);
        }
        if (strcmp(img, "-")) posts[i].image_path = img;
    }
    st = ipf_session_profile(session, posts, n, inf, post_probs, alpha);
    if (st != IPF_OK) {
        rc = fail("profile", st, ipf_session_error(session));
        goto done;
    }
    int best = 0;
    for (int c = 0; c < n_inf; c++) {
        const char *name = "?";
        ipf_model_class_name(model, IPF_HEAD_INFLUENCER, c, &name);
        printf("influencer %-10s %.4f\n", name, inf[c]);
        if (inf[c] > inf[best]) best = c;
    }
    const char *label = "?";
    ipf_model_class_name(model, IPF_HEAD_INFLUENCER, best, &label);
    printf("label: %s\n", label);
    for (size_t i = 0; i < n; i++) {
        const float *p = post_probs + i * (size_t)n_post;
        int pb = 0;
        for (int c = 1; c < n_post; c++)
            if (p[c] > p[pb]) pb = c;
        const char *pname = "?";
        ipf_model_class_name(model, IPF_HEAD_POST, pb, &pname);
        printf("post %zu attention %.4f class %s (%.4f)\n", i, alpha[i], pname, p[pb]);
    }
    rc = 0;
done:
    free(posts);
    free(inf);
    free(post_probs);
    free(alpha);
    ipf_session_free(session);
    ipf_model_free(model);
    return rc;
}
