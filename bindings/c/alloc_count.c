/* alloc_count.so: an LD_PRELOAD shim counting heap allocations (calls and bytes), process-wide,
 * between dl_alloc_count_start() and dl_alloc_count_stop(). Every function forwards to the real
 * allocator; free is passed through uncounted. Used by alloc_test. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);

static atomic_int counting;
static atomic_ulong calls, bytes;

void dl_alloc_count_start(void) {
    atomic_store(&calls, 0);
    atomic_store(&bytes, 0);
    atomic_store(&counting, 1);
}
void dl_alloc_count_stop(void) { atomic_store(&counting, 0); }
unsigned long dl_alloc_count_calls(void) { return atomic_load(&calls); }
unsigned long dl_alloc_count_bytes(void) { return atomic_load(&bytes); }

static inline void count(size_t n) {
    if (atomic_load_explicit(&counting, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&bytes, n, memory_order_relaxed);
    }
}

/* dlsym itself allocates (glibc: calloc for its error state) before the real functions are
 * known; those requests are served from this never-freed bump buffer. Each block carries its
 * size in a 16-byte header so realloc can move it to the real heap. */
static alignas(16) unsigned char boot[16384];
static size_t boot_used;

static int in_boot(const void *p) {
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof boot;
}

static void *boot_alloc(size_t n) {
    size_t need = 16 + ((n + 15) & ~(size_t)15);
    if (n > sizeof boot || need > sizeof boot - boot_used) return NULL;
    unsigned char *p = boot + boot_used + 16;
    boot_used += need;
    memcpy(p - 16, &n, sizeof n);
    return p; /* zeroed: the buffer is static and never reused */
}

/* Runs in the first allocating call (glibc allocates before constructors run), while the
 * process is still single-threaded; nested calls from dlsym see `resolving` and use boot. */
static void resolve(void) {
    static int resolving;
    if (resolving) return;
    resolving = 1;
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    real_valloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "valloc");
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc"); /* last: it marks "resolved" */
    resolving = 0;
}

__attribute__((constructor)) static void init(void) {
    if (!real_malloc) resolve();
}

void *malloc(size_t n) {
    if (!real_malloc) { resolve(); if (!real_malloc) return boot_alloc(n); }
    count(n);
    return real_malloc(n);
}

void *calloc(size_t k, size_t n) {
    if (!real_malloc) {
        resolve();
        if (!real_malloc) return n && k > SIZE_MAX / n ? NULL : boot_alloc(k * n);
    }
    count(k * n);
    return real_calloc(k, n);
}

void *realloc(void *p, size_t n) {
    if (!real_malloc) { resolve(); if (!real_malloc) return NULL; }
    count(n);
    if (!in_boot(p)) return real_realloc(p, n);
    size_t old;
    memcpy(&old, (unsigned char *)p - 16, sizeof old);
    void *q = real_malloc(n);
    if (q) memcpy(q, p, old < n ? old : n);
    return q;
}

/* glibc's own reallocarray may not reach the interposed realloc. */
void *reallocarray(void *p, size_t k, size_t n) {
    if (n && k > SIZE_MAX / n) { errno = ENOMEM; return NULL; }
    return realloc(p, k * n);
}

void free(void *p) {
    if (!p || in_boot(p)) return;
    if (!real_free) resolve();
    if (real_free) real_free(p);
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (!real_malloc) { resolve(); if (!real_malloc) return ENOMEM; }
    count(n);
    return real_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n) {
    if (!real_malloc) { resolve(); if (!real_malloc) return NULL; }
    count(n);
    return real_aligned_alloc(align, n);
}

void *memalign(size_t align, size_t n) {
    if (!real_malloc) { resolve(); if (!real_malloc) return NULL; }
    count(n);
    return real_memalign(align, n);
}

void *valloc(size_t n) {
    if (!real_malloc) { resolve(); if (!real_malloc) return NULL; }
    count(n);
    return real_valloc(n);
}
