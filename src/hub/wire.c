/* wire.c -- reads an edge's batch in one pass, without building a DOM.
 *
 * Why this is hand-written: the project prefers libraries, and the general
 * path of POST /v1/ingest (ingest.c) is jansson. But jansson builds a DOM
 * of the whole batch -- an allocation per key and per value, about 7 us
 * per event to load and as much again to free -- and event_from_json()
 * then re-dumps every attrs object to get its canonical text (about 4 us
 * more). That was most of the hub's ingest time. Yet mw-edge only ever
 * sends one shape: the batch {"node":..,"events":[..],"drops":[..]} of
 * uplink_build_body(), each event being event_to_wire()'s output -- the
 * canonical encoding in its fixed key order (docs/protocol.md) followed by
 * "prev" and "hash". This scanner reads exactly that shape, slicing the
 * fields out in place, and checks each attrs with a small non-allocating
 * validator: valid JSON, nested at most WIRE_DEPTH deep, and already
 * canonical (keys sorted and unescaped, no white space, strings and
 * numbers written as jansson writes them). So the attrs text stored is
 * the very substring the edge hashed, and it is what event_set_attrs()
 * would have made of it.
 *
 * It is strict on purpose and is not a JSON parser: white space inside,
 * another key order, a non-canonical attrs, an unknown field, a bad value
 * -- anything it does not recognise -- gives MW_ERR_INVALID without a
 * message, and the caller falls back to the jansson path, which accepts
 * or refuses as before and names the faulty field. The fast path thus
 * accepts only batches the general path accepts, and yields the same
 * struct ingest_batch (test_hub_wire and fuzz_wire check the two against
 * each other). */
#include "hub/wire.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIRE_DEPTH 32    /* deeper attrs take the general path */
#define WIRE_NUM_MAX 31  /* longer number literals too (jansson writes <= 25) */
#define WIRE_FIRST_CAP 8
#define WIRE_EVENT_MIN 240 /* bytes of the shortest wire event, with its comma */

struct scan {
	const char *p, *end;
};

static bool lit(struct scan *s, const char *text, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, text, n) != 0)
		return false;
	s->p += n;
	return true;
}
#define LIT(s, text) lit((s), (text), sizeof(text) - 1)

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
	       c == '_' || c == ':' || c == '/' || c == '-';
}

/* "id" (see event_id_valid) of 1 to max characters, copied into dst. */
static bool id(struct scan *s, char *dst, size_t max)
{
	const char *b;
	size_t n;

	if (!LIT(s, "\""))
		return false;
	b = s->p;
	while (s->p < s->end && id_char(*s->p))
		s->p++;
	n = (size_t)(s->p - b);
	if (n == 0 || n > max || !LIT(s, "\""))
		return false;
	memcpy(dst, b, n);
	dst[n] = '\0';
	return true;
}

/* A JSON integer from 0 to INT64_MAX (jansson's json_int_t range). */
static bool unum(struct scan *s, uint64_t *out)
{
	const char *b = s->p;
	uint64_t v = 0;

	if (s->p < s->end && *s->p == '0') {
		s->p++;
		*out = 0;
		return !(s->p < s->end && is_digit(*s->p)); /* "01" is not JSON */
	}
	while (s->p < s->end && is_digit(*s->p)) {
		unsigned d = (unsigned)(*s->p - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		s->p++;
	}
	*out = v;
	return s->p > b;
}

/* Hex digit values plus one (0: not a hex digit), upper case included. */
#define HX(c, v) [c] = (v) + 1
static const unsigned char hex_any[256] = {
	HX('0', 0), HX('1', 1), HX('2', 2), HX('3', 3), HX('4', 4), HX('5', 5), HX('6', 6),
	HX('7', 7), HX('8', 8), HX('9', 9), HX('a', 10), HX('b', 11), HX('c', 12),
	HX('d', 13), HX('e', 14), HX('f', 15), HX('A', 10), HX('B', 11), HX('C', 12),
	HX('D', 13), HX('E', 14), HX('F', 15),
};
#undef HX

static bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }
static bool is_upper_hex(char c) { return is_digit(c) || (c >= 'A' && c <= 'F'); }

