/* buf.h -- a growable byte buffer with a hard size cap (after curl's dynbuf).
 *
 * Every buffer that grows from outside input has a cap, so a hostile peer
 * cannot make us allocate without bound. The contents are always followed by
 * a NUL byte (not counted in len), so text can be used as a C string. */
#ifndef MW_BUF_H
#define MW_BUF_H

#include "core/mw.h"

#include <stdarg.h>

struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap; /* the most len may ever reach */
};

void buf_init(struct buf *b, size_t cap);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the memory */
int buf_add(struct buf *b, const void *data, size_t len) MW_MUST_CHECK;
int buf_addc(struct buf *b, char c) MW_MUST_CHECK;
int buf_adds(struct buf *b, const char *s) MW_MUST_CHECK;
int buf_printf(struct buf *b, const char *fmt, ...) MW_PRINTF(2, 3) MW_MUST_CHECK;
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) MW_MUST_CHECK;
/* Makes room for at least n more bytes. */
int buf_reserve(struct buf *b, size_t n) MW_MUST_CHECK;
/* Hands the contents (NUL-terminated) to the caller and resets the buffer. */
char *buf_take(struct buf *b, size_t *len);

#endif
