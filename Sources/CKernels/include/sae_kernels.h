// The elementwise hot loops of training, in C so that they can be compiled twice (AVX2 + FMA,
// and baseline x86-64) and picked at load time: Swift compiles for baseline x86-64 only and turns
// square roots into libm calls, which keeps its loops narrow or scalar. Every function works on
// raw float buffers; the Swift side (Layers/, Losses/, Optimizers/) documents the maths.
#ifndef SAE_KERNELS_H
#define SAE_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Whether the kernels run their baseline x86-64 variants (1) rather than the x86-64-v3 ones
/// (AVX2 + FMA, 0): baseline on a CPU without AVX2 or when the environment sets
/// SAE_KERNELS=baseline, decided at the first call. Not x86-64: always 1 (one variant).
int sae_kernels_are_baseline(void);
/// Tests: runs the kernels that follow in the baseline (1) or AVX2 (0) variant. The AVX2 one
/// needs a CPU that has it.
void sae_kernels_force_baseline(int baseline);

/// Activations, as in Swift's `Activation` enum.
enum { SAE_LINEAR = 0, SAE_RELU = 1, SAE_SIGMOID = 2 };

/// e^x, Cephes polynomial, relative error < 2e-7 on [-87, 88]; clamped outside.
float sae_exp(float x);
/// log(1 + e) for e in [0, 1], absolute error < 1e-7.
float sae_log1p_unit(float e);

/// out[i] = in[i] / 255 (as floats) over n bytes: an image's pixels scaled to [0, 1], exactly
/// Keras's `x.astype("float32") / 255`.
void sae_bytes_to_unit(const uint8_t *in, float *out, long n);

/// y[r][j] = act(y[r][j] + bias[j]) over (rows, cols).
void sae_bias_activation(float *y, const float *bias, long rows, long cols, int activation);

/// Keeps the k largest values of each row of (rows, cols) and zeroes the others (TopK).
void sae_topk_rows(float *y, long rows, long cols, long k);

/// dy[r][j] *= act'(y[r][j]) (written in terms of the output y), and db[j] += sum_r dy[r][j],
/// over a (rows, cols) block whose rows are `ld` floats apart (a column slice of a wider matrix).
void sae_activation_backward(const float *y, float *dy, float *db, long rows, long cols, long ld, int activation);

/// Binary cross-entropy from logits z against targets x over n elements: returns the sum of
/// max(z,0) - z x + log(1 + exp(-|z|)); if grad is not NULL writes scale * (sigmoid(z) - x).
double sae_bce(const float *z, const float *x, float *grad, long n, float scale);

/// Squared error of sigmoid(z) against x over n elements: returns the sum of (s - x)^2; if grad
/// is not NULL writes scale * 2 (s - x) s (1 - s).
double sae_mse(const float *z, const float *x, float *grad, long n, float scale);

/// Squared error of z itself (a linear output) against x over n elements: returns the sum of
/// (z - x)^2; if grad is not NULL writes scale * 2 (z - x).
double sae_squared_error(const float *z, const float *x, float *grad, long n, float scale);

/// AuxK's dead-latent selection: with n the number of columns where allowed[j] != 0, writes
/// out (rows, n), compact: for each row of pre (rows, cols), the allowed columns' values (in
/// column order) where they are among the row's k largest allowed ones, relu'd; else 0.
void sae_topk_among(const float *pre, const unsigned char *allowed, float *out, long rows, long cols, long k);

/// Keras's Adam step over n parameters: m += (g - m) c1; v += (g^2 - v) c2;
/// p -= alpha m / (sqrt(v) + eps); then g = 0, ready for the next step's accumulation (one pass
/// over the gradients instead of a separate clearing pass). Returns 0 if a parameter became
/// NaN or infinite (training diverged), else 1.
int sae_adam(float *p, float *g, float *m, float *v, long n, float alpha, float c1, float c2, float eps);

/// The sum of x[i]^2 over n floats, accumulated in double (the gradient's norm for clipping).
double sae_sum_of_squares(const float *x, long n);

/// x[i] *= factor over n floats.
void sae_scale(float *x, long n, float factor);

/// Half-precision (IEEE binary16, little-endian bit patterns) to float32, exactly: n values of
/// `half` into `out` (F16C's vcvtph2ps in the AVX2 variant). For float16 .npy activation shards.
void sae_half_to_float(const uint16_t *half, float *out, long n);

/// bfloat16 (little-endian bit patterns, the upper half of a float32's) to float32, exactly.
void sae_bfloat16_to_float(const uint16_t *bf16, float *out, long n);


// MARK: the sparse TopK step (sparse.c)

/// Per row of pre (rows, cols) plus bias (cols): the `keep` = min(k, cols) largest relu'd values,
/// ties keeping the earliest latents (as `sae_topk_rows`), written to values and indices (rows,
/// keep) in no particular order. scratch: 3 cols + 2 (cols / 16) floats.
void sae_topk_select(const float *pre, const float *bias, long rows, long cols, long k, float *values, int *indices,
                     float *scratch);

