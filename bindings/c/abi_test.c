/* abi_test: the C ABI's error contract, exercised from C. Every bad call must return the right
 * status with a message, never crash. Usage: abi_test FIXTURES_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <sys/wait.h>
#include <unistd.h>
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

/* Runs body(arg) in a forked child, so a call that traps fails one check instead of ending the
 * test. The child prints its own failed checks; the parent counts the child as one check. */
static void isolated(const char *what, void (*body)(void *), void *arg) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) { check(0, "fork"); return; }
    if (pid == 0) {
        passed = failed = 0;
        setvbuf(stdout, NULL, _IONBF, 0); /* what it printed survives a crash */
        body(arg);
        fflush(stdout);
        _exit(failed ? 1 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    char buf[512];
    if (WIFSIGNALED(st)) snprintf(buf, sizeof buf, "%s: crashed (signal %d)", what, WTERMSIG(st));
    else snprintf(buf, sizeof buf, "%s: the checks above failed", what);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 0, buf);
}

/* The last error names `number` (a size printed unsigned) and no negative number. */
static void message_has_size(const char *number, const char *what) {
    const char *m = dl_last_error();
    char buf[512];
    snprintf(buf, sizeof buf, "%s: message says %s", what, number);
    check(strstr(m, number) != NULL, buf);
    int negative = 0;
    for (const char *p = m; *p; p++) negative |= p[0] == '-' && p[1] >= '0' && p[1] <= '9';
    snprintf(buf, sizeof buf, "%s: message prints no negative number", what);
    check(!negative, buf);
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

/* Deletes what bad_files wrote into its scratch folder, then the folder. */
static void remove_scratch(const char *tmp) {
    char path[4200];
    for (int k = 1; k < 10; k += 4) {
        snprintf(path, sizeof path, "%s/truncated%d.h5", tmp, k);
        remove(path);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/edited%d.json", tmp, i);
        remove(path);
    }
    check(rmdir(tmp) == 0, "scratch folder removed (nothing else left in it)");
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
    remove_scratch(tmp);
}

/* What the argument-abuse checks below run against. */
struct abuse {
    dl_model *model;
    dl_session *session, *profiled; /* both have run once */
    const dl_input *input;
    const char *jpeg_path;
    const unsigned char *jpeg;
    size_t jpeg_size;
};

/* Out-of-range enum values and sizes given to the image calls: a clean error, never a trap, and
 * sizes printed unsigned. */
/* An 8x8 grayscale progressive JPEG with a legal 704-scan script (DC and each of the 63 AC
 * coefficients in its own band, each refined bit by bit from Al = 10, the most libjpeg allows): a decoding-time bomb. */
static unsigned char *many_scans_jpeg(unsigned long *size) {
    static jpeg_scan_info script[64 * 11];
    int n = 0;
    for (int k = 0; k < 64; k++) {
        for (int al = 10; al >= 0; al--) {
            script[n].comps_in_scan = 1;
            script[n].component_index[0] = 0;
            script[n].Ss = k;
            script[n].Se = k;
            script[n].Ah = al == 10 ? 0 : al + 1;
            script[n].Al = al;
            n++;
        }
    }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    jpeg_mem_dest(&c, &out, size);
    c.image_width = 8;
    c.image_height = 8;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    c.scan_info = script;
    c.num_scans = n;
    jpeg_start_compress(&c, TRUE);
    unsigned char row[8];
    for (int y = 0; y < 8; y++) {
        for (int x = 0; x < 8; x++) row[x] = (unsigned char)(x * 30 + y * 7);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return out;
}

static void image_abuse(void *arg) {
    const struct abuse *a = arg;
    float pixels[8 * 8 * 3], again[8 * 8 * 3];
    const dl_preprocess modes[] = {(dl_preprocess)-1, (dl_preprocess)5, (dl_preprocess)INT32_MIN};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        expect_status(dl_image_load(a->jpeg_path, 8, 8, 3, modes[i], pixels, 192), DL_ERR_INVALID_ARGUMENT, "image load: bad mode");
        check(strstr(dl_last_error(), "mode") != NULL, "bad mode: message names the mode");
        expect_status(dl_image_decode(a->jpeg, a->jpeg_size, 8, 8, 3, modes[i], pixels, 192), DL_ERR_INVALID_ARGUMENT,
                      "image decode: bad mode");
    }
    expect_status(dl_image_decode(a->jpeg, SIZE_MAX, 8, 8, 3, DL_PREPROCESS_RAW, pixels, 192), DL_ERR_INVALID_ARGUMENT,
                  "image decode: size SIZE_MAX");
    message_has_size("18446744073709551615", "image decode: size SIZE_MAX");
    expect_status(dl_image_decode(a->jpeg, (size_t)INT64_MAX + 1, 8, 8, 3, DL_PREPROCESS_RAW, pixels, 192),
                  DL_ERR_INVALID_ARGUMENT, "image decode: size 2^63");
    message_has_size("9223372036854775808", "image decode: size 2^63");
    /* A capacity larger than anything addressable is plenty. */
    expect_status(dl_image_decode(a->jpeg, a->jpeg_size, 8, 8, 3, DL_PREPROCESS_RAW, pixels, SIZE_MAX), DL_OK,
                  "image decode: out_count SIZE_MAX");
    expect_status(dl_image_decode(a->jpeg, a->jpeg_size, 8, 8, 3, DL_PREPROCESS_RAW, again, 192), DL_OK, "image decode");
    check(memcmp(pixels, again, sizeof pixels) == 0, "out_count SIZE_MAX decodes the same pixels");
    expect_status(dl_image_decode(a->jpeg, a->jpeg_size, 8, 8, 3, DL_PREPROCESS_RAW, pixels, 191), DL_ERR_INVALID_ARGUMENT,
                  "image decode: out_count one short");
    message_has_size("191", "image decode: out_count one short");
    expect_status(dl_image_decode(a->jpeg, a->jpeg_size, INT32_MAX, INT32_MAX, 3, DL_PREPROCESS_RAW, pixels, 192),
                  DL_ERR_INVALID_ARGUMENT, "image decode: INT32_MAX x INT32_MAX x 3");
    expect_status(dl_image_load(a->jpeg_path, INT32_MAX, INT32_MAX, 3, DL_PREPROCESS_RAW, pixels, SIZE_MAX),
                  DL_ERR_INVALID_ARGUMENT, "image load: INT32_MAX x INT32_MAX x 3 into SIZE_MAX floats");
    expect_status(dl_image_load(a->jpeg_path, -8, 8, 3, DL_PREPROCESS_RAW, pixels, 192), DL_ERR_INVALID_ARGUMENT,
                  "image load: negative height");
    unsigned long bomb_size = 0;
    unsigned char *bomb = many_scans_jpeg(&bomb_size);
    expect_status(dl_image_decode(bomb, bomb_size, 8, 8, 1, DL_PREPROCESS_RAW, pixels, 64), DL_ERR_FORMAT,
                  "image decode: progressive JPEG with 704 scans");
    check(strstr(dl_last_error(), "more than 500 scans") != NULL, "many scans: the message says why");
    free(bomb);
}

/* size_t counts and indices of SIZE_MAX (and other huge values) given to the model and session
 * calls: a clean DL_ERR_INVALID_ARGUMENT naming the value unsigned, never a trap. */
static void session_abuse(void *arg) {
    const struct abuse *a = arg;
    expect_status(dl_session_run(a->session, SIZE_MAX, a->input), DL_ERR_INVALID_ARGUMENT, "run: input_count SIZE_MAX");
    message_has_size("18446744073709551615", "run: input_count SIZE_MAX");
    expect_status(dl_session_run(a->session, (size_t)1 << 20, a->input), DL_ERR_INVALID_ARGUMENT, "run: input_count 2^20");
    message_has_size("1048576", "run: input_count 2^20");
    dl_tensor_info info;
    expect_status(dl_model_input_info(a->model, SIZE_MAX, &info), DL_ERR_INVALID_ARGUMENT, "input info: index SIZE_MAX");
    message_has_size("18446744073709551615", "input info: index SIZE_MAX");
    expect_status(dl_model_output_info(a->model, SIZE_MAX, &info), DL_ERR_INVALID_ARGUMENT, "output info: index SIZE_MAX");
    message_has_size("18446744073709551615", "output info: index SIZE_MAX");
    dl_output_view view;
    expect_status(dl_session_output(a->session, SIZE_MAX, &view), DL_ERR_INVALID_ARGUMENT, "output: index SIZE_MAX");
    message_has_size("18446744073709551615", "output: index SIZE_MAX");
    float buf[64];
    expect_status(dl_session_output_copy(a->session, SIZE_MAX, buf, sizeof buf), DL_ERR_INVALID_ARGUMENT,
                  "output copy: index SIZE_MAX");
    message_has_size("18446744073709551615", "output copy: index SIZE_MAX");
    expect_status(dl_session_output(a->session, 0, &view), DL_OK, "output view");
    check(view.count <= 64, "output fits the test buffer");
    if (view.count <= 64) {
        expect_status(dl_session_output_copy(a->session, 0, buf, SIZE_MAX), DL_OK, "output copy: buffer_bytes SIZE_MAX");
        check(memcmp(buf, view.data, view.count * sizeof(float)) == 0, "output copy with buffer_bytes SIZE_MAX");
    }
    expect_status(dl_session_output_copy(a->session, 0, buf, 3), DL_ERR_INVALID_ARGUMENT, "output copy: 3 bytes");
    message_has_size("has 3", "output copy: 3 bytes");
    dl_profile_entry entry;
    expect_status(dl_session_profile_entry(a->profiled, SIZE_MAX, &entry), DL_ERR_INVALID_ARGUMENT,
                  "profile entry: index SIZE_MAX");
    message_has_size("18446744073709551615", "profile entry: index SIZE_MAX");
    check(strcmp(dl_status_name((dl_status)-1), "DL_UNKNOWN_STATUS") == 0, "status name of (dl_status)-1");
}

/* dl_load_options: the struct of ABI version 2 (no max_weight_bytes) still works, a smaller one
 * is refused, and max_weight_bytes limits what a file may make the loader read. */
static void load_options(const char *fixtures, const char *full_model, const char *json, const char *weights) {
    dl_model *model = NULL;
    struct { uint32_t struct_size; const char *keras_version; } v2 = {sizeof v2, "2.21.0"};
    expect_status(dl_model_load(json, weights, (const dl_load_options *)&v2, &model), DL_OK, "load with ABI 2 options");
    dl_model_release(model);
    model = NULL;
    v2.struct_size = 8;
    expect_status(dl_model_load(json, weights, (const dl_load_options *)&v2, &model), DL_ERR_INVALID_ARGUMENT,
                  "options.struct_size smaller than ABI 2's");
    check(strstr(dl_last_error(), "struct_size is 8") != NULL, "message gives the struct_size");

    char keras[4096];
    snprintf(keras, sizeof keras, "%s/keras3_int32_dense/model.keras", fixtures);
    const char *paths[][2] = {{full_model, NULL}, {json, weights}, {keras, NULL}};
    for (size_t i = 0; i < 3; i++) {
        dl_load_options o = {sizeof o, NULL, 1000};
        expect_status(dl_model_load(paths[i][0], paths[i][1], &o, &model), DL_ERR_UNSUPPORTED, paths[i][0]);
        check(model == NULL, "no model over the weight limit");
        check(strstr(dl_last_error(), "limit of 1000 bytes") != NULL, "over the weight limit: message names the limit");
        o.max_weight_bytes = 1 << 20;
        expect_status(dl_model_load(paths[i][0], paths[i][1], &o, &model), DL_OK, "load under a 1 MiB weight limit");
        dl_model_release(model);
        model = NULL;
        o.max_weight_bytes = UINT64_MAX;
        expect_status(dl_model_load(paths[i][0], paths[i][1], &o, &model), DL_OK, "load with max_weight_bytes UINT64_MAX");
        dl_model_release(model);
        model = NULL;
    }
}

/* dl_model_load_memory (ABI 4): the same forms from bytes; the same checks on sizes. */
static void load_memory(const char *path, const char *json, const char *weights) {
    size_t size = 0, jsize = 0, wsize = 0;
    char *data = read_file(path, &size), *jdata = read_file(json, &jsize), *wdata = read_file(weights, &wsize);
    check(data && jdata && wdata, "read fixtures for dl_model_load_memory");
    if (!data || !jdata || !wdata) { free(data); free(jdata); free(wdata); return; }
    dl_model *model = NULL;
    expect_status(dl_model_load_memory(NULL, 10, NULL, 0, NULL, &model), DL_ERR_INVALID_ARGUMENT, "load_memory NULL data");
    expect_status(dl_model_load_memory(data, size, NULL, 0, NULL, NULL), DL_ERR_INVALID_ARGUMENT, "load_memory NULL out");
    expect_status(dl_model_load_memory(data, SIZE_MAX, NULL, 0, NULL, &model), DL_ERR_INVALID_ARGUMENT, "load_memory size SIZE_MAX");
    message_has_size("18446744073709551615", "load_memory size SIZE_MAX");
    expect_status(dl_model_load_memory(jdata, jsize, wdata, SIZE_MAX, NULL, &model), DL_ERR_INVALID_ARGUMENT,
                  "load_memory weights_size SIZE_MAX");
    expect_status(dl_model_load_memory(jdata, jsize, NULL, 8, NULL, &model), DL_ERR_INVALID_ARGUMENT,
                  "load_memory NULL weights_data with a size");
    expect_status(dl_model_load_memory(jdata, jsize, NULL, 0, NULL, &model), DL_ERR_INVALID_ARGUMENT, "load_memory JSON without weights");
    expect_status(dl_model_load_memory(data, size / 2, NULL, 0, NULL, &model), DL_ERR_FORMAT, "load_memory truncated .h5");
    expect_status(dl_model_load_memory(jdata, jsize, wdata, wsize / 2, NULL, &model), DL_ERR_FORMAT,
                  "load_memory truncated weights");
    expect_status(dl_model_load_memory(data, 0, NULL, 0, NULL, &model), DL_ERR_FORMAT, "load_memory empty data");
    check(model == NULL, "failed load_memory leaves *out_model NULL");
    dl_load_options options = {.struct_size = sizeof(dl_load_options), .keras_version = "2.21.0"};
    expect_status(dl_model_load_memory(jdata, jsize, wdata, wsize, &options, &model), DL_OK, "load_memory JSON + weights");
    dl_model_release(model);
    model = NULL;
    expect_status(dl_model_load_memory(data, size, NULL, 0, NULL, &model), DL_OK, "load_memory full model");
    dl_model_release(model);
    free(data);
    free(jdata);
    free(wdata);
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
    load_options(argv[1], path, json, weights);
    load_memory(path, json, weights);

    dl_load_options options = {.struct_size = sizeof(dl_load_options), .keras_version = "2.21.0"};
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
    dl_session_options bad_session_options = {.profile = 1};
    dl_session *profiled = NULL;
    expect_status(dl_session_create_with_options(model, &bad_session_options, &profiled), DL_ERR_INVALID_ARGUMENT,
                  "session options without struct_size");
    dl_session_options session_options = {.struct_size = sizeof session_options, .profile = 1};
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

    char jpeg_path[4096];
    snprintf(jpeg_path, sizeof jpeg_path, "%s/images/rgb_13x17_q90.jpg", argv[1]);
    size_t jpeg_size = 0;
    char *jpeg = read_file(jpeg_path, &jpeg_size);
    check(jpeg != NULL, "read the test JPEG");
    struct abuse abuse = {model, session, profiled, &input, jpeg_path, (const unsigned char *)jpeg, jpeg_size};
    isolated("image calls with out-of-range arguments", image_abuse, &abuse);
    isolated("model and session calls with SIZE_MAX counts and indices", session_abuse, &abuse);
    free(jpeg);
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
