#ifndef DL_SIMD_H
#define DL_SIMD_H
/* Masked loads and stores of the first n lanes (0 <= n, n may exceed the lane count) for the
 * per-ISA kernel modules: the edge of a tile in one instruction, never touching memory past it.
 * Only the module compiled for the ISA sees its half (the engine, built for baseline x86-64,
 * sees neither); always_inline keeps them inside the kernel module's own functions. */
#include <stdint.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

/* Asks for the cache line at p to be brought into L2 (prefetcht1): the GEMM drivers fetch the
 * next block of packed weights while the current one is multiplied. Never faults. */
static inline __attribute__((always_inline)) void dl_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

#if defined(__AVX512F__)
static inline __attribute__((always_inline)) __mmask16 dl_mask16(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}
static inline __attribute__((always_inline)) __m512 dl_load_first16(const float *p, int64_t n) {
    return _mm512_maskz_loadu_ps(dl_mask16(n), p);
}
static inline __attribute__((always_inline)) void dl_store_first16(float *p, __m512 v, int64_t n) {
    _mm512_mask_storeu_ps(p, dl_mask16(n), v);
}
/* max/min with x86's rule, the second operand where either is NaN or both are zero: dl_max16(lo, v)
 * is exactly "v, or lo where v < lo" (a NaN stays), in one instruction. The compiler finds that
 * for a select only where it can see both operands are the same values, which it did not in
 * every kernel (the depthwise one compared and blended, twice per clamp). */
static inline __attribute__((always_inline)) __m512 dl_max16(__m512 a, __m512 b) { return _mm512_max_ps(a, b); }
static inline __attribute__((always_inline)) __m512 dl_min16(__m512 a, __m512 b) { return _mm512_min_ps(a, b); }
#endif

#if defined(__AVX2__)
static inline __attribute__((always_inline)) __m256i dl_mask8(int64_t n) {
    int32_t k = n >= 8 ? 8 : n <= 0 ? 0 : (int32_t)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __attribute__((always_inline)) __m256 dl_load_first8(const float *p, int64_t n) {
    return _mm256_maskload_ps(p, dl_mask8(n));
}
static inline __attribute__((always_inline)) void dl_store_first8(float *p, __m256 v, int64_t n) {
    _mm256_maskstore_ps(p, dl_mask8(n), v);
}
/* See dl_max16. */
static inline __attribute__((always_inline)) __m256 dl_max8(__m256 a, __m256 b) { return _mm256_max_ps(a, b); }
static inline __attribute__((always_inline)) __m256 dl_min8(__m256 a, __m256 b) { return _mm256_min_ps(a, b); }
#endif

#endif
