// Each hot kernel is compiled twice, for x86-64-v3 (AVX2 + FMA) and for baseline x86-64, and
// every call picks one: the AVX2 variant where the CPU has it, unless SAE_KERNELS=baseline (or
// sae_kernels_force_baseline) asks for the baseline one, so that the variant an old CPU runs is
// tested on any machine. The choice costs one predictable branch per call; each call works on
// whole rows or buffers.
//
//     SAE_KERNEL(void, sae_scale, (float *restrict x, long n), (x, n)) {
//         for (long i = 0; i < n; i++) x[i] *= 2.0f;
//     }
//
// defines sae_scale (the dispatcher) and its two variants around one body, which is inlined
// into each variant and vectorised for its target there.
#ifndef SAE_DISPATCH_H
#define SAE_DISPATCH_H

#include "sae_kernels.h"

#if defined(__x86_64__) && defined(__clang__)
#define SAE_KERNEL(ret, name, params, args)                                                          \
    static inline __attribute__((always_inline)) ret name##_body params;                             \
    __attribute__((target("arch=x86-64-v3"), noinline)) static ret name##_v3 params {                 \
        return name##_body args;                                                                     \
    }                                                                                                \
    __attribute__((noinline)) static ret name##_baseline params { return name##_body args; }          \
    ret name params { return sae_kernels_are_baseline() ? name##_baseline args : name##_v3 args; }   \
    static inline __attribute__((always_inline)) ret name##_body params
#else
#define SAE_KERNEL(ret, name, params, args) ret name params
#endif

#endif
