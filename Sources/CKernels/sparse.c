// The sparse half of a TopK dictionary SAE's step: after the encoder's dense product, every
// sample has k active latents, and everything else (decoding, the code gradient, the weight
// gradients) touches only those. A latent activation is a "pair" (sample, latent, value);
// AuxK adds pairs of its own. See Model/SparseStep.swift for the maths and the shapes.
#include "dispatch.h"
#include "dot.h"
#include <stdint.h>
#include <string.h>

#define LANES 16

// A min-heap of the best `size` (value, latent) pairs seen so far, its root the worst: the
// smallest value, and among equal values the latest latent (ties keep the earliest latents).
struct heap { float *value; int *latent; long size; };

static inline __attribute__((always_inline)) int worse(float va, int la, float vb, int lb) {
    return va < vb || (va == vb && la > lb);
}

static void sift_down(struct heap h, long i) {
    for (;;) {
        long l = 2 * i + 1, r = l + 1, m = i;
        if (l < h.size && worse(h.value[l], h.latent[l], h.value[m], h.latent[m])) m = l;
        if (r < h.size && worse(h.value[r], h.latent[r], h.value[m], h.latent[m])) m = r;
        if (m == i) return;
        float tv = h.value[i]; h.value[i] = h.value[m]; h.value[m] = tv;
        int tl = h.latent[i]; h.latent[i] = h.latent[m]; h.latent[m] = tl;
        i = m;
    }
}

// The best `keep` of n (value, latent) candidates, in any order, into v/ix (heap order): the
// first `keep` fill the heap, and a later one replaces the root only if it beats it.
static void heap_select(const float *cv, const int *cl, long n, long keep, float *v, int *ix) {
    struct heap h = { v, ix, keep };
    for (long t = 0; t < keep; t++) { v[t] = cv[t]; ix[t] = cl[t]; }
    for (long t = keep / 2 - 1; t >= 0; t--) sift_down(h, t);
    for (long t = keep; t < n; t++) {
        if (!worse(v[0], ix[0], cv[t], cl[t])) continue;
        v[0] = cv[t]; ix[0] = cl[t];
        sift_down(h, 0);
    }
}

// The k-th largest of n values >= 0 (k <= n), exactly: the largest bit pattern t with at least k
// values' patterns >= t (non-negative floats order as their patterns do), found by bisection over
// the patterns, each step a vectorised count. Once exactly k patterns are >= some t, the answer is
// the smallest of them: one more pass instead of the rest of the bisection (14 steps instead of
// 30 on average, for a trained-like row of 4,096 latents and k 32). (t itself would bound the
// selection below as well, but the exact value keeps its candidates, and so the pairs' order
// and the sums over them, as they were.) Branch-free counting beats a heap of the k largest,
// whose sift-downs mispredict (measured: 1.1 against 2.7 us for 256 values and k 32).
static inline __attribute__((always_inline)) float kth_largest_of_nonnegative(const float *x, long n, long k) {
    const uint32_t *bits = (const uint32_t *)x;
    uint32_t lo = 0, hi = 0;
    for (long i = 0; i < n; i++) hi = bits[i] > hi ? bits[i] : hi;
    while (lo < hi) {  // at least k patterns are >= lo; none >= hi + 1
        uint32_t mid = lo + (hi - lo + 1) / 2;
        long count = 0;
        for (long i = 0; i < n; i++) count += bits[i] >= mid;
        if (count == k) {
            uint32_t smallest = UINT32_MAX;
            for (long i = 0; i < n; i++) smallest = bits[i] >= mid && bits[i] < smallest ? bits[i] : smallest;
            lo = smallest;
            break;
        }
        if (count > k) lo = mid; else hi = mid - 1;
    }
    float value;
    memcpy(&value, &lo, sizeof value);
    return value;
}

