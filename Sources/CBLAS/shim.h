#ifndef DLINFER_CBLAS_SHIM_H
#define DLINFER_CBLAS_SHIM_H
#include <cblas.h>
#endif
