/* alloc_test: once a session has run an input shape, further runs with that shape (and reading
 * their outputs) must make no heap allocation, also after a run with another shape. Counts with
 * the alloc_count.so shim: LD_PRELOAD=.../alloc_count.so alloc_test FIXTURES_DIR */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dlinfer.h"

#define WARMUP 3
#define RUNS 50
#define MAX_IO 8

static void (*count_start)(void), (*count_stop)(void);
static unsigned long (*count_calls)(void), (*count_bytes)(void);
static unsigned long total_calls, total_bytes;
static volatile float sink;

/* Each allocator entry point must be seen by the shim, or a pass would mean nothing. */
static int shim_self_check(void) {
    void *volatile p;
    void *q = NULL;
    count_start();
    p = malloc(100); free(p);
    p = calloc(3, 10);
    p = realloc(p, 200); free(p);
    if (posix_memalign(&q, 64, 128) == 0) free(q);
    p = aligned_alloc(64, 128); free(p);
    p = memalign(64, 100); free(p);
    p = valloc(100); free(p);
    count_stop();
    unsigned long calls = count_calls(), bytes = count_bytes();
    p = malloc(100); free(p); /* not counted: counting is off */
    int ok = calls == 7 && bytes == 100 + 30 + 200 + 128 + 128 + 100 + 100 && count_calls() == calls;
    printf("shim self-check: %lu allocations (%lu bytes), want 7 (786 bytes): %s\n",
           calls, bytes, ok ? "ok" : "FAILED");
    return ok;
}

