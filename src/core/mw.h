/* mw.h -- what every Millwright module shares: error codes, small helpers.
 *
 * Functions that can fail return 0 or a negative enum mw_err. The cause is
 * logged once, where it is known; callers only pass the code up. */
#ifndef MW_H
#define MW_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MW_MUST_CHECK __attribute__((warn_unused_result))
#define MW_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum mw_err {
	MW_OK = 0,
	MW_ERR_NOMEM = -1,   /* allocation failed or a buffer cap was hit */
	MW_ERR_INVALID = -2, /* bad input: config, request, event */
	MW_ERR_IO = -3,	     /* file, socket or database I/O failed */
	MW_ERR_NOTFOUND = -4,
	MW_ERR_AUTH = -5,   /* missing or wrong credential */
	MW_ERR_TOOBIG = -6, /* input over its size limit */
	MW_ERR_BUSY = -7,   /* try again later (peer away, queue full) */
	MW_ERR_STATE = -8,  /* call not valid now (closed, stopping) */
	MW_ERR_EXISTS = -9, /* the name is taken */
};

const char *mw_strerror(int err);

/* Wall-clock time in nanoseconds since the Unix epoch (UTC). */
int64_t mw_now_ns(void);
/* Monotonic time in nanoseconds, for intervals and timeouts. */
int64_t mw_mono_ns(void);
/* A mw_mono_ns() instant as the timespec pthread_cond_timedwait() takes on a
 * condition variable set to CLOCK_MONOTONIC. */
struct timespec mw_mono_timespec(int64_t mono_ns);

/* Hex-encode len bytes into out (2*len+1 bytes, NUL-terminated). */
void mw_hex(const uint8_t *in, size_t len, char *out);
/* Decode exactly 2*len hex digits into out; MW_ERR_INVALID on anything else. */
int mw_unhex(const char *in, uint8_t *out, size_t len) MW_MUST_CHECK;

/* strtoll/strtoull with full error checks: the whole string must be a number
 * within [min, max]. */
int mw_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) MW_MUST_CHECK;

/* Copy at most cap-1 bytes and NUL-terminate; returns MW_ERR_TOOBIG when cut. */
int mw_strlcpy(char *dst, const char *src, size_t cap);

/* Replaces path with len bytes of data, readable by its owner only (mode
 * 0600): written to path.tmp, fsync'd and renamed over path, so a crash
 * leaves the old file or the new one, never half of one. For credentials. */
int mw_write_private(const char *path, const void *data, size_t len) MW_MUST_CHECK;

/* Random bytes from the kernel (getrandom). */
int mw_random(void *buf, size_t len) MW_MUST_CHECK;

#endif
