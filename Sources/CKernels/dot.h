// sum_i a[i] b[i] in 16 float lanes (so the loop vectorises), added in a fixed order: the same
// bits however it is compiled. Shared by the sparse step's kernels.
#ifndef SAE_DOT_H
#define SAE_DOT_H

static inline __attribute__((always_inline)) float dot(const float *restrict a, const float *restrict b, long n) {
    float lanes[16] = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) lanes[l] += a[i + l] * b[i + l];
    float s = 0.0f;
    for (; i < n; i++) s += a[i] * b[i];
    for (int l = 0; l < 16; l++) s += lanes[l];
    return s;
}

#endif
