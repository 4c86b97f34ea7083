// SPDX-License-Identifier: Apache-2.0
// Dimensions: M, N, K as in C (M, N) = op(A) (M, K) · op(B) (K, N).
//
// Why not OpenBLAS for these: the Debian OpenBLAS this project links runs its Haswell
// (AVX2) kernels here (OPENBLAS_CORETYPE=Haswell), and a core with full-width AVX-512
// units does twice the FMAs per cycle on 512-bit vectors. The layout is the usual one of
// BLIS-style kernels: B is packed into panels of NR columns that stay in L1 while the
// micro-kernel walks down the rows of A in blocks of MR, read in place (no packing of A).
// A 12 × 32 block of C lives in 24 of the 32 vector registers for the whole of a KC-long
// stretch of k. Frozen weights are packed once (dptune_sgemm_pack_b) and used as they are.
#include "CSGEMM.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#pragma clang diagnostic ignored "-Wpsabi"

#define INLINE static inline __attribute__((always_inline))
#define AVX512 __attribute__((target("avx512f")))

enum { MR = 12, NR = DPTUNE_SGEMM_PANEL_WIDTH, KC = 384, MC = 192, NC = 384 };

static _Atomic int allowed = 1;

void dptune_sgemm_allow(int allow) { allowed = allow != 0; }

int dptune_sgemm_available(void) { return allowed && __builtin_cpu_supports("avx512f"); }

size_t dptune_sgemm_packed_count(ptrdiff_t k, ptrdiff_t n) {
    return (size_t)k * (size_t)((n + NR - 1) / NR * NR);
}

/// The lanes of the two 16-wide halves of a panel that hold real columns.
INLINE __mmask16 half_mask(ptrdiff_t columns, int half) {
    ptrdiff_t valid = columns - 16 * half;
    if (valid >= 16) return 0xFFFF;
    if (valid <= 0) return 0;
    return (__mmask16)((1u << valid) - 1);
}