/// AuxK's selection: per row of pre (rows, cols) plus bias, among the n latents in `candidates`
/// (ascending), the `keep` (<= n) largest, ties keeping the earliest, relu'd after the choice (as
/// `sae_topk_among`), to values and indices (rows, keep) in no particular order. scratch: n floats.
void sae_topk_select_among(const float *pre, const float *bias, long rows, long cols, const int *candidates, long n,
                           long keep, float *values, int *indices, float *scratch);

/// out[r] = bias + sum over row r's pairs t of values[t] w[indices[t]] (bias may be NULL: zero).
/// Row r's pairs are row_offsets[r] ..< row_offsets[r + 1] (any number per row).
/// values, indices: (pairs); row_offsets: (rows + 1); w: (latents, d); out: (rows, d)
void sae_sparse_decode(const float *values, const int *indices, const int *row_offsets, long rows, const float *w,
                       const float *bias, long d, float *out);

/// `sae_sparse_decode` for nested groups of latents (Matryoshka): group g is latents
/// group_ends[g - 1] ..< group_ends[g]; each row's pairs must come in latent order. Also writes,
/// for g < groups - 1, the reconstruction from groups 0...g alone (bias included) to
/// prefixes + g prefix_stride + r d; out gets the whole one.
void sae_sparse_decode_prefixes(const float *values, const int *indices, const int *row_offsets, long rows, const float *w,
                                const float *bias, long d, const int *group_ends, long groups, float *prefixes,
                                long prefix_stride, float *out);

/// The layout of a selection that keeps k pairs per row (TopK, AuxK), rows after rows from
/// `first_pair`: row_offsets[r] = first_pair + r k (rows + 1 entries), and samples[r k + t] = r
/// (samples points at pair first_pair's entry).
void sae_uniform_rows(long rows, long k, int first_pair, int *row_offsets, int *samples);

/// Groups n pairs by latent (counting sort): latent j's pairs are order[offsets[j] ..<
/// offsets[j + 1]], in pair order.  offsets: c + 1 ints, order: n ints.
void sae_group_by_latent(const int *latents, long n, long c, int *offsets, int *order);

/// A step's pairs: main_pairs from the code's selection (any number per sample), then AuxK's,
/// grouped by latent. Pair p's sample is samples[p]; its output gradient is row `sample` of block
/// blocks[latent] of output_gradients (block 0 when blocks is NULL), or of block aux_block for
/// AuxK's pairs (p >= main_pairs). A block is (rows, d): dL/dx^, AuxK's dL_aux/de^, or (Matryoshka)
/// the gradient that reaches one group's latents through every prefix they are part of.
struct sae_pairs {
    long rows, d, d_in, main_pairs;  // d: the output's width (W_dec's rows); d_in: the input's (W_enc's)
    const float *values;
    const int *samples;
    const int *offsets, *order;
    const float *inputs;             // (rows, d_in): x - b_dec (a transcoder's: x)
    const float *output_gradients;   // (blocks, rows, d)
    const int *blocks;               // (latents), or NULL
    long aux_block;
};

/// For latents first..<last (W_enc and g_enc stored (latents, d_in), W_dec and g_dec (latents, d)), over latent j's pairs with a value v > 0
/// (relu's mask), the code gradient dv = output gradient . w_dec[j], then: g_dec[j] += v * output
/// gradient; g_enc[j] += dv * input; g_benc[j] += sum dv; bdec_partial -= (sum dv) w_enc[j] (the
/// centring's share; skipped when bdec_partial is NULL: a transcoder's encoder reads x); and
/// with project_decoder, g_dec[j] -= (g_dec[j] . w_dec[j]) w_dec[j]. Each latent's sums run in
/// pair order, so the result does not depend on how latents are split over threads.
void sae_sparse_weight_gradients(const struct sae_pairs *pairs, long first, long last, const float *w_enc,
                                 const float *w_dec, float *g_enc, float *g_benc, float *g_dec, float *bdec_partial,
                                 int project_decoder);

/// out[r] = x[r] - b over (rows, d): a dictionary's centring by b_dec.
void sae_subtract_row(const float *x, const float *b, float *out, long rows, long d);

/// Scales each row of w (rows, d) to unit length (rows of zeros stay).
void sae_normalize_rows(float *w, long rows, long d);

// MARK: batch-level selections (batch_select.c)

/// Counts the positive values v = pre + bias of (rows, cols) by their top 16 bits: histogram
/// (32,768 buckets) += 1 at v's bucket. Positive floats order as their buckets do.
void sae_batch_histogram(const float *pre, const float *bias, long rows, long cols, unsigned *histogram);

