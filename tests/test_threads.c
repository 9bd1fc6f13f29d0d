/* test_threads.c — one model shared by 8 threads, one session each, many
 * influencers with cached features: every thread's results must be
 * bit-identical to a single-threaded run.  Each thread walks the influencers
 * in its own rotation so that different threads run different shapes at the
 * same time.  Sessions use 1 compute thread (8 threads x 1 is how a server
 * would run it, and check_15_tsan.sh runs this test under ThreadSanitizer,
 * which cannot see inside libgomp).  IPF_TEST_LIGHT selects the small bundle. */
#include "influencer_profiler.h"
#include "test.h"
#include "test_util.h"

#include <pthread.h>

#define N_THREADS 8
#define N_INFLUENCERS 24
#define MAX_POSTS 9

typedef struct shared {
    const ipf_model *m;
    int64_t X, E, Ci, Cp;
    float *xt, *pool;                 /* features of every post of every influencer */
    int n_posts[N_INFLUENCERS], first[N_INFLUENCERS];
    float *want_inf, *want_post, *want_alpha; /* single-threaded results */
} shared;

typedef struct job {
    const shared *sh;
    int rotation;
    float *inf, *post, *alpha; /* this thread's results, same layout as want_* */
    int failed;
    char msg[512];
} job;

/* Profile every influencer (in rotated order) into inf/post/alpha. */
static int run_all(const shared *sh, int rotation, float *inf, float *post, float *alpha, char *msg, size_t cap) {
    ipf_session *s = NULL;
    if (ipf_session_create(sh->m, &s) || ipf_session_set_option(s, IPF_OPT_THREADS, 1)) {
        snprintf(msg, cap, "session: %s", s ? ipf_session_error(s) : ipf_last_error());
        ipf_session_free(s);
        return -1;
    }
    for (int j = 0; j < N_INFLUENCERS; j++) {
        int k = (j + rotation) % N_INFLUENCERS, P = sh->n_posts[k], f = sh->first[k];
        ipf_post posts[MAX_POSTS];
        for (int i = 0; i < P; i++) {
            memset(&posts[i], 0, sizeof posts[i]);
            posts[i].struct_size = sizeof posts[i];
            posts[i].text_feature = sh->xt + (size_t)(f + i) * sh->X;
            posts[i].image_feature = sh->pool + (size_t)(f + i) * sh->E;
        }
        const char *name;
        if (ipf_session_profile(s, posts, (size_t)P, inf + (size_t)k * sh->Ci, post + (size_t)f * sh->Cp,
                                alpha + f) ||
            ipf_model_class_name(sh->m, IPF_HEAD_INFLUENCER, (int32_t)(k % sh->Ci), &name)) {
            snprintf(msg, cap, "influencer %d: %s", k, ipf_session_error(s));
            ipf_session_free(s);
            return -1;
        }
    }
    ipf_session_free(s);
    return 0;
}

static void *thread_main(void *arg) {
    job *j = arg;
    j->failed = run_all(j->sh, j->rotation, j->inf, j->post, j->alpha, j->msg, sizeof j->msg) != 0;
    return NULL;
}

TEST(threads_shared_model_bit_identical) {
    const char *light = getenv("IPF_TEST_LIGHT");
    const char *dir = test_golden_path(light && *light && strcmp(light, "0") ? "profiler/small" : "profiler/paper");
    if (!dir) {
        FAILF("golden bundle profiler/{paper,small} missing (run make gen)");
        return;
    }
    ipf_model *m = NULL;
    if (ipf_model_load(dir, &m)) {
        FAILF("load %s: %s", dir, ipf_last_error());
        return;
    }
    shared sh = {.m = m};
    ipf_model_dim(m, IPF_DIM_TEXT, &sh.X);
    ipf_model_dim(m, IPF_DIM_IMAGE_POOL, &sh.E);
    ipf_model_dim(m, IPF_DIM_INFLUENCER_CLASSES, &sh.Ci);
    ipf_model_dim(m, IPF_DIM_POST_CLASSES, &sh.Cp);
    int total = 0;
    for (int k = 0; k < N_INFLUENCERS; k++) {
        sh.n_posts[k] = 1 + (k * 5) % MAX_POSTS;
        sh.first[k] = total;
        total += sh.n_posts[k];
    }
    sh.xt = malloc(sizeof(float) * (size_t)total * sh.X);
    sh.pool = malloc(sizeof(float) * (size_t)total * sh.E);
    for (size_t i = 0; i < (size_t)total * sh.X; i++) sh.xt[i] = (float)sin(0.37 * (double)i);
    for (size_t i = 0; i < (size_t)total * sh.E; i++) sh.pool[i] = (float)(0.3 + 0.3 * cos(0.11 * (double)i));
    size_t ninf = (size_t)N_INFLUENCERS * sh.Ci, npost = (size_t)total * sh.Cp;
    sh.want_inf = calloc(ninf, sizeof(float));
    sh.want_post = calloc(npost, sizeof(float));
    sh.want_alpha = calloc((size_t)total, sizeof(float));
    char msg[512];
    if (run_all(&sh, 0, sh.want_inf, sh.want_post, sh.want_alpha, msg, sizeof msg)) FAILF("single thread: %s", msg);

    job jobs[N_THREADS];
    pthread_t tid[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        jobs[t] = (job){.sh = &sh, .rotation = t * 3};
        jobs[t].inf = calloc(ninf, sizeof(float));
        jobs[t].post = calloc(npost, sizeof(float));
        jobs[t].alpha = calloc((size_t)total, sizeof(float));
        REQUIRE(pthread_create(&tid[t], NULL, thread_main, &jobs[t]) == 0);
    }
    for (int t = 0; t < N_THREADS; t++) pthread_join(tid[t], NULL);
    for (int t = 0; t < N_THREADS; t++) {
        if (jobs[t].failed) FAILF("thread %d: %s", t, jobs[t].msg);
        else {
            if (memcmp(jobs[t].inf, sh.want_inf, ninf * sizeof(float))) FAILF("thread %d: influencer probs differ", t);
            if (memcmp(jobs[t].post, sh.want_post, npost * sizeof(float))) FAILF("thread %d: post probs differ", t);
            if (memcmp(jobs[t].alpha, sh.want_alpha, (size_t)total * sizeof(float))) FAILF("thread %d: alpha differs", t);
        }
        free(jobs[t].inf);
        free(jobs[t].post);
        free(jobs[t].alpha);
    }
    free(sh.xt);
    free(sh.pool);
    free(sh.want_inf);
    free(sh.want_post);
    free(sh.want_alpha);
    ipf_model_free(m);
}

