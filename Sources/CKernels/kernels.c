#include "dispatch.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// -1 until the first kernel call decides: 1 for the baseline variants, 0 for the AVX2 ones.
static int baseline_state = -1;

int sae_kernels_are_baseline(void) {
    int state = __atomic_load_n(&baseline_state, __ATOMIC_RELAXED);
    if (state >= 0) return state;
#if defined(__x86_64__) && defined(__clang__)
    const char *forced = getenv("SAE_KERNELS");
    state = (forced && strcmp(forced, "baseline") == 0) || !__builtin_cpu_supports("x86-64-v3");
#else
    state = 1;
#endif
    __atomic_store_n(&baseline_state, state, __ATOMIC_RELAXED);
    return state;
}

void sae_kernels_force_baseline(int baseline) { __atomic_store_n(&baseline_state, baseline ? 1 : 0, __ATOMIC_RELAXED); }

#define INLINE static inline __attribute__((always_inline))

// Sums are kept in 16 float lanes (so loops vectorise) and flushed to a double every block, so
// a long sum loses no more than a short one.
#define LANES 16
#define BLOCK 1024

INLINE float exp_inline(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    // x = n ln2 + r, |r| <= ln2/2. Adding 1.5 * 2^23 rounds to an integer and leaves it in the
    // low mantissa bits, from which 2^n is built directly.
    float shifted = x * 1.44269504f + 12582912.0f;
    float n = shifted - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float er = p * r * r + r + 1.0f;
    uint32_t bits;
    memcpy(&bits, &shifted, 4);
    bits = (bits - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return er * scale;
}

INLINE float log1p_unit_inline(float e) {
    // 1 + e = m 2^k with m in [sqrt(1/2), sqrt(2)): k = 1 above e = sqrt(2) - 1. Then
    // log(1 + e) = k ln2 + log(1 + x) with x = e or (e - 1)/2, both exact.
    int high = e > 0.41421356f;
    float x = high ? (e - 1.0f) * 0.5f : e;
    float k = high ? 1.0f : 0.0f;
    float z = x * x;
    float p = 7.0376836292e-2f;
    p = p * x - 1.1514610310e-1f;
    p = p * x + 1.1676998740e-1f;
    p = p * x - 1.2420140846e-1f;
    p = p * x + 1.4249322787e-1f;
    p = p * x - 1.6668057665e-1f;
    p = p * x + 2.0000714765e-1f;
    p = p * x - 2.4999993993e-1f;
    p = p * x + 3.3333331174e-1f;
    return x + (p * x * z - 0.5f * z) + k * 0.69314718f;
}

INLINE float sigmoid_inline(float x) { return 1.0f / (1.0f + exp_inline(-x)); }

float sae_exp(float x) { return exp_inline(x); }
float sae_log1p_unit(float e) { return log1p_unit_inline(e); }

SAE_KERNEL(void, sae_bytes_to_unit, (const uint8_t *restrict in, float *restrict out, long n), (in, out, n)) {
    // A division, not a product with 1/255: that would round some values differently.
    for (long i = 0; i < n; i++) out[i] = (float)in[i] / 255.0f;
}

SAE_KERNEL(void, sae_bias_activation, (float *restrict y, const float *restrict bias, long rows, long cols, int activation),
           (y, bias, rows, cols, activation)) {
    for (long r = 0; r < rows; r++) {
        float *restrict row = y + r * cols;
        switch (activation) {
        case SAE_RELU:
            for (long j = 0; j < cols; j++) { float v = row[j] + bias[j]; row[j] = v > 0.0f ? v : 0.0f; }
            break;
        case SAE_SIGMOID:
            for (long j = 0; j < cols; j++) row[j] = sigmoid_inline(row[j] + bias[j]);
            break;
        default:
            for (long j = 0; j < cols; j++) row[j] += bias[j];
        }
    }
}

SAE_KERNEL(void, sae_activation_backward, (const float *restrict y, float *restrict dy, float *restrict db, long rows, long cols, long ld, int activation),
           (y, dy, db, rows, cols, ld, activation)) {
    for (long r = 0; r < rows; r++) {
        const float *restrict o = y + r * ld;
        float *restrict g = dy + r * ld;
        if (activation == SAE_RELU) {
            for (long j = 0; j < cols; j++) g[j] = o[j] > 0.0f ? g[j] : 0.0f;
        } else if (activation == SAE_SIGMOID) {
            for (long j = 0; j < cols; j++) g[j] *= o[j] * (1.0f - o[j]);
        }
        for (long j = 0; j < cols; j++) db[j] += g[j];
    }
}

// One elementwise loss over n elements in blocks of BLOCK, with an optional gradient. Each block
// takes two passes: the elements' terms (and gradients) into `terms`, then their sum in 16 lanes.
// The first pass carries no dependency from one element to the next, so the out-of-order core
// overlaps the long exp/log chains of neighbouring vectors (interleaved twice: measured 1.26
// against 1.9 ns an element for the BCE, one AVX2 core); the sum is the one the lanes always
// took, so the BCE's bits are as before. (A squared error is now rounded before it is added,
// where the one-pass loop fused the two: those sums may differ in their last bits.)
#define LOSS_LOOP(TERM, GRADIENT)                                                  \
    double total = 0.0;                                                            \
    float terms[BLOCK];                                                            \
    for (long start = 0; start < n; start += BLOCK) {                              \
        long end = start + BLOCK < n ? start + BLOCK : n, count = end - start;     \
        if (grad) {                                                                \
            _Pragma("clang loop interleave_count(2)")                              \
            for (long k = start; k < end; k++) { TERM GRADIENT terms[k - start] = term; } \
        } else {                                                                   \
            _Pragma("clang loop interleave_count(2)")                              \
            for (long k = start; k < end; k++) { TERM terms[k - start] = term; }         \
        }                                                                          \
        float lanes[LANES] = {0};                                                  \
        long i = 0;                                                                \
        for (; i + LANES <= count; i += LANES)                                     \
            for (int j = 0; j < LANES; j++) lanes[j] += terms[i + j];              \
        float tail = 0.0f;                                                         \
        for (; i < count; i++) tail += terms[i];                                   \
        for (int j = 0; j < LANES; j++) tail += lanes[j];                          \
        total += tail;                                                             \
    }                                                                              \
    return total;

// max(z,0) - z x + log(1 + exp(-|z|)); its gradient (sigmoid(z) - x) scale.
#define BCE_TERM                                                                   \
    float zk = z[k], e = exp_inline(-(zk < 0.0f ? -zk : zk));                      \
    float term = (zk > 0.0f ? zk : 0.0f) - zk * x[k] + log1p_unit_inline(e);
#define BCE_GRADIENT                                                               \
    float inv = 1.0f / (1.0f + e);                                                 \
    grad[k] = ((zk >= 0.0f ? inv : e * inv) - x[k]) * scale;

SAE_KERNEL(double, sae_bce, (const float *restrict z, const float *restrict x, float *restrict grad, long n, float scale),
           (z, x, grad, n, scale)) {
    LOSS_LOOP(BCE_TERM, BCE_GRADIENT)
}

// (sigmoid(z) - x)^2; its gradient.
#define MSE_TERM                                                                   \
    float s = sigmoid_inline(z[k]), d = s - x[k], term = d * d;
#define MSE_GRADIENT grad[k] = 2.0f * d * s * (1.0f - s) * scale;

SAE_KERNEL(double, sae_mse, (const float *restrict z, const float *restrict x, float *restrict grad, long n, float scale),
           (z, x, grad, n, scale)) {
    LOSS_LOOP(MSE_TERM, MSE_GRADIENT)
}

// (z - x)^2; its gradient.
#define SQUARED_TERM float d = z[k] - x[k], term = d * d;
#define SQUARED_GRADIENT grad[k] = 2.0f * d * scale;

SAE_KERNEL(double, sae_squared_error, (const float *restrict z, const float *restrict x, float *restrict grad, long n, float scale),
           (z, x, grad, n, scale)) {
    LOSS_LOOP(SQUARED_TERM, SQUARED_GRADIENT)
}

// The k-th largest of n values (0-based rank k - 1), reordering `v`: Hoare's quickselect.
static float kth_largest(float *v, long n, long k) {
    long lo = 0, hi = n - 1, target = k - 1;
    while (lo < hi) {
        float pivot = v[(lo + hi) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (v[i] > pivot) i++;
            while (v[j] < pivot) j--;
            if (i <= j) { float t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; }
        }
        if (target <= j) hi = j;
        else if (target >= i) lo = i;
        else break;
    }
    return v[target];
}

void sae_topk_rows(float *y, long rows, long cols, long k) {
    // The k-th largest value by quickselect (O(cols) per row), then every value above it and
    // the earliest ties at it: exactly the k largest, ties keeping the earliest units.
    if (k >= cols) return;
    float stack[4096];
    float *values = cols <= 4096 ? stack : malloc((size_t)cols * sizeof(float));
    if (!values) abort();
    for (long r = 0; r < rows; r++) {
        float *row = y + r * cols;
        memcpy(values, row, (size_t)cols * sizeof(float));
        float threshold = kth_largest(values, cols, k);
        long ties = k;
        for (long j = 0; j < cols; j++) if (row[j] > threshold) ties--;
        for (long j = 0; j < cols; j++) {
            if (row[j] > threshold) continue;
            if (row[j] == threshold && ties > 0) { ties--; continue; }
            row[j] = 0.0f;
        }
    }
    if (values != stack) free(values);
}

void sae_topk_among(const float *pre, const unsigned char *allowed, float *out, long rows, long cols, long k) {
    long *candidates = malloc((size_t)cols * sizeof(long)), n = 0;
    float *values = malloc((size_t)cols * sizeof(float));
    if (!candidates || !values) abort();
    for (long j = 0; j < cols; j++) if (allowed[j]) candidates[n++] = j;
    for (long r = 0; r < rows; r++) {
        const float *p = pre + r * cols;
        float *o = out + r * n;
        if (n == 0) continue;
        long keep = k < n ? k : n;
        for (long t = 0; t < n; t++) values[t] = p[candidates[t]];
        float threshold = kth_largest(values, n, keep);
        // Values above the threshold, then ties at it in index order, up to `keep`; relu after.
        long kept = 0;
        for (long t = 0; t < n; t++) if (p[candidates[t]] > threshold) kept++;
        for (long t = 0; t < n; t++) {
            float v = p[candidates[t]];
            int take = v > threshold || (v == threshold && kept < keep && (kept++, 1));
            o[t] = take && v > 0.0f ? v : 0.0f;
        }
    }
    free(candidates);
    free(values);
}

SAE_KERNEL(int, sae_adam, (float *restrict p, float *restrict g, float *restrict m, float *restrict v, long n, float alpha, float c1, float c2, float eps),
           (p, g, m, v, n, alpha, c1, c2, eps)) {
    // p * 0 is 0 for every finite p and NaN otherwise: summed in lanes, a check that costs no pass.
    float check[LANES] = {0};
    long i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            long j = i + l;
            float gi = g[j];
            m[j] += (gi - m[j]) * c1;
            v[j] += (gi * gi - v[j]) * c2;
            p[j] -= alpha * m[j] / (__builtin_elementwise_sqrt(v[j]) + eps);
            g[j] = 0.0f;
            check[l] += p[j] * 0.0f;
        }
    float tail = 0.0f;
    for (; i < n; i++) {
        float gi = g[i];
        m[i] += (gi - m[i]) * c1;
        v[i] += (gi * gi - v[i]) * c2;
        p[i] -= alpha * m[i] / (__builtin_elementwise_sqrt(v[i]) + eps);
        g[i] = 0.0f;
        tail += p[i] * 0.0f;
    }
    for (int l = 0; l < LANES; l++) tail += check[l];
    return tail == tail;
}