/// totals[j] = the sum over `parts` histograms (parts, buckets) of bucket j.
void sae_histogram_totals(const unsigned *histograms, long parts, long buckets, double *totals);

/// The bucket where the count from the top reaches `keep`, with the count above it in *above;
/// -1 (and the whole count) if it never does.
long sae_histogram_crossing(const double *totals, long buckets, long keep, long *above);

/// Counts the positive values of (rows, cols) whose top 16 bits are `bucket` by their low 16 bits:
/// histogram (65,536 buckets) += 1.
void sae_batch_histogram_low(const float *pre, const float *bias, long rows, long cols, unsigned bucket, unsigned *histogram);

/// Per row, how many latents a threshold selection keeps: values above `threshold`, then values
/// equal to it while `ties` last (in row order). Returns the sum. counts: (rows)
long sae_batch_count(const float *pre, const float *bias, long rows, long cols, float threshold, long ties, int *counts);

/// Writes the pairs `sae_batch_count` counted, row r's from row_offsets[r], in latent order.
void sae_batch_fill(const float *pre, const float *bias, long rows, long cols, float threshold, long ties, long first_row,
                    const int *row_offsets, float *values, int *latents, int *samples);

/// JumpReLU's selection, per row of v = pre + bias (rows, cols) and per-latent thresholds theta:
/// active[r] counts the latents with v > theta and v > 0 (their value is kept), near[r] those with
/// |v - theta| < half (the window of the threshold's straight-through gradient). Returns the sum
/// of active.
long sae_jump_count(const float *pre, const float *bias, const float *theta, float half, long rows, long cols, int *active,
                    int *near);

/// Writes what `sae_jump_count` counted: the active pairs from active_offsets[r] and, when
/// near_offsets is not NULL, the window's (latent, sample) from near_offsets[r], in latent order.
void sae_jump_fill(const float *pre, const float *bias, const float *theta, float half, long rows, long cols, long first_row,
                   const int *active_offsets, const int *near_offsets, float *values, int *latents, int *samples,
                   int *near_latents, int *near_samples);

/// JumpReLU's threshold gradient over the n window entries: with dz = (output gradient of the
/// sample) . w_dec[latent], g_theta[latent] += -theta[latent] inv_bandwidth dz + l0_step.
void sae_jump_threshold_gradient(const int *near_latents, const int *near_samples, long n, const float *output_gradients,
                                 const float *w_dec, long d, const float *theta, float inv_bandwidth, float l0_step,
                                 float *g_theta);

// MARK: the Gated SAE (gated.c)

/// Per row of pre (rows, cols), the latents whose gate pre + b_gate is open (> 0). Returns the sum.
long sae_gated_count(const float *pre, const float *b_gate, long rows, long cols, int *counts);

/// The open latents' pairs, row r's from row_offsets[r], in latent order: value relu(scale pre +
/// b_mag) (scale = exp(r_mag)), gate pre + b_gate, and pre itself.
void sae_gated_fill(const float *pre, const float *b_gate, const float *scale, const float *b_mag, long rows, long cols,
                    long first_row, const int *row_offsets, float *values, float *gates, float *pres, int *latents, int *samples);

/// The Gated step's dense route, per pair first_pair..<last_pair (sample, latent): from dz = G W_dec^T
/// and da = dL_aux/dx^_gate W_dec^T (rows, cols), d(gate) = l1_step + da and the encoder's
/// gradient d_enc = d(gate) + scale dz (where the value is > 0) into d_enc (rows, cols), and the
/// per-latent sums of d(gate), dz and dz * pre (where the value is > 0).
void sae_gated_dense_terms(long first_pair, long last_pair, const int *samples, const int *latents, const float *values,
                           const float *pres, const float *scale, const float *dz, const float *da, float l1_step, long cols,
                           float *d_enc, float *gate_sum, float *mag_sum, float *rmag_sum);

/// A Gated step's pairs, grouped by latent as `sae_pairs`; output_gradients dL/dx^ and
/// aux_gradients dL_aux/dx^_gate are (rows, d); l1_step is the L1's gradient per open gate.
struct sae_gated_pairs {
    long rows, d, d_in;
    const float *values, *pres;
    const int *samples, *offsets, *order;
    const float *inputs, *output_gradients, *aux_gradients;
    float l1_step;
};

/// For latents first..<last: the gradients of W (shared, through both paths), b_gate, r_mag,
/// b_mag and W_dec (the magnitude's), b_dec's centring share into bdec_partial (NULL: none), and with
/// project_decoder the decoder rows' projection. scale: exp(r_mag) (latents).
void sae_gated_weight_gradients(const struct sae_gated_pairs *pairs, long first, long last, const float *w_enc,
                                const float *w_dec, const float *scale, float *g_enc, float *g_gate, float *g_rmag,
                                float *g_bmag, float *g_dec, float *bdec_partial, int project_decoder);

#ifdef __cplusplus
}
#endif
#endif
