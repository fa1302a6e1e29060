/* fuzz_http_response.c -- libFuzzer harness for the HTTP answer parser.
 *
 * Every answer the edge reads comes from a server we do not control (the hub,
 * a webhook, whatever answers on that port), so http_parse() sees hostile
 * bytes. The parser is incremental: the same answer must give the same
 * outcome however the network cuts it. So each input is parsed twice, once
 * whole and once in pieces whose sizes come from a generator seeded by the
 * input itself (repeatable), then the connection is "closed"; the two runs
 * must agree on the result code, status, body and keep-alive, and the
 * harness aborts otherwise. Along the way: the parser never takes bytes
 * past the end of a finished answer, never writes a body past its cap, and
 * every refusal says why. Both a GET and a HEAD reading are tried. */
#include "core/buf.h"
#include "core/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BODY_CAP (64u * 1024)

struct outcome {
	int rc, status;
	bool keep_alive;
	struct buf body;
};

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Piece sizes: mostly tiny (1-8 bytes), sometimes up to 4 KiB. */
static size_t piece(uint64_t *s)
{
	uint64_t r = next(s);
	return (r & 3) ? 1 + (size_t)(r >> 8) % 8 : 1 + (size_t)(r >> 8) % 4096;
}

static void run(const uint8_t *data, size_t size, bool head, uint64_t seed, struct outcome *o)
{
	static struct http_parser p; /* 16 KiB: not on the stack */
	size_t off = 0, used;
	int rc = MW_OK;

	buf_init(&o->body, BODY_CAP);
	http_parser_init(&p, &o->body, BODY_CAP, head);
	while (off < size && rc == MW_OK && !p.done) {
		size_t n = seed ? piece(&seed) : size;
		if (n > size - off)
			n = size - off;
		rc = http_parse(&p, (const char *)data + off, n, &used);
		if (used > n || (rc == MW_OK && !p.done && used != n))
			abort(); /* took what it was not given, or left bytes mid-answer */
		off += used;
	}
	if (rc == MW_OK && !p.done)
		rc = http_parse_eof(&p);
	if (rc != MW_OK && p.error[0] == '\0')
		abort(); /* a refusal must say why */
	if (rc == MW_OK && (!p.done || p.status < 200 || p.status > 599))
		abort();
	if (o->body.len > BODY_CAP)
		abort();
	o->rc = rc;
	o->status = rc == MW_OK ? p.status : 0;
	o->keep_alive = rc == MW_OK && p.keep_alive;
}

static void compare(const uint8_t *data, size_t size, bool head, uint64_t seed)
{
	struct outcome whole, cut;

	run(data, size, head, 0, &whole);
	run(data, size, head, seed, &cut);
	if (whole.rc != cut.rc || whole.status != cut.status || whole.keep_alive != cut.keep_alive)
		abort();
	if (whole.rc == MW_OK &&
	    (whole.body.len != cut.body.len ||
	     (whole.body.len && memcmp(whole.body.data, cut.body.data, whole.body.len))))
		abort();
	buf_free(&whole.body);
	buf_free(&cut.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t seed = 1469598103934665603ULL;

	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 1099511628211ULL;
	seed |= 1; /* xorshift needs a non-zero state */
	compare(data, size, false, seed);
	compare(data, size, true, seed);
	return 0;
}
