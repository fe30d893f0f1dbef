// One latent-sharded training step's exchanges alone, as `sae train --shard-latents` calls them
// under mpirun (Sources/CMPI: Open MPI opened with dlopen; ShardedTopK and Trainer+LatentShards),
// next to the data-parallel gradients' all-reduce of the same shape, timed on rank 0:
//
//   cc -O2 -ISources/CMPI/include bench/mpi_latent_exchange.c Sources/CMPI/mpi.c -ldl -o /tmp/mpi_latent_exchange
//   mpirun --allow-run-as-root --oversubscribe -np 2 /tmp/mpi_latent_exchange 512:4096:1024:32:256 768:16384:1024:64:384
//
// Each argument is one shape, d:c:B:k:k_aux. Per step, in the order sae makes them:
//   1. MPI_Allgather of B k candidates (value float32, latent int32: 8 bytes) per rank;
//   2. MPI_Allreduce (sum, in place) of the B x d partial reconstructions;
//   3. MPI_Allreduce of one double (the dead latents over the ranks: whether AuxK runs);
//   4. MPI_Allgather of B k_aux candidates per rank (AuxK);
//   5. MPI_Allreduce of the B x d partial AuxK reconstructions;
//   6. MPI_Allreduce of d floats (b_dec's gradient).
// Then the data-parallel step's one all-reduce of all P = 2 d c + c + d parameters' gradients.
// Each call: 5 warm-up calls, then 200 timed, each preceded by a barrier (so waiting for a slower
// rank is not counted); best and median. "Step, back to back": the six calls with one barrier
// before them (best and median of 200), which is what a step waits for if compute is left out.
// The buffers are touched once before timing; their contents do not matter to MPI.
#include "sae_mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { WARM_UP = 5, REPEATS = 200 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    long d, c, batch, k, k_aux;
    int ranks;
    float *reconstruction, *bias_gradient, *gradients;
    char *send, *gathered;
    double dead;
} Shape;

// Call `which` (1-6 as above, 7: the data-parallel all-reduce) once; 0 on success.
static int call(Shape *s, int which) {
    switch (which) {
    case 1: return sae_mpi_allgather_bytes(s->send, s->gathered, 8 * s->batch * s->k);
    case 2: return sae_mpi_allreduce_float(s->reconstruction, s->batch * s->d, SAE_MPI_SUM);
    case 3: s->dead = 1; return sae_mpi_allreduce_double(&s->dead, 1, SAE_MPI_SUM);
    case 4: return sae_mpi_allgather_bytes(s->send, s->gathered, 8 * s->batch * s->k_aux);
    case 5: return sae_mpi_allreduce_float(s->reconstruction, s->batch * s->d, SAE_MPI_SUM);
    case 6: return sae_mpi_allreduce_float(s->bias_gradient, s->d, SAE_MPI_SUM);
    default: return sae_mpi_allreduce_float(s->gradients, 2 * s->d * s->c + s->c + s->d, SAE_MPI_SUM);
    }
}

// Best and median seconds of `which` (0: calls 1-6 back to back after one barrier).
static int time_call(Shape *s, int which, double *best, double *median) {
    static double times[REPEATS];
    for (int i = 0; i < WARM_UP + REPEATS; i++) {
        if (sae_mpi_barrier() != 0) return -1;
        double start = now();
        if (which == 0) {
            for (int j = 1; j <= 6; j++)
                if (call(s, j) != 0) return -1;
        } else if (call(s, which) != 0) return -1;
        if (i >= WARM_UP) times[i - WARM_UP] = now() - start;
    }
    qsort(times, REPEATS, sizeof times[0], compare);
    *best = times[0];
    *median = times[REPEATS / 2];
    return 0;
}

int main(int argc, char **argv) {
    char error[512];
    if (sae_mpi_load("libmpi.so.40", error, sizeof error) != 0) {
        fprintf(stderr, "cannot load Open MPI: %s\n", error);
        return 1;
    }
    int rank = 0, size = 0;
    if (sae_mpi_init(&rank, &size) != 0) return 1;
    if (rank == 0)
        printf("%d ranks, best and median of %d calls after %d warm-up calls, a barrier before each\n\n"
               "| shape | exchange | bytes sent per rank | best ms | median ms |\n|---|---|---|---|---|\n",
               size, REPEATS, WARM_UP);
    for (int a = 1; a < argc; a++) {
        Shape s = {0};
        if (sscanf(argv[a], "%ld:%ld:%ld:%ld:%ld", &s.d, &s.c, &s.batch, &s.k, &s.k_aux) != 5) {
            fprintf(stderr, "%s: expected d:c:B:k:k_aux\n", argv[a]);
            return 1;
        }
        s.ranks = size;
        long width = s.k > s.k_aux ? s.k : s.k_aux, p = 2 * s.d * s.c + s.c + s.d;
        s.reconstruction = calloc((size_t)(s.batch * s.d), sizeof(float));
        s.bias_gradient = calloc((size_t)s.d, sizeof(float));
        s.gradients = calloc((size_t)p, sizeof(float));
        s.send = calloc((size_t)(8 * s.batch * width), 1);
        s.gathered = calloc((size_t)(8 * s.batch * width * size), 1);
        if (!s.reconstruction || !s.bias_gradient || !s.gradients || !s.send || !s.gathered) return 1;
        memset(s.send, 1, (size_t)(8 * s.batch * width));
        memset(s.gathered, 0, (size_t)(8 * s.batch * width * size));
        char shape[80];
        snprintf(shape, sizeof shape, "d %ld x %ld, B %ld, k %ld, k_aux %ld", s.d, s.c, s.batch, s.k, s.k_aux);
        struct { int which; const char *name; double bytes; } rows[] = {
            {1, "all-gather, B k pairs", 8.0 * s.batch * s.k},
            {2, "all-reduce, B x d floats", 4.0 * s.batch * s.d},
            {3, "all-reduce, 1 double (dead count)", 8},
            {4, "all-gather, B k_aux pairs", 8.0 * s.batch * s.k_aux},
            {5, "all-reduce, B x d floats (AuxK)", 4.0 * s.batch * s.d},
            {6, "all-reduce, d floats (b_dec)", 4.0 * s.d},
            {0, "step, back to back (1-6)", 0},
            {7, "data parallel: all-reduce, P floats", 4.0 * p},
        };
        double sum_best = 0, sum_median = 0;
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            double best = 0, median = 0;
            if (time_call(&s, rows[r].which, &best, &median) != 0) {
                fprintf(stderr, "rank %d: MPI call failed\n", rank);
                return 1;
            }
            if (rows[r].which >= 1 && rows[r].which <= 6) sum_best += best, sum_median += median;
            if (rank != 0) continue;
            if (rows[r].which == 0)
                printf("| %s | sum of 1-6 | | %.3f | %.3f |\n", shape, 1e3 * sum_best, 1e3 * sum_median);
            if (rows[r].bytes > 0)
                printf("| %s | %s | %.0f | %.3f | %.3f |\n", shape, rows[r].name, rows[r].bytes, 1e3 * best, 1e3 * median);
            else
                printf("| %s | %s | | %.3f | %.3f |\n", shape, rows[r].name, 1e3 * best, 1e3 * median);
        }
        free(s.reconstruction), free(s.bias_gradient), free(s.gradients), free(s.send), free(s.gathered);
    }
    sae_mpi_finalize();
    return 0;
}
