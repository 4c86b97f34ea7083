// OpenBLAS's cblas.h also declares openblas_set_num_threads, which Linalg uses.
#include <stddef.h>
#include <cblas.h>

// LAPACK's symmetric eigensolver. OpenBLAS carries LAPACK in the same library, but
// Debian ships no lapack.h for it, so the one routine Linalg calls is declared here
// (gfortran's calling convention: trailing lengths of the character arguments).
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_length, size_t uplo_length);
