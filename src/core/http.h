/* http.h -- a small HTTP client over libcurl, shared by the edge's uplink,
 * the webhook action and the `mw` command line.
 *
 * One struct http_client wraps one curl easy handle, so a caller that talks
 * to the same server again and again (the uplink) keeps its connection
 * alive. Each request says its method, URL, extra headers, body and timeout;
 * the answer's body lands in a capped buffer so a misbehaving server cannot
 * make us allocate without bound. A transport failure (refused, timeout,
 * DNS) is MW_ERR_IO with a readable message in resp->error; any HTTP answer,
 * 4xx and 5xx included, is MW_OK with resp->status set: what a status means
 * is the caller's business. A client is used by one thread at a time. */
#ifndef MW_HTTP_H
#define MW_HTTP_H

#include "core/buf.h"
#include "core/mw.h"

#define HTTP_ERROR_MAX 256

struct http_client;

struct http_request {
	const char *method; /* "GET", "POST", ...; NULL = GET, or POST with a body */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const char *bearer;	    /* adds "Authorization: Bearer ..." when non-empty */
	const void *body;
	size_t body_len;
	long timeout_ms;	 /* whole request; 0 = 30 s */
	size_t max_response;	 /* cap on the answer's body; 0 = 4 MiB */
	const char *unix_socket; /* connect over this AF_UNIX path instead of TCP */
};

struct http_response {
	long status;		    /* 0 when no answer came */
	struct buf body;	    /* NUL-terminated */
	char error[HTTP_ERROR_MAX]; /* why the request failed, when it did */
};

/* Call once before threads start (curl_global_init is not always thread-safe). */
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

#endif