/// out[t] = (in[0][t], ..., in[15][t]): four rounds of shuffles, as in every AVX-512
/// transpose. After the first two, u[4g + c] holds, in its 128-bit lane l, element 4l + c
/// of rows 4g ..< 4g + 4; the last two gather each column's four lanes.
AVX512 INLINE void transpose16(const __m512 in[16], __m512 out[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(in[i], in[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(in[i], in[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) {
        __m512d t0 = _mm512_castps_pd(t[g]), t1 = _mm512_castps_pd(t[g + 1]);
        __m512d t2 = _mm512_castps_pd(t[g + 2]), t3 = _mm512_castps_pd(t[g + 3]);
        u[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    for (int c = 0; c < 4; c++) {
        __m512 even_low = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);   // columns c, 8 + c of rows 0-7
        __m512 odd_low = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);    // columns 4 + c, 12 + c
        __m512 even_high = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        __m512 odd_high = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
        out[c] = _mm512_shuffle_f32x4(even_low, even_high, 0x88);
        out[8 + c] = _mm512_shuffle_f32x4(even_low, even_high, 0xdd);
        out[4 + c] = _mm512_shuffle_f32x4(odd_low, odd_high, 0x88);
        out[12 + c] = _mm512_shuffle_f32x4(odd_low, odd_high, 0xdd);
    }
}

/// Packs rows [k0, k0 + kc) of the panel of columns [j, j + NR) of op(B): panel row kk
/// holds op(B)(k0 + kk, j ..< j + NR), zero past column n.
AVX512 static void pack_panel(int trans, ptrdiff_t k0, ptrdiff_t kc, ptrdiff_t j, ptrdiff_t n,
                              const float *b, ptrdiff_t ldb, float *panel) {
    ptrdiff_t columns = n - j < NR ? n - j : NR;
    if (!trans) {
        __mmask16 m0 = half_mask(columns, 0), m1 = half_mask(columns, 1);
        for (ptrdiff_t kk = 0; kk < kc; kk++) {
            const float *row = b + (k0 + kk) * ldb + j;
            _mm512_store_ps(panel + kk * NR, _mm512_maskz_loadu_ps(m0, row));
            _mm512_store_ps(panel + kk * NR + 16, _mm512_maskz_loadu_ps(m1, row + 16));
        }
        return;
    }
    for (ptrdiff_t x0 = 0; x0 < NR; x0 += 16) {
        for (ptrdiff_t kk = 0; kk < kc; kk += 16) {
            ptrdiff_t length = kc - kk < 16 ? kc - kk : 16;
            __mmask16 present = half_mask(length, 0);
            __m512 rows[16], transposed[16];
            for (int x = 0; x < 16; x++)
                rows[x] = x0 + x < columns ? _mm512_maskz_loadu_ps(present, b + (j + x0 + x) * ldb + k0 + kk)
                                           : _mm512_setzero_ps();
            transpose16(rows, transposed);
            for (ptrdiff_t t = 0; t < length; t++) _mm512_store_ps(panel + (kk + t) * NR + x0, transposed[t]);
        }
    }
}

/// C[0 ..< mr, 0 ..< NR] = alpha · A[0 ..< mr, 0 ..< kc] · panel + (C's old entries when
/// accumulating, else the row `bias` when given), lanes past the masks untouched. Each
/// entry is one FMA chain over k in order. With `halves` 1 the panel's second half holds
/// no real column (a product's last panel, n mod NR ≤ 16: a short attention row, a
/// low-rank adapter's rank) and is neither multiplied nor stored.
AVX512 INLINE void micro_kernel(int mr, int trans_a, int halves, ptrdiff_t kc, const float *a, ptrdiff_t lda,
                                const float *panel, float *c, ptrdiff_t ldc, float alpha,
                                int accumulate, const float *bias, __mmask16 m0, __mmask16 m1) {
    __m512 acc[MR][2];
    for (int r = 0; r < MR; r++) {
        acc[r][0] = _mm512_setzero_ps();
        acc[r][1] = _mm512_setzero_ps();
    }
    for (ptrdiff_t kk = 0; kk < kc; kk++) {
        __m512 b0 = _mm512_load_ps(panel + kk * NR);
        __m512 b1 = halves == 2 ? _mm512_load_ps(panel + kk * NR + 16) : _mm512_setzero_ps();
        for (int r = 0; r < MR; r++) {
            if (r >= mr) break;
            __m512 x = _mm512_set1_ps(trans_a ? a[kk * lda + r] : a[r * lda + kk]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            if (halves == 2) acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    __m512 scale = _mm512_set1_ps(alpha);
    __m512 bias0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    __m512 bias1 = bias && halves == 2 ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
    // Fully unrolled: rolled, this loop indexes the accumulators at run time, so clang
    // keeps them in a stack array that every call zeroes with memset and round-trips
    // through memory, which costs most where kc is short (attention's k of 32).
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
        float *row = c + r * ldc;
        __m512 v0 = _mm512_mul_ps(acc[r][0], scale);
        if (accumulate) v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
        else if (bias) v0 = _mm512_add_ps(v0, bias0);
        _mm512_mask_storeu_ps(row, m0, v0);
        if (halves == 2) {
            __m512 v1 = _mm512_mul_ps(acc[r][1], scale);
            if (accumulate) v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
            else if (bias) v1 = _mm512_add_ps(v1, bias1);
            _mm512_mask_storeu_ps(row + 16, m1, v1);
        }
    }
}

#define MICRO(rows, ta, h) micro_kernel(rows, ta, h, kc, a, lda, panel, c, ldc, alpha, accumulate, bias, m0, m1)
#define MICRO_CASE(rows)                                                                    \
    case rows:                                                                              \
        if (trans_a) { if (halves == 2) MICRO(rows, 1, 2); else MICRO(rows, 1, 1); }       \
        else { if (halves == 2) MICRO(rows, 0, 2); else MICRO(rows, 0, 1); }               \
        break;

/// One instance of the micro-kernel per row count, layout of A and panel width, so that
/// each has its loops fully unrolled over constant bounds.
AVX512 static void micro_kernel_rows(int mr, int trans_a, int halves, ptrdiff_t kc, const float *a, ptrdiff_t lda,
                                     const float *panel, float *c, ptrdiff_t ldc, float alpha,
                                     int accumulate, const float *bias, __mmask16 m0, __mmask16 m1) {
    switch (mr) {
        MICRO_CASE(1) MICRO_CASE(2) MICRO_CASE(3) MICRO_CASE(4) MICRO_CASE(5) MICRO_CASE(6)
        MICRO_CASE(7) MICRO_CASE(8) MICRO_CASE(9) MICRO_CASE(10) MICRO_CASE(11) MICRO_CASE(12)
    }
}

/// Rows [0, m) of A against one stretch [k0, k0 + kc) of one panel; `bias`, the panel's
/// columns of the bias row or NULL, is added where C is not accumulated onto.
AVX512 static void panel_product(int trans_a, ptrdiff_t m, ptrdiff_t columns, ptrdiff_t k0, ptrdiff_t kc,
                                 float alpha, const float *a, ptrdiff_t lda, const float *panel,
                                 float *c, ptrdiff_t ldc, int accumulate, const float *bias) {
    __mmask16 m0 = half_mask(columns, 0), m1 = half_mask(columns, 1);
    int halves = m1 ? 2 : 1;
    for (ptrdiff_t i = 0; i < m; i += MR) {
        int mr = m - i < MR ? (int)(m - i) : MR;
        const float *block = trans_a ? a + k0 * lda + i : a + i * lda + k0;
        micro_kernel_rows(mr, trans_a, halves, kc, block, lda, panel, c + i * ldc, ldc, alpha, accumulate, bias, m0, m1);
    }
}

/// Applies beta to C once, so that every stretch of k can add onto it; returns whether
/// the first stretch must add (false only for beta 0, whose C is never read, as in BLAS).
static int apply_beta(ptrdiff_t m, ptrdiff_t n, float beta, float *c, ptrdiff_t ldc) {
    if (beta == 0 || beta == 1) return beta == 1;
    for (ptrdiff_t i = 0; i < m; i++)
        for (ptrdiff_t j = 0; j < n; j++) c[i * ldc + j] *= beta;
    return 1;
}

/// C = beta C (+ bias) when there is no k to sum over.
static void scale_only(ptrdiff_t m, ptrdiff_t n, float beta, const float *bias, float *c, ptrdiff_t ldc) {
    for (ptrdiff_t i = 0; i < m; i++)
        for (ptrdiff_t j = 0; j < n; j++)
            c[i * ldc + j] = (beta == 0 ? 0 : beta * c[i * ldc + j]) + (bias ? bias[j] : 0);
}

AVX512 void dptune_sgemm_pack_b(int trans, ptrdiff_t k, ptrdiff_t n, const float *b, ptrdiff_t ldb,
                                float *packed) {
    for (ptrdiff_t j = 0; j < n; j += NR) pack_panel(trans, 0, k, j, n, b, ldb, packed + j * k);
}

/// The packing buffer of the calling thread, grown on demand and freed when it exits.
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local float *scratch;
static _Thread_local size_t scratch_count;

static void make_scratch_key(void) { pthread_key_create(&scratch_key, free); }

static float *scratch_of_count(size_t count) {
    if (count <= scratch_count) return scratch;
    pthread_once(&scratch_once, make_scratch_key);
    free(scratch);
    scratch = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
    scratch_count = scratch ? count : 0;
    pthread_setspecific(scratch_key, scratch);
    return scratch;
}

/// The product over blocks: NC columns of op(B) at a time, a KC stretch of k, then MC rows
/// of A, so that the B block stays in L2 across the row blocks and an A block (read in
/// place) stays in L2 across the panels. op(B) comes packed (packed_b) or is packed here
/// one block at a time.
AVX512 static void blocked_product(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                                   float alpha, const float *a, ptrdiff_t lda, const float *b,
                                   ptrdiff_t ldb, const float *packed_b, const float *bias, float beta,
                                   float *c, ptrdiff_t ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) { scale_only(m, n, beta, bias, c, ldc); return; }
    float *block = NULL;
    if (!packed_b) {
        block = scratch_of_count((size_t)KC * NC);
        if (!block) abort();
    }
    int adds = apply_beta(m, n, beta, c, ldc);
    for (ptrdiff_t jc = 0; jc < n; jc += NC) {
        ptrdiff_t nc = n - jc < NC ? n - jc : NC;
        for (ptrdiff_t k0 = 0; k0 < k; k0 += KC) {
            ptrdiff_t kc = k - k0 < KC ? k - k0 : KC;
            const float *panels = packed_b ? packed_b + jc * k + k0 * NR : block;
            ptrdiff_t panel_stride = packed_b ? k * NR : kc * NR;
            if (!packed_b)
                for (ptrdiff_t j = 0; j < nc; j += NR)
                    pack_panel(trans_b, k0, kc, jc + j, n, b, ldb, block + j / NR * panel_stride);
            for (ptrdiff_t i0 = 0; i0 < m; i0 += MC) {
                ptrdiff_t mc = m - i0 < MC ? m - i0 : MC;
                const float *rows = trans_a ? a + i0 : a + i0 * lda;
                for (ptrdiff_t j = 0; j < nc; j += NR)
                    panel_product(trans_a, mc, n - jc - j, k0, kc, alpha, rows, lda,
                                  panels + j / NR * panel_stride, c + i0 * ldc + jc + j, ldc,
                                  adds || k0 > 0, bias && k0 == 0 ? bias + jc + j : NULL);
            }
        }
    }
}

AVX512 void dptune_sgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                         const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                         float *c, ptrdiff_t ldc) {
    blocked_product(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, NULL, NULL, beta, c, ldc);
}

AVX512 void dptune_sgemm_packed(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                                const float *a, ptrdiff_t lda, const float *packed_b, const float *bias,
                                float beta, float *c, ptrdiff_t ldc) {
    blocked_product(trans_a, 0, m, n, k, alpha, a, lda, NULL, 0, packed_b, bias, beta, c, ldc);
}
