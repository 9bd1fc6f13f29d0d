/* test_train_finetune.c — fine-tuning Inception's top 2 blocks through the
 * trainer: a bundle of random heads (crop 75) and the seeded golden Inception
 * trunk; the chained gradient d(loss)/d(block params) (through the heads, the
 * feature standardisation and the blocks' backward) against central finite
 * differences, bit-exact resume with the blocks in the checkpoint, and the
 * saved bundle holding the fine-tuned tensors. */
#include "test.h"
#include "train.h"
#include "safetensors.h"

#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
#define manifest manifest_path_

static int write_ppm(const char *path, int w, int h, uint32_t seed) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fprintf(f, "P6\n%d %d\n255\n", w, h);
    ipf_rng r;
    rng_seed(&r, seed);
    int base[3] = {(int)rng_below(&r, 256), (int)rng_below(&r, 256), (int)rng_below(&r, 256)};
    for (int i = 0; i < w * h; i++)
        for (int c = 0; c < 3; c++) {
            int v = base[c] + (int)rng_below(&r, 60) - 30 + ((i / w) * (c + 1)) % 50;
            fputc(v < 0 ? 0 : v > 255 ? 255 : v, f);
        }
    fclose(f);
    return 1;
}

/* bundle (random heads at crop 75 + golden Inception) and a manifest of 4
 * influencers x 2 posts with images and cached text features */
static int setup(const char *inc_golden, char *bundle, char *manifest) {
    snprintf(dir, sizeof dir, "/tmp/ipf_test_ft_XXXXXX");
    if (!mkdtemp(dir)) return 0;
    snprintf(bundle, 300, "%s/bundle", dir);
    mkdir(bundle, 0777);
    char p[400], abs_inc[4096];
    snprintf(p, sizeof p, "%s/inception", bundle);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/inception/model.safetensors", bundle);
    if (!realpath(inc_golden, abs_inc) || symlink(abs_inc, p)) return 0;
    prof_config c;
    prof_config_default(&c);
    c.image.resize_short = 86;
    c.image.crop = 75;
    c.transform_input = 0;
    prof_model *pm;
    ipf_err e = {{0}};
    if (prof_create(&c, 5, &pm, &e)) return 0;
    snprintf(p, sizeof p, "%s/profiler.safetensors", bundle);
    ipf_status st = prof_save(p, &c, pm->params, NULL, 0, &e);
    prof_free(pm);
    if (st) return 0;
    snprintf(manifest, 300, "%s/m.jsonl", dir);
    FILE *f = fopen(manifest, "w");
    if (!f) return 0;
    ipf_rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++) {
            char img[64];
            snprintf(img, sizeof img, "img%d_%d.ppm", i, j);
            snprintf(p, sizeof p, "%s/%s", dir, img);
            if (!write_ppm(p, 90 + 7 * j, 80, (uint32_t)(i * 10 + j))) return 0;
            fprintf(f, "{\"influencer\": \"u%d\", \"image\": \"%s\", \"influencer_label\": \"%s\", \"post_label\": \"%s\", "
                       "\"text_feature\": [",
                    i, img, c.inf_names[i % 8], j ? "product" : c.post_names[i % 8]);
            for (int d = 0; d < c.text_dim; d++) fprintf(f, "%s%.4f", d ? "," : "", rng_range(&r, -1, 1));
            fprintf(f, "]}\n");
        }
    fclose(f);
    return 1;
}

static void cleanup(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) {}
}

/* A trainer fine-tuning `inception_blocks` Inception blocks and `bert_layers`
 * BERT layers, all posts of two influencers a step, no validation split. */
static ipf_trainer *make_tuner(const ipf_model *m, const char *manifest, int inception_blocks, int bert_layers) {
    ipf_train_options o;
    ipf_train_options_default(&o);
    o.inception_trainable_blocks = inception_blocks;
    o.bert_trainable_layers = bert_layers;
    o.standardize_features = 1;
    o.val_fraction = 0;
    o.batch_influencers = 2;
    o.posts_per_influencer = 0;
    ipf_trainer *t = NULL;
    if (ipf_trainer_create(m, &o, &t)) {
        FAILF("ipf_trainer_create: %s", ipf_last_error());
        return NULL;
    }
    if (ipf_trainer_load_data(t, manifest)) {
        FAILF("load_data: %s", ipf_trainer_error(t));
        ipf_trainer_free(t);
        return NULL;
    }

    return t;
}


/* Counts the tensors ipf_model_load reports applying ("...: N fine-tuned ...
 * tensors applied"), so the tests check the loader itself. */