SAE_KERNEL(void, sae_topk_select, (const float *restrict pre, const float *restrict bias, long rows, long cols, long k, float *restrict values, int *restrict indices, float *restrict scratch),
           (pre, bias, rows, cols, k, values, indices, scratch)) {
    long keep = k < cols ? k : cols, groups = cols / LANES;
    // scratch: the row's relu(pre + b_enc) (cols), its groups' maxima (groups), the candidates'
    // values and latents (cols each), and the groups that hold candidates (groups). Group g holds
    // latents g, g + groups, ..., g + 15 groups (plus the last cols % 16 latents, always
    // candidates), so the maxima are elementwise maxima of 16 slices, taken in the relu's pass.
    float *restrict relu = scratch, *restrict maxima = scratch + cols, *restrict cv = maxima + groups;
    int *restrict cl = (int *)(cv + cols), *restrict chosen = cl + cols;
    for (long r = 0; r < rows; r++) {
        const float *row = pre + r * cols;
        for (long g = 0; g < groups; g++) maxima[g] = 0.0f;
        for (long l = 0; l < LANES; l++) {
            long base = l * groups;
            for (long g = 0; g < groups; g++) {
                float x = row[base + g] + bias[base + g];
                x = x > 0.0f ? x : 0.0f;
                relu[base + g] = x;
                maxima[g] = maxima[g] > x ? maxima[g] : x;
            }
        }
        for (long j = groups * LANES; j < cols; j++) { float x = row[j] + bias[j]; relu[j] = x > 0.0f ? x : 0.0f; }
        // A lower bound on the k-th largest value: the k-th largest group maximum (k groups each
        // hold a value at least that large). Only values at or above it can be chosen, and only
        // groups whose maximum reaches it hold any: usually about k of them. Both gathers below
        // are branch-free (a store, then a count by the comparison): which groups and values pass
        // is data, and branches on it mispredict.
        float bound = groups >= keep ? kth_largest_of_nonnegative(maxima, groups, keep) : -1.0f;
        long m = 0, n = 0;
        for (long g = 0; g < groups; g++) { chosen[m] = (int)g; m += maxima[g] >= bound; }
        for (long t = 0; t < m; t++)
            for (long j = chosen[t]; j < LANES * groups; j += groups) { cv[n] = relu[j]; cl[n] = (int)j; n += relu[j] >= bound; }
        for (long j = groups * LANES; j < cols; j++) if (relu[j] >= bound) { cv[n] = relu[j]; cl[n] = (int)j; n++; }
        heap_select(cv, cl, n, keep, values + r * keep, indices + r * keep);
    }
}

void sae_topk_select_among(const float *restrict pre, const float *restrict bias, long rows, long cols,
                           const int *restrict candidates, long n, long keep, float *restrict values, int *restrict indices,
                           float *restrict scratch) {
    float *cv = scratch;
    for (long r = 0; r < rows; r++) {
        const float *row = pre + r * cols;
        float *v = values + r * keep;
        // AuxK chooses on the pre-activations themselves and applies relu after the choice.
        for (long t = 0; t < n; t++) cv[t] = row[candidates[t]] + bias[candidates[t]];
        heap_select(cv, candidates, n, keep, v, indices + r * keep);
        for (long t = 0; t < keep; t++) v[t] = v[t] > 0.0f ? v[t] : 0.0f;
    }
}

SAE_KERNEL(void, sae_sparse_decode, (const float *restrict values, const int *restrict indices, const int *restrict row_offsets, long rows, const float *restrict w, const float *restrict bias, long d, float *restrict out),
           (values, indices, row_offsets, rows, w, bias, d, out)) {
    for (long r = 0; r < rows; r++) {
        float *restrict o = out + r * d;
        if (bias) memcpy(o, bias, (size_t)d * sizeof(float));
        else memset(o, 0, (size_t)d * sizeof(float));
        for (long t = row_offsets[r]; t < row_offsets[r + 1]; t++) {
            float v = values[t];
            if (v == 0.0f) continue;
            const float *restrict row = w + (long)indices[t] * d;
            for (long j = 0; j < d; j++) o[j] += v * row[j];
        }
    }
}

void sae_uniform_rows(long rows, long k, int first_pair, int *row_offsets, int *samples) {
    for (long r = 0; r <= rows; r++) row_offsets[r] = first_pair + (int)(r * k);
    for (long r = 0; r < rows; r++)
        for (long t = 0; t < k; t++) samples[r * k + t] = (int)r;
}



void sae_group_by_latent(const int *restrict latents, long n, long c, int *restrict offsets, int *restrict order) {
    memset(offsets, 0, (size_t)(c + 1) * sizeof(int));
    for (long p = 0; p < n; p++) offsets[latents[p] + 1]++;
    for (long j = 0; j < c; j++) offsets[j + 1] += offsets[j];
    // offsets[j] now counts pairs of latents < j: fill each latent's run in pair order, using
    // offsets[j] as its cursor, then shift the cursors back to the runs' starts.
    for (long p = 0; p < n; p++) order[offsets[latents[p]]++] = (int)p;
    for (long j = c; j > 0; j--) offsets[j] = offsets[j - 1];
    offsets[0] = 0;
}

