// The elementwise hot loops of training, in C so that they can be compiled twice (AVX2 + FMA,
// and baseline x86-64) and picked at load time: Swift compiles for baseline x86-64 only and turns
// square roots into libm calls, which keeps its loops narrow or scalar. Every function works on
// raw float buffers; the Swift side (Layers/, Losses/, Optimizers/) documents the maths.
#ifndef SAE_KERNELS_H
#define SAE_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Activations, as in Swift's `Activation` enum.
enum { SAE_LINEAR = 0, SAE_RELU = 1, SAE_SIGMOID = 2 };

/// e^x, Cephes polynomial, relative error < 2e-7 on [-87, 88]; clamped outside.
float sae_exp(float x);
/// log(1 + e) for e in [0, 1], absolute error < 1e-7.
float sae_log1p_unit(float e);

/// y[r][j] = act(y[r][j] + bias[j]) over (rows, cols).
void sae_bias_activation(float *y, const float *bias, long rows, long cols, int activation);

/// Keeps the k largest values of each row of (rows, cols) and zeroes the others (TopK; cols <= 4096).
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
/// column order) where they are among the row's k largest allowed ones, relu'd; else 0 (cols <= 4096).
void sae_topk_among(const float *pre, const unsigned char *allowed, float *out, long rows, long cols, long k);

/// Keras's Adam step over n parameters: m += (g - m) c1; v += (g^2 - v) c2;
/// p -= alpha m / (sqrt(v) + eps); then g = 0, ready for the next step's accumulation (one pass
/// over the gradients instead of a separate clearing pass).
void sae_adam(float *p, float *g, float *m, float *v, long n, float alpha, float c1, float c2, float eps);

#ifdef __cplusplus
}
#endif
#endif