/* The "model" file name from a manifest.json, joined to its folder. */
static int model_path(const char *dir, const char *name, char *out, size_t cap) {
    char path[4096], text[16384];
    snprintf(path, sizeof path, "%s/%s/manifest.json", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    const char *p = strstr(text, "\"model\""), *end;
    if (!p || !(p = strchr(p + 7, ':'))) return 0;
    p += 1 + strspn(p + 1, " \t\r\n");
    if (*p != '"' || !(end = strchr(++p, '"'))) return 0;
    snprintf(out, cap, "%s/%s/%.*s", dir, name, (int)(end - p), p);
    return 1;
}

/* One run, then every output viewed and touched as a caller would. */
static dl_status run_once(dl_session *s, size_t n_in, const dl_input *in, size_t n_out) {
    dl_status st = dl_session_run(s, n_in, in);
    for (size_t o = 0; st == DL_OK && o < n_out; o++) {
        dl_output_view v;
        st = dl_session_output(s, o, &v);
        if (st == DL_OK && v.count) sink += v.data[0] + v.data[v.count - 1];
    }
    return st;
}

#define CHECK(call) do { dl_status st_ = (call); if (st_ != DL_OK) { \
    printf("%s: %s: %s: %s\n", name, #call, dl_status_name(st_), dl_last_error()); goto done; } } while (0)

/* RUNS counted runs; then the last outputs must equal `ref` bit for bit. */
static int counted_runs(const char *name, const char *label, dl_session *s, size_t n_in,
                        const dl_input *in, size_t n_out, float **ref, const size_t *ref_count) {
    int ok = 0, runs = 0;
    dl_status st = DL_OK;
    count_start();
    while (runs < RUNS && (st = run_once(s, n_in, in, n_out)) == DL_OK) runs++;
    count_stop();
    unsigned long calls = count_calls(), bytes = count_bytes();
    total_calls += calls;
    total_bytes += bytes;
    printf("%s%s: %lu allocations (%lu bytes) over %d runs\n", name, label, calls, bytes, runs);
    CHECK(st);
    for (size_t o = 0; o < n_out; o++) {
        dl_output_view v;
        CHECK(dl_session_output(s, o, &v));
        if (v.count != ref_count[o] || memcmp(v.data, ref[o], v.count * sizeof(float)) != 0) {
            printf("%s%s: output %zu differs from the first warm-up run\n", name, label, o);
            goto done;
        }
    }
    ok = calls == 0;
done:
    return ok;
}

static int test_model(const char *dir, const char *name, int32_t threads) {
    char path[8192];
    int ok = 0;
    dl_model *model = NULL;
    dl_session *session = NULL;
    size_t n_in = 0, n_out = 0;
    dl_input in[MAX_IO];
    int64_t shapes[MAX_IO][DL_MAX_RANK];
    void *data[MAX_IO] = {0};
    float *ref[MAX_IO] = {0}, *ref2[MAX_IO] = {0};
    size_t ref_count[MAX_IO], ref2_count[MAX_IO];

    if (!model_path(dir, name, path, sizeof path)) { printf("%s: no model in manifest.json\n", name); return 0; }
    CHECK(dl_model_load(path, NULL, NULL, &model));
    dl_session_options options = {.struct_size = sizeof options, .num_threads = threads};
    CHECK(dl_session_create_with_options(model, &options, &session));
    CHECK(dl_model_input_count(model, &n_in));
    CHECK(dl_model_output_count(model, &n_out));
    if (n_in > MAX_IO || n_out > MAX_IO) { printf("%s: more than %d inputs or outputs\n", name, MAX_IO); goto done; }

    /* Buffers hold batch 2; batch 1 uses their first half. */
    unsigned seed = 12345;
    for (size_t i = 0; i < n_in; i++) {
        dl_tensor_info info;
        CHECK(dl_model_input_info(model, i, &info));
        size_t per_item = 1;
        for (int32_t d = 0; d < info.rank; d++) {
            shapes[i][d] = info.shape[d] < 0 ? 1 : info.shape[d];
            if (d > 0) per_item *= (size_t)shapes[i][d];
        }
        data[i] = malloc(2 * per_item * 4);
        for (size_t k = 0; k < 2 * per_item; k++) {
            seed = seed * 1664525u + 1013904223u;
            if (info.dtype == DL_INT32) ((int32_t *)data[i])[k] = (int32_t)(seed >> 28) % 5;
            else ((float *)data[i])[k] = (float)(seed >> 8) / 8388608.0f - 1.0f;
        }
        in[i] = (dl_input){data[i], info.dtype, info.rank, shapes[i]};
    }

    for (int w = 0; w < WARMUP; w++) {
        CHECK(run_once(session, n_in, in, n_out));
        for (size_t o = 0; w == 0 && o < n_out; o++) {
            dl_output_view v;
            CHECK(dl_session_output(session, o, &v));
            ref_count[o] = v.count;
            ref[o] = malloc(v.count * sizeof(float) + 1);
            CHECK(dl_session_output_copy(session, o, ref[o], v.count * sizeof(float)));
        }
    }
    char label[64];
    snprintf(label, sizeof label, " (%d thread%s)", (int)threads, threads == 1 ? "" : "s");
    int ok1 = counted_runs(name, label, session, n_in, in, n_out, ref, ref_count);

    /* A new shape may allocate once (its plan); its later runs must not (a batch takes the ops'
     * per-image paths). Going back to batch 1 must reuse the batch-1 plan. */
    for (size_t i = 0; i < n_in; i++) shapes[i][0] = 2;
    dl_status st2 = run_once(session, n_in, in, n_out);
    CHECK(st2);
    for (size_t o = 0; o < n_out; o++) {
        dl_output_view v;
        CHECK(dl_session_output(session, o, &v));
        ref2_count[o] = v.count;
        ref2[o] = malloc(v.count * sizeof(float) + 1);
        CHECK(dl_session_output_copy(session, o, ref2[o], v.count * sizeof(float)));
    }
    snprintf(label, sizeof label, " (%d thread%s, batch 2)", (int)threads, threads == 1 ? "" : "s");
    int ok2 = counted_runs(name, label, session, n_in, in, n_out, ref2, ref2_count);
    for (size_t i = 0; i < n_in; i++) shapes[i][0] = 1;
    snprintf(label, sizeof label, " (%d thread%s, batch 1 after batch 2)", (int)threads, threads == 1 ? "" : "s");
    int ok3 = counted_runs(name, label, session, n_in, in, n_out, ref, ref_count);
    ok = ok1 && ok2 && ok3;
done:
    if (!ok) printf("%s: FAIL\n", name);
    for (size_t i = 0; i < MAX_IO; i++) { free(data[i]); free(ref[i]); free(ref2[i]); }
    dl_session_release(session);
    dl_model_release(model);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: alloc_test FIXTURES_DIR\n"); return 2; }
    count_start = (void (*)(void))dlsym(RTLD_DEFAULT, "dl_alloc_count_start");
    count_stop = (void (*)(void))dlsym(RTLD_DEFAULT, "dl_alloc_count_stop");
    count_calls = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "dl_alloc_count_calls");
    count_bytes = (unsigned long (*)(void))dlsym(RTLD_DEFAULT, "dl_alloc_count_bytes");
    if (!count_start || !count_stop || !count_calls || !count_bytes) {
        fprintf(stderr, "alloc_test: allocation counter not loaded; run it as\n"
                        "  LD_PRELOAD=/abs/path/to/build/alloc_count.so %s FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    if (!shim_self_check()) return 1;

    const char *models[] = {"keras3_mobilenetv2_035", "keras3_resnet_small", "tf_keras_resnet_small",
                            "keras3_xception_small", "keras3_cnn_classic",
                            /* transposed convolution's phased and gather forms, vector math epilogues */
                            "keras3_convt_s2_k4_same_relu6_17", "keras3_convt_s2_same_k3",
                            "keras3_conv1dt_s3_k4_valid_outpad_tanh", "keras3_layernorm_last", "keras3_act_softmax"};
    /* One thread, and two: handing work to the session's threads must not allocate either. */
    int n = (int)(sizeof models / sizeof models[0]), failed = 0;
    for (int m = 0; m < n; m++) failed += !test_model(argv[1], models[m], 1);
    for (int m = 0; m < n; m++) failed += !test_model(argv[1], models[m], 2);
    n *= 2;
    printf("alloc_test: %d of %d model/thread-count cases allocation-free after warm-up (%lu allocations, %lu bytes "
           "in all counted runs): %s\n", n - failed, n, total_calls, total_bytes, failed ? "FAIL" : "PASS");
    return failed ? 1 : 0;
}
