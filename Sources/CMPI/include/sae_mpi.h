#ifndef SAE_MPI_H
#define SAE_MPI_H

/* MPI without a build-time dependency: Open MPI's libmpi is opened with dlopen() at run time,
 * only when `sae train` runs under mpirun or srun, and the few functions and predefined handles
 * sae uses are looked up with dlsym(). Nothing here needs mpi.h; a plain build and a plain run
 * never touch MPI. Every function returns an MPI error code (0 = MPI_SUCCESS) or -1 when the
 * library is not loaded. */

#include <stddef.h>

/* Reduction operations. */
enum { SAE_MPI_SUM = 0, SAE_MPI_MAX = 1, SAE_MPI_MIN = 2 };

/* Opens `path` (e.g. "libmpi.so.40") and resolves every symbol; returns 0, or -1 with the
 * reason in `error`. */
int sae_mpi_load(const char *path, char *error, size_t error_size);
/* MPI_Init_thread(FUNNELED), errors returned (MPI_ERRORS_RETURN) on MPI_COMM_WORLD, then its
 * rank and size. */
int sae_mpi_init(int *rank, int *size);
/* In-place MPI_Allreduce over MPI_COMM_WORLD, split into calls of at most 2^30 elements. */
int sae_mpi_allreduce_float(float *buffer, long count, int op);
int sae_mpi_allreduce_double(double *buffer, long count, int op);
int sae_mpi_barrier(void);
/* MPI_Bcast of `count` bytes from rank 0. */
int sae_mpi_bcast_bytes(void *buffer, long count);
/* MPI_Allgather of `count` bytes from every rank: rank r's land at receive + r count (count
 * below 2^31). */
int sae_mpi_allgather_bytes(const void *send, void *receive, long count);
/* MPI's text for an error code, into `out` (at least 256 bytes). */
void sae_mpi_error_string(int code, char *out, int size);
int sae_mpi_finalize(void);
/* MPI_Abort(MPI_COMM_WORLD, code): ends every rank. */
void sae_mpi_abort(int code);
/* The library's version string (MPI_Get_library_version), or "" if unknown. */
void sae_mpi_library_version(char *out, int size);

#endif
