// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = number of elements, K = row length.
//
// The kernels' bodies at a width of LANES floats, included by VectorMath.c once for each
// width it builds (8: baseline and AVX2; 16: AVX-512F). No include guard: each inclusion
// defines its own set of names, suffixed with the width, and undefines the short names
// again at the end, so both widths run the same source. KERNEL is the helpers' attributes:
// the 16-float helpers carry the AVX-512F target themselves, since their ragged ends use
// masked loads and stores.

#define VECTOR_NAME(name) VECTOR_NAME_(name, LANES)
#define VECTOR_NAME_(name, lanes) VECTOR_NAME__(name, lanes)
#define VECTOR_NAME__(name, lanes) name##_##lanes

#define vf VECTOR_NAME(vf)
#define vi VECTOR_NAME(vi)
#define vd VECTOR_NAME(vd)
#define splat VECTOR_NAME(splat)
#define bits_to_float VECTOR_NAME(bits_to_float)
#define float_to_bits VECTOR_NAME(float_to_bits)
#define select VECTOR_NAME(select)
#define load VECTOR_NAME(load)
#define store VECTOR_NAME(store)
#define load_partial VECTOR_NAME(load_partial)
#define store_partial VECTOR_NAME(store_partial)
#define polynomial VECTOR_NAME(polynomial)
#define vexp VECTOR_NAME(vexp)
#define verf VECTOR_NAME(verf)
#define exp_body VECTOR_NAME(exp_body)
#define erf_body VECTOR_NAME(erf_body)
#define gelu_erf_forward_body VECTOR_NAME(gelu_erf_forward_body)
#define gelu_erf_backward_body VECTOR_NAME(gelu_erf_backward_body)
#define softmax_row_body VECTOR_NAME(softmax_row_body)

typedef float vf __attribute__((vector_size(LANES * sizeof(float))));
typedef int vi __attribute__((vector_size(LANES * sizeof(int))));
typedef double vd __attribute__((vector_size(LANES * sizeof(double))));

KERNEL vf splat(float x) { return (vf){} + x; }
KERNEL vf bits_to_float(vi v) { return (vf)v; }
KERNEL vi float_to_bits(vf v) { return (vi)v; }
/// mask lanes (all ones) take a, the others b.
KERNEL vf select(vi mask, vf a, vf b) {
    return bits_to_float((float_to_bits(a) & mask) | (float_to_bits(b) & ~mask));
}