static int finetuned_logged;
static void count_applied(void *user, ipf_log_level level, const char *msg) {
    (void)user;
    (void)level;
    const char *p = strstr(msg, ".safetensors: ");
    int n;
    if (p && strstr(msg, "fine-tuned") && sscanf(p + 14, "%d", &n) == 1) finetuned_logged += n;
}

/* ipf_model_load with the log callback counting applied tensors. */
static ipf_status load_counting(const char *bundle, ipf_model **m, int *applied) {
    finetuned_logged = 0;
    ipf_set_log_callback(count_applied, NULL, IPF_LOG_INFO);
    ipf_status st = ipf_model_load(bundle, m);
    ipf_set_log_callback(NULL, NULL, IPF_LOG_ERROR);
    *applied = finetuned_logged;
    return st;
}

TEST(train_finetune_inception) {
    if (getenv("IPF_TEST_LIGHT")) SKIP("IPF_TEST_LIGHT: the Inception fine-tuning check runs in the plain pass");
    const char *g = test_golden_path("inception/model.safetensors");
    if (!g) {
        FAILF("golden inception/model.safetensors missing: run make gen");
        return;
    }
    char inc[4096], bundle[300], manifest[300];
    snprintf(inc, sizeof inc, "%s", g);
    REQUIRE(setup(inc, bundle, manifest));

    ipf_model *m = NULL;
    CHECK_OK(ipf_model_load(bundle, &m), ipf_last_error());
    REQUIRE(m);

    ipf_trainer *t = make_tuner(m, manifest, 2, 0);
    REQUIRE(t);


    /* chained gradient vs central differences on the largest-gradient parameters */
    double l0;
    CHECK_OK(train_debug_loss(t, 4, &l0), ipf_trainer_error(t));
    size_t n;
    float *p = train_inc_params(t, &n);
    REQUIRE(p && n > 100000);
    float *g0 = malloc(n * sizeof(float));
    memcpy(g0, train_inc_grads(t), n * sizeof(float));
    double gmax = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g0[i]));
    REQUIRE(gmax > 0);
    int checked = 0;
    double worst = 0;
    size_t chosen[2] = {0};
    for (int c = 0; c < 2; c++) { /* the 2 largest gradients (each check costs 2 passes) */
        size_t best = 0;
        double bv = -1;
        for (size_t i = 0; i < n; i++) {
            int used = 0;
            for (int q = 0; q < c; q++) used |= chosen[q] == i;
            if (!used && fabs(g0[i]) > bv) bv = fabs(g0[i]), best = i;
        }
        chosen[c] = best;
    }
    for (int c = 0; c < 2; c++) {
        size_t i = chosen[c];
        /* tiny steps: standardising nearly constant pool features (1/std
         * large) makes the loss kinked beyond ~1e-6 */
        float keep = p[i], h = 1e-5f * fmaxf(fabsf(keep), 0.05f);
        double lp, lm;
        p[i] = keep + h;
        CHECK_OK(train_debug_loss(t, 4, &lp), ipf_trainer_error(t));
        p[i] = keep - h;
        CHECK_OK(train_debug_loss(t, 4, &lm), ipf_trainer_error(t));
        p[i] = keep;
        double fd = (lp - lm) / (2.0 * (double)h);
        double err = fabs(fd - g0[i]) / gmax;
        worst = fmax(worst, err);
        fprintf(stderr, "    param %zu: backward %.6e  finite difference %.6e\n", i, g0[i], fd);
        /* float32 losses through ~20 convolutions: central differences agree to
         * a few percent of the largest gradient */
        CHECK(err <= 0.05);
        checked++;
    }
    fprintf(stderr, "    %d parameters checked, largest error %.2e of max |g| %.3e\n", checked, worst, gmax);
    CHECK_EQ_INT(checked, 2);

    free(g0);

    /* resume: 1 step, checkpoint, 1 more == a fresh trainer resumed */
    char ck[400];
    snprintf(ck, sizeof ck, "%s/ck", dir);
    CHECK_OK(ipf_trainer_step(t, NULL), ipf_trainer_error(t));
    CHECK_OK(ipf_trainer_checkpoint_save(t, ck), ipf_trainer_error(t));
    double la, lb;
    CHECK_OK(ipf_trainer_step(t, &la), ipf_trainer_error(t));
    ipf_trainer *u = make_tuner(m, manifest, 2, 0);
    REQUIRE(u);
    CHECK_OK(ipf_trainer_checkpoint_resume(u, ck), ipf_trainer_error(u));
    CHECK_OK(ipf_trainer_step(u, &lb), ipf_trainer_error(u));
    CHECK(la == lb);
    size_t nu;
    CHECK(memcmp(train_inc_params(t, &n), train_inc_params(u, &nu), n * sizeof(float)) == 0);
    size_t np, nq;
    const float *pa = train_params(t, &np), *pb = train_params(u, &nq);
    CHECK(np == nq && memcmp(pa, pb, np * sizeof(float)) == 0);

    /* the bundle holds the fine-tuned blocks */
    char out[400], pf[500];
    snprintf(out, sizeof out, "%s/out", dir);
    CHECK_OK(ipf_trainer_save_bundle(t, out), ipf_trainer_error(t));
    snprintf(pf, sizeof pf, "%s/profiler.safetensors", out);
    st_file *sf;
    ipf_err e = {{0}};
    CHECK_OK(st_open(pf, &sf, &e), e.msg);
    size_t ninc = 0;
    for (size_t i = 0; i < st_count(sf); i++) ninc += !strncmp(st_at(sf, i)->name, "inception.Mixed_7", 17);
    CHECK(ninc > 20);
    st_close(sf);
    /* loaded back with the blocks applied, the model evaluates as the trainer does */
    ipf_train_metrics mt, mu;
    mt.struct_size = mu.struct_size = sizeof mt;
    CHECK_OK(ipf_trainer_evaluate(t, &mt), ipf_trainer_error(t));
    ipf_model *m2 = NULL;
    int applied = 0;
    CHECK_OK(load_counting(out, &m2, &applied), ipf_last_error());
    REQUIRE(m2);
    CHECK_EQ_INT(applied, (int)ninc);
    ipf_train_options o;
    ipf_train_options_default(&o);
    o.val_fraction = 0;
    ipf_trainer *v = NULL;
    CHECK_OK(ipf_trainer_create(m2, &o, &v), ipf_last_error());
    REQUIRE(v);
    CHECK_OK(ipf_trainer_load_data(v, manifest), ipf_trainer_error(v));
    CHECK_OK(ipf_trainer_evaluate(v, &mu), ipf_trainer_error(v));
    fprintf(stderr, "    fine-tuned trainer loss %.7f, reloaded bundle %.7f\n", mt.loss, mu.loss);
    /* training-form blocks vs the inference trunk, and the folded standardisation: float rounding */
    CHECK(fabs(mt.loss - mu.loss) <= 1e-3 * fabs(mt.loss));
    ipf_trainer_free(v);
    ipf_model_free(m2);
    ipf_trainer_free(t);
    ipf_trainer_free(u);
    ipf_model_free(m);
    cleanup();
}

