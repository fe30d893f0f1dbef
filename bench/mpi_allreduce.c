// The gradients' all-reduce alone, as `sae train` calls it under mpirun (Sources/CMPI: Open MPI
// opened with dlopen, one in-place MPI_Allreduce of float sums), timed on rank 0:
//
//   cc -O2 -ISources/CMPI/include bench/mpi_allreduce.c Sources/CMPI/mpi.c -ldl -o /tmp/mpi_allreduce
//   mpirun -np 2 /tmp/mpi_allreduce 4198912 25182976     # d512 x 4,096 and d768 x 16,384 latents
//
// For each count: the median of 20 calls after 3 warm-up calls, each call preceded by a barrier
// (so waiting for a slower rank is not counted), and the algorithmic bandwidth 4 count / time.
#include "sae_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    char error[512];
    if (sae_mpi_load("libmpi.so.40", error, sizeof error) != 0) {
        fprintf(stderr, "cannot load Open MPI: %s\n", error);
        return 1;
    }
    int rank = 0, size = 0;
    if (sae_mpi_init(&rank, &size) != 0) return 1;
    for (int a = 1; a < argc; a++) {
        long count = atol(argv[a]);
        float *buffer = calloc((size_t)count, sizeof(float));
        double times[20];
        for (int i = 0; i < 23; i++) {
            sae_mpi_barrier();
            double start = now();
            if (sae_mpi_allreduce_float(buffer, count, SAE_MPI_SUM) != 0) return 1;
            if (i >= 3) times[i - 3] = now() - start;
        }
        qsort(times, 20, sizeof times[0], compare);
        if (rank == 0)
            printf("%d ranks, %ld floats (%.1f MB): %.3f ms, %.2f GB/s\n", size, count, 4e-6 * count, 1e3 * times[10],
                   4e-9 * count / times[10]);
        free(buffer);
    }
    sae_mpi_finalize();
    return 0;
}