/* The encoders too: 3 threads share the end-to-end bundle (small BERT,
 * full-size Inception-v3, tests/gen/profiler_e2e.py) and profile its raw
 * posts; each must match one thread bit for bit.  Skipped under
 * IPF_TEST_LIGHT (a full-size Inception-v3 under sanitizers is slow). */
#define E2E_THREADS 3
#define E2E_POSTS 4

typedef struct e2e_job {
    const ipf_model *m;
    const ipf_post *posts;
    float inf[64], post[E2E_POSTS * 64], alpha[E2E_POSTS];
    int failed;
    char msg[512];
} e2e_job;

static void *e2e_main(void *arg) {
    e2e_job *j = arg;
    ipf_session *s = NULL;
    if (ipf_session_create(j->m, &s) || ipf_session_set_option(s, IPF_OPT_THREADS, 1) ||
        ipf_session_profile(s, j->posts, E2E_POSTS, j->inf, j->post, j->alpha)) {
        j->failed = 1;
        snprintf(j->msg, sizeof j->msg, "%s", s ? ipf_session_error(s) : ipf_last_error());
    }
    ipf_session_free(s);
    return NULL;
}

TEST(threads_shared_encoders_bit_identical) {
    const char *light = getenv("IPF_TEST_LIGHT");
    if (light && *light && strcmp(light, "0")) SKIP("IPF_TEST_LIGHT: full-size Inception-v3");
    char dir[2048], img[E2E_POSTS][2100];
    ipf_model *m = tu_load_e2e_bundle(dir, sizeof dir);
    if (!m) return;
    const char *captions[E2E_POSTS] = {"Fresh pasta with basil", "Morning run by the lake", NULL, "Sunset over the mountains"};
    const char *images[E2E_POSTS] = {"img0.png", NULL, "img1.png", "img2.png"};
    ipf_post posts[E2E_POSTS];
    memset(posts, 0, sizeof posts);
    for (int i = 0; i < E2E_POSTS; i++) {
        posts[i].struct_size = sizeof(ipf_post);
        posts[i].caption = captions[i];
        posts[i].caption_len = captions[i] ? strlen(captions[i]) : 0;
        if (images[i]) {
            snprintf(img[i], sizeof img[i], "%s/%s", dir, images[i]);
            posts[i].image_path = img[i];
        }
    }
    static e2e_job ref, jobs[E2E_THREADS];
    memset(&ref, 0, sizeof ref);
    ref.m = m;
    ref.posts = posts;
    e2e_main(&ref);
    if (ref.failed) FAILF("single thread: %s", ref.msg);
    pthread_t tid[E2E_THREADS];
    for (int t = 0; t < E2E_THREADS; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].m = m;
        jobs[t].posts = posts;
        REQUIRE(pthread_create(&tid[t], NULL, e2e_main, &jobs[t]) == 0);
    }
    for (int t = 0; t < E2E_THREADS; t++) pthread_join(tid[t], NULL);
    for (int t = 0; t < E2E_THREADS; t++) {
        if (jobs[t].failed) FAILF("thread %d: %s", t, jobs[t].msg);
        else if (memcmp(jobs[t].inf, ref.inf, sizeof ref.inf) || memcmp(jobs[t].post, ref.post, sizeof ref.post) ||
                 memcmp(jobs[t].alpha, ref.alpha, sizeof ref.alpha))
            FAILF("thread %d: results differ from the single-threaded run", t);
    }
    ipf_model_free(m);
}
