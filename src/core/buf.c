/* buf.c -- capped growable buffer; see buf.h. */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->cap);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t need, nalloc;
	char *p;

	if (n > b->cap || b->len > b->cap - n)
		return MW_ERR_TOOBIG;
	need = b->len + n + 1;
	if (need <= b->alloc)
		return MW_OK;
	nalloc = b->alloc ? b->alloc : 64;
	while (nalloc < need)
		nalloc *= 2;
	p = realloc(b->data, nalloc);
	if (!p)
		return MW_ERR_NOMEM;
	b->data = p;
	b->alloc = nalloc;
	return MW_OK;
}

int buf_add(struct buf *b, const void *data, size_t len)
{
	int rc = buf_reserve(b, len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return MW_OK;
}

int buf_addc(struct buf *b, char c) { return buf_add(b, &c, 1); }
int buf_adds(struct buf *b, const char *s) { return buf_add(b, s, strlen(s)); }

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, rc;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return MW_ERR_INVALID;
	rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return MW_OK;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *buf_take(struct buf *b, size_t *len)
{
	char *p = b->data;
	if (len)
		*len = b->len;
	if (!p)
		p = calloc(1, 1);
	buf_init(b, b->cap);
	return p;
}
