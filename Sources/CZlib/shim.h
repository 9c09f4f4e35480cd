#ifndef DLINFER_CZLIB_SHIM_H
#define DLINFER_CZLIB_SHIM_H
#include <zlib.h>
/* inflateInit2 is a macro; wrap it for Swift. */
static inline int dl_inflate_init_raw(z_stream *s) { return inflateInit2(s, -15); }
#endif
