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

#include <math.h>
#include <string.h>

// Every function that takes or returns a vector is always_inline, so no vector crosses a
// call boundary and the baseline build's "AVX vector argument changes the ABI" does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

#define INLINE static inline __attribute__((always_inline))
#define AVX2 __attribute__((target("avx2,fma")))
#define COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

INLINE v8f splat(float x) { return (v8f){x, x, x, x, x, x, x, x}; }
INLINE v8f bits_to_float(v8i v) { return (v8f)v; }
INLINE v8i float_to_bits(v8f v) { return (v8i)v; }
/// mask lanes (all ones) take a, the others b.
INLINE v8f select(v8i mask, v8f a, v8f b) {
    return bits_to_float((float_to_bits(a) & mask) | (float_to_bits(b) & ~mask));
}

INLINE v8f load(const float *p) {
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void store(float *p, v8f v) { memcpy(p, &v, sizeof v); }

/// Eight floats from p + i, `padding` past `end`.
INLINE v8f load_partial(const float *p, ptrdiff_t i, ptrdiff_t end, float padding) {
    if (i + 8 <= end) return load(p + i);
    float lanes[8];
    for (int lane = 0; lane < 8; lane++) lanes[lane] = i + lane < end ? p[i + lane] : padding;
    return load(lanes);
}

/// Stores the lanes of v that fall before `end` at p + i.
INLINE void store_partial(float *p, ptrdiff_t i, ptrdiff_t end, v8f v) {
    if (i + 8 <= end) {
        store(p + i, v);
        return;
    }
    float lanes[8];
    store(lanes, v);
    for (int lane = 0; i + lane < end; lane++) p[i + lane] = lanes[lane];
}

/// c[0]·x^(n−1) + … + c[n−1] by Horner's rule (one fused multiply-add a term where FMA is on).
INLINE v8f polynomial(v8f x, const float *c, int n) {
    v8f p = splat(c[0]);
    for (int i = 1; i < n; i++) p = p * x + c[i];
    return p;
}

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

INLINE v8f vexp(v8f input) {
    v8f x = select(input < splat(-87.3f), splat(-87.3f), input);
    x = select(x > splat(88.3f), splat(88.3f), x);
    const v8f magic = splat(12582912.0f);   // 1.5·2^23: adding it rounds to the nearest integer
    v8f shifted = x * 1.44269504f + magic;
    v8f n = shifted - magic;
    v8f r = x - n * 0.693359375f + n * 2.1219444e-4f;
    v8f y = polynomial(r, exp_coefficients, COUNT(exp_coefficients)) * (r * r) + r + 1.0f;
    v8i exponent = ((float_to_bits(shifted) - float_to_bits(magic)) + 127) << 23;
    return select(input < splat(-87.3f), splat(0), y * bits_to_float(exponent));
}

/// erf(x), and e^(−x²), which the large-argument branch needs anyway.
INLINE v8f verf(v8f x, v8f *gaussian) {
    v8i sign = float_to_bits(x) & (int)0x80000000;
    v8f magnitude = bits_to_float(float_to_bits(x) & 0x7fffffff);
    v8f a = select(magnitude > splat(3.92f), splat(3.92f), magnitude);
    v8f u = a * a;
    v8f small = a + a * polynomial(u, erf_small_coefficients, COUNT(erf_small_coefficients));
    *gaussian = vexp(-(x * x));
    v8f large = 1.0f - *gaussian * polynomial(a, erf_large_coefficients, COUNT(erf_large_coefficients));
    v8f result = select(a > splat(1.0f), large, small);
    return bits_to_float(float_to_bits(result) | sign);
}

static const float inverse_sqrt2 = 0.70710678118654752f;
static const float inverse_sqrt_2pi = 0.39894228040143268f;

INLINE void exp_body(float *out, const float *input, ptrdiff_t N) {
    for (ptrdiff_t i = 0; i < N; i += 8) store_partial(out, i, N, vexp(load_partial(input, i, N, 0)));
}

INLINE void erf_body(float *erf, float *gaussian, const float *input, ptrdiff_t N) {
    for (ptrdiff_t i = 0; i < N; i += 8) {
        v8f g;
        v8f e = verf(load_partial(input, i, N, 0), &g);
        store_partial(erf, i, N, e);
        store_partial(gaussian, i, N, g);
    }
}

INLINE void gelu_erf_forward_body(float *out, const float *input, ptrdiff_t N) {
    for (ptrdiff_t i = 0; i < N; i += 8) {
        v8f x = load_partial(input, i, N, 0), g;
        store_partial(out, i, N, 0.5f * x * (1.0f + verf(x * inverse_sqrt2, &g)));
    }
}

INLINE void gelu_erf_backward_body(float *dinput, const float *dout, const float *input, ptrdiff_t N) {
    for (ptrdiff_t i = 0; i < N; i += 8) {
        v8f x = load_partial(input, i, N, 0), gaussian;
        v8f cdf = 0.5f * (1.0f + verf(x * inverse_sqrt2, &gaussian));
        v8f local = cdf + x * (inverse_sqrt_2pi * gaussian);
        store_partial(dinput, i, N, local * load_partial(dout, i, N, 0));
    }
}

INLINE void softmax_row_body(float *out, const float *input, ptrdiff_t K) {
    v8f maxima = splat(-INFINITY);
    for (ptrdiff_t k = 0; k < K; k += 8) {
        v8f v = load_partial(input, k, K, -INFINITY);
        maxima = select(v > maxima, v, maxima);
    }
    float maximum = -INFINITY;
    for (int lane = 0; lane < 8; lane++) maximum = maxima[lane] > maximum ? maxima[lane] : maximum;
    if (maximum == -INFINITY) {
        memset(out, 0, (size_t)K * sizeof(float));
        return;
    }
    // Summed in double: over a vocabulary-sized row, a float running sum near 1 drops the
    // tail's many tiny terms and overstates the top probability.
    v8d sums = {0, 0, 0, 0, 0, 0, 0, 0};
    for (ptrdiff_t k = 0; k < K; k += 8) {
        v8f e = vexp(load_partial(input, k, K, -INFINITY) - maximum);
        sums += __builtin_convertvector(e, v8d);
        store_partial(out, k, K, e);
    }
    double total = 0;
    for (int lane = 0; lane < 8; lane++) total += sums[lane];
    float inverse = (float)(1.0 / total);
    for (ptrdiff_t k = 0; k < K; k += 8) store_partial(out, k, K, load_partial(out, k, K, 0) * inverse);
}

static _Atomic int avx2_allowed = 1;

void dptune_vector_math_allow_avx2(int allowed) { avx2_allowed = allowed != 0; }

int dptune_vector_math_uses_avx2(void) {
    return avx2_allowed && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// Each entry point: one AVX2 + FMA build and one baseline build of the same body.
#define DISPATCHED(name, parameters, arguments)                                 \
    AVX2 static void name##_avx2 parameters { name##_body arguments; }          \
    static void name##_baseline parameters { name##_body arguments; }           \
    void dptune_##name parameters {                                             \
        if (dptune_vector_math_uses_avx2()) name##_avx2 arguments;              \
        else name##_baseline arguments;                                         \
    }

DISPATCHED(exp, (float *out, const float *input, ptrdiff_t N), (out, input, N))
DISPATCHED(erf, (float *erf, float *gaussian, const float *input, ptrdiff_t N), (erf, gaussian, input, N))
DISPATCHED(gelu_erf_forward, (float *out, const float *input, ptrdiff_t N), (out, input, N))
DISPATCHED(gelu_erf_backward, (float *dinput, const float *dout, const float *input, ptrdiff_t N), (dinput, dout, input, N))
DISPATCHED(softmax_row, (float *out, const float *input, ptrdiff_t K), (out, input, K))
