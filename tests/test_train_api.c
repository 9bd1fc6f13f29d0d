/* test_train_api.c — the trainer on synthetic features (no encoders):
 * learning, reproducibility, checkpoints (bit-exact resume, damaged file,
 * full disk), non-finite loss, options, standardisation folding. */
#include "test.h"
#include "train.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { SE = 32, SI = 16, SX = 24, SD = 16, SA = 12, SH = 16, CI = 3, CP = 4, NINF = 30, NPOST = 12 };

static void small_config(prof_config *c) {
    memset(c, 0, sizeof *c);
    c->img_pool = SE, c->img_dim = SI, c->text_dim = SX, c->post_dim = SD;
    c->att_dim = SA, c->head_hidden = SH, c->n_inf = CI, c->n_post = CP;
    const char *inf[CI] = {"fashion", "food", "pet"}, *post[CP] = {"fashion", "food", "pet", "other"};
    for (int i = 0; i < CI; i++) snprintf(c->inf_names[i], PROF_CLASS_NAME_CAP, "%s", inf[i]);
    for (int i = 0; i < CP; i++) snprintf(c->post_names[i], PROF_CLASS_NAME_CAP, "%s", post[i]);
}

/* nn.Linear-style U(-1/sqrt(fan_in), 1/sqrt(fan_in)) initialisation. */
static float *init_params(const prof_layout *l, uint64_t seed) {
    float *p = calloc(l->total, sizeof(float));
    ipf_rng r;
    rng_seed(&r, seed);
    for (int t = 0; t < PT_COUNT_; t++) {
        double fan = l->ndim[t] == 2 ? (double)l->shape[t][1] : (double)l->shape[t ? t - 1 : 0][1];
        if (t == PT_ATT_C) fan = (double)l->shape[t][0];
        float b = (float)(1.0 / sqrt(fan > 0 ? fan : 1));
        for (size_t i = 0; i < l->size[t]; i++) p[l->offset[t] + i] = rng_range(&r, -b, b);
    }
    return p;
}

static char dir[256];

/* A manifest of NINF influencers x NPOST posts (captions only) and features
 * whose means depend on the post class; returns the manifest path. */
static const char *write_manifest(void) {
    static char path[300];
    snprintf(dir, sizeof dir, "/tmp/ipf_test_train_XXXXXX");
    if (!mkdtemp(dir)) return NULL;
    snprintf(path, sizeof path, "%s/m.jsonl", dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    const char *inf[CI] = {"fashion", "food", "pet"}, *post[CP] = {"fashion", "food", "pet", "other"};
    ipf_rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < NINF; i++) {
        int c = i % CI;
        for (int j = 0; j < NPOST; j++) {
            float u = rng_uniform(&r);
            int pc = u < 0.6f ? c : u < 0.8f ? 3 : (int)rng_below(&r, CI);
            int labelled = rng_uniform(&r) < 0.7f;
            fprintf(f, "{\"influencer\": \"i%d\", \"post\": \"p%d_%d\", \"caption\": \"c\", \"influencer_label\": \"%s\", "
                       "\"post_label\": %s%s%s}\n",
                    i, i, j, inf[c], labelled ? "\"" : "", labelled ? post[pc] : "null", labelled ? "\"" : "");
        }
    }
    fclose(f);
    return path;
}

static void cleanup_dir(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {}
}

/* Features: pool = relu(mean[class] + noise), text likewise, class = the
 * post's label (or the influencer's topic when unlabelled). */
static float *make_features(const manifest *m) {
    size_t n = (size_t)m->n_posts;
    float *f = malloc(n * (SE + SX) * sizeof(float));
    ipf_rng r;
    rng_seed(&r, 11);
    float means[CP][SE + SX];
    for (int c = 0; c < CP; c++)
        for (int d = 0; d < SE + SX; d++) means[c][d] = rng_range(&r, -1, 1) * 2;
    for (int a = 0; a < m->n_infl; a++)
        for (int j = 0; j < m->infl[a].n_posts; j++) {
            int p = m->infl[a].posts[j];
            int c = m->posts[p].post_label >= 0 ? m->posts[p].post_label : m->infl[a].label;
            for (int d = 0; d < SE; d++) {
                float v = means[c][d] + rng_range(&r, -2, 2);
                f[(size_t)p * SE + d] = v > 0 ? v : 0;
            }
            for (int d = 0; d < SX; d++) f[n * SE + (size_t)p * SX + d] = means[c][SE + d] + rng_range(&r, -2, 2);
        }
    return f;
}

