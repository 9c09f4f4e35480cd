/*
 * dlinfer.h — the C ABI of libdlinfer.so, an inference engine for Keras models.
 *
 * Ownership and lifetimes
 *   - A dl_model is immutable once loaded. It may be shared by any number of threads; release it
 *     with dl_model_release() after every session created from it has been released.
 *   - A dl_session holds the activations of one run. Use a session from one thread at a time
 *     (one session per thread is the intended pattern). A session plans its memory once per
 *     distinct set of input shapes (it keeps the last 8 plans); a run with shapes it has planned
 *     for allocates no memory.
 *   - Strings and arrays returned through dl_tensor_info from a model are owned by the model and
 *     stay valid until it is released. Output views returned by dl_session_output() are borrowed
 *     from the session and stay valid until its next dl_session_run() or its release; use
 *     dl_session_output_copy() to keep a copy.
 *
 * Errors
 *   Every fallible call returns a dl_status. On any status other than DL_OK, dl_last_error()
 *   returns a human-readable message (naming the file, layer, tensor or shape at fault). The
 *   message is thread-local and valid until the next dl_* call on the same thread. No call
 *   aborts or exits the host process on bad input.
 *
 * Versioning
 *   DL_ABI_VERSION changes only additively; dl_abi_version() returns the value the library was
 *   built with, so a program can check it is at least the header it was compiled against.
 *   Version 2 added dl_session_options (profiling, intra-op threads),
 *   dl_session_create_with_options and the profile calls.
 *   Version 3 added dl_load_options.max_weight_bytes.
 *   Version 4 added dl_model_load_memory.
 */
#ifndef DLINFER_H
#define DLINFER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DL_ABI_VERSION 4
#define DL_MAX_RANK 8

typedef enum dl_status {
    DL_OK = 0,
    DL_ERR_INVALID_ARGUMENT = 1, /* null pointer, index out of range, bad option value */
    DL_ERR_IO = 2,               /* file cannot be opened or read */
    DL_ERR_FORMAT = 3,           /* not a recognised model/image file, or corrupt or truncated */
    DL_ERR_UNSUPPORTED = 4,      /* layer class or option the engine does not implement */
    DL_ERR_WEIGHTS = 5,          /* weight missing, extra, or of the wrong shape */
    DL_ERR_SHAPE = 6,            /* input count or shape does not fit the model */
    DL_ERR_DTYPE = 7,            /* input dtype does not fit the model */
    DL_ERR_INTERNAL = 8          /* a bug in dlinfer: please report it with the message */
} dl_status;

typedef enum dl_dtype {
    DL_FLOAT32 = 1,
    DL_INT32 = 2
} dl_dtype;

typedef struct dl_model dl_model;
typedef struct dl_session dl_session;

/* Metadata of a model input or output. shape[i] is -1 for a dimension fixed only at run time
 * (always the batch dimension, shape[0]). `name` is owned by the model. */
typedef struct dl_tensor_info {
    const char *name;
    dl_dtype dtype;
    int32_t rank;
    int64_t shape[DL_MAX_RANK];
} dl_tensor_info;

/* One run input: a dense, C-ordered (row-major) buffer; NHWC for images as in Keras. */
typedef struct dl_input {
    const void *data;
    dl_dtype dtype;
    int32_t rank;
    const int64_t *shape;
} dl_input;

/* A borrowed output of the last run (see lifetimes above). */
typedef struct dl_output_view {
    const char *name;
    dl_dtype dtype;
    int32_t rank;
    int64_t shape[DL_MAX_RANK];
    const float *data;
    size_t count; /* number of elements */
} dl_output_view;

/* Optional load settings: zero-initialise, set struct_size = sizeof(dl_load_options). Fields are
 * only ever appended: a program built against an older header passes its smaller struct_size and
 * gets the defaults for the fields it does not know. */
typedef struct dl_load_options {
    uint32_t struct_size;
    /* Keras version whose semantics to apply (e.g. "2.15.0" or "3.5.0") when the file does not
     * say which Keras wrote it; NULL = use the file's keras_version (or Keras 3 if absent). It
     * decides, for example, what "hard_sigmoid" means. */
    const char *keras_version;
    /* Most bytes of weights the file may make the loader read (float32, all layers together),
     * and most bytes of one member of a .keras archive (uncompressed); a file needing more fails
     * with DL_ERR_UNSUPPORTED naming the limit. 0 = the default, 4 GiB. (ABI version 3.) */
    uint64_t max_weight_bytes;
} dl_load_options;

/* "0.1.0" etc.; static storage. */
const char *dl_version(void);
int32_t dl_abi_version(void);
/* Message of the last failed call on this thread ("" if none). */
const char *dl_last_error(void);
/* Static name of a status, e.g. "DL_ERR_SHAPE". */
const char *dl_status_name(dl_status status);

/* Loads a Keras model, detecting the format from the file content:
 *   - full-model HDF5 (.h5) from Keras 2.0..2.x, tf.keras / tf_keras, or Keras 3 model.save("x.h5"):
 *     weights_path = NULL;
 *   - Keras 3 archive (.keras): weights_path = NULL;
 *   - architecture JSON (model.to_json()) with weights_path naming the save_weights() HDF5 file
 *     (legacy layout or Keras 3 .weights.h5).
 * options may be NULL. On success *out_model receives a model to release with dl_model_release. */