/* "64 hex digits" into out, either case as mw_unhex() takes them. */
static bool hash_hex(struct scan *s, uint8_t *out)
{
	const unsigned char *h = (const unsigned char *)s->p + 1;
	unsigned bad = 0;

	if ((size_t)(s->end - s->p) < EVENT_HEX_LEN + 2 || s->p[0] != '"' ||
	    s->p[EVENT_HEX_LEN + 1] != '"')
		return false;
	for (size_t i = 0; i < EVENT_HASH_LEN; i++) {
		unsigned hi = hex_any[h[2 * i]], lo = hex_any[h[2 * i + 1]];
		bad |= (hi == 0) | (lo == 0);
		out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
	}
	s->p += EVENT_HEX_LEN + 2;
	return !bad;
}

/* A blob reference: kept as sent, so it must be what set_blobs() writes,
 * 64 lower-case hex digits. */
static bool blob_hex(struct scan *s)
{
	if ((size_t)(s->end - s->p) < EVENT_HEX_LEN + 2 || s->p[0] != '"' ||
	    s->p[EVENT_HEX_LEN + 1] != '"')
		return false;
	for (size_t i = 1; i <= EVENT_HEX_LEN; i++)
		if (!is_lower_hex(s->p[i]))
			return false;
	s->p += EVENT_HEX_LEN + 2;
	return true;
}

static bool severity(struct scan *s, enum severity *out)
{
	for (int i = SEV_DEBUG; i <= SEV_ALARM; i++) {
		const char *name = severity_name((enum severity)i);
		size_t n = strlen(name);
		if ((size_t)(s->end - s->p) >= n + 2 && s->p[0] == '"' &&
		    memcmp(s->p + 1, name, n) == 0 && s->p[n + 1] == '"') {
			s->p += n + 2;
			*out = (enum severity)i;
			return true;
		}
	}
	return false;
}

/* ---- attrs: a JSON validator that accepts only canonical text ---- */

static bool value(struct scan *s, int depth);

/* Four upper-case hex digits (jansson writes \u%04X). */
static bool hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;
	if (end - p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		if (!is_upper_hex(p[i]))
			return false;
		v = v << 4 | (unsigned)(hex_any[(unsigned char)p[i]] - 1);
	}
	*out = v;
	return true;
}

/* A \u escape at s->p (its backslash): canonical only where jansson
 * writes one -- control characters without a
 * short form, and every non-ASCII character (a surrogate pair above the
 * BMP). \u0000 and lone surrogates are refused by jansson itself. */
static bool unicode_escape(struct scan *s)
{
	unsigned cp, lo;

	if (!hex4(s->p + 2, s->end, &cp))
		return false;
	s->p += 6;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u' ||
		    !hex4(s->p + 2, s->end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
			return false;
		s->p += 6;
		return true;
	}
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return false;
	if (cp < 0x20)
		return cp != 0 && cp != '\b' && cp != '\f' && cp != '\n' && cp != '\r' && cp != '\t';
	return cp > 0x7F;
}

/* An escape at s->p (a backslash), as jansson writes it. */
static bool escape(struct scan *s)
{
	if (s->end - s->p < 2)
		return false;
	switch (s->p[1]) {
	case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
		s->p += 2;
		return true;
	case 'u':
		return unicode_escape(s);
	default:
		return false; /* "\/" is valid JSON but jansson writes '/' as is */
	}
}

/* A string in canonical form: ASCII, escapes only where needed. *plain
 * turns false when it holds an escape. */
static bool string(struct scan *s, bool *plain)
{
	if (!LIT(s, "\""))
		return false;
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;
		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20 || c > 0x7F)
			return false;
		if (c == '\\') {
			*plain = false;
			if (!escape(s))
				return false;
		} else {
			s->p++;
		}
	}
	return false;
}

/* How jansson writes a real: "%.17g", ".0" added to look like a real,
 * no '+' and no leading zeros in the exponent. */
static int format_real(double d, char *out, size_t cap)
{
	char tmp[40], *e;
	int n = snprintf(tmp, sizeof(tmp), "%.17g", d);
	size_t k = 0;

	if (n < 0 || (size_t)n >= sizeof(tmp) || (size_t)n + 3 > cap)
		return -1;
	if (!strchr(tmp, '.') && !strchr(tmp, 'e')) {
		memcpy(out, tmp, (size_t)n);
		memcpy(out + n, ".0", 3);
		return n + 2;
	}
	e = strchr(tmp, 'e');
	for (const char *p = tmp; *p; p++) {
		if (e && p == e + 1 && (*p == '+' || *p == '-')) {
			if (*p == '-')
				out[k++] = '-';
			while (p[1] == '0' && p[2])
				p++;
			continue;
		}
		out[k++] = *p;
	}
	out[k] = '\0';
	return (int)k;
}

