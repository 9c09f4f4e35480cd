#ifndef DL_CPU_H
#define DL_CPU_H
/* CPU feature probe and the plain-data descriptors shared by the engine and its per-ISA kernel
 * modules (which cannot import the engine's Swift types). */
#include <stddef.h>
#include <stdint.h>

/* 4: x86-64-v4 (AVX-512 F/BW/CD/DQ/VL) and v3; 3: x86-64-v3 (AVX2, FMA, BMI1/2, F16C, MOVBE,
 * LZCNT); 0: anything older (baseline x86-64). */
int dl_cpu_level(void);

/* The spin-wait hint (`pause`, part of baseline x86-64): lets a spinning thread yield the core's
 * resources and saves power while it waits for the next job. */
static inline void dl_cpu_relax(void) { __builtin_ia32_pause(); }

/* Activations a kernel can apply in registers before storing. */
enum { DL_ACT_NONE = 0, DL_ACT_RELU = 1, DL_ACT_CLAMP = 2, DL_ACT_LEAKY = 3 };

/* Flags of an epilogue. DL_EPI_IN_CACHE: the GEMM's A, output and residual are already in cache
 * (a band in a thread's scratch), so the driver fetches only weights ahead, not them. */
enum { DL_EPI_IN_CACHE = 1 };

/* What a GEMM-shaped kernel does to its accumulator before the store:
 * out = act(acc + bias[col] + residual[row * ld_residual + col]). */
typedef struct dl_epilogue {
    const float *bias;      /* NULL: none; else at least n floats */
    const float *residual;  /* NULL: none */
    ptrdiff_t ld_residual;
    int32_t activation;     /* DL_ACT_* */
    float lo, hi;           /* clamp bounds (DL_ACT_CLAMP), or the slope in lo (DL_ACT_LEAKY) */
    int32_t flags;          /* DL_EPI_* */
} dl_epilogue;

/* One image of a depthwise convolution with multiplier 1, NHWC: out[oy, ox, c] =
 * sum over taps of in[oy*sh - pad_top + ky*dh, ox*sw - pad_left + kx*dw, c] * w[ky, kx, c], then
 * the epilogue (bias padded to whole vectors; residual laid out like out, ld_residual = c). */
typedef struct dl_dwconv {
    const float *input;
    const float *weights;   /* [kh][kw][c] */
    float *output;
    int64_t h, w, c, oh, ow;
    int64_t kh, kw, sh, sw, dh, dw, pad_top, pad_left;
} dl_dwconv;

/* One image of max or average pooling, NHWC (TensorFlow semantics: padding never counts; an
 * average divides by the taps inside the image; max propagates NaN). */
typedef struct dl_pool {
    const float *input;
    float *output;
    int64_t h, w, c, oh, ow;
    int64_t kh, kw, sh, sw, pad_top, pad_left;
    int32_t is_max;
} dl_pool;

#endif
