/* classify: run a Keras image classifier on JPEG files through libdlinfer.so.
 *
 *   classify MODEL [--mode raw|unit|tf|caffe|torch] [--top K] IMAGE.jpg...
 *
 * The image is decoded, resized to the model's input height/width/channels and preprocessed
 * with --mode (default unit = x/255); prints the top-K classes with their probabilities. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dlinfer.h"

static int fail(const char *what, dl_status s) {
    fprintf(stderr, "classify: %s failed: %s: %s\n", what, dl_status_name(s), dl_last_error());
    return 1;
}

static dl_preprocess parse_mode(const char *m) {
    if (!strcmp(m, "raw")) return DL_PREPROCESS_RAW;
    if (!strcmp(m, "tf")) return DL_PREPROCESS_TF;
    if (!strcmp(m, "caffe")) return DL_PREPROCESS_CAFFE;
    if (!strcmp(m, "torch")) return DL_PREPROCESS_TORCH;
    return DL_PREPROCESS_UNIT;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL [--mode raw|unit|tf|caffe|torch] [--top K] IMAGE.jpg...\n", argv[0]);
        return 2;
    }
    if (dl_abi_version() < DL_ABI_VERSION) {
        fprintf(stderr, "classify: libdlinfer ABI %d, header %d\n", (int)dl_abi_version(), DL_ABI_VERSION);
        return 1;
    }
    dl_preprocess mode = DL_PREPROCESS_UNIT;
    int top = 3, first_image = 2;
    while (first_image + 1 < argc && !strncmp(argv[first_image], "--", 2)) {
        if (!strcmp(argv[first_image], "--mode")) mode = parse_mode(argv[first_image + 1]);
        else if (!strcmp(argv[first_image], "--top")) top = atoi(argv[first_image + 1]);
        first_image += 2;
    }

    dl_model *model = NULL;
    dl_status s = dl_model_load(argv[1], NULL, NULL, &model);
    if (s != DL_OK) return fail("dl_model_load", s);
    dl_tensor_info in, out;
    if ((s = dl_model_input_info(model, 0, &in)) != DL_OK) return fail("dl_model_input_info", s);
    if ((s = dl_model_output_info(model, 0, &out)) != DL_OK) return fail("dl_model_output_info", s);
    if (in.rank != 4 || in.dtype != DL_FLOAT32 || (in.shape[3] != 1 && in.shape[3] != 3)) {
        fprintf(stderr, "classify: model input '%s' is not an NHWC image with 1 or 3 channels\n", in.name);
        dl_model_release(model);
        return 1;
    }
    int32_t h = (int32_t)in.shape[1], w = (int32_t)in.shape[2], c = (int32_t)in.shape[3];
    size_t pixels = (size_t)h * w * c;
    float *image = malloc(pixels * sizeof(float));
    dl_session *session = NULL;
    if ((s = dl_session_create(model, &session)) != DL_OK) return fail("dl_session_create", s);

    int status = 0;
    for (int i = first_image; i < argc; i++) {
        s = dl_image_load(argv[i], h, w, c, mode, image, pixels);
        if (s != DL_OK) { fail(argv[i], s); status = 1; continue; }
        int64_t shape[4] = {1, h, w, c};
        dl_input input = {image, DL_FLOAT32, 4, shape};
        if ((s = dl_session_run(session, 1, &input)) != DL_OK) { fail("dl_session_run", s); status = 1; continue; }
        dl_output_view view;
        if ((s = dl_session_output(session, 0, &view)) != DL_OK) { fail("dl_session_output", s); status = 1; continue; }
        size_t classes = view.count;
        printf("%s:", argv[i]);
        char *used = calloc(classes, 1);
        for (int k = 0; k < top && k < (int)classes; k++) {
            size_t best = 0;
            float best_p = -1e30f;
            for (size_t j = 0; j < classes; j++)
                if (!used[j] && view.data[j] > best_p) { best = j; best_p = view.data[j]; }
            used[best] = 1;
            printf(" %zu (%.4f)", best, best_p);
        }
        printf("\n");
        free(used);
    }
    dl_session_release(session);
    dl_model_release(model);
    free(image);
    return status;
}
