import CBLAS

/// OpenBLAS runs single-threaded inside dlinfer: its threaded GEMM allocates on every call
/// (which a planned run must not) and its threads would oversubscribe the cores when several
/// sessions run at once. Parallelism is the sessions' business. Set once, when a model compiles.
/// (No op calls OpenBLAS at present: at the AVX2 and AVX-512 tiers the engine's own kernels are
/// faster on every shape of the model suites; the portable tier, for CPUs without AVX2, does not
/// depend on which kernels an OpenBLAS build would pick there.)
let pinOpenBLASToOneThread: Void = openblas_set_num_threads(1)
