// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = number of elements, K = row length.
//
// exp, erf and the kernels built on them (exact GELU, row softmax). Each entry point runs
// the widest build of its loop the CPU and OS support: AVX-512F, sixteen floats at a time;
// AVX2 + FMA, eight; or baseline x86-64 (SSE2). Swift compiles the package for baseline
// x86-64 and has no per-function target attribute, which left these loops, about a tenth
// of a MiniLM training step, at a quarter of the vector width and without fused
// multiply-adds. Every build evaluates the same polynomials. FMA rounds once where the
// baseline rounds twice, so the baseline may differ in the last bit; the AVX-512F and AVX2
// builds give the same bits, except softmax, whose sum is grouped by the width.
#ifndef DPTUNE_CVECTORMATH_H
#define DPTUNE_CVECTORMATH_H

#include <stddef.h>

/// out[i] = exp(input[i]); exactly 0 below -87.3 (so exp(-inf) = 0), within 2 ulp elsewhere.
/// out may alias input.
void dptune_exp(float *out, const float *input, ptrdiff_t N);

/// erf[i] = erf(input[i]) (absolute error below 1.2e-7) and gaussian[i] = exp(-input[i]²).
void dptune_erf(float *erf, float *gaussian, const float *input, ptrdiff_t N);

/// out[i] = 0.5 x (1 + erf(x / √2)) with x = input[i]; out may alias input.
void dptune_gelu_erf_forward(float *out, const float *input, ptrdiff_t N);

/// dinput[i] = (Φ(x) + x φ(x)) dout[i] with x = input[i], the exact GELU's derivative;
/// dinput may alias dout.
void dptune_gelu_erf_backward(float *dinput, const float *dout, const float *input, ptrdiff_t N);

/// One row: out = softmax(input) over K entries, the maximum subtracted first and the sum
/// taken in double. -inf entries get 0; an all -inf row becomes all zeros. out may alias input.
void dptune_softmax_row(float *out, const float *input, ptrdiff_t K);

/// The build that runs: 2 AVX-512F, 1 AVX2 + FMA, 0 baseline; the widest the CPU and OS
/// support, up to the limit.
int dptune_vector_math_level(void);

/// Caps the builds at `level` (default 2), so tests can check the narrower builds on a
/// machine that has the wider ones.
void dptune_vector_math_limit(int level);

#endif
