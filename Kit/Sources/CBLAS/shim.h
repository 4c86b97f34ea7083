// OpenBLAS's cblas.h also declares openblas_set_num_threads, which Linalg uses.
#include <cblas.h>
