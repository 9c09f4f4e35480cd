#ifndef DLINFER_JPEG_SHIM_H
#define DLINFER_JPEG_SHIM_H
#include <stddef.h>

/* Decodes a JPEG held in memory into interleaved 8-bit pixels with `channels` (1 or 3) per pixel,
 * the way TensorFlow's decode_jpeg does (integer-fast DCT, fancy upsampling).
 * libjpeg's default error handler calls exit(); this one returns instead.
 * Returns 0 on success (*out is malloc'ed, free with dl_jpeg_free); 2 when the header declares more
 * than max_pixels pixels (checked before anything is decoded or allocated); 1 for any other
 * failure. The message is in err. */
__attribute__((visibility("hidden"))) int dl_jpeg_decode(const unsigned char *data, size_t size, int channels, size_t max_pixels,
                   unsigned char **out, int *width, int *height,
                   char *err, size_t err_size);
__attribute__((visibility("hidden"))) void dl_jpeg_free(unsigned char *pixels);
#endif