static ipf_trainer *make_trainer(const char *mpath, const ipf_train_options *o) {
    prof_config c;
    small_config(&c);
    prof_layout l;
    prof_layout_init(&l, &c);
    float *p = init_params(&l, 3);
    ipf_trainer *t = NULL;
    ipf_err e = {{0}};
    if (train_create_raw(&c, p, o, &t, &e)) {
        FAILF("train_create_raw: %s", e.msg);
        free(p);
        return NULL;
    }
    free(p);
    manifest m;
    if (manifest_read(mpath, (const char(*)[PROF_CLASS_NAME_CAP])c.inf_names, CI,
                      (const char(*)[PROF_CLASS_NAME_CAP])c.post_names, CP, SX, SE, 0, &m, &e)) {
        FAILF("manifest_read: %s", e.msg);
        ipf_trainer_free(t);
        return NULL;
    }
    float *feats = make_features(&m);
    if (train_set_data(t, &m, feats)) {
        FAILF("train_set_data: %s", ipf_trainer_error(t));
        ipf_trainer_free(t);
        return NULL;
    }
    return t;
}

static void opts(ipf_train_options *o) {
    ipf_train_options_default(o);
    o->posts_per_influencer = 6;
    o->batch_influencers = 4;
    o->lr = 3e-3f;
}

TEST(train_api_learns) {
    const char *mp = write_manifest();
    REQUIRE(mp);
    for (int pooling = 0; pooling < 2; pooling++) {
        ipf_train_options o;
        opts(&o);
        o.pooling = pooling;
        o.standardize_features = pooling; /* both settings exercised */
        ipf_trainer *t = make_trainer(mp, &o);
        REQUIRE(t);
        int32_t ntr, nval, nposts, dropped;
        CHECK_OK(ipf_trainer_data_info(t, &ntr, &nval, &nposts, &dropped), ipf_trainer_error(t));
        CHECK_EQ_INT(ntr + nval, NINF);
        CHECK_EQ_INT(nval, 6); /* 20% of 10 per class */
        CHECK_EQ_INT(nposts, NINF * NPOST);
        ipf_train_metrics m0, m;
        m0.struct_size = sizeof m0;
        CHECK_OK(ipf_trainer_evaluate(t, &m0), ipf_trainer_error(t));
        for (int ep = 0; ep < 15; ep++) {
            m.struct_size = sizeof m;
            CHECK_OK(ipf_trainer_epoch(t, &m), ipf_trainer_error(t));
        }
        fprintf(stderr, "    %s pooling: val loss %.3f -> %.3f, influencer acc %.2f (F1 %.2f), post acc %.2f (F1 %.2f), "
                        "train loss %.3f\n",
                pooling ? "mean" : "attention", m0.loss, m.loss, m.influencer_accuracy, m.influencer_macro_f1,
                m.post_accuracy, m.post_macro_f1, m.train_loss);
        CHECK_EQ_INT(m.epoch, 15);
        CHECK_EQ_INT(m.step, 15 * 6); /* 24 training influencers / 4 */
        CHECK(m.loss < m0.loss * 0.7);
        CHECK(m.influencer_accuracy >= 0.8);
        CHECK(m.post_accuracy >= 0.6);
        CHECK_EQ_INT(m.n_influencers, 6);
        int sup = 0;
        for (int c = 0; c < CI; c++) sup += m.influencer_support[c];
        CHECK_EQ_INT(sup, 6);
        ipf_trainer_free(t);
    }
    cleanup_dir();
}

static int same_params(ipf_trainer *a, ipf_trainer *b) {
    size_t na, nb;
    const float *pa = train_params(a, &na), *pb = train_params(b, &nb);
    return na == nb && memcmp(pa, pb, na * sizeof(float)) == 0;
}

