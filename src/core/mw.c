/* mw.c -- error names and tiny helpers every module uses. */
#include "core/mw.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

const char *mw_strerror(int err)
{
	switch (err) {
	case MW_OK: return "ok";
	case MW_ERR_NOMEM: return "out of memory";
	case MW_ERR_INVALID: return "invalid input";
	case MW_ERR_IO: return "I/O error";
	case MW_ERR_NOTFOUND: return "not found";
	case MW_ERR_AUTH: return "not authorised";
	case MW_ERR_TOOBIG: return "too big";
	case MW_ERR_BUSY: return "busy";
	case MW_ERR_STATE: return "wrong state";
	case MW_ERR_EXISTS: return "already exists";
	}
	return "unknown error";
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mw_now_ns(void) { return clock_ns(CLOCK_REALTIME); }
int64_t mw_mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

struct timespec mw_mono_timespec(int64_t mono_ns)
{
	struct timespec ts = {(time_t)(mono_ns / 1000000000LL), (long)(mono_ns % 1000000000LL)};
	return ts;
}

void mw_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mw_unhex(const char *in, uint8_t *out, size_t len)
{
	if (strlen(in) != 2 * len)
		return MW_ERR_INVALID;
	for (size_t i = 0; i < len; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return MW_ERR_INVALID;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return MW_OK;
}

int mw_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	/* strtoll would skip leading white space; the whole string must be the number. */
	if (!s || !*s || isspace((unsigned char)*s))
		return MW_ERR_INVALID;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return MW_ERR_INVALID;
	*out = v;
	return MW_OK;
}

int mw_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n = strlen(src);
	if (cap == 0)
		return MW_ERR_TOOBIG;
	if (n >= cap) {
		memcpy(dst, src, cap - 1);
		dst[cap - 1] = '\0';
		return MW_ERR_TOOBIG;
	}
	memcpy(dst, src, n + 1);
	return MW_OK;
}

int mw_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return MW_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return MW_OK;
}

int mw_write_private(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	int fd, rc = MW_ERR_IO;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return MW_ERR_TOOBIG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return MW_ERR_IO;
	if (write(fd, data, len) == (ssize_t)len && fsync(fd) == 0)
		rc = MW_OK;
	if (close(fd) || rc || rename(tmp, path)) {
		unlink(tmp);
		return MW_ERR_IO;
	}
	return MW_OK;
}