KERNEL vf load(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

KERNEL void store(float *p, vf v) { memcpy(p, &v, sizeof v); }

/// LANES floats from p + i, `padding` past `end`.
KERNEL vf load_partial(const float *p, ptrdiff_t i, ptrdiff_t end, float padding) {
    if (i + LANES <= end) return load(p + i);
#if LANES == 16
    return (vf)_mm512_mask_loadu_ps(_mm512_set1_ps(padding), (__mmask16)((1u << (end - i)) - 1), p + i);
#else
    float lanes[LANES];
    for (int lane = 0; lane < LANES; lane++) lanes[lane] = i + lane < end ? p[i + lane] : padding;
    return load(lanes);
#endif
}

/// Stores the lanes of v that fall before `end` at p + i.
KERNEL void store_partial(float *p, ptrdiff_t i, ptrdiff_t end, vf v) {
    if (i + LANES <= end) {
        store(p + i, v);
        return;
    }
#if LANES == 16
    _mm512_mask_storeu_ps(p + i, (__mmask16)((1u << (end - i)) - 1), (__m512)v);
#else
    float lanes[LANES];
    store(lanes, v);
    for (int lane = 0; i + lane < end; lane++) p[i + lane] = lanes[lane];
#endif
}

/// c[0]·x^(n−1) + … + c[n−1] by Horner's rule (one fused multiply-add a term where FMA is on).
KERNEL vf polynomial(vf x, const float *c, int n) {
    vf p = splat(c[0]);
    for (int i = 1; i < n; i++) p = p * x + c[i];
    return p;
}

KERNEL vf vexp(vf input) {
    vf x = select(input < splat(-87.3f), splat(-87.3f), input);
    x = select(x > splat(88.3f), splat(88.3f), x);
    const vf magic = splat(12582912.0f);   // 1.5·2^23: adding it rounds to the nearest integer
    vf shifted = x * 1.44269504f + magic;
    vf n = shifted - magic;
    vf r = x - n * 0.693359375f + n * 2.1219444e-4f;
    vf y = polynomial(r, exp_coefficients, COUNT(exp_coefficients)) * (r * r) + r + 1.0f;
    vi exponent = ((float_to_bits(shifted) - float_to_bits(magic)) + 127) << 23;
    return select(input < splat(-87.3f), splat(0), y * bits_to_float(exponent));
}

/// erf(x), and e^(−x²), which the large-argument branch needs anyway.
KERNEL vf verf(vf x, vf *gaussian) {
    vi sign = float_to_bits(x) & (int)0x80000000;
    vf magnitude = bits_to_float(float_to_bits(x) & 0x7fffffff);
    vf a = select(magnitude > splat(3.92f), splat(3.92f), magnitude);
    vf u = a * a;
    vf small = a + a * polynomial(u, erf_small_coefficients, COUNT(erf_small_coefficients));
    *gaussian = vexp(-(x * x));
    vf large = 1.0f - *gaussian * polynomial(a, erf_large_coefficients, COUNT(erf_large_coefficients));
    vf result = select(a > splat(1.0f), large, small);
    return bits_to_float(float_to_bits(result) | sign);
}

KERNEL void exp_body(float *out, const float *input, ptrdiff_t N) {
    for (ptrdiff_t i = 0; i < N; i += LANES) store_partial(out, i, N, vexp(load_partial(input, i, N, 0)));
}

KERNEL void erf_body(float *erf, float *gaussian, const float *input, ptrdiff_t N) {
    for (ptrdiff_t i = 0; i < N; i += LANES) {
        vf g;
        vf e = verf(load_partial(input, i, N, 0), &g);
        store_partial(erf, i, N, e);
        store_partial(gaussian, i, N, g);
    }
}

KERNEL void gelu_erf_forward_body(float *out, const float *input, ptrdiff_t N) {
    for (ptrdiff_t i = 0; i < N; i += LANES) {
        vf x = load_partial(input, i, N, 0), g;
        store_partial(out, i, N, 0.5f * x * (1.0f + verf(x * inverse_sqrt2, &g)));
    }
}

KERNEL void gelu_erf_backward_body(float *dinput, const float *dout, const float *input, ptrdiff_t N) {
    for (ptrdiff_t i = 0; i < N; i += LANES) {
        vf x = load_partial(input, i, N, 0), gaussian;
        vf cdf = 0.5f * (1.0f + verf(x * inverse_sqrt2, &gaussian));
        vf local = cdf + x * (inverse_sqrt_2pi * gaussian);
        store_partial(dinput, i, N, local * load_partial(dout, i, N, 0));
    }
}

KERNEL void softmax_row_body(float *out, const float *input, ptrdiff_t K) {
    vf maxima = splat(-INFINITY);
    for (ptrdiff_t k = 0; k < K; k += LANES) {
        vf v = load_partial(input, k, K, -INFINITY);
        maxima = select(v > maxima, v, maxima);
    }
    float maximum = -INFINITY;
    for (int lane = 0; lane < LANES; lane++) maximum = maxima[lane] > maximum ? maxima[lane] : maximum;
    if (maximum == -INFINITY) {
        memset(out, 0, (size_t)K * sizeof(float));
        return;
    }
    // Summed in double: over a vocabulary-sized row, a float running sum near 1 drops the
    // tail's many tiny terms and overstates the top probability.
    vd sums = {};
    for (ptrdiff_t k = 0; k < K; k += LANES) {
        vf e = vexp(load_partial(input, k, K, -INFINITY) - maximum);
        sums += __builtin_convertvector(e, vd);
        store_partial(out, k, K, e);
    }
    double total = 0;
    for (int lane = 0; lane < LANES; lane++) total += sums[lane];
    float inverse = (float)(1.0 / total);
    for (ptrdiff_t k = 0; k < K; k += LANES) store_partial(out, k, K, load_partial(out, k, K, 0) * inverse);
}

#undef vf
#undef vi
#undef vd
#undef splat
#undef bits_to_float
#undef float_to_bits
#undef select
#undef load
#undef store
#undef load_partial
#undef store_partial
#undef polynomial
#undef vexp
#undef verf
#undef exp_body
#undef erf_body
#undef gelu_erf_forward_body
#undef gelu_erf_backward_body
#undef softmax_row_body
#undef VECTOR_NAME
#undef VECTOR_NAME_
#undef VECTOR_NAME__
