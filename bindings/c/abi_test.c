/* abi_test: the C ABI's error contract, exercised from C. Every bad call must return the right
 * status with a message, never crash. Usage: abi_test FIXTURES_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dlinfer.h"

static int passed, failed;

static void check(int ok, const char *what) {
    if (ok) passed++;
    else { failed++; printf("FAIL: %s (last error: %s)\n", what, dl_last_error()); }
}

static void expect_status(dl_status got, dl_status want, const char *what) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s: got %s, want %s", what, dl_status_name(got), dl_status_name(want));
    check(got == want, buf);
    if (got != DL_OK) check(strlen(dl_last_error()) > 0, "error message is not empty");
}

static char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); fclose(f); return NULL; }
    buf[n] = 0;
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void write_file(const char *path, const char *data, size_t size) {
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, size, f);
    fclose(f);
}

/* Writes `text` with the first occurrence of `from` replaced by `to`. */
static void write_replaced(const char *path, const char *text, const char *from, const char *to) {
    const char *at = strstr(text, from);
    FILE *f = fopen(path, "wb");
    if (!at) { fputs(text, f); fclose(f); return; }
    fwrite(text, 1, (size_t)(at - text), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
}

/* Bad files: each must fail to load with `want` and a message containing `needle`. */
static void bad_files(const char *full_model, const char *json, const char *weights) {
    char tmp[] = "/tmp/dl-abi-XXXXXX";
    if (!mkdtemp(tmp)) { check(0, "mkdtemp"); return; }
    char path[4200];
    dl_model *model = NULL;
    size_t size = 0;
    char *h5 = read_file(full_model, &size);
    check(h5 != NULL, "read fixture");
    if (!h5) return;
    for (int k = 1; k < 10; k += 4) {
        snprintf(path, sizeof path, "%s/truncated%d.h5", tmp, k);
        write_file(path, h5, size * (size_t)k / 10);
        dl_status s = dl_model_load(path, NULL, NULL, &model);
        check(s == DL_ERR_FORMAT || s == DL_ERR_WEIGHTS, "truncated file is a format or weights error");
        check(model == NULL && strlen(dl_last_error()) > 0, "truncated file: no model, a message");
    }
    free(h5);

    char *arch = read_file(json, &size);
    check(arch != NULL, "read architecture");
    if (!arch) return;
    struct { const char *from, *to; dl_status want; const char *needle; } edits[] = {
        {"\"MaxPooling2D\"", "\"FancyPooling2D\"", DL_ERR_UNSUPPORTED, "layer class 'FancyPooling2D' is not supported"},
        {"\"channels_last\"", "\"channels_first\"", DL_ERR_UNSUPPORTED, "option data_format='channels_first' is not supported"},
        {"\"conv2d_1\"", "\"conv2d_renamed\"", DL_ERR_WEIGHTS, "'conv2d_renamed' (Conv2D): weights missing"},
        {"\"filters\": 4", "\"filters\": 5", DL_ERR_WEIGHTS, "weight 'kernel' has shape"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        snprintf(path, sizeof path, "%s/edited%zu.json", tmp, i);
        check(strstr(arch, edits[i].from) != NULL, edits[i].from);
        write_replaced(path, arch, edits[i].from, edits[i].to);
        expect_status(dl_model_load(path, weights, NULL, &model), edits[i].want, edits[i].needle);
        check(strstr(dl_last_error(), edits[i].needle) != NULL, edits[i].needle);
    }
    free(arch);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: abi_test FIXTURES_DIR\n"); return 2; }
    char path[4096], json[4096], weights[4096];
    snprintf(path, sizeof path, "%s/tf_keras_cnn_classic/model.h5", argv[1]);
    snprintf(json, sizeof json, "%s/tf_keras_jw_seq_cnn/model.json", argv[1]);
    snprintf(weights, sizeof weights, "%s/tf_keras_jw_seq_cnn/weights.h5", argv[1]);

    check(dl_abi_version() == DL_ABI_VERSION, "ABI version matches the header it was built with");
    check(strlen(dl_version()) > 0, "version string");

    dl_model *model = NULL;
    expect_status(dl_model_load(NULL, NULL, NULL, &model), DL_ERR_INVALID_ARGUMENT, "load NULL path");
    expect_status(dl_model_load(path, NULL, NULL, NULL), DL_ERR_INVALID_ARGUMENT, "load NULL out");
    expect_status(dl_model_load("/nonexistent/model.h5", NULL, NULL, &model), DL_ERR_IO, "load missing file");
    check(strstr(dl_last_error(), "/nonexistent/model.h5") != NULL, "message names the file");
    expect_status(dl_model_load(argv[0], NULL, NULL, &model), DL_ERR_FORMAT, "load an ELF binary");
    expect_status(dl_model_load(json, NULL, NULL, &model), DL_ERR_INVALID_ARGUMENT, "JSON without weights");
    dl_load_options bad_options = {0};
    expect_status(dl_model_load(path, NULL, &bad_options, &model), DL_ERR_INVALID_ARGUMENT, "options without struct_size");
    check(model == NULL, "failed load leaves *out_model NULL");

    bad_files(path, json, weights);

    dl_load_options options = {sizeof(dl_load_options), "2.21.0"};
    expect_status(dl_model_load(json, weights, &options, &model), DL_OK, "load JSON + weights with options");
    dl_model_release(model);
    model = NULL;

    expect_status(dl_model_load(path, NULL, NULL, &model), DL_OK, "load full model");
    size_t n = 0;
    expect_status(dl_model_input_count(NULL, &n), DL_ERR_INVALID_ARGUMENT, "input count of NULL model");
    expect_status(dl_model_input_count(model, NULL), DL_ERR_INVALID_ARGUMENT, "input count into NULL");
    expect_status(dl_model_input_count(model, &n), DL_OK, "input count");
    check(n == 1, "one input");
    dl_tensor_info info;
    expect_status(dl_model_input_info(model, 5, &info), DL_ERR_INVALID_ARGUMENT, "input info out of range");
    expect_status(dl_model_input_info(model, 0, &info), DL_OK, "input info");
    check(info.rank == 4 && info.shape[0] == -1 && info.dtype == DL_FLOAT32, "input info: rank 4, dynamic batch, float32");
    expect_status(dl_model_output_info(model, 0, &info), DL_OK, "output info");

    dl_session *session = NULL;
    expect_status(dl_session_create(NULL, &session), DL_ERR_INVALID_ARGUMENT, "session of NULL model");
    expect_status(dl_session_create(model, &session), DL_OK, "session");
    dl_output_view view;
    expect_status(dl_session_output(session, 0, &view), DL_ERR_INVALID_ARGUMENT, "output before any run");

    dl_model_input_info(model, 0, &info);
    int64_t shape[4] = {2, info.shape[1], info.shape[2], info.shape[3]};
    size_t count = 2 * (size_t)(shape[1] * shape[2] * shape[3]);
    float *x = calloc(count, sizeof(float));
    dl_input input = {x, DL_FLOAT32, 4, shape};
    expect_status(dl_session_run(NULL, 1, &input), DL_ERR_INVALID_ARGUMENT, "run NULL session");
    expect_status(dl_session_run(session, 1, NULL), DL_ERR_INVALID_ARGUMENT, "run NULL inputs");
    expect_status(dl_session_run(session, 0, NULL), DL_ERR_SHAPE, "run with no inputs");
    dl_input null_data = {NULL, DL_FLOAT32, 4, shape};
    expect_status(dl_session_run(session, 1, &null_data), DL_ERR_INVALID_ARGUMENT, "run NULL data");
    dl_input int_input = {x, DL_INT32, 4, shape};
    expect_status(dl_session_run(session, 1, &int_input), DL_ERR_DTYPE, "run int32 into float model");
    dl_input bad_dtype = {x, (dl_dtype)42, 4, shape};
    expect_status(dl_session_run(session, 1, &bad_dtype), DL_ERR_DTYPE, "run unknown dtype");
    int64_t wrong[4] = {2, shape[1] + 1, shape[2], shape[3]};
    dl_input wrong_shape = {x, DL_FLOAT32, 4, wrong};
    expect_status(dl_session_run(session, 1, &wrong_shape), DL_ERR_SHAPE, "run wrong shape");
    check(strstr(dl_last_error(), "expects shape") != NULL, "shape message says what was expected");
    dl_input wrong_rank = {x, DL_FLOAT32, 3, shape};
    expect_status(dl_session_run(session, 1, &wrong_rank), DL_ERR_SHAPE, "run wrong rank");
    dl_input huge_rank = {x, DL_FLOAT32, 1000, shape};
    expect_status(dl_session_run(session, 1, &huge_rank), DL_ERR_INVALID_ARGUMENT, "run absurd rank");

    expect_status(dl_session_run(session, 1, &input), DL_OK, "run");
    expect_status(dl_session_output(session, 0, &view), DL_OK, "output view");
    check(view.rank == 2 && view.shape[0] == 2 && view.count == (size_t)(2 * view.shape[1]), "output view shape");
    float sum = 0;
    for (int64_t j = 0; j < view.shape[1]; j++) sum += view.data[j];
    check(sum > 0.999f && sum < 1.001f, "softmax row sums to 1");
    float small[1];
    expect_status(dl_session_output_copy(session, 0, small, sizeof small), DL_ERR_INVALID_ARGUMENT, "copy into a small buffer");
    float *copy = malloc(view.count * sizeof(float));
    expect_status(dl_session_output_copy(session, 0, copy, view.count * sizeof(float)), DL_OK, "copy output");
    check(memcmp(copy, view.data, view.count * sizeof(float)) == 0, "copy equals the view");
    expect_status(dl_session_output(session, 3, &view), DL_ERR_INVALID_ARGUMENT, "output index out of range");

    /* Session options and the per-op profile. */
    size_t entries = 0;
    expect_status(dl_session_profile_count(session, &entries), DL_ERR_INVALID_ARGUMENT, "profile of a session without profiling");
    dl_session_options bad_session_options = {0, 1};
    dl_session *profiled = NULL;
    expect_status(dl_session_create_with_options(model, &bad_session_options, &profiled), DL_ERR_INVALID_ARGUMENT,
                  "session options without struct_size");
    dl_session_options session_options = {sizeof session_options, 1};
    expect_status(dl_session_create_with_options(model, &session_options, &profiled), DL_OK, "profiling session");
    expect_status(dl_session_run(profiled, 1, &input), DL_OK, "profiled run 1");
    expect_status(dl_session_run(profiled, 1, &input), DL_OK, "profiled run 2");
    expect_status(dl_session_profile_count(profiled, &entries), DL_OK, "profile count");
    check(entries > 0, "profile has entries");
    dl_profile_entry entry;
    double total = 0;
    int named = 1;
    for (size_t i = 0; i < entries; i++) {
        expect_status(dl_session_profile_entry(profiled, i, &entry), DL_OK, "profile entry");
        named &= entry.runs == 2 && strlen(entry.op) > 0 && strlen(entry.layers) > 0 && entry.total_ms >= 0;
        total += entry.total_ms;
    }
    check(named, "every profile entry names its op and Keras layers and counts 2 runs");
    check(total > 0, "profiled time is positive");
    expect_status(dl_session_profile_entry(profiled, entries, &entry), DL_ERR_INVALID_ARGUMENT, "profile entry out of range");
    expect_status(dl_session_profile_reset(profiled), DL_OK, "profile reset");
    expect_status(dl_session_profile_count(profiled, &entries), DL_OK, "profile count after reset");
    expect_status(dl_session_profile_entry(profiled, 0, &entry), DL_OK, "profile entry after reset");
    check(entry.runs == 0 && entry.total_ms == 0, "reset zeroes the profile");
    dl_session_release(profiled);

    float pixels[8 * 8 * 3];
    expect_status(dl_image_load("/nonexistent.jpg", 8, 8, 3, DL_PREPROCESS_RAW, pixels, 192), DL_ERR_IO, "image: missing file");
    expect_status(dl_image_load(path, 8, 8, 3, DL_PREPROCESS_RAW, pixels, 192), DL_ERR_FORMAT, "image: not a JPEG");
    const unsigned char junk[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0};
    expect_status(dl_image_decode(junk, sizeof junk, 8, 8, 3, DL_PREPROCESS_RAW, pixels, 192), DL_ERR_FORMAT, "image: truncated JPEG header");
    expect_status(dl_image_decode(junk, sizeof junk, 8, 8, 3, DL_PREPROCESS_RAW, pixels, 10), DL_ERR_INVALID_ARGUMENT, "image: small buffer");
    expect_status(dl_image_decode(NULL, 0, 8, 8, 3, DL_PREPROCESS_RAW, pixels, 192), DL_ERR_INVALID_ARGUMENT, "image: NULL data");
    expect_status(dl_image_decode(junk, sizeof junk, 8, 8, 2, DL_PREPROCESS_RAW, pixels, 192), DL_ERR_INVALID_ARGUMENT, "image: 2 channels");

    dl_session_release(session);
    dl_model_release(model);
    dl_session_release(NULL);
    dl_model_release(NULL);
    free(x);
    free(copy);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