/* A number literal as the JSON grammar has it. */
struct numlit {
	const char *text;
	size_t len;
	bool neg, exp;
	const char *ip, *fp; /* integer and fraction digits; fp NULL without '.' */
	size_t in, fn;
};

static size_t digits(struct scan *s)
{
	const char *b = s->p;
	while (s->p < s->end && is_digit(*s->p))
		s->p++;
	return (size_t)(s->p - b);
}

static bool number_scan(struct scan *s, struct numlit *n)
{
	memset(n, 0, sizeof(*n));
	n->text = s->p;
	n->neg = s->p < s->end && *s->p == '-';
	s->p += n->neg;
	n->ip = s->p;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (s->p < s->end && *s->p >= '1' && *s->p <= '9')
		digits(s);
	else
		return false;
	n->in = (size_t)(s->p - n->ip);
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		n->fp = s->p;
		if ((n->fn = digits(s)) == 0)
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		n->exp = true;
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (digits(s) == 0)
			return false;
	}
	n->len = (size_t)(s->p - n->text);
	return true;
}

/* A quick yes for the usual canonical literals, so that most numbers need
 * no strtod and snprintf: integers of up to 18 digits (always in range),
 * and decimals of up to 15 digits whose value a double holds exactly
 * (their digits are divisible by 5^(fraction digits)). For those "%.17g"
 * gives back the literal's own digits -- in fixed notation, the value
 * being 0 or at least 1e-4 -- less trailing zeros, and jansson adds ".0"
 * to a whole number. Anything else gets the full check. */
static bool number_plain(const struct numlit *n)
{
	uint64_t v = 0, p5 = 1;
	size_t z = 0;

	if (n->exp)
		return false;
	if (!n->fp)
		return !(n->neg && n->ip[0] == '0') && n->in <= 18; /* "-0" reads back as 0 */
	if (n->in + n->fn > 15 || (n->fn > 1 && n->fp[n->fn - 1] == '0'))
		return false;
	while (z < n->fn && n->fp[z] == '0')
		z++;
	if (n->ip[0] == '0' && z > 3 && z < n->fn)
		return false; /* below 1e-4: "%.17g" writes an exponent */
	for (size_t i = 0; i < n->in; i++)
		v = v * 10 + (uint64_t)(n->ip[i] - '0');
	for (size_t i = 0; i < n->fn; i++) {
		v = v * 10 + (uint64_t)(n->fp[i] - '0');
		p5 *= 5;
	}
	return v % p5 == 0;
}

/* The full check: read the value as jansson does, write it as jansson
 * does, compare. */
static bool number_full(const struct numlit *n)
{
	char lit_[WIRE_NUM_MAX + 1], out[48], *end;
	int k;

	if (n->len > WIRE_NUM_MAX)
		return false;
	memcpy(lit_, n->text, n->len);
	lit_[n->len] = '\0';
	errno = 0;
	if (n->fp || n->exp) {
		double d = strtod(lit_, &end);
		if (*end || isinf(d)) /* jansson refuses an overflow */
			return false;
		k = format_real(d, out, sizeof(out));
	} else {
		long long v = strtoll(lit_, &end, 10);
		if (*end || errno == ERANGE)
			return false;
		k = snprintf(out, sizeof(out), "%lld", v);
	}
	return k > 0 && (size_t)k == n->len && memcmp(out, n->text, n->len) == 0;
}

/* A number by the JSON grammar, written as jansson writes it. */
static bool number(struct scan *s)
{
	struct numlit n;
	return number_scan(s, &n) && (number_plain(&n) || number_full(&n));
}

bool wire_number_canonical(const char *text, size_t len)
{
	struct scan s = {text, text + len};
	return number(&s) && s.p == s.end;
}

/* Keys must come in strictly increasing byte order (JSON_SORT_KEYS; also
 * rules out duplicates, which the general path refuses). */