SAE_KERNEL(double, sae_sum_of_squares, (const float *restrict x, long n), (x, n)) {
    // In double, lane by lane, then the lanes in order: the same sum in both variants.
    double lane[LANES] = {0};
    long i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) lane[l] += (double)x[i + l] * (double)x[i + l];
    double sum = 0;
    for (int l = 0; l < LANES; l++) sum += lane[l];
    for (; i < n; i++) sum += (double)x[i] * (double)x[i];
    return sum;
}

SAE_KERNEL(void, sae_scale, (float *restrict x, long n, float factor), (x, n, factor)) {
    for (long i = 0; i < n; i++) x[i] *= factor;
}

SAE_KERNEL(void, sae_half_to_float, (const uint16_t *restrict half, float *restrict out, long n), (half, out, n)) {
    for (long i = 0; i < n; i++) {
        _Float16 v;
        memcpy(&v, &half[i], sizeof v);
        out[i] = (float)v;
    }
}

/* bfloat16 is the upper half of a float32's bits: widening and shifting is exact (the loop vectorises). */
SAE_KERNEL(void, sae_bfloat16_to_float, (const uint16_t *restrict bf16, float *restrict out, long n), (bf16, out, n)) {
    for (long i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)bf16[i] << 16;
        memcpy(&out[i], &bits, sizeof bits);
    }
}
