// The Gated SAE's step (Rajamanoharan et al. 2024): one encoder product serves two paths. With
// pre = (x - b_dec) W^T, a latent is open where the gate pi_gate = pre + b_gate > 0, and then its
// value is the magnitude relu(exp(r_mag) pre + b_mag). See Architectures/Gated.swift for the
// losses; these kernels are its selection and its pairs' gradient pass.
#include "dispatch.h"
#include "dot.h"
#include <math.h>

SAE_KERNEL(long, sae_gated_count, (const float *restrict pre, const float *restrict b_gate, long rows, long cols, int *restrict counts),
           (pre, b_gate, rows, cols, counts)) {
    long total = 0;
    for (long r = 0; r < rows; r++) {
        const float *restrict row = pre + r * cols;
        int n = 0;
        for (long j = 0; j < cols; j++) n += row[j] + b_gate[j] > 0.0f;
        counts[r] = n;
        total += n;
    }
    return total;
}

SAE_KERNEL(void, sae_gated_fill, (const float *restrict pre, const float *restrict b_gate, const float *restrict scale, const float *restrict b_mag, long rows, long cols, long first_row, const int *restrict row_offsets, float *restrict values, float *restrict gates, float *restrict pres, int *restrict latents, int *restrict samples),
           (pre, b_gate, scale, b_mag, rows, cols, first_row, row_offsets, values, gates, pres, latents, samples)) {
    for (long r = 0; r < rows; r++) {
        const float *restrict row = pre + r * cols;
        long q = row_offsets[r];
        for (long j = 0; j < cols; j++) {
            float gate = row[j] + b_gate[j];
            if (gate <= 0.0f) continue;
            float magnitude = scale[j] * row[j] + b_mag[j];
            values[q] = magnitude > 0.0f ? magnitude : 0.0f;
            gates[q] = gate;
            pres[q] = row[j];
            latents[q] = (int)j;
            samples[q] = (int)(first_row + r);
            q++;
        }
    }
}


SAE_KERNEL(void, sae_gated_weight_gradients, (const struct sae_gated_pairs *restrict s, long first, long last, const float *restrict w_enc, const float *restrict w_dec, const float *restrict scale, float *restrict g_enc, float *restrict g_gate, float *restrict g_rmag, float *restrict g_bmag, float *restrict g_dec, float *restrict bdec_partial, int project_decoder),
           (s, first, last, w_enc, w_dec, scale, g_enc, g_gate, g_rmag, g_bmag, g_dec, bdec_partial, project_decoder)) {
    long d = s->d, d_in = s->d_in;
    for (long j = first; j < last; j++) {
        int begin = s->offsets[j], end = s->offsets[j + 1];
        if (begin == end) continue;
        float *restrict ge = g_enc + j * d_in, *restrict gd = g_dec + j * d;
        const float *restrict wd = w_dec + j * d;
        float gate_sum = 0.0f, mag_sum = 0.0f, rmag_sum = 0.0f, enc_sum = 0.0f;
        for (int q = begin; q < end; q++) {
            long p = s->order[q], sample = s->samples[p];
            const float *restrict x = s->inputs + sample * d_in;
            // The gate: the L1's step and the auxiliary reconstruction's dL_aux/d(gate) (W_dec held fixed).
            float d_gate = s->l1_step + dot(s->aux_gradients + sample * d, wd, d);
            float d_enc = d_gate;
            float v = s->values[p];
            if (v > 0.0f) {
                // The magnitude: dL/dz = G . W_dec[j]; z = exp(r) pre + b_mag.
                const float *restrict go = s->output_gradients + sample * d;
                float dz = dot(go, wd, d);
                for (long i = 0; i < d; i++) gd[i] += v * go[i];
                mag_sum += dz;
                rmag_sum += dz * s->pres[p];
                d_enc += scale[j] * dz;
            }
            for (long i = 0; i < d_in; i++) ge[i] += d_enc * x[i];
            gate_sum += d_gate;
            enc_sum += d_enc;
        }
        g_gate[j] += gate_sum;
        g_bmag[j] += mag_sum;
        g_rmag[j] += scale[j] * rmag_sum;
        // The centring: d(b_dec) -= (sum of the encoder's pre-activation gradients) W[j].
        const float *restrict we = w_enc + j * d_in;
        if (bdec_partial && enc_sum != 0.0f) for (long i = 0; i < d; i++) bdec_partial[i] -= enc_sum * we[i];
        if (project_decoder) {
            float along = dot(gd, wd, d);
            for (long i = 0; i < d; i++) gd[i] -= along * wd[i];
        }
    }
}

SAE_KERNEL(void, sae_gated_dense_terms, (long first_pair, long last_pair, const int *restrict samples, const int *restrict latents, const float *restrict values, const float *restrict pres, const float *restrict scale, const float *restrict dz, const float *restrict da, float l1_step, long cols, float *restrict d_enc, float *restrict gate_sum, float *restrict mag_sum, float *restrict rmag_sum),
           (first_pair, last_pair, samples, latents, values, pres, scale, dz, da, l1_step, cols, d_enc, gate_sum, mag_sum, rmag_sum)) {
    for (long p = first_pair; p < last_pair; p++) {
        long j = latents[p], at = (long)samples[p] * cols + j;
        // As sae_gated_weight_gradients, with dL/dz and dL_aux/d(gate) from the dense products.
        float d_gate = l1_step + da[at], enc = d_gate;
        if (values[p] > 0.0f) {
            float g = dz[at];
            mag_sum[j] += g;
            rmag_sum[j] += g * pres[p];
            enc += scale[j] * g;
        }
        d_enc[at] = enc;
        gate_sum[j] += d_gate;
    }
}
