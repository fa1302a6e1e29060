/* http.c -- a small HTTP/1.1 client of our own; see http.h for what it does
 * and why we write it rather than link libcurl (in short: libcurl's
 * dependency tree alone costs the edge ~7 MiB of its 8 MiB memory budget).
 *
 * Two halves. The parser (http_parser_*, http_parse) is pure: it takes the
 * answer's bytes in pieces of any size and moves through a small state
 * machine (status line, headers, then a body framed by Content-Length, by
 * chunks, or by the end of the connection), with hard caps on the header
 * block and the body, and refuses anything it does not understand rather
 * than guess. The transport (http_do) resolves, connects without blocking
 * and waits with poll() against one deadline for the whole request, sends
 * with MSG_NOSIGNAL, and feeds what it reads to the parser.
 *
 * Keep-alive: a client holds at most one connection, to the last peer. A
 * server may close an idle connection at any moment, so a request on a
 * reused connection that fails before any byte of the answer arrived is
 * sent once more on a fresh connection; never after part of an answer came
 * (the server did see the request then, and might act on it twice). */
#include "core/http.h"
#include "core/http_tls.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MW_VERSION
#define MW_VERSION "dev"
#endif

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_MAX_RESPONSE (4u << 20)
#define HOST_MAX 256
#define NAME_MAX_ (HOST_MAX + 16) /* "host:port" or a socket path */
#define REQUEST_HEAD_MAX (64u * 1024)
#define READ_CHUNK (16u * 1024)
#define CHUNK_DIGITS_MAX 15 /* 2^60: far over any cap, and no overflow */

enum state {
	S_STATUS,
	S_HEADERS,
	S_BODY_LEN,
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_END,
	S_TRAILERS,
	S_BODY_EOF,
	S_DONE,
	S_FAILED,
};

/* ------------------------------------------------------------------ parser */

static int fail(struct http_parser *p, int rc, const char *fmt, ...) MW_PRINTF(3, 4);

static int fail(struct http_parser *p, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	p->state = S_FAILED;
	p->keep_alive = false;
	return rc;
}

