// Selections that keep a number of latents per batch, not per sample (BatchTopK), and the
// threshold selection BatchTopK (and JumpReLU) encode with at inference. The value of a latent is
// relu(pre + bias). Positive floats order as their bit patterns do, so the batch's largest values
// are found by counting them in 32,768 buckets of their top 16 bits (one pass, split over rows),
// then choosing among the values of the one bucket where the count crosses the target.
#include "dispatch.h"
#include <string.h>

static inline __attribute__((always_inline)) unsigned key_of(float v) {
    unsigned bits;
    memcpy(&bits, &v, 4);
    return bits >> 16;
}

SAE_KERNEL(void, sae_batch_histogram, (const float *restrict pre, const float *restrict bias, long rows, long cols, unsigned *restrict histogram),
           (pre, bias, rows, cols, histogram)) {
    for (long r = 0; r < rows; r++) {
        const float *restrict row = pre + r * cols;
        for (long j = 0; j < cols; j++) {
            float v = row[j] + bias[j];
            if (v > 0.0f) histogram[key_of(v)]++;
        }
    }
}

long sae_batch_bucket_values(const float *restrict pre, const float *restrict bias, long rows, long cols, unsigned bucket,
                             long first_row, float *restrict values, long *restrict positions) {
    long n = 0;
    for (long r = 0; r < rows; r++) {
        const float *restrict row = pre + r * cols;
        for (long j = 0; j < cols; j++) {
            float v = row[j] + bias[j];
            if (v > 0.0f && key_of(v) == bucket) { values[n] = v; positions[n] = (first_row + r) * cols + j; n++; }
        }
    }
    return n;
}

SAE_KERNEL(long, sae_batch_count, (const float *restrict pre, const float *restrict bias, long rows, long cols, float threshold, long ties, const long *restrict tie_positions, long first_row, int *restrict counts),
           (pre, bias, rows, cols, threshold, ties, tie_positions, first_row, counts)) {
    long total = 0, t = 0;
    for (long r = 0; r < rows; r++) {
        const float *restrict row = pre + r * cols;
        int n = 0;
        for (long j = 0; j < cols; j++) n += row[j] + bias[j] > threshold;
        // The ties at the threshold that were chosen, in position order.
        long end = (first_row + r + 1) * cols;
        while (t < ties && tie_positions[t] < end) { n++; t++; }
        counts[r] = n;
        total += n;
    }
    return total;
}

SAE_KERNEL(void, sae_batch_fill, (const float *restrict pre, const float *restrict bias, long rows, long cols, float threshold, long ties, const long *restrict tie_positions, long first_row, const int *restrict row_offsets, float *restrict values, int *restrict latents, int *restrict samples),
           (pre, bias, rows, cols, threshold, ties, tie_positions, first_row, row_offsets, values, latents, samples)) {
    long t = 0;
    for (long r = 0; r < rows; r++) {
        const float *restrict row = pre + r * cols;
        long q = row_offsets[r];
        for (long j = 0; j < cols; j++) {
            float v = row[j] + bias[j];
            int chosen = v > threshold;
            if (!chosen && t < ties && tie_positions[t] == (first_row + r) * cols + j) { chosen = 1; t++; }
            if (chosen) { values[q] = v; latents[q] = (int)j; samples[q] = (int)(first_row + r); q++; }
        }
    }
}
