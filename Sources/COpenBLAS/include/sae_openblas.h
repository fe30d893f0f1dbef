#ifndef SAE_OPENBLAS_H
#define SAE_OPENBLAS_H

/* OpenBLAS, opened with dlopen() on first use rather than linked: its library constructor starts
 * its threads and reserves a buffer for each (128 MiB of address space apiece on x86-64), and
 * under an address-space limit (`ulimit -v`) that start spins forever, before main() could say a
 * word. Opened here instead, OpenBLAS gets as many threads as the limit leaves room for (unless
 * OPENBLAS_NUM_THREADS says), and a missing library is an error message, not a loader failure.
 * The declarations keep OpenBLAS's own names and values (cblas.h). */

typedef int blasint;
typedef enum CBLAS_ORDER { CblasRowMajor = 101, CblasColMajor = 102 } CBLAS_ORDER;
typedef enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112, CblasConjTrans = 113 } CBLAS_TRANSPOSE;

/* Opens OpenBLAS (libopenblas.so.0, else libopenblas.so) once; returns 0, or -1 with the reason
 * in `error`. Every function below opens it first, and ends the process with that reason if it
 * cannot (a library function cannot throw): `sae` calls this first to refuse in one line. */
int sae_openblas_load(char *error, unsigned long error_size);

/* The OpenBLAS threads the address-space limit leaves room for (0: no limit, OpenBLAS's own
 * choice), as the loader sets OPENBLAS_NUM_THREADS. */
int sae_openblas_thread_cap(void);

void cblas_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, blasint m, blasint n, blasint k,
                 float alpha, const float *a, blasint lda, const float *b, blasint ldb, float beta, float *c, blasint ldc);
void openblas_set_num_threads(int threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
char *openblas_get_config(void);

#endif
