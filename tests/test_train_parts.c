/* test_train_parts.c — RNG, Adam schedules, augmentation, dataset manifest. */
#include "test.h"
#include "train.h"

#include <unistd.h>
#include <zlib.h>

TEST(train_rng_reproducible) {
    ipf_rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) CHECK(rng_next(&a) == rng_next(&b));
    rng_seed(&b, 43);
    CHECK(rng_next(&a) != rng_next(&b));
    int hist[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t k = rng_below(&a, 7);
        REQUIRE(k < 7);
        hist[k]++;
        float u = rng_uniform(&a);
        CHECK(u >= 0 && u < 1);
    }
    for (int i = 0; i < 7; i++) CHECK(hist[i] > 800 && hist[i] < 1200); /* 1000 expected, ~6 sigma */
    int p[50], seen[50] = {0};
    for (int i = 0; i < 50; i++) p[i] = i;
    rng_shuffle(&a, p, 50);
    for (int i = 0; i < 50; i++) seen[p[i]]++;
    for (int i = 0; i < 50; i++) CHECK_EQ_INT(seen[i], 1);
}

TEST(train_adam_schedules) {
    adam_cfg c;
    adam_cfg_default(&c);
    CHECK(adam_lr_at(&c, 1) == 1e-3f && adam_lr_at(&c, 1000) == 1e-3f);
    c.schedule = ADAM_SCHED_COSINE;
    c.total_steps = 100;
    c.lr_min = 1e-5f;
    CHECK(fabsf(adam_lr_at(&c, 1) - 1e-3f) < 1e-9f);
    CHECK(fabsf(adam_lr_at(&c, 51) - (1e-5f + 0.5f * (1e-3f - 1e-5f))) < 1e-8f);
    CHECK(fabsf(adam_lr_at(&c, 101) - 1e-5f) < 1e-9f);
    CHECK(fabsf(adam_lr_at(&c, 500) - 1e-5f) < 1e-9f);
    c.schedule = ADAM_SCHED_STEP;
    c.step_every = 10;
    c.step_gamma = 0.5f;
    CHECK(adam_lr_at(&c, 10) == 1e-3f);
    CHECK(fabsf(adam_lr_at(&c, 11) - 5e-4f) < 1e-10f);
    CHECK(fabsf(adam_lr_at(&c, 21) - 2.5e-4f) < 1e-10f);
    /* clipping: a gradient of norm 5 scaled to norm 1 */
    adam_cfg_default(&c);
    c.clip_norm = 1.0f;
    float p[2] = {0, 0}, g[2] = {3, 4}, m[2] = {0, 0}, v[2] = {0, 0};
    int64_t t = 0;
    double norm = adam_step(&c, p, g, m, v, 2, &t);
    CHECK(fabs(norm - 5) < 1e-6 && t == 1);
    /* the clipped gradient (0.6, 0.8) entered the first moment: m = 0.1 g */
    CHECK(fabsf(m[0] - 0.06f) < 1e-6f && fabsf(m[1] - 0.08f) < 1e-6f);
    /* first Adam step moves each parameter by lr against the gradient's sign */
    CHECK(fabsf(p[0] + 1e-3f) < 1e-6f && fabsf(p[1] + 1e-3f) < 1e-6f);
}

static void fill_image(float *x, int C, int H, int W) {
    for (int i = 0; i < C * H * W; i++) x[i] = sinf(0.37f * i) + 0.01f * (float)(i % 13);
}

TEST(train_augment_identity_and_determinism) {
    enum { C = 3, H = 37, W = 41 };
    static float in[C * H * W], a[C * H * W], b[C * H * W];
    fill_image(in, C, H, W);
    augment_cfg zero = {0};
    zero.fill_nearest = 1;
    ipf_rng r;
    rng_seed(&r, 1);
    augment_image(&zero, &r, in, a, C, H, W);
    CHECK(memcmp(a, in, sizeof in) == 0); /* exact identity */

    augment_cfg flip = zero;
    flip.hflip = 1;
    int flipped = 0, same = 0;
    for (int k = 0; k < 20; k++) {
        augment_image(&flip, &r, in, a, C, H, W);
        int is_flip = 1, is_same = memcmp(a, in, sizeof in) == 0;
        for (int ch = 0; ch < C; ch++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    if (a[(ch * H + y) * W + x] != in[(ch * H + y) * W + (W - 1 - x)]) is_flip = 0;
        flipped += is_flip;
        same += is_same;
        CHECK(is_flip || is_same);
    }
    CHECK(flipped > 0 && same > 0);

    augment_cfg heavy = {30.0f, 0.1f, 0.2f, 1, 0.2f, 1, 0.0f};
    ipf_rng r1, r2;
    rng_seed(&r1, 99);
    rng_seed(&r2, 99);
    augment_image(&heavy, &r1, in, a, C, H, W);
    augment_image(&heavy, &r2, in, b, C, H, W);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, in, sizeof a) != 0);
    float lo = in[0], hi = in[0];
    for (int i = 0; i < C * H * W; i++) {
        lo = fminf(lo, in[i]);
        hi = fmaxf(hi, in[i]);
    }
    for (int i = 0; i < C * H * W; i++) CHECK(a[i] >= lo - 1e-6f && a[i] <= hi + 1e-6f); /* bilinear + clip */
    /* constant fill appears after a large shift */
    augment_cfg shift = {0};
    shift.shift_frac = 0.5f;
    shift.fill_value = -7.0f;
    int found = 0;
    for (int k = 0; k < 10 && !found; k++) {
        augment_image(&shift, &r1, in, a, C, H, W);
        for (int i = 0; i < C * H * W; i++) found |= a[i] == -7.0f;
    }
    CHECK(found);
}