/* BERT's top layer fine-tuned through the trainer, on the small golden BERT
 * (hidden 64) with cached image features: chained gradient vs central
 * differences, bit-exact resume, and the saved layers loaded back. */

TEST(train_finetune_bert) {
    const char *g = test_golden_path("bert/bert_small");
    if (!g) {
        FAILF("golden bert/bert_small missing: run make gen");
        return;
    }
    char gabs[4096], bundle[300], mpath[300], p[600];
    REQUIRE(realpath(g, gabs));
    snprintf(dir, sizeof dir, "/tmp/ipf_test_ftb_XXXXXX");
    REQUIRE(mkdtemp(dir));
    snprintf(bundle, sizeof bundle, "%s/bundle", dir);
    mkdir(bundle, 0777);
    snprintf(p, sizeof p, "%s/bert", bundle);
    REQUIRE(symlink(gabs, p) == 0);
    prof_config c;
    prof_config_default(&c);
    c.text_dim = 64;
    prof_model *pm;
    ipf_err e = {{0}};
    REQUIRE(prof_create(&c, 6, &pm, &e) == IPF_OK);
    snprintf(p, sizeof p, "%s/profiler.safetensors", bundle);
    REQUIRE(prof_save(p, &c, pm->params, NULL, 0, &e) == IPF_OK);
    prof_free(pm);
    snprintf(mpath, sizeof mpath, "%s/m.jsonl", dir);
    FILE *f = fopen(mpath, "w");
    REQUIRE(f);
    const char *caps[4] = {"a red dress and shoes", "pasta with basil", "my dog in the park", "mountains at sunset"};
    ipf_rng r;
    rng_seed(&r, 4);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++) {
            fprintf(f, "{\"influencer\": \"u%d\", \"caption\": \"%s %d\", \"influencer_label\": \"%s\", \"post_label\": \"%s\", "
                       "\"image_feature\": [",
                    i, caps[(i + j) % 4], j, c.inf_names[i], c.post_names[(i + j) % 10]);
            for (int d = 0; d < 2048; d++) fprintf(f, "%s%.3f", d ? "," : "", rng_uniform(&r));
            fprintf(f, "]}\n");
        }
    fclose(f);
    ipf_model *m = NULL;
    CHECK_OK(ipf_model_load(bundle, &m), ipf_last_error());
    REQUIRE(m);
    ipf_trainer *t = make_tuner(m, mpath, 0, 1);
    REQUIRE(t);
    double l0;
    CHECK_OK(train_debug_loss(t, 4, &l0), ipf_trainer_error(t));
    size_t n;
    float *par = train_bert_params(t, &n);
    REQUIRE(par && n > 1000);
    float *g0 = malloc(n * sizeof(float));
    memcpy(g0, train_bert_grads(t), n * sizeof(float));
    double gmax = 0;
    size_t top[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g0[i]));
    for (int k = 0; k < 3; k++) { /* the 3 largest gradients */
        double bv = -1;
        for (size_t i = 0; i < n; i++) {
            int used = 0;
            for (int q = 0; q < k; q++) used |= top[q] == i;
            if (!used && fabs(g0[i]) > bv) bv = fabs(g0[i]), top[k] = i;
        }
    }
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        size_t i = top[k];
        float keep = par[i], h = 1e-5f * fmaxf(fabsf(keep), 0.05f); /* see the Inception check */
        double lp, lm;
        par[i] = keep + h;
        CHECK_OK(train_debug_loss(t, 4, &lp), ipf_trainer_error(t));
        par[i] = keep - h;
        CHECK_OK(train_debug_loss(t, 4, &lm), ipf_trainer_error(t));
        par[i] = keep;
        double fd = (lp - lm) / (2.0 * (double)h);
        worst = fmax(worst, fabs(fd - g0[i]) / gmax);
        fprintf(stderr, "    BERT param %zu: backward %.6e  finite difference %.6e\n", i, g0[i], fd);
    }
    fprintf(stderr, "    largest error %.2e of max |g| %.3e\n", worst, gmax);
    CHECK(worst <= 0.05); /* float32 central differences */
    free(g0);

    char ck[400];
    snprintf(ck, sizeof ck, "%s/ck", dir);
    CHECK_OK(ipf_trainer_step(t, NULL), ipf_trainer_error(t));
    CHECK_OK(ipf_trainer_checkpoint_save(t, ck), ipf_trainer_error(t));
    double la, lb;
    CHECK_OK(ipf_trainer_step(t, &la), ipf_trainer_error(t));
    ipf_trainer *u = make_tuner(m, mpath, 0, 1);
    REQUIRE(u);
    CHECK_OK(ipf_trainer_checkpoint_resume(u, ck), ipf_trainer_error(u));
    CHECK_OK(ipf_trainer_step(u, &lb), ipf_trainer_error(u));
    CHECK(la == lb);
    size_t nu;
    CHECK(memcmp(train_bert_params(t, &n), train_bert_params(u, &nu), n * sizeof(float)) == 0);

    char out[400], pf[500];
    snprintf(out, sizeof out, "%s/out", dir);
    CHECK_OK(ipf_trainer_save_bundle(t, out), ipf_trainer_error(t));
    snprintf(pf, sizeof pf, "%s/profiler.safetensors", out);
    ipf_train_metrics mt, mu;
    mt.struct_size = mu.struct_size = sizeof mt;
    CHECK_OK(ipf_trainer_evaluate(t, &mt), ipf_trainer_error(t));
    ipf_model *m2 = NULL;
    int applied = 0;
    CHECK_OK(load_counting(out, &m2, &applied), ipf_last_error());
    REQUIRE(m2);
    CHECK(applied > 0);
    ipf_train_options o;
    ipf_train_options_default(&o);
    o.val_fraction = 0;
    ipf_trainer *v = NULL;
    CHECK_OK(ipf_trainer_create(m2, &o, &v), ipf_last_error());
    REQUIRE(v);
    CHECK_OK(ipf_trainer_load_data(v, mpath), ipf_trainer_error(v));
    CHECK_OK(ipf_trainer_evaluate(v, &mu), ipf_trainer_error(v));
    fprintf(stderr, "    fine-tuned trainer loss %.7f, reloaded bundle %.7f (%d tensors applied)\n", mt.loss, mu.loss,
            applied);
    CHECK(fabs(mt.loss - mu.loss) <= 1e-3 * fabs(mt.loss));
    ipf_trainer_free(v);
    ipf_model_free(m2);
    ipf_trainer_free(t);
    ipf_trainer_free(u);
    ipf_model_free(m);
    cleanup();
}