TEST(train_api_reproducible_and_resume) {
    const char *mp = write_manifest();
    REQUIRE(mp);
    ipf_train_options o;
    opts(&o);
    ipf_trainer *a = make_trainer(mp, &o), *b = make_trainer(mp, &o);
    REQUIRE(a && b);
    for (int i = 0; i < 5; i++) {
        CHECK_OK(ipf_trainer_step(a, NULL), ipf_trainer_error(a));
        CHECK_OK(ipf_trainer_step(b, NULL), ipf_trainer_error(b));
    }
    CHECK(same_params(a, b));
    /* checkpoint mid-epoch (step 5 of 6 per epoch), then 9 more steps */
    char ck[300];
    snprintf(ck, sizeof ck, "%s/ck.bin", dir);
    CHECK_OK(ipf_trainer_checkpoint_save(a, ck), ipf_trainer_error(a));
    double la = 0, lb = 0;
    for (int i = 0; i < 9; i++) CHECK_OK(ipf_trainer_step(a, &la), ipf_trainer_error(a));
    ipf_trainer *c = make_trainer(mp, &o);
    REQUIRE(c);
    CHECK_OK(ipf_trainer_checkpoint_resume(c, ck), ipf_trainer_error(c));
    for (int i = 0; i < 9; i++) CHECK_OK(ipf_trainer_step(c, &lb), ipf_trainer_error(c));
    CHECK(same_params(a, c)); /* bit-exact */
    CHECK(la == lb);
    ipf_train_metrics ma, mc;
    ma.struct_size = mc.struct_size = sizeof ma;
    CHECK_OK(ipf_trainer_evaluate(a, &ma), ipf_trainer_error(a));
    CHECK_OK(ipf_trainer_evaluate(c, &mc), ipf_trainer_error(c));
    CHECK(ma.loss == mc.loss && ma.epoch == mc.epoch && ma.step == mc.step);
    /* a different seed gives a different run */
    ipf_train_options o2 = o;
    o2.seed = 2;
    ipf_trainer *d = make_trainer(mp, &o2);
    REQUIRE(d);
    for (int i = 0; i < 5; i++) CHECK_OK(ipf_trainer_step(d, NULL), ipf_trainer_error(d));
    CHECK(!same_params(b, d));
    /* a damaged checkpoint */
    FILE *f = fopen(ck, "r+b");
    REQUIRE(f);
    fseek(f, 200, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    CHECK_EQ_INT(ipf_trainer_checkpoint_resume(d, ck), IPF_ERR_CHECKSUM);
    CHECK(strstr(ipf_trainer_error(d), "CRC-32") != NULL);
    /* a checkpoint of other data (a different split seed) */
    CHECK_OK(ipf_trainer_checkpoint_save(a, ck), ipf_trainer_error(a));
    o2.seed = 77;
    ipf_trainer *e = make_trainer(mp, &o2);
    REQUIRE(e);
    CHECK_EQ_INT(ipf_trainer_checkpoint_resume(e, ck), IPF_ERR_STATE);
    CHECK_EQ_INT(ipf_trainer_checkpoint_resume(e, "/nonexistent/ck"), IPF_ERR_IO);
    ipf_trainer_free(a);
    ipf_trainer_free(b);
    ipf_trainer_free(c);
    ipf_trainer_free(d);
    ipf_trainer_free(e);
    cleanup_dir();
}

TEST(train_api_checkpoint_disk_full) {
    const char *mp = write_manifest();
    REQUIRE(mp);
    ipf_train_options o;
    opts(&o);
    ipf_trainer *t = make_trainer(mp, &o);
    REQUIRE(t);
    char ck[300];
    snprintf(ck, sizeof ck, "%s/ck.bin", dir);
    CHECK_OK(ipf_trainer_checkpoint_save(t, ck), ipf_trainer_error(t));
    size_t len0;
    char *before = test_read_file(ck, &len0);
    REQUIRE(before);
    CHECK_OK(ipf_trainer_step(t, NULL), ipf_trainer_error(t));
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) { /* child: a file-size limit far below a checkpoint's size */
        struct rlimit rl = {4096, 4096};
        signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG instead of killing us */
        setrlimit(RLIMIT_FSIZE, &rl);
        ipf_status st = ipf_trainer_checkpoint_save(t, ck);
        _exit(st == IPF_ERR_IO && strstr(ipf_trainer_error(t), "unchanged") ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    size_t len1;
    char *after = test_read_file(ck, &len1);
    REQUIRE(after);
    CHECK(len0 == len1 && memcmp(before, after, len0) == 0); /* the old checkpoint is intact */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c tmp > /dev/null", dir);
    CHECK(system(cmd) != 0); /* no temporary file left behind */
    free(before);
    free(after);
    ipf_trainer_free(t);
    cleanup_dir();
}

TEST(train_api_nonfinite_stops) {
    const char *mp = write_manifest();
    REQUIRE(mp);
    ipf_train_options o;
    opts(&o);
    o.lr = 1e30f; /* every Adam step moves parameters by ~lr: activations overflow */
    ipf_trainer *t = make_trainer(mp, &o);
    REQUIRE(t);
    ipf_status st = IPF_OK;
    size_t n;
    float *snap = NULL;
    for (int i = 0; i < 20 && !st; i++) {
        free(snap);
        const float *p = train_params(t, &n);
        snap = malloc(n * sizeof(float));
        memcpy(snap, p, n * sizeof(float));
        st = ipf_trainer_step(t, NULL);
    }
    CHECK_EQ_INT(st, IPF_ERR_NUMERIC);
    CHECK(strstr(ipf_trainer_error(t), "training stopped") != NULL);
    const float *p = train_params(t, &n);
    CHECK(memcmp(p, snap, n * sizeof(float)) == 0); /* the failed step changed nothing */
    free(snap);
    ipf_trainer_free(t);
    cleanup_dir();
}

TEST(train_api_options) {
    ipf_train_options o;
    CHECK_OK(ipf_train_options_default(&o), ipf_last_error());
    CHECK(o.struct_size == sizeof o && o.lr == 1e-3f && o.dropout == 0.5f && o.lambda_post == 1.0f);
    CHECK_EQ_INT(o.posts_per_influencer, 20);
    prof_config c;
    small_config(&c);
    prof_layout l;
    prof_layout_init(&l, &c);
    float *p = init_params(&l, 1);
    ipf_trainer *t;
    ipf_err e = {{0}};
    o.inception_trainable_blocks = 12; /* there are 11 mixed blocks */
    CHECK_EQ_INT(train_create_raw(&c, p, &o, &t, &e), IPF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(e.msg, "inception_trainable_blocks") != NULL);
    ipf_train_options_default(&o);
    o.bert_trainable_layers = -1;
    CHECK_EQ_INT(train_create_raw(&c, p, &o, &t, &e), IPF_ERR_INVALID_ARGUMENT);
    ipf_train_options_default(&o);
    o.dropout = 1.0f;
    CHECK_EQ_INT(train_create_raw(&c, p, &o, &t, &e), IPF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(e.msg, "dropout") != NULL);
    ipf_train_options_default(&o);
    o.struct_size = sizeof o + 8;
    CHECK_EQ_INT(train_create_raw(&c, p, &o, &t, &e), IPF_ERR_INVALID_ARGUMENT);
    /* an older, shorter struct keeps the defaults for the rest */
    ipf_train_options_default(&o);
    o.struct_size = offsetof(ipf_train_options, beta1);
    o.lr = 5e-4f;
    CHECK_OK(train_create_raw(&c, p, &o, &t, &e), e.msg);
    CHECK_EQ_INT(ipf_trainer_step(t, NULL), IPF_ERR_STATE); /* no data yet */
    CHECK(strstr(ipf_trainer_error(t), "load_data") != NULL);
    ipf_trainer_free(t);
    ipf_trainer_free(NULL);
    CHECK_EQ_INT(ipf_trainer_create(NULL, NULL, &t), IPF_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL);
    free(p);
}

TEST(train_api_standardisation_folds_exactly) {
    const char *mp = write_manifest();
    REQUIRE(mp);
    ipf_train_options o;
    opts(&o);
    o.standardize_features = 1;
    ipf_trainer *t = make_trainer(mp, &o);
    REQUIRE(t);
    for (int i = 0; i < 6; i++) CHECK_OK(ipf_trainer_step(t, NULL), ipf_trainer_error(t));
    float *folded = train_export_params(t);
    REQUIRE(folded);
    /* the same evaluation loss from raw features and folded weights */
    ipf_train_metrics m1, m2;
    m1.struct_size = m2.struct_size = sizeof m1;
    CHECK_OK(ipf_trainer_evaluate(t, &m1), ipf_trainer_error(t));
    prof_config c;
    small_config(&c);
    ipf_trainer *u = NULL;
    ipf_train_options o2 = o;
    o2.standardize_features = 0;
    ipf_err e = {{0}};
    REQUIRE(train_create_raw(&c, folded, &o2, &u, &e) == IPF_OK);
    manifest m;
    REQUIRE(manifest_read(mp, (const char(*)[PROF_CLASS_NAME_CAP])c.inf_names, CI,
                          (const char(*)[PROF_CLASS_NAME_CAP])c.post_names, CP, SX, SE, 0, &m, &e) == IPF_OK);
    REQUIRE(train_set_data(u, &m, make_features(&m)) == IPF_OK);
    CHECK_OK(ipf_trainer_evaluate(u, &m2), ipf_trainer_error(u));
    fprintf(stderr, "    standardised loss %.7f, folded %.7f\n", m1.loss, m2.loss);
    CHECK(fabs(m1.loss - m2.loss) <= 1e-4 * fabs(m1.loss)); /* float rounding of the fold */
    CHECK(m1.influencer_accuracy == m2.influencer_accuracy);
    free(folded);
    ipf_trainer_free(t);
    ipf_trainer_free(u);
    cleanup_dir();
}