/* ---- manifest ------------------------------------------------------------ */
static const char INF[3][PROF_CLASS_NAME_CAP] = {"fashion", "food", "pet"};
static const char POST[4][PROF_CLASS_NAME_CAP] = {"fashion", "food", "pet", "other"};
enum { TDIM = 3, IDIM = 2 }; /* cached feature widths for these tests */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char tmpdir[256];

static const char *mk(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static int setup_dir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ipf_test_manifest_XXXXXX");
    if (!mkdtemp(tmpdir)) return 0;
    write_text(mk("a.jpg"), "x");
    write_text(mk("b.jpg"), "x");
    return 1;
}

static const char *GOOD =
    "{\"influencer\": \"ann\", \"post\": \"p1\", \"caption\": \"red dress #ootd\", \"image\": \"a.jpg\", "
    "\"influencer_label\": \"fashion\", \"post_label\": \"fashion\"}\n"
    "\n"
    "{\"influencer\": \"bob\", \"post\": \"p2\", \"caption\": \"pasta \\u00e8\", \"image\": \"b.jpg\", "
    "\"influencer_label\": \"food\", \"post_label\": null}\n"
    "{\"influencer\": \"ann\", \"post\": \"p3\", \"caption\": \"cat\", \"influencer_label\": null, "
    "\"post_label\": \"pet\"}\n"
    "{\"influencer\": \"bob\", \"post\": \"p4\", \"caption\": \"gone\", \"image\": \"missing.jpg\"}\n"
    "{\"influencer\": \"cid\", \"post\": \"p5\", \"text_feature\": [1, 2.5, -3], \"image_feature\": [0.5, 7], "
    "\"image\": \"missing2.jpg\", \"influencer_label\": \"food\"}";

static void check_good(const manifest *m) {
    CHECK_EQ_INT(m->n_posts, 4);
    CHECK_EQ_INT(m->n_infl, 3);
    CHECK_EQ_INT(m->skipped_missing_image, 1);
    CHECK_EQ_INT(m->skipped_blank, 1);
    CHECK_STR_EQ(m->infl[0].name, "ann");
    CHECK_EQ_INT(m->infl[0].label, 0);
    CHECK_EQ_INT(m->infl[0].n_posts, 2);
    CHECK_EQ_INT(m->infl[1].label, 1);
    CHECK_EQ_INT(m->posts[0].post_label, 0);
    CHECK_EQ_INT(m->posts[1].post_label, -1);
    CHECK_EQ_INT(m->posts[2].post_label, 2);
    CHECK(m->posts[2].image == NULL);
    CHECK(m->posts[0].image && strstr(m->posts[0].image, "/a.jpg"));
    CHECK_STR_EQ(m->posts[1].caption, "pasta \xc3\xa8");
    CHECK_EQ_INT(m->posts[3].line, 6);
    /* cached features: the missing image does not matter then */
    REQUIRE(m->posts[3].text_feature && m->posts[3].image_feature);
    CHECK(m->posts[3].text_feature[1] == 2.5f && m->posts[3].text_feature[2] == -3.0f);
    CHECK(m->posts[3].image_feature[0] == 0.5f && m->posts[3].image_feature[1] == 7.0f);
    CHECK(m->posts[0].text_feature == NULL && m->posts[0].image_feature == NULL);
}