static bool key_after(const char *prev, size_t prev_n, const char *k, size_t n)
{
	int c = memcmp(prev, k, prev_n < n ? prev_n : n);
	return c < 0 || (c == 0 && prev_n < n);
}

static bool object(struct scan *s, int depth)
{
	const char *prev = NULL;
	size_t prev_n = 0;

	if (depth > WIRE_DEPTH || !LIT(s, "{"))
		return false;
	if (LIT(s, "}"))
		return true;
	do {
		const char *k = s->p + 1;
		bool plain = true;
		size_t n;
		if (!string(s, &plain) || !plain) /* escaped keys: order is of decoded bytes */
			return false;
		n = (size_t)(s->p - 1 - k);
		if (prev && !key_after(prev, prev_n, k, n))
			return false;
		prev = k;
		prev_n = n;
		if (!LIT(s, ":") || !value(s, depth + 1))
			return false;
	} while (LIT(s, ","));
	return LIT(s, "}");
}

static bool array(struct scan *s, int depth)
{
	if (depth > WIRE_DEPTH || !LIT(s, "["))
		return false;
	if (LIT(s, "]"))
		return true;
	do {
		if (!value(s, depth + 1))
			return false;
	} while (LIT(s, ","));
	return LIT(s, "]");
}

static bool value(struct scan *s, int depth)
{
	bool plain = true;

	if (s->p == s->end)
		return false;
	switch (*s->p) {
	case '{':
		return object(s, depth);
	case '[':
		return array(s, depth);
	case '"':
		return string(s, &plain);
	case 't':
		return LIT(s, "true");
	case 'f':
		return LIT(s, "false");
	case 'n':
		return LIT(s, "null");
	default:
		return number(s);
	}
}

/* ---- events and drops ---- */

static char *dup_span(const char *p, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, p, n);
		d[n] = '\0';
	}
	return d;
}

/* "blobs":[...] as set_blobs() writes it: up to EVENT_BLOBS_MAX
 * lower-case hex hashes. */
static bool blobs(struct scan *s)
{
	size_t n = 0;

	if (!LIT(s, "["))
		return false;
	if (LIT(s, "]"))
		return true;
	do {
		if (++n > EVENT_BLOBS_MAX || !blob_hex(s))
			return false;
	} while (LIT(s, ","));
	return LIT(s, "]");
}

/* node, seq, ts, source, kind and severity, in this order. */
static bool event_head(struct scan *s, const char *node, struct event *e)
{
	char enode[EVENT_ID_MAX + 1];
	uint64_t ts;

	if (!LIT(s, "{\"node\":") || !id(s, enode, EVENT_ID_MAX) || strcmp(enode, node) != 0)
		return false;
	if (!LIT(s, ",\"seq\":") || !unum(s, &e->seq) || e->seq < 1 || !LIT(s, ",\"ts\":") ||
	    !unum(s, &ts))
		return false;
	e->ts = (int64_t)ts;
	memcpy(e->node, enode, sizeof(e->node));
	return LIT(s, ",\"source\":") && id(s, e->source, EVENT_ID_MAX) &&
	       LIT(s, ",\"kind\":") && id(s, e->kind, EVENT_ID_MAX) &&
	       LIT(s, ",\"severity\":") && severity(s, &e->severity);
}

/* attrs and blobs, copied as they are (they are canonical). */
static int event_body(struct scan *s, struct event *e)
{
	const char *a, *b;
	size_t an;

	if (!LIT(s, ",\"attrs\":"))
		return MW_ERR_INVALID;
	a = s->p;
	if (!object(s, 1) || (an = (size_t)(s->p - a)) > EVENT_ATTRS_MAX)
		return MW_ERR_INVALID;
	if (!LIT(s, ",\"blobs\":"))
		return MW_ERR_INVALID;
	b = s->p;
	if (!blobs(s))
		return MW_ERR_INVALID;
	if (!(e->attrs = dup_span(a, an)) || !(e->blobs = dup_span(b, (size_t)(s->p - b))))
		return MW_ERR_NOMEM;
	return MW_OK;
}