dl_status dl_model_load(const char *path, const char *weights_path,
                        const dl_load_options *options, dl_model **out_model);
/* dl_model_load from bytes in memory (ABI version 4): data holds a full-model .h5 file, a .keras
 * archive, or an architecture JSON, in which case weights_data/weights_size hold the weights
 * HDF5 file (weights_data = NULL and weights_size = 0 otherwise). Nothing is written to disk; the
 * caller keeps ownership of both buffers (they are copied and may be freed after the call).
 * Sizes above 4 GiB, or a NULL weights_data with nonzero weights_size, give
 * DL_ERR_INVALID_ARGUMENT; truncated or corrupt bytes give DL_ERR_FORMAT like a file would. */
dl_status dl_model_load_memory(const void *data, size_t size, const void *weights_data, size_t weights_size,
                               const dl_load_options *options, dl_model **out_model);
void dl_model_release(dl_model *model);

dl_status dl_model_input_count(const dl_model *model, size_t *out_count);
dl_status dl_model_output_count(const dl_model *model, size_t *out_count);
dl_status dl_model_input_info(const dl_model *model, size_t index, dl_tensor_info *out_info);
dl_status dl_model_output_info(const dl_model *model, size_t index, dl_tensor_info *out_info);

dl_status dl_session_create(const dl_model *model, dl_session **out_session);
void dl_session_release(dl_session *session);

/* Optional session settings: zero-initialise, set struct_size = sizeof(dl_session_options). */
typedef struct dl_session_options {
    uint32_t struct_size;
    /* Nonzero: time every op of every run (two clock reads per op), for dl_session_profile_*. */
    int32_t profile;
    /* Intra-op threads: convolutions and dense layers are split across them (the calling thread
     * takes part). 0 or 1: one thread (the default); at most 256. Results do not depend on it. */
    int32_t num_threads;
} dl_session_options;

/* dl_session_create with settings; options may be NULL (the defaults). */
dl_status dl_session_create_with_options(const dl_model *model, const dl_session_options *options,
                                         dl_session **out_session);

/* Time spent in one op of the compiled model, summed over the profiled runs of the session's
 * current input shapes. Strings are owned by the session and stay valid until the next
 * dl_session_profile_count() on it or its release. */
typedef struct dl_profile_entry {
    const char *op;      /* the op and the algorithm it runs, e.g. "conv2d 3x3 im2col+gemm" */
    const char *layers;  /* the Keras layer(s) it was made from, comma-separated */
    double total_ms;     /* time summed over `runs` runs */
    int64_t runs;
    double flops;        /* floating-point operations per run (0 where not counted) */
} dl_profile_entry;

/* Takes a snapshot of the profile (slowest op first) and returns its number of entries; fails
 * with DL_ERR_INVALID_ARGUMENT if the session was not created with profiling on. */
dl_status dl_session_profile_count(dl_session *session, size_t *out_count);
dl_status dl_session_profile_entry(const dl_session *session, size_t index, dl_profile_entry *out_entry);
/* Zeroes the profile counters. */
dl_status dl_session_profile_reset(dl_session *session);

/* Runs the model on `input_count` inputs given in model input order. Every input's dtype and
 * shape must match the model's (any batch size >= 1, the same for all inputs). */
dl_status dl_session_run(dl_session *session, size_t input_count, const dl_input *inputs);

/* Output `index` of the last successful run, borrowed (see lifetimes above). */
dl_status dl_session_output(const dl_session *session, size_t index, dl_output_view *out_view);
/* Copies output `index` of the last run into `buffer` (capacity in bytes). Fails with
 * DL_ERR_INVALID_ARGUMENT, copying nothing, if it does not fit. */
dl_status dl_session_output_copy(const dl_session *session, size_t index, void *buffer,
                                 size_t buffer_bytes);

/* Keras image preprocessing modes (keras.applications.imagenet_utils.preprocess_input). */
typedef enum dl_preprocess {
    DL_PREPROCESS_RAW = 0,   /* pixel values 0..255 as float */
    DL_PREPROCESS_UNIT = 1,  /* x / 255 */
    DL_PREPROCESS_TF = 2,    /* x / 127.5 - 1 */
    DL_PREPROCESS_CAFFE = 3, /* RGB -> BGR, minus the ImageNet BGR mean (3 channels only) */
    DL_PREPROCESS_TORCH = 4  /* x / 255, minus ImageNet mean, divided by std (3 channels only) */
} dl_preprocess;

/* Decodes a JPEG file and resizes it bilinearly (as tf.image.resize, antialias=False) to
 * height x width with `channels` (1 = grayscale, 3 = RGB), applies `mode`, and writes
 * height*width*channels floats (HWC) into `out` (capacity out_count floats).
 * A corrupt or truncated JPEG is DL_ERR_FORMAT. */
dl_status dl_image_load(const char *path, int32_t height, int32_t width, int32_t channels,
                        dl_preprocess mode, float *out, size_t out_count);
/* Same, from JPEG bytes in memory. */
dl_status dl_image_decode(const uint8_t *data, size_t size, int32_t height, int32_t width,
                          int32_t channels, dl_preprocess mode, float *out, size_t out_count);

#ifdef __cplusplus
}
#endif
#endif /* DLINFER_H */
