#include "dl_jpeg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

struct dl_jpeg_error {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void dl_jpeg_error_exit(j_common_ptr cinfo) {
    struct dl_jpeg_error *e = (struct dl_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void dl_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* A progressive JPEG may legally have thousands of scans, and libjpeg redoes work per scan: a small
 * crafted file can take minutes to decode. Real encoders write about 10; refuse more than this. */
#define DL_JPEG_MAX_SCANS 500

static void dl_jpeg_progress(j_common_ptr cinfo) {
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > DL_JPEG_MAX_SCANS) {
        struct dl_jpeg_error *e = (struct dl_jpeg_error *)cinfo->err;
        snprintf(e->message, sizeof e->message, "progressive JPEG with more than %d scans (refused: decoding time grows with scans)",
                 DL_JPEG_MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

int dl_jpeg_decode(const unsigned char *data, size_t size, int channels, size_t max_pixels,
                   unsigned char **out, int *width, int *height,
                   char *err, size_t err_size) {
    struct jpeg_decompress_struct cinfo;
    struct dl_jpeg_error jerr;
    struct jpeg_progress_mgr progress;
    unsigned char *volatile pixels = NULL;
    *out = NULL;
    if (channels != 1 && channels != 3) {
        snprintf(err, err_size, "channels must be 1 or 3, got %d", channels);
        return 1;
    }
    if (data == NULL || size == 0) {
        snprintf(err, err_size, "empty JPEG data");
        return 1;
    }
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.base);
    jerr.base.error_exit = dl_jpeg_error_exit;
    jerr.base.output_message = dl_jpeg_output_message;
    jerr.message[0] = 0;
    if (setjmp(jerr.jump)) {
        snprintf(err, err_size, "corrupt JPEG: %s", jerr.message);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    memset(&progress, 0, sizeof progress);
    progress.progress_monitor = dl_jpeg_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    /* The header's size alone decides the output buffer and the decoding time: check it first. */
    if ((size_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        snprintf(err, err_size, "JPEG of %ux%u pixels (%.1f megapixels) exceeds the limit of %.1f megapixels",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height,
                 (double)cinfo.image_width * cinfo.image_height / 1e6, (double)max_pixels / 1e6);
        jpeg_destroy_decompress(&cinfo);
        return 2;
    }
    if (cinfo.num_components != 1 && cinfo.num_components != 3) {
        snprintf(err, err_size, "unsupported JPEG with %d color components (CMYK?)", cinfo.num_components);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    cinfo.dct_method = JDCT_IFAST;
    cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&cinfo);
    size_t w = cinfo.output_width, h = cinfo.output_height;
    if (w == 0 || h == 0 || w > 65535 || h > 65535 || (int)cinfo.output_components != channels) {
        snprintf(err, err_size, "unsupported JPEG geometry %zux%zu", w, h);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    size_t stride = w * (size_t)channels;
    pixels = (unsigned char *)malloc(stride * h);
    if (!pixels) {
        snprintf(err, err_size, "out of memory decoding a %zux%zu JPEG", w, h);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    /* libjpeg pads truncated data with gray and only warns; a truncated file is an error here. */
    if (jerr.base.num_warnings > 0) {
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, jerr.message);
        snprintf(err, err_size, "corrupt or truncated JPEG: %s", jerr.message);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return 1;
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *out = pixels;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

void dl_jpeg_free(unsigned char *pixels) { free(pixels); }