static int scan_event(struct scan *s, const char *node, struct event *e)
{
	int rc;

	if (!event_head(s, node, e))
		return MW_ERR_INVALID;
	if ((rc = event_body(s, e)))
		return rc;
	if (!LIT(s, ",\"prev\":") || !hash_hex(s, e->prev) || !LIT(s, ",\"hash\":") ||
	    !hash_hex(s, e->hash) || !LIT(s, "}"))
		return MW_ERR_INVALID;
	return MW_OK;
}

/* Makes room for one more element of size sz in *v (n used, *cap held). */
static int grow(void **v, size_t n, size_t *cap, size_t sz)
{
	size_t ncap = *cap ? 2 * *cap : WIRE_FIRST_CAP;
	void *nv;

	if (n < *cap)
		return MW_OK;
	if (!(nv = realloc(*v, ncap * sz)))
		return MW_ERR_NOMEM;
	*v = nv;
	*cap = ncap;
	return MW_OK;
}

static int scan_events(struct scan *s, struct ingest_batch *b)
{
	/* Room for as many events as the text can hold, allocated once; the
	 * pages of the unused tail are never touched. */
	size_t cap = (size_t)(s->end - s->p) / WIRE_EVENT_MIN + 1;
	int rc;

	if (!LIT(s, "["))
		return MW_ERR_INVALID;
	if (LIT(s, "]"))
		return MW_OK;
	if (!(b->events = malloc(cap * sizeof(*b->events))))
		return MW_ERR_NOMEM;
	do {
		struct event *e;
		if ((rc = grow((void **)&b->events, b->n_events, &cap, sizeof(*e))))
			return rc;
		e = &b->events[b->n_events];
		event_init(e);
		if ((rc = scan_event(s, b->node, e))) {
			event_clear(e);
			return rc;
		}
		b->n_events++;
		if (b->n_events > 1 && e->seq <= e[-1].seq)
			return MW_ERR_INVALID;
	} while (LIT(s, ","));
	return LIT(s, "]") ? MW_OK : MW_ERR_INVALID;
}

/* {"from":..,"to":..,"prev":..,"last":..,"reason":..}, as the edge's
 * json_dumps(JSON_PRESERVE_ORDER) writes it. */
static bool scan_drop(struct scan *s, struct db_drop *d)
{
	memset(d, 0, sizeof(*d));
	return LIT(s, "{\"from\":") && unum(s, &d->from) && d->from >= 1 &&
	       LIT(s, ",\"to\":") && unum(s, &d->to) && d->to >= d->from &&
	       LIT(s, ",\"prev\":") && hash_hex(s, d->prev) && LIT(s, ",\"last\":") &&
	       hash_hex(s, d->last) && LIT(s, ",\"reason\":") &&
	       id(s, d->reason, sizeof(d->reason) - 1) && LIT(s, "}");
}

static int scan_drops(struct scan *s, struct ingest_batch *b)
{
	size_t cap = 0;
	int rc;

	if (!LIT(s, "["))
		return MW_ERR_INVALID;
	if (LIT(s, "]"))
		return MW_OK;
	do {
		if ((rc = grow((void **)&b->drops, b->n_drops, &cap, sizeof(*b->drops))))
			return rc;
		if (!scan_drop(s, &b->drops[b->n_drops]))
			return MW_ERR_INVALID;
		b->n_drops++;
		if (b->n_drops > 1 && b->drops[b->n_drops - 1].from <= b->drops[b->n_drops - 2].to)
			return MW_ERR_INVALID;
	} while (LIT(s, ","));
	return LIT(s, "]") ? MW_OK : MW_ERR_INVALID;
}

int wire_batch_scan(const char *text, size_t len, struct ingest_batch *out)
{
	struct scan s = {text, text + len};
	int rc = MW_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	skip_ws(&s);
	if (!LIT(&s, "{\"node\":") || !id(&s, out->node, EVENT_ID_MAX) ||
	    !LIT(&s, ",\"events\":"))
		goto fail;
	if ((rc = scan_events(&s, out)))
		goto fail;
	if (LIT(&s, ",\"drops\":") && (rc = scan_drops(&s, out)))
		goto fail;
	rc = MW_ERR_INVALID;
	if (!LIT(&s, "}"))
		goto fail;
	skip_ws(&s);
	if (s.p != s.end)
		goto fail;
	return MW_OK;
fail:
	ingest_batch_free(out);
	return rc;
}
