/* test_safetensors.c — reader validation and writer round trip. */
#include "safetensors.h"
#include "test.h"

#include <unistd.h>

static char tmpdir[256];

static const char *tpath(const char *name) {
    static char buf[512];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/ipf_st_XXXXXX");
        if (!mkdtemp(tmpdir)) return NULL;
    }
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* Write a raw safetensors file: header JSON then `data` bytes. */
static const char *raw_file(const char *name, const char *header, const void *data, size_t dlen) {
    const char *p = tpath(name);
    FILE *f = fopen(p, "wb");
    uint64_t n = strlen(header);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(n >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, n, f);
    if (dlen) fwrite(data, 1, dlen, f);
    fclose(f);
    return p;
}

/* Expect st_open to fail with `status` and a message containing `needle`. */
static void expect_bad(const char *path, ipf_status status, const char *needle) {
    st_file *f = NULL;
    ipf_err e = {{0}};
    ipf_status st = st_open(path, &f, &e);
    CHECK_EQ_INT(st, status);
    CHECK(f == NULL);
    if (!strstr(e.msg, needle)) FAILF("message \"%s\" lacks \"%s\"", e.msg, needle);
    st_close(f);
}

TEST(safetensors_roundtrip) {
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {-1, 0.5f, 7};
    st_wtensor t[2] = {{"layer.weight", 2, {2, 3}, a}, {"layer.bias", 1, {3}, b}};
    const char *meta[] = {"format", "test", "version", "1"};
    ipf_err e = {{0}};
    const char *p = tpath("rt.safetensors");
    CHECK_OK(st_write(p, t, 2, meta, 2, &e), e.msg);
    st_file *f = NULL;
    REQUIRE(st_open(p, &f, &e) == IPF_OK);
    CHECK_EQ_INT(st_count(f), 2);
    CHECK_STR_EQ(st_meta(f, "format"), "test");
    CHECK(st_meta(f, "missing") == NULL);
    const float *w;
    int64_t shp[2] = {2, 3};
    CHECK_OK(st_get_f32(f, "layer.weight", 2, shp, &w, &e), e.msg);
    if (w) CHECK_CLOSE(w, a, 6, 0, 0);
    int64_t bad[2] = {3, 2};
    CHECK_EQ_INT(st_get_f32(f, "layer.weight", 2, bad, &w, &e), IPF_ERR_SHAPE);
    CHECK(strstr(e.msg, "'layer.weight'") && strstr(e.msg, "(2,3)") && strstr(e.msg, "(3,2)"));
    CHECK_EQ_INT(st_get_f32(f, "nope", 1, NULL, &w, &e), IPF_ERR_NOT_FOUND);
    CHECK(strstr(e.msg, "'nope'") != NULL);
    st_close(f);
    unlink(p);
}

TEST(safetensors_half_types_convert) {
    /* F16 1.0, -2.0, 65504, subnormal 2^-24; BF16 1.5; F64 0.1 */
    uint16_t h[4] = {0x3c00, 0xc000, 0x7bff, 0x0001};
    uint16_t bf = 0x3fc0;
    double d = 0.1;
    unsigned char data[8 + 2 + 6 + 8];
    memcpy(data, h, 8);
    memcpy(data + 8, &bf, 2);
    memset(data + 10, 0, 6);
    memcpy(data + 16, &d, 8);
    const char *p = raw_file("half.safetensors",
                             "{\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[8,10]},"
                             "\"pad\":{\"dtype\":\"U8\",\"shape\":[6],\"data_offsets\":[10,16]},"
                             "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[16,24]}}",
                             data, sizeof data);
    st_file *f = NULL;
    ipf_err e = {{0}};
    REQUIRE(st_open(p, &f, &e) == IPF_OK);
    const float *v;
    CHECK_OK(st_get_f32(f, "h", 1, NULL, &v, &e), e.msg);
    float want[4] = {1.0f, -2.0f, 65504.0f, 5.9604645e-8f};
    if (v) CHECK_CLOSE(v, want, 4, 0, 0);
    CHECK_OK(st_get_f32(f, "b", 1, NULL, &v, &e), e.msg);
    if (v) CHECK(v[0] == 1.5f);
    CHECK_OK(st_get_f32(f, "d", 1, NULL, &v, &e), e.msg);
    if (v) CHECK(v[0] == 0.1f);
    CHECK_EQ_INT(st_get_f32(f, "pad", 1, NULL, &v, &e), IPF_ERR_FORMAT);
    st_close(f);
}

TEST(safetensors_rejects_bad_files) {
    float z[4] = {0};
    expect_bad(tpath("missing.safetensors"), IPF_ERR_IO, "cannot open");
    FILE *f = fopen(tpath("short.safetensors"), "wb");
    fwrite("abc", 1, 3, f);
    fclose(f);
    expect_bad(tpath("short.safetensors"), IPF_ERR_FORMAT, "too short");
    /* header length larger than the file (a lying or truncated file) */
    f = fopen(tpath("lying.safetensors"), "wb");
    unsigned char big[8] = {0xff, 0xff, 0, 0, 0, 0, 0, 0};
    fwrite(big, 1, 8, f);
    fwrite("{}", 1, 2, f);
    fclose(f);
    expect_bad(tpath("lying.safetensors"), IPF_ERR_FORMAT, "header length");
    expect_bad(raw_file("json.safetensors", "{\"a\":", NULL, 0), IPF_ERR_FORMAT, "not valid JSON");
    expect_bad(raw_file("arr.safetensors", "[1,2]", NULL, 0), IPF_ERR_FORMAT, "not a JSON object");
    expect_bad(raw_file("dup.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                        z, 8),
               IPF_ERR_FORMAT, "duplicate");
    expect_bad(raw_file("dtype.safetensors", "{\"w\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", z, 1),
               IPF_ERR_FORMAT, "unknown dtype 'F8'");
    expect_bad(raw_file("neg.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", z, 4),
               IPF_ERR_FORMAT, "'w': field 'shape'");
    expect_bad(raw_file("span.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", z, 4),
               IPF_ERR_FORMAT, "'w': field 'data_offsets' span 4 bytes");
    expect_bad(raw_file("oob.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", z, 4),
               IPF_ERR_FORMAT, "outside the data area");
    expect_bad(raw_file("overlap.safetensors",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                        z, 12),
               IPF_ERR_FORMAT, "overlaps");
    expect_bad(raw_file("gap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", z, 8),
               IPF_ERR_FORMAT, "gap");
    expect_bad(raw_file("trail.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", z, 8),
               IPF_ERR_FORMAT, "trailing");
    expect_bad(raw_file("meta.safetensors", "{\"__metadata__\":{\"k\":1}}", NULL, 0), IPF_ERR_FORMAT, "'k' is not a string");
    expect_bad(raw_file("offs.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", z, 4),
               IPF_ERR_FORMAT, "[begin, end]");
}

TEST(safetensors_write_failure_keeps_old_file) {
    float a[2] = {1, 2};
    st_wtensor t = {"x", 1, {2}, a};
    ipf_err e = {{0}};
    CHECK_EQ_INT(st_write("/nonexistent-dir/x.safetensors", &t, 1, NULL, 0, &e), IPF_ERR_IO);
    CHECK(strstr(e.msg, "/nonexistent-dir/x.safetensors.tmp") != NULL);
    st_wtensor dup[2] = {t, t};
    CHECK_EQ_INT(st_write(tpath("dup_w.safetensors"), dup, 2, NULL, 0, &e), IPF_ERR_INVALID_ARGUMENT);
}
