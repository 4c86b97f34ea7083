// SPDX-License-Identifier: Apache-2.0
// Row-major single-precision GEMM on AVX-512 cores, for the engine's dense products.
#ifndef DPTUNE_CSGEMM_H
#define DPTUNE_CSGEMM_H

#include <stddef.h>

/// Nonzero when this CPU has AVX-512F and the kernel has not been turned off with
/// dptune_sgemm_allow(0). Only then may dptune_sgemm_pack_b, dptune_sgemm and
/// dptune_sgemm_packed be called: they are built for AVX-512F.
int dptune_sgemm_available(void);

/// Turns the kernel off (0) or back on (nonzero) for the whole process, so that a
/// benchmark can measure OpenBLAS beside it.
void dptune_sgemm_allow(int allowed);

/// Columns per panel of a packed B operand.
enum { DPTUNE_SGEMM_PANEL_WIDTH = 32 };

/// Floats a packed (k, n) operand takes: n rounded up to whole panels.
size_t dptune_sgemm_packed_count(ptrdiff_t k, ptrdiff_t n);

/// Packs op(B), (k, n), into panels of 32 columns, each k rows of 32 contiguous floats,
/// the last panel padded with zeros. trans: B is stored as (n, k).
void dptune_sgemm_pack_b(int trans, ptrdiff_t k, ptrdiff_t n, const float *b, ptrdiff_t ldb,
                         float *packed);

/// C = alpha op(A) op(B) + beta C on one thread; op(A) is (m, k), op(B) is (k, n).
/// Every entry of C is one sum over k in increasing order, whatever m and the row's place,
/// so the rows of a product do not depend on how the caller splits them.
void dptune_sgemm(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                  const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                  float *c, ptrdiff_t ldc);

/// The same with op(B) already packed by dptune_sgemm_pack_b, and a bias: NULL, or the
/// row (n) added to every row of C in place of beta · C, so beta must then be 0. A dense
/// layer's bias rides in the kernel's last step instead of being written into C first
/// and read back; the sums are the same, term for term.
void dptune_sgemm_packed(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                         const float *a, ptrdiff_t lda, const float *packed_b, const float *bias,
                         float beta, float *c, ptrdiff_t ldc);

#endif