TEST(train_manifest_read) {
    REQUIRE(setup_dir());
    manifest m;
    ipf_err e = {{0}};
    write_text(mk("m.jsonl"), GOOD);
    CHECK_OK(manifest_read(mk("m.jsonl"), INF, 3, POST, 4,  TDIM, IDIM, 0, &m, &e), e.msg);
    check_good(&m);
    manifest_free(&m);
    /* the same, gzip-compressed */
    gzFile gz = gzopen(mk("m.jsonl.gz"), "wb");
    REQUIRE(gz);
    gzputs(gz, GOOD);
    gzclose(gz);
    CHECK_OK(manifest_read(mk("m.jsonl.gz"), INF, 3, POST, 4,  TDIM, IDIM, 0, &m, &e), e.msg);
    check_good(&m);
    manifest_free(&m);
    /* a missing image as an error */
    CHECK_EQ_INT(manifest_read(mk("m.jsonl"), INF, 3, POST, 4,  TDIM, IDIM, 1, &m, &e), IPF_ERR_IO);
    CHECK(strstr(e.msg, ":5:") && strstr(e.msg, "missing.jpg"));

    struct {
        const char *text;
        int status;
        const char *needle;
    } bad[] = {
        {"{\"influencer\": \"a\", \"caption\": \"x\"}\n{\"influencer\": \"a\", \"caption\": ", IPF_ERR_FORMAT, ":2: invalid JSON"},
        {"{\"influencer\": \"a\", \"caption\": \"x\", \"post_label\": \"cars\"}\n", IPF_ERR_NOT_FOUND, ":1: post_label \"cars\""},
        {"\n\n{\"caption\": \"x\"}\n", IPF_ERR_FORMAT, ":3: \"influencer\" is missing"},
        {"[1, 2]\n", IPF_ERR_FORMAT, ":1: a line must be a JSON object"},
        {"{\"influencer\": \"a\", \"caption\": 5}\n", IPF_ERR_FORMAT, ":1: \"caption\" must be"},
        {"{\"influencer\": \"a\"}\n", IPF_ERR_FORMAT, ":1: a post needs a caption, an image or a cached feature"},
        {"{\"influencer\": \"a\", \"text_feature\": [1, 2]}\n", IPF_ERR_SHAPE, ":1: \"text_feature\" must be an array of 3"},
        {"{\"influencer\": \"a\", \"image_feature\": [1, \"x\"]}\n", IPF_ERR_FORMAT, ":1: image_feature[1] is not a number"},
        {"{\"influencer\": \"a\", \"caption\": \"x\", \"influencer_label\": \"pet\"}\n"
         "{\"influencer\": \"a\", \"caption\": \"y\", \"influencer_label\": \"food\"}\n", IPF_ERR_FORMAT, ":2: influencer \"a\" labelled"},
        {"\n  \n", IPF_ERR_FORMAT, "no posts"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(mk("bad.jsonl"), bad[i].text);
        e.msg[0] = 0;
        int st = manifest_read(mk("bad.jsonl"), INF, 3, POST, 4,  TDIM, IDIM, 0, &m, &e);
        CHECK_EQ_INT(st, bad[i].status);
        if (!strstr(e.msg, bad[i].needle)) FAILF("case %zu: message \"%s\" lacks \"%s\"", i, e.msg, bad[i].needle);
    }
    CHECK_EQ_INT(manifest_read(mk("nope.jsonl"), INF, 3, POST, 4,  TDIM, IDIM, 0, &m, &e), IPF_ERR_IO);
    /* a line longer than the initial 64 KiB buffer */
    size_t big = 200000;
    char *longl = malloc(big + 100);
    REQUIRE(longl);
    strcpy(longl, "{\"influencer\": \"a\", \"caption\": \"");
    size_t L = strlen(longl);
    memset(longl + L, 'w', big);
    strcpy(longl + L + big, "\"}\n");
    write_text(mk("long.jsonl"), longl);
    free(longl);
    CHECK_OK(manifest_read(mk("long.jsonl"), INF, 3, POST, 4,  TDIM, IDIM, 0, &m, &e), e.msg);
    CHECK_EQ_INT(m.n_posts, 1);
    CHECK_EQ_INT(m.posts[0].caption_len, big);
    manifest_free(&m);
    const char *files[] = {"a.jpg", "b.jpg", "m.jsonl", "m.jsonl.gz", "bad.jsonl", "long.jsonl"};
    for (size_t i = 0; i < 6; i++) unlink(mk(files[i]));
    rmdir(tmpdir);
}

TEST(train_manifest_split_stratified) {
    manifest m = {0};
    mf_influencer inf[40];
    memset(inf, 0, sizeof inf);
    for (int i = 0; i < 40; i++) inf[i].label = i < 20 ? 0 : i < 30 ? 1 : i < 39 ? 2 : -1;
    m.infl = inf;
    m.n_infl = 40;
    uint8_t v1[40], v2[40];
    manifest_split(&m, 3, 0.2, 7, v1);
    manifest_split(&m, 3, 0.2, 7, v2);
    CHECK(memcmp(v1, v2, 40) == 0);
    int per[3] = {0};
    for (int i = 0; i < 39; i++) per[inf[i].label] += v1[i];
    CHECK_EQ_INT(per[0], 4);
    CHECK_EQ_INT(per[1], 2);
    CHECK_EQ_INT(per[2], 2); /* round(1.8) */
    CHECK_EQ_INT(v1[39], 0); /* unlabelled stays in training */
    manifest_split(&m, 3, 0.2, 8, v2);
    CHECK(memcmp(v1, v2, 40) != 0);
}
