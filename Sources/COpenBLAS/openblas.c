// OpenBLAS opened at run time (see sae_openblas.h).
#include "sae_openblas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static struct {
    void *library;
    void (*sgemm)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, float, const float *, blasint,
                  const float *, blasint, float, float *, blasint);
    void (*set_num_threads)(int);
    int (*get_num_threads)(void);
    char *(*get_corename)(void);
    char *(*get_config)(void);
    char error[512];
} blas;
static pthread_once_t once = PTHREAD_ONCE_INIT;

int sae_openblas_thread_cap(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
    // As MemoryBudget counts it: 256 MiB for the program and its libraries, then a 128 MiB buffer
    // per thread calling sgemm, and at least one thread's worth left for the model.
    long mib = (long)(limit.rlim_cur >> 20), cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long fit = (mib - 256 - 128) / 128;
    if (fit < 1) fit = 1;
    return (int)(cpus > 0 && fit > cpus ? cpus : fit);
}

static void load(void) {
    int cap = sae_openblas_thread_cap();
    if (cap > 0 && !getenv("OPENBLAS_NUM_THREADS") && !getenv("GOTO_NUM_THREADS") && !getenv("OMP_NUM_THREADS")) {
        char threads[16];
        snprintf(threads, sizeof threads, "%d", cap);
        setenv("OPENBLAS_NUM_THREADS", threads, 1);
    }
    // SAE_OPENBLAS_LIBRARY names another library (the tests name a missing one).
    const char *chosen = getenv("SAE_OPENBLAS_LIBRARY");
    const char *names[] = {chosen ? chosen : "libopenblas.so.0", chosen ? NULL : "libopenblas.so"};
    for (int i = 0; i < 2 && names[i] && !blas.library; i++) blas.library = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!blas.library) {
        snprintf(blas.error, sizeof blas.error, "cannot load OpenBLAS (%s): install it, e.g. apt-get install libopenblas0", dlerror());
        return;
    }
    *(void **)&blas.sgemm = dlsym(blas.library, "cblas_sgemm");
    *(void **)&blas.set_num_threads = dlsym(blas.library, "openblas_set_num_threads");
    *(void **)&blas.get_num_threads = dlsym(blas.library, "openblas_get_num_threads");
    *(void **)&blas.get_corename = dlsym(blas.library, "openblas_get_corename");
    *(void **)&blas.get_config = dlsym(blas.library, "openblas_get_config");
    if (!blas.sgemm || !blas.set_num_threads || !blas.get_num_threads || !blas.get_corename || !blas.get_config) {
        snprintf(blas.error, sizeof blas.error, "the OpenBLAS library found lacks cblas_sgemm or openblas_get_corename: install OpenBLAS 0.3 or later");
        blas.library = NULL;
    }
}

int sae_openblas_load(char *error, unsigned long error_size) {
    pthread_once(&once, load);
    if (blas.library) return 0;
    if (error && error_size) snprintf(error, error_size, "%s", blas.error);
    return -1;
}

static void require(void) {
    if (sae_openblas_load(NULL, 0) == 0) return;
    fprintf(stderr, "Error: %s\n", blas.error);
    exit(1);
}

void cblas_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, blasint m, blasint n, blasint k,
                 float alpha, const float *a, blasint lda, const float *b, blasint ldb, float beta, float *c, blasint ldc) {
    require();
    blas.sgemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void openblas_set_num_threads(int threads) { require(); blas.set_num_threads(threads); }
int openblas_get_num_threads(void) { require(); return blas.get_num_threads(); }
char *openblas_get_corename(void) { require(); return blas.get_corename(); }
char *openblas_get_config(void) { require(); return blas.get_config(); }
