/* http.h -- a small HTTP/1.1 client of our own, shared by the edge's uplink,
 * the webhook action and the `mw` command line.
 *
 * Why not libcurl: the edge must idle under 8 MiB of resident memory, and
 * Debian's libcurl alone costs ~7.0 MiB RSS in a program that merely links
 * it (+1.9 MiB after curl_global_init), through its dependency tree
 * (libssh2 -> libcrypto, krb5, ldap, rtmp, nghttp2, psl, idn2...), while a
 * program linking only libmicrohttpd, sqlite3, jansson, yaml, zstd and nettle
 * sits at 4.7 MiB. We only ever need plain HTTP/1.1 to one hub and to
 * webhook URLs, which is a few hundred lines; TLS to the hub will come with
 * enrollment, over GnuTLS, which libmicrohttpd already loads.
 *
 * One struct http_client keeps one connection to the last host:port it
 * talked to, so a caller that talks to the same server again and again (the
 * uplink) reuses it. Each request says its method, URL, extra headers, body
 * and timeout (which bounds the whole request: connect, send, receive); the
 * answer's body lands in a capped buffer so a misbehaving server cannot make
 * us allocate without bound. A transport failure (refused, timeout, DNS) is
 * MW_ERR_IO with a readable message in resp->error; a malformed answer is
 * MW_ERR_INVALID ("bad answer from HOST:PORT: ..."), one over its cap
 * MW_ERR_TOOBIG; any HTTP answer, 4xx and 5xx included, is MW_OK with
 * resp->status set: what a status means is the caller's business. A client
 * is used by one thread at a time.
 *
 * The answer parser is a pure, incremental function (bytes in, state out,
 * no I/O), public so the unit tests and the fuzzer can drive it alone. */
#ifndef MW_HTTP_H
#define MW_HTTP_H

#include "core/buf.h"
#include "core/mw.h"

#include <stdbool.h>

#define HTTP_ERROR_MAX 256
#define HTTP_HEADER_MAX (16u * 1024) /* the status line and headers of one answer */

struct http_client;

struct http_request {
	const char *method;	    /* "GET", "POST", ...; NULL = GET, or POST with a body */
	const char *url;	    /* http(s)://host[:port]/path?query */
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const char *bearer;	    /* adds "Authorization: Bearer ..." when non-empty */
	const void *body;
	size_t body_len;
	long timeout_ms;	 /* whole request; 0 = 30 s */
	size_t max_response;	 /* cap on the answer's body; 0 = 4 MiB */
	const char *unix_socket; /* connect over this AF_UNIX path instead of TCP */
	/* https: the CA (PEM file) the server's certificate must chain to,
	 * such as the hub's own; NULL or "" = the system's trust store. */
	const char *ca_file;
};

struct http_response {
	long status;		    /* 0 when no answer came */
	struct buf body;	    /* NUL-terminated */
	char error[HTTP_ERROR_MAX]; /* why the request failed, when it did */
};

/* No-ops, kept so callers need not change (they were curl_global_init). */
int http_global_init(void) MW_MUST_CHECK;
void http_global_cleanup(void);

int http_client_new(struct http_client **out) MW_MUST_CHECK;
void http_client_free(struct http_client *c);

/* Performs the request. resp is initialised here; free it with
 * http_response_free() whatever the result. */
int http_do(struct http_client *c, const struct http_request *req,
	    struct http_response *resp) MW_MUST_CHECK;
/* One request on a fresh client. */
int http_request(const struct http_request *req, struct http_response *resp) MW_MUST_CHECK;
void http_response_free(struct http_response *resp);

/* ---- the answer parser ---- */

struct http_parser {
	/* set by http_parser_init */
	struct buf *body; /* the body is appended here */
	size_t max_body;  /* MW_ERR_TOOBIG past this many body bytes */
	bool head;	  /* the request was HEAD: no body whatever the headers say */
	/* results */
	int status;	 /* of the final (non-1xx) answer, once its headers are in */
	bool keep_alive; /* the connection may carry another request after this one */
	bool done;	 /* the whole answer is in */
	size_t received; /* bytes fed so far */
	char error[160]; /* what was wrong, when http_parse failed */
	/* internal */
	int state;
	int minor; /* HTTP/1.minor */
	bool chunked, has_length, saw_close;
	uint64_t length;   /* Content-Length, or what is left of it or of a chunk */
	size_t head_bytes; /* header (or trailer) bytes so far, against HTTP_HEADER_MAX */
	size_t line_len;
	char line[HTTP_HEADER_MAX];
};

/* Gets p ready for one answer. body must be initialised by the caller. */
void http_parser_init(struct http_parser *p, struct buf *body, size_t max_body, bool head);
/* Feeds len bytes. Sets *used to how many were taken: fewer than len only once
 * p->done (the rest belongs to no answer we asked for). Returns MW_OK (check
 * p->done), MW_ERR_INVALID on garbage or MW_ERR_TOOBIG over a cap, with
 * p->error saying what; once failed, the parser must not be fed again. */
int http_parse(struct http_parser *p, const char *data, size_t len, size_t *used) MW_MUST_CHECK;
/* The peer closed the connection: completes an answer whose body runs to the
 * end of the connection; MW_ERR_IO when the answer was cut short. */
int http_parse_eof(struct http_parser *p) MW_MUST_CHECK;

#endif
