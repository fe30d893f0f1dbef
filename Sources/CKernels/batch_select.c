// Selections that keep a number of latents per batch, not per sample (BatchTopK), and the
// threshold selection BatchTopK (and JumpReLU) encode with at inference. The value of a latent is
// relu(pre + bias). Positive floats order as their bit patterns do, so the batch's k-th largest
// value is found by counting the values in 32,768 buckets of their top 16 bits, then those of the
// one bucket where the count crosses k in 65,536 buckets of their low 16 bits: two passes, split
// over rows (and over MPI ranks: the counts are summed), whose result is the value's exact bits.
#include "dispatch.h"
#include "dot.h"
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

SAE_KERNEL(void, sae_batch_histogram_low, (const float *restrict pre, const float *restrict bias, long rows, long cols, unsigned bucket, unsigned *restrict histogram),
           (pre, bias, rows, cols, bucket, histogram)) {
    for (long r = 0; r < rows; r++) {
        const float *restrict row = pre + r * cols;
        for (long j = 0; j < cols; j++) {
            float v = row[j] + bias[j];
            unsigned bits;
            memcpy(&bits, &v, 4);
            if (v > 0.0f && bits >> 16 == bucket) histogram[bits & 0xFFFF]++;
        }
    }
}

SAE_KERNEL(long, sae_batch_count, (const float *restrict pre, const float *restrict bias, long rows, long cols, float threshold, long ties, int *restrict counts),
           (pre, bias, rows, cols, threshold, ties, counts)) {
    long total = 0;
    for (long r = 0; r < rows; r++) {
        const float *restrict row = pre + r * cols;
        int n = 0, equal = 0;
        for (long j = 0; j < cols; j++) {
            float v = row[j] + bias[j];
            n += v > threshold;
            equal += v == threshold;
        }
        // The values at the threshold that are kept: the first `ties`, in row order.
        long taken = equal < ties ? equal : ties;
        ties -= taken;
        counts[r] = n + (int)taken;
        total += counts[r];
    }
    return total;
}

SAE_KERNEL(void, sae_batch_fill, (const float *restrict pre, const float *restrict bias, long rows, long cols, float threshold, long ties, long first_row, const int *restrict row_offsets, float *restrict values, int *restrict latents, int *restrict samples),
           (pre, bias, rows, cols, threshold, ties, first_row, row_offsets, values, latents, samples)) {
    for (long r = 0; r < rows; r++) {
        const float *restrict row = pre + r * cols;
        long q = row_offsets[r];
        for (long j = 0; j < cols; j++) {
            float v = row[j] + bias[j];
            int chosen = v > threshold;
            if (!chosen && v == threshold && ties > 0) { chosen = 1; ties--; }
            if (chosen) { values[q] = v; latents[q] = (int)j; samples[q] = (int)(first_row + r); q++; }
        }
    }
}

SAE_KERNEL(long, sae_jump_count, (const float *restrict pre, const float *restrict bias, const float *restrict theta, float half, long rows, long cols, int *restrict active, int *restrict near),
           (pre, bias, theta, half, rows, cols, active, near)) {
    long total = 0;
    for (long r = 0; r < rows; r++) {
        const float *restrict row = pre + r * cols;
        int a = 0, n = 0;
        for (long j = 0; j < cols; j++) {
            float v = row[j] + bias[j], u = v - theta[j];
            a += v > theta[j] && v > 0.0f;
            n += u > -half && u < half;
        }
        active[r] = a;
        near[r] = n;
        total += a;
    }
    return total;
}

SAE_KERNEL(void, sae_jump_fill, (const float *restrict pre, const float *restrict bias, const float *restrict theta, float half, long rows, long cols, long first_row, const int *restrict active_offsets, const int *restrict near_offsets, float *restrict values, int *restrict latents, int *restrict samples, int *restrict near_latents, int *restrict near_samples),
           (pre, bias, theta, half, rows, cols, first_row, active_offsets, near_offsets, values, latents, samples, near_latents, near_samples)) {
    for (long r = 0; r < rows; r++) {
        const float *restrict row = pre + r * cols;
        long q = active_offsets[r], m = near_offsets ? near_offsets[r] : 0;
        for (long j = 0; j < cols; j++) {
            float v = row[j] + bias[j], u = v - theta[j];
            if (v > theta[j] && v > 0.0f) { values[q] = v; latents[q] = (int)j; samples[q] = (int)(first_row + r); q++; }
            if (near_offsets && u > -half && u < half) { near_latents[m] = (int)j; near_samples[m] = (int)(first_row + r); m++; }
        }
    }
}

SAE_KERNEL(void, sae_jump_threshold_gradient, (const int *restrict near_latents, const int *restrict near_samples, long n, const float *restrict output_gradients, const float *restrict w_dec, long d, const float *restrict theta, float inv_bandwidth, float l0_step, float *restrict g_theta),
           (near_latents, near_samples, n, output_gradients, w_dec, d, theta, inv_bandwidth, l0_step, g_theta)) {
    for (long p = 0; p < n; p++) {
        long j = near_latents[p];
        const float *restrict go = output_gradients + (long)near_samples[p] * d, *restrict w = w_dec + j * d;
        float dz = dot(go, w, d);
        // z = v H(v - theta): dz/dtheta = -(theta / eps) K; the L0's step H: d/dtheta = -(1 / eps) K.
        g_theta[j] += -theta[j] * inv_bandwidth * dz + l0_step;
    }
}

void sae_histogram_totals(const unsigned *restrict histograms, long parts, long buckets, double *restrict totals) {
    for (long j = 0; j < buckets; j++) totals[j] = 0.0;
    for (long p = 0; p < parts; p++) {
        const unsigned *restrict h = histograms + p * buckets;
        for (long j = 0; j < buckets; j++) totals[j] += (double)h[j];
    }
}

long sae_histogram_crossing(const double *restrict totals, long buckets, long keep, long *restrict above) {
    long count = 0;
    for (long j = buckets - 1; j >= 0; j--) {
        long here = (long)totals[j];
        if (count + here >= keep) { *above = count; return j; }
        count += here;
    }
    *above = count;
    return -1;
}
