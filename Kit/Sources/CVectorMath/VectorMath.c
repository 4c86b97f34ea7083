// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = number of elements, K = row length.
//
// The polynomials (from SIMDMath, where they were written first):
// - exp: Cephes' expf. Range reduction by n·ln 2 (ln 2 split in two for exactness),
//   a degree-5 minimax polynomial, 2^n built in the exponent bits.
// - erf: for |x| ≤ 1, x + x·P(x²); above, 1 − e^(−x²)·Q(|x|) with |x| clamped to 3.92,
//   where erf rounds to 1 in float; P (degree 7) and Q (degree 10) are least-maximum-error
//   fits. Absolute error below 1.2e-7.
#include "CVectorMath.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

// Every function that takes or returns a vector is always_inline, so no vector crosses a
// call boundary and the baseline build's "AVX vector argument changes the ABI" does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

#define INLINE static inline __attribute__((always_inline))
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,fma")))
#define COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

static const float exp_coefficients[] = {
    1.98756915e-4f, 1.39819995e-3f, 8.3334519e-3f, 4.16657958e-2f, 1.66666655e-1f, 5.00000012e-1f,
};
static const float erf_small_coefficients[] = {
    -9.68048698e-06f, 1.12706752e-04f, -8.48473108e-04f, 5.22107631e-03f,
    -2.68654469e-02f, 1.12837829e-01f, -3.76126379e-01f, 1.28379166e-01f,
};
static const float erf_large_coefficients[] = {
    1.73365356e-06f, -4.97272413e-05f, 6.45278662e-04f, -5.02113020e-03f, 2.62053031e-02f, -9.73268747e-02f,
    2.66795546e-01f, -5.53403199e-01f, 8.83037746e-01f, -1.08643842f, 9.93137240e-01f,
};

static const float inverse_sqrt2 = 0.70710678118654752f;
static const float inverse_sqrt_2pi = 0.39894228040143268f;

#define LANES 8
#define KERNEL INLINE
#include "VectorKernels.h"
#undef KERNEL
#undef LANES

#define LANES 16
#define KERNEL INLINE AVX512
#include "VectorKernels.h"
#undef KERNEL
#undef LANES

static _Atomic int level_limit = 2;

void dptune_vector_math_limit(int level) { level_limit = level; }

int dptune_vector_math_level(void) {
    if (level_limit >= 2 && __builtin_cpu_supports("avx512f")) return 2;
    if (level_limit >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
    return 0;
}

// Each entry point: an AVX-512F build of the 16-float body, an AVX2 + FMA build and a
// baseline build of the 8-float body, the widest the CPU and the limit allow running.
#define DISPATCHED(name, parameters, arguments)                                 \
    AVX512 static void name##_avx512 parameters { name##_body_16 arguments; }   \
    AVX2 static void name##_avx2 parameters { name##_body_8 arguments; }        \
    static void name##_baseline parameters { name##_body_8 arguments; }         \
    void dptune_##name parameters {                                             \
        switch (dptune_vector_math_level()) {                                   \
        case 2: name##_avx512 arguments; break;                                 \
        case 1: name##_avx2 arguments; break;                                   \
        default: name##_baseline arguments;                                     \
        }                                                                       \
    }

DISPATCHED(exp, (float *out, const float *input, ptrdiff_t N), (out, input, N))
DISPATCHED(erf, (float *erf, float *gaussian, const float *input, ptrdiff_t N), (erf, gaussian, input, N))
DISPATCHED(gelu_erf_forward, (float *out, const float *input, ptrdiff_t N), (out, input, N))
DISPATCHED(gelu_erf_backward, (float *dinput, const float *dout, const float *input, ptrdiff_t N), (dinput, dout, input, N))
DISPATCHED(softmax_row, (float *out, const float *input, ptrdiff_t K), (out, input, K))