/* Up to 40 bytes of untrusted text, fit for an error message. */
static const char *shown(const char *s, char *out, size_t cap)
{
	size_t i, max = cap - 4 < 40 ? cap - 4 : 40;
	for (i = 0; s[i] && i < max; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	mw_strlcpy(out + i, s[i] ? "..." : "", cap - i);
	return out;
}

void http_parser_init(struct http_parser *p, struct buf *body, size_t max_body, bool head)
{
	/* Everything but the line buffer, which is only read up to line_len. */
	memset(p, 0, offsetof(struct http_parser, line));
	p->body = body;
	p->max_body = max_body;
	p->head = head;
	p->state = S_STATUS;
}

static int finish(struct http_parser *p)
{
	p->state = S_DONE;
	p->done = true;
	return MW_OK;
}

static bool in_head(const struct http_parser *p)
{
	return p->state == S_STATUS || p->state == S_HEADERS || p->state == S_TRAILERS;
}

/* Moves bytes up to the next LF into p->line. 1: a whole line is in, its
 * CR LF removed; 0: all of data was taken and the line goes on; <0: error. */
static int take_line(struct http_parser *p, const char *data, size_t len, size_t *used)
{
	const char *nl = memchr(data, '\n', len);
	size_t n = nl ? (size_t)(nl - data) + 1 : len;

	if (in_head(p) && (p->head_bytes += n) > HTTP_HEADER_MAX)
		return fail(p, MW_ERR_TOOBIG, "%s larger than %u bytes",
			    p->state == S_TRAILERS ? "trailers" : "headers", HTTP_HEADER_MAX);
	if (p->line_len + n > HTTP_HEADER_MAX)
		return fail(p, MW_ERR_TOOBIG, "a line longer than %u bytes", HTTP_HEADER_MAX);
	memcpy(p->line + p->line_len, data, n);
	p->line_len += n;
	*used = n;
	if (!nl)
		return 0;
	n = p->line_len - 1;
	if (n && p->line[n - 1] == '\r')
		n--;
	p->line[n] = '\0';
	p->line_len = 0;
	if (memchr(p->line, '\0', n) || memchr(p->line, '\r', n))
		return fail(p, MW_ERR_INVALID, "a NUL or CR byte inside a line");
	return 1;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int on_status(struct http_parser *p)
{
	const char *s = p->line;
	char tmp[48];

	if (strncmp(s, "HTTP/1.", 7) || !is_digit(s[7]) || s[8] != ' ' || !is_digit(s[9]) ||
	    !is_digit(s[10]) || !is_digit(s[11]) || (s[12] != ' ' && s[12] != '\0'))
		return fail(p, MW_ERR_INVALID, "invalid status line \"%s\"",
			    shown(s, tmp, sizeof(tmp)));
	for (const char *r = s + 12; *r; r++)
		if ((unsigned char)*r < 0x20 && *r != '\t')
			return fail(p, MW_ERR_INVALID, "control character in the status line");
	p->minor = s[7] - '0';
	p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (p->status < 100 || p->status > 599)
		return fail(p, MW_ERR_INVALID, "status %d out of range", p->status);
	p->keep_alive = p->minor >= 1;
	p->saw_close = p->chunked = p->has_length = false;
	p->length = 0;
	p->state = S_HEADERS;
	return MW_OK;
}

/* Calls fn on each comma-separated, trimmed element of a header value. */
static int each_token(struct http_parser *p, char *v, int (*fn)(struct http_parser *, char *))
{
	char *next;
	int rc = MW_OK;

	for (; v && rc == MW_OK; v = next) {
		char *end;
		if ((next = strchr(v, ',')))
			*next++ = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*v)
			rc = fn(p, v);
	}
	return rc;
}

static int on_connection_token(struct http_parser *p, char *tok)
{
	if (strcasecmp(tok, "close") == 0) {
		p->saw_close = true;
		p->keep_alive = false;
	} else if (strcasecmp(tok, "keep-alive") == 0 && !p->saw_close) {
		p->keep_alive = true;
	}
	return MW_OK;
}

static int on_coding(struct http_parser *p, char *tok)
{
	char tmp[48];

	/* We send no TE or Accept-Encoding, so chunked is all a server may use. */
	if (strcasecmp(tok, "chunked") != 0)
		return fail(p, MW_ERR_INVALID, "unsupported Transfer-Encoding \"%s\"",
			    shown(tok, tmp, sizeof(tmp)));
	if (p->chunked)
		return fail(p, MW_ERR_INVALID, "chunked given twice in Transfer-Encoding");
	p->chunked = true;
	return MW_OK;
}

static int on_length(struct http_parser *p, const char *v)
{
	uint64_t n = 0;
	char tmp[48];
	const char *s = v;

	if (!*s)
		return fail(p, MW_ERR_INVALID, "empty Content-Length");
	for (; *s; s++) {
		if (!is_digit(*s))
			return fail(p, MW_ERR_INVALID, "bad Content-Length \"%s\"",
				    shown(v, tmp, sizeof(tmp)));
		if (n > (UINT64_MAX - 9) / 10)
			return fail(p, MW_ERR_INVALID, "Content-Length overflows");
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (p->has_length && n != p->length)
		return fail(p, MW_ERR_INVALID, "two different Content-Length headers");
	p->has_length = true;
	p->length = n;
	return MW_OK;
}

/* "Name: value", the name a token, the value trimmed and free of controls. */
static int on_header(struct http_parser *p)
{
	char *line = p->line, *colon = strchr(line, ':'), *v, *end, tmp[48];

	if (line[0] == ' ' || line[0] == '\t')
		return fail(p, MW_ERR_INVALID, "folded header line");
	if (!colon || colon == line)
		return fail(p, MW_ERR_INVALID, "header line without a name: \"%s\"",
			    shown(line, tmp, sizeof(tmp)));
	*colon = '\0';
	for (const char *s = line; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return fail(p, MW_ERR_INVALID, "invalid header name \"%s\"",
				    shown(line, tmp, sizeof(tmp)));
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t');)
		*--end = '\0';
	for (const char *s = v; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return fail(p, MW_ERR_INVALID, "control character in header %s",
				    shown(line, tmp, sizeof(tmp)));
	if (p->status < 200 || p->state == S_TRAILERS)
		return MW_OK; /* an interim answer's headers and trailers change nothing */
	if (strcasecmp(line, "Content-Length") == 0)
		return on_length(p, v);
	if (strcasecmp(line, "Transfer-Encoding") == 0)
		return each_token(p, v, on_coding);
	if (strcasecmp(line, "Connection") == 0)
		return each_token(p, v, on_connection_token);
	return MW_OK;
}

static int on_headers_end(struct http_parser *p)
{
	if (p->status < 200) {
		if (p->status == 101)
			return fail(p, MW_ERR_INVALID,
				    "switching protocols (101), never asked for");
		p->state = S_STATUS; /* 100 Continue and the like: the answer follows */
		return MW_OK;
	}
	if (p->head || p->status == 204 || p->status == 304)
		return finish(p);
	if (p->chunked) {
		if (p->has_length) /* both: chunked wins, but trust the peer no further */
			p->keep_alive = false;
		p->state = S_CHUNK_SIZE;
		return MW_OK;
	}
	if (p->has_length) {
		if (p->length > p->max_body - p->body->len)
			return fail(p, MW_ERR_TOOBIG, "body of %llu bytes, over the %zu-byte cap",
				    (unsigned long long)p->length, p->max_body);
		if (buf_reserve(p->body, (size_t)p->length))
			return fail(p, MW_ERR_NOMEM, "no memory for a body of %llu bytes",
				    (unsigned long long)p->length);
		if (p->length == 0)
			return finish(p);
		p->state = S_BODY_LEN;
		return MW_OK;
	}
	p->keep_alive = false; /* the body runs to the end of the connection */
	p->state = S_BODY_EOF;
	return MW_OK;
}

static int hexval(char c)
{
	if (is_digit(c))
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "1a2b[;ext...]" */
static int on_chunk_size(struct http_parser *p)
{
	const char *s = p->line;
	uint64_t n = 0;
	int digits = 0, d;
	char tmp[48];

	for (; (d = hexval(*s)) >= 0; s++) {
		if (++digits > CHUNK_DIGITS_MAX)
			return fail(p, MW_ERR_INVALID, "chunk size too large");
		n = n * 16 + (uint64_t)d;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (!digits || (*s && *s != ';'))
		return fail(p, MW_ERR_INVALID, "invalid chunk size line \"%s\"",
			    shown(p->line, tmp, sizeof(tmp)));
	if (n > p->max_body - p->body->len)
		return fail(p, MW_ERR_TOOBIG, "body over the %zu-byte cap", p->max_body);
	if (n == 0) {
		p->head_bytes = 0;
		p->state = S_TRAILERS;
		return MW_OK;
	}
	p->length = n;
	p->state = S_CHUNK_DATA;
	return MW_OK;
}

static int on_line(struct http_parser *p)
{
	switch (p->state) {
	case S_STATUS: return on_status(p);
	case S_HEADERS: return p->line[0] ? on_header(p) : on_headers_end(p);
	case S_CHUNK_SIZE: return on_chunk_size(p);
	case S_CHUNK_END:
		if (p->line[0])
			return fail(p, MW_ERR_INVALID, "no CRLF after the chunk data");
		p->state = S_CHUNK_SIZE;
		return MW_OK;
	case S_TRAILERS: return p->line[0] ? on_header(p) : finish(p);
	}
	return fail(p, MW_ERR_STATE, "parser in no line state");
}

static int add_body(struct http_parser *p, const char *data, size_t n)
{
	if (n > p->max_body - p->body->len)
		return fail(p, MW_ERR_TOOBIG, "body over the %zu-byte cap", p->max_body);
	if (buf_add(p->body, data, n))
		return fail(p, MW_ERR_NOMEM, "no memory for the body");
	return MW_OK;
}

/* Body bytes framed by a length (Content-Length, or a chunk's size). */
static int take_counted(struct http_parser *p, const char *data, size_t len, size_t *used)
{
	size_t n = len < p->length ? len : (size_t)p->length;
	int rc = add_body(p, data, n);

	if (rc)
		return rc;
	*used = n;
	if ((p->length -= n) > 0)
		return MW_OK;
	if (p->state == S_CHUNK_DATA) {
		p->state = S_CHUNK_END;
		return MW_OK;
	}
	return finish(p);
}

static int step(struct http_parser *p, const char *data, size_t len, size_t *used)
{
	int rc;

	switch (p->state) {
	case S_BODY_LEN:
	case S_CHUNK_DATA: return take_counted(p, data, len, used);
	case S_BODY_EOF: *used = len; return add_body(p, data, len);
	default: rc = take_line(p, data, len, used); return rc > 0 ? on_line(p) : rc;
	}
}

int http_parse(struct http_parser *p, const char *data, size_t len, size_t *used)
{
	size_t off = 0;
	int rc = MW_OK;

	*used = 0;
	if (p->state == S_FAILED)
		return MW_ERR_STATE;
	while (off < len && p->state != S_DONE && rc == MW_OK) {
		size_t n = 0;
		rc = step(p, data + off, len - off, &n);
		off += n;
	}
	p->received += off;
	*used = off;
	return rc;
}

int http_parse_eof(struct http_parser *p)
{
	p->keep_alive = false;
	switch (p->state) {
	case S_DONE: return MW_OK;
	case S_BODY_EOF: return finish(p);
	case S_FAILED: return MW_ERR_STATE;
	case S_BODY_LEN:
		return fail(p, MW_ERR_IO, "connection closed %llu bytes before the end of the body",
			    (unsigned long long)p->length);
	default:
		return fail(p, MW_ERR_IO,
			    p->received ? "connection closed in the middle of the answer"
					: "connection closed before any answer");
	}
}

/* ---------------------------------------------------------------- the URL */

struct target {
	char host[HOST_MAX]; /* for getaddrinfo: a name or an address, no brackets */
	char port[8];
	char name[NAME_MAX_]; /* "host:port" or the socket path, for messages */
	char host_hdr[NAME_MAX_];
	const char *path; /* into the URL: "/..." or "?..." or "" */
	size_t path_len;  /* up to a '#', which is not sent */
	const char *unix_path;
	bool tls; /* https:// */
};

static int bad_url(char *err, size_t cap, const char *url, const char *why)
{
	char tmp[48];
	snprintf(err, cap, "URL \"%s\": %s", shown(url, tmp, sizeof(tmp)), why);
	return MW_ERR_INVALID;
}

static int parse_port(const char *s, size_t n, char *out, size_t cap, bool tls)
{
	int64_t v;
	char tmp[8];

	if (n == 0) {
		mw_strlcpy(out, tls ? "443" : "80", cap);
		return MW_OK;
	}
	if (n >= sizeof(tmp))
		return MW_ERR_INVALID;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (mw_parse_i64(tmp, 1, 65535, &v))
		return MW_ERR_INVALID;
	snprintf(out, cap, "%d", (int)v);
	return MW_OK;
}

/* The host part: a name, an IPv4 address, or [IPv6]; then [:port]. */
static int parse_authority(const char *a, size_t n, struct target *t, char *err, size_t cap,
			   const char *url)
{
	const char *host = a, *colon;
	size_t hlen;
	bool v6 = a[0] == '[';

	if (v6) {
		const char *close = memchr(a, ']', n);
		struct in6_addr addr;
		if (!close)
			return bad_url(err, cap, url, "no ']' after the IPv6 address");
		host = a + 1;
		hlen = (size_t)(close - host);
		colon = close + 1 < a + n ? close + 1 : NULL;
		if (colon && *colon != ':')
			return bad_url(err, cap, url, "junk after the IPv6 address");
		if (hlen >= sizeof(t->host))
			return bad_url(err, cap, url, "host name too long");
		memcpy(t->host, host, hlen);
		t->host[hlen] = '\0';
		if (inet_pton(AF_INET6, t->host, &addr) != 1)
			return bad_url(err, cap, url, "invalid IPv6 address");
	} else {
		colon = memchr(a, ':', n);
		hlen = colon ? (size_t)(colon - a) : n;
		if (hlen >= sizeof(t->host))
			return bad_url(err, cap, url, "host name too long");
		for (size_t i = 0; i < hlen; i++)
			if (!isalnum((unsigned char)a[i]) && !strchr("-._", a[i]))
				return bad_url(err, cap, url, "invalid character in the host name");
		memcpy(t->host, a, hlen);
		t->host[hlen] = '\0';
	}
	if (!t->host[0])
		return bad_url(err, cap, url, "no host");
	if (parse_port(colon ? colon + 1 : "", colon ? (size_t)(a + n - colon - 1) : 0, t->port,
		       sizeof(t->port), t->tls))
		return bad_url(err, cap, url, "invalid port (1-65535)");
	snprintf(t->name, sizeof(t->name), v6 ? "[%s]:%s" : "%s:%s", t->host, t->port);
	if (strcmp(t->port, t->tls ? "443" : "80") == 0)
		snprintf(t->host_hdr, sizeof(t->host_hdr), v6 ? "[%s]" : "%s", t->host);
	else
		mw_strlcpy(t->host_hdr, t->name, sizeof(t->host_hdr));
	return MW_OK;
}

static int parse_url(const char *url, const char *unix_path, struct target *t, char *err,
		     size_t cap)
{
	const char *a, *end;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!url || !*url)
		return bad_url(err, cap, "", "no URL");
	t->tls = strncasecmp(url, "https://", 8) == 0;
	if (!t->tls && strncasecmp(url, "http://", 7) != 0)
		return bad_url(err, cap, url, "only http:// and https:// URLs are supported");
	a = url + (t->tls ? 8 : 7);
	end = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t)(end - a)))
		return bad_url(err, cap, url, "user names in URLs are not supported");
	if ((rc = parse_authority(a, (size_t)(end - a), t, err, cap, url)))
		return rc;
	t->path = end;
	t->path_len = strcspn(end, "#");
	for (size_t i = 0; i < t->path_len; i++)
		if ((unsigned char)end[i] <= 0x20 || end[i] == 0x7f)
			return bad_url(err, cap, url, "space or control character in the path");
	if (unix_path && *unix_path) {
		if (strlen(unix_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return bad_url(err, cap, url, "unix socket path too long");
		t->unix_path = unix_path;
		mw_strlcpy(t->name, unix_path, sizeof(t->name));
		mw_strlcpy(t->host_hdr, "localhost", sizeof(t->host_hdr));
	}
	return MW_OK;
}

/* ------------------------------------------------------------- the client */

struct http_client {
	int fd;			  /* -1 when not connected */
	struct http_tls *tls;	  /* on fd, for https */
	char ca[512];		  /* the CA file the TLS session was verified with */
	char peer[NAME_MAX_ + 8]; /* whom fd is connected to: "tcp:host:port", "unix:path" */
	struct buf head;	  /* the request line and headers */
	struct http_parser parser;
	char rbuf[READ_CHUNK];
};

/* One request's context: the deadline and where errors go. */
struct call {
	const struct target *t;
	int64_t deadline; /* mw_mono_ns() */
	long timeout_ms;
	char *err;
	size_t cap;
	bool stale; /* failed in a way a closed idle connection would explain */
};

int http_global_init(void) { return MW_OK; }
void http_global_cleanup(void) {}

int http_client_new(struct http_client **out)
{
	struct http_client *c = malloc(sizeof(*c));
	if (!c)
		return MW_ERR_NOMEM;
	c->fd = -1;
	c->tls = NULL;
	c->peer[0] = '\0';
	c->ca[0] = '\0';
	buf_init(&c->head, REQUEST_HEAD_MAX);
	*out = c;
	return MW_OK;
}

static void drop_conn(struct http_client *c)
{
	http_tls_close(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->peer[0] = '\0';
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	drop_conn(c);
	buf_free(&c->head);
	free(c);
}

void http_response_free(struct http_response *resp) { buf_free(&resp->body); }

static int timed_out(struct call *k)
{
	snprintf(k->err, k->cap, "timed out after %ld ms waiting for %s", k->timeout_ms,
		 k->t->name);
	return MW_ERR_IO;
}

/* Waits for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mw_mono_ns();
		struct pollfd pfd = {.fd = fd, .events = events};
		int n;

		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, (int)((left + 999999) / 1000000));
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int connect_addr(struct call *k, int family, const struct sockaddr *sa, socklen_t len,
			int *fdp)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), e = 0, one = 1;
	socklen_t elen = sizeof(e);

	if (fd < 0) {
		e = errno;
		goto fail;
	}
	if (connect(fd, sa, len) != 0) {
		if (errno != EINPROGRESS) {
			e = errno;
			goto fail;
		}
		int w = wait_fd(fd, POLLOUT, k->deadline);
		if (w == 0) {
			close(fd);
			return timed_out(k);
		}
		if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen))
			e = errno;
		if (e)
			goto fail;
	}
	if (family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fdp = fd;
	return MW_OK;
fail:
	if (fd >= 0)
		close(fd);
	snprintf(k->err, k->cap, "cannot connect to %s: %s", k->t->name, strerror(e));
	return MW_ERR_IO;
}

static int open_unix(struct call *k, int *fdp)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mw_strlcpy(sa.sun_path, k->t->unix_path, sizeof(sa.sun_path));
	return connect_addr(k, AF_UNIX, (struct sockaddr *)&sa, sizeof(sa), fdp);
}

/* Tries each address of the host in turn; stops at the first that answers
 * or when the time is up. (getaddrinfo itself cannot be bounded.) */
static int open_tcp(struct call *k, int *fdp)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL, *ai;
	int g = getaddrinfo(k->t->host, k->t->port, &hints, &res), rc = MW_ERR_IO;

	if (g) {
		snprintf(k->err, k->cap, "cannot resolve %s: %s", k->t->host,
			 g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
		return MW_ERR_IO;
	}
	for (ai = res; ai && mw_mono_ns() < k->deadline; ai = ai->ai_next)
		if ((rc = connect_addr(k, ai->ai_family, ai->ai_addr, ai->ai_addrlen, fdp)) ==
		    MW_OK)
			break;
	if (rc && mw_mono_ns() >= k->deadline)
		rc = timed_out(k);
	freeaddrinfo(res);
	return rc;
}

/* A kept connection that polls readable while idle was closed by the peer
 * (or carries junk): either way it is no good for the next request. */
static bool idle_conn_ok(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	return poll(&pfd, 1, 0) == 0;
}

/* Gets a connection to the target; *reused tells whether it was kept. */
static int get_conn(struct http_client *c, struct call *k, const char *ca, bool *reused)
{
	char peer[sizeof(c->peer)];
	int rc;

	snprintf(peer, sizeof(peer), "%s:%s",
		 k->t->unix_path ? "unix"
		 : k->t->tls	 ? "tls"
				 : "tcp",
		 k->t->name);
	*reused = false;
	if (c->fd >= 0 && strcmp(peer, c->peer) == 0 && strcmp(ca, c->ca) == 0 &&
	    idle_conn_ok(c->fd)) {
		*reused = true;
		return MW_OK;
	}
	drop_conn(c);
	rc = k->t->unix_path ? open_unix(k, &c->fd) : open_tcp(k, &c->fd);
	if (rc == MW_OK && k->t->tls &&
	    (rc = http_tls_open(c->fd, k->t->host, ca, k->deadline, &c->tls, k->err, k->cap))) {
		if (rc == MW_ERR_BUSY)
			rc = timed_out(k);
		drop_conn(c);
	}
	if (rc == MW_OK) {
		mw_strlcpy(c->peer, peer, sizeof(c->peer));
		mw_strlcpy(c->ca, ca, sizeof(c->ca));
	}
	return rc;
}

static bool is_post_like(const char *m)
{
	return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
}

static bool header_ok(const char *h)
{
	const char *colon = strchr(h, ':');
	if (!colon || colon == h)
		return false;
	for (; *h; h++)
		if (((unsigned char)*h < 0x20 && *h != '\t') || *h == 0x7f)
			return false;
	return true;
}

static int refuse(char *err, size_t cap, const char *what, const char *text)
{
	snprintf(err, cap, "invalid %s \"%.40s\"", what, text);
	return MW_ERR_INVALID;
}

/* Writes the request line and headers into c->head. */
static int build_head(struct http_client *c, const struct http_request *req, const char *method,
		      const struct target *t, char *err, size_t cap)
{
	struct buf *b = &c->head;
	int rc;

	buf_reset(b);
	for (const char *m = method; *m; m++)
		if (!isupper((unsigned char)*m))
			return refuse(err, cap, "method", method);
	rc = buf_printf(b, "%s %s%.*s HTTP/1.1\r\nHost: %s\r\nUser-Agent: millwright/%s\r\n",
			method, t->path[0] == '/' ? "" : "/", (int)t->path_len, t->path,
			t->host_hdr, MW_VERSION);
	if (!rc && (req->body || is_post_like(method)))
		rc = buf_printf(b, "Content-Length: %zu\r\n", req->body ? req->body_len : 0);
	for (size_t i = 0; !rc && req->headers && req->headers[i]; i++) {
		if (!header_ok(req->headers[i]))
			return refuse(err, cap, "request header", req->headers[i]);
		rc = buf_printf(b, "%s\r\n", req->headers[i]);
	}
	if (!rc && req->bearer && *req->bearer) {
		for (const char *s = req->bearer; *s; s++)
			if ((unsigned char)*s <= 0x20 || *s == 0x7f) {
				/* The token is a secret: say what is wrong, not what it is. */
				snprintf(err, cap,
					 "invalid bearer token: space or control character");
				return MW_ERR_INVALID;
			}
		rc = buf_printf(b, "Authorization: Bearer %s\r\n", req->bearer);
	}
	if (!rc)
		rc = buf_adds(b, "Connection: keep-alive\r\n\r\n");
	if (rc)
		snprintf(err, cap, "request headers larger than %u bytes", REQUEST_HEAD_MAX);
	return rc;
}

/* Sends the head and the body; k->stale on a reset or broken pipe. */
static int send_all(struct http_client *c, struct call *k, const void *body, size_t body_len)
{
	struct iovec iov[2] = {{c->head.data, c->head.len}, {(void *)body, body ? body_len : 0}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};

	if (c->tls) {
		int rc = http_tls_send(c->tls, iov, 2, k->deadline, k->err, k->cap);
		if (rc == MW_ERR_BUSY)
			return timed_out(k);
		k->stale = rc != MW_OK; /* a kept connection the server closed, most likely */
		return rc;
	}
	while (m.msg_iovlen > 0) {
		ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int w = wait_fd(c->fd, POLLOUT, k->deadline);
			if (w == 0)
				return timed_out(k);
			if (w > 0)
				continue;
		}
		if (n < 0) {
			k->stale = errno == EPIPE || errno == ECONNRESET;
			snprintf(k->err, k->cap, "cannot send to %s: %s", k->t->name,
				 strerror(errno));
			return MW_ERR_IO;
		}
		while (m.msg_iovlen > 0 && (size_t)n >= m.msg_iov->iov_len) {
			n -= (ssize_t)m.msg_iov->iov_len;
			m.msg_iov++;
			m.msg_iovlen--;
		}
		if (m.msg_iovlen > 0) {
			m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + n;
			m.msg_iov->iov_len -= (size_t)n;
		}
	}
	return MW_OK;
}

static int parse_failed(struct call *k, const struct http_parser *p, int rc)
{
	if (rc == MW_ERR_IO) {
		k->stale = p->received == 0;
		snprintf(k->err, k->cap, "%s: %s", k->t->name, p->error);
	} else {
		snprintf(k->err, k->cap, "bad answer from %s: %s", k->t->name, p->error);
	}
	return rc;
}

/* Reads until the parser has the whole answer. Leftover bytes (an answer
 * we did not ask for) make the connection unfit for reuse. */
static int recv_answer(struct http_client *c, struct call *k)
{
	struct http_parser *p = &c->parser;

	for (;;) {
		ssize_t n;
		size_t used;
		int rc;

		if (c->tls) {
			size_t got = 0;
			rc = http_tls_recv(c->tls, c->rbuf, sizeof(c->rbuf), &got, k->deadline,
					   k->err, k->cap);
			if (rc == MW_ERR_BUSY)
				return timed_out(k);
			if (rc) {
				k->stale = p->received == 0;
				return rc;
			}
			n = (ssize_t)got;
		} else {
			n = recv(c->fd, c->rbuf, sizeof(c->rbuf), 0);
		}

		if (n > 0) {
			if ((rc = http_parse(p, c->rbuf, (size_t)n, &used)))
				return parse_failed(k, p, rc);
			if (p->done && used < (size_t)n)
				p->keep_alive = false;
			if (p->done)
				return MW_OK;
		} else if (n == 0) {
			if ((rc = http_parse_eof(p)))
				return parse_failed(k, p, rc);
			return MW_OK;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int w = wait_fd(c->fd, POLLIN, k->deadline);
			if (w == 0)
				return timed_out(k);
			if (w < 0)
				goto fail;
		} else if (errno != EINTR) {
			goto fail;
		}
	}
fail:
	k->stale = p->received == 0 && errno == ECONNRESET;
	snprintf(k->err, k->cap, "cannot read from %s: %s", k->t->name, strerror(errno));
	return MW_ERR_IO;
}

/* One try: connect (or reuse), send, read. *reused says whether the
 * connection was a kept one, for the caller's one retry. */
static int exchange(struct http_client *c, struct call *k, const struct http_request *req,
		    bool head, struct http_response *resp, bool *reused)
{
	int rc;

	k->stale = false;
	if ((rc = get_conn(c, k, req->ca_file ? req->ca_file : "", reused)))
		return rc;
	buf_reset(&resp->body);
	http_parser_init(&c->parser, &resp->body, resp->body.cap, head);
	if ((rc = send_all(c, k, req->body, req->body_len)) || (rc = recv_answer(c, k)))
		drop_conn(c);
	else if (!c->parser.keep_alive)
		drop_conn(c);
	return rc;
}

int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	const char *method = req->method ? req->method : req->body ? "POST" : "GET";
	long timeout = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	struct target t;
	struct call k = {
		.t = &t, .timeout_ms = timeout, .err = resp->error, .cap = sizeof(resp->error)};
	bool reused = false;
	int rc;

	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body, req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE);
	k.deadline = mw_mono_ns() + (int64_t)timeout * 1000000;
	if ((rc = parse_url(req->url, req->unix_socket, &t, resp->error, sizeof(resp->error))) ||
	    (rc = build_head(c, req, method, &t, resp->error, sizeof(resp->error))))
		goto out;
	rc = exchange(c, &k, req, strcmp(method, "HEAD") == 0, resp, &reused);
	if (rc == MW_ERR_IO && reused && k.stale) {
		/* The server closed the kept connection as we used it: once more, fresh. */
		log_debug("http reconnect peer=%s why=\"%s\"", t.name, resp->error);
		resp->error[0] = '\0';
		rc = exchange(c, &k, req, strcmp(method, "HEAD") == 0, resp, &reused);
	}
	if (rc == MW_OK || rc == MW_ERR_TOOBIG)
		resp->status = c->parser.status >= 200 ? c->parser.status : 0;
out:
	if (rc == MW_OK && !resp->body.data && (rc = buf_add(&resp->body, "", 0)))
		snprintf(resp->error, sizeof(resp->error), "no memory for the answer");
	return rc;
}

int http_request(const struct http_request *req, struct http_response *resp)
{
	struct http_client *c;
	int rc = http_client_new(&c);
	if (rc) {
		memset(resp, 0, sizeof(*resp));
		buf_init(&resp->body, 0);
		snprintf(resp->error, sizeof(resp->error), "no memory for an HTTP client");
		return rc;
	}
	rc = http_do(c, req, resp);
	http_client_free(c);
	return rc;
}