SAE_KERNEL(void, sae_sparse_weight_gradients, (const struct sae_pairs *restrict s, long first, long last, const float *restrict w_enc, const float *restrict w_dec, float *restrict g_enc, float *restrict g_benc, float *restrict g_dec, float *restrict bdec_partial, int project_decoder),
           (s, first, last, w_enc, w_dec, g_enc, g_benc, g_dec, bdec_partial, project_decoder)) {
    long d = s->d, d_in = s->d_in;
    for (long j = first; j < last; j++) {
        int begin = s->offsets[j], end = s->offsets[j + 1];
        if (begin == end) continue;
        float *restrict ge = g_enc + j * d_in, *restrict gd = g_dec + j * d;
        const float *restrict wd = w_dec + j * d;
        float code_sum = 0.0f;
        for (int q = begin; q < end; q++) {
            long p = s->order[q];
            float v = s->values[p];
            if (v == 0.0f) continue;   // relu's zero: no value, no gradient
            // Pair p's sample, and the row of its output gradient (AuxK's come after the main ones').
            long sample = s->samples[p];
            long block = p < s->main_pairs ? (s->blocks ? s->blocks[j] : 0) : s->aux_block;
            long out_row = block * s->rows + sample;
            const float *restrict x = s->inputs + sample * d_in, *restrict go = s->output_gradients + out_row * d;
            // The code gradient dz = G . W_dec[j], while W_dec[j] and G's row are in cache.
            float dv = dot(go, wd, d);
            for (long i = 0; i < d; i++) gd[i] += v * go[i];
            for (long i = 0; i < d_in; i++) ge[i] += dv * x[i];
            code_sum += dv;
        }
        g_benc[j] += code_sum;
        // The centring: d(b_dec) -= (sum of the latent's code gradients) W_enc[j].
        const float *restrict we = w_enc + j * d_in;
        if (bdec_partial && code_sum != 0.0f) for (long i = 0; i < d; i++) bdec_partial[i] -= code_sum * we[i];
        // Unit-norm decoder rows: remove the gradient's component along the row (this step is
        // the row's only gradient, so it can be done here, once per active row).
        if (project_decoder) {
            float along = dot(gd, wd, d);
            for (long i = 0; i < d; i++) gd[i] -= along * wd[i];
        }
    }
}

SAE_KERNEL(void, sae_normalize_rows, (float *restrict w, long rows, long d),
           (w, rows, d)) {
    for (long r = 0; r < rows; r++) {
        float *restrict row = w + r * d;
        float norm = __builtin_elementwise_sqrt(dot(row, row, d));
        if (norm > 0.0f) {
            for (long i = 0; i < d; i++) row[i] /= norm;
        }
    }
}

SAE_KERNEL(void, sae_subtract_row, (const float *restrict x, const float *restrict b, float *restrict out, long rows, long d),
           (x, b, out, rows, d)) {
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < d; j++) out[r * d + j] = x[r * d + j] - b[j];
}

SAE_KERNEL(void, sae_sparse_decode_prefixes, (const float *restrict values, const int *restrict indices, const int *restrict row_offsets, long rows, const float *restrict w, const float *restrict bias, long d, const int *restrict group_ends, long groups, float *restrict prefixes, long prefix_stride, float *restrict out),
           (values, indices, row_offsets, rows, w, bias, d, group_ends, groups, prefixes, prefix_stride, out)) {
    for (long r = 0; r < rows; r++) {
        float *restrict o = out + r * d;
        memcpy(o, bias, (size_t)d * sizeof(float));
        long g = 0;
        for (long t = row_offsets[r]; t < row_offsets[r + 1]; t++) {
            long j = indices[t];
            // Entering a later group: the prefixes of the groups passed are complete.
            for (; j >= group_ends[g]; g++)
                if (g < groups - 1) memcpy(prefixes + g * prefix_stride + r * d, o, (size_t)d * sizeof(float));
            float v = values[t];
            if (v == 0.0f) continue;
            const float *restrict row = w + j * d;
            for (long i = 0; i < d; i++) o[i] += v * row[i];
        }
        for (; g < groups - 1; g++) memcpy(prefixes + g * prefix_stride + r * d, o, (size_t)d * sizeof(float));
    }
}
