/* http.h -- the hub's HTTP server: libmicrohttpd, a routing table, bodies.
 *
 * http.c owns the sockets and the protocol: it matches method and path
 * against the routing table (404, 405), accumulates request bodies up to
 * max_body (413, checked on Content-Length and while receiving), checks
 * the query token of routes that need it (401), and sends what the
 * handler left in struct http_resp. Handlers (ingest.c, query.c,
 * metrics.c) only read a request and fill a response. */
#ifndef MW_HUB_HTTP_H
#define MW_HUB_HTTP_H

#include "core/buf.h"
#include "hub/auth.h"
#include "hub/hub.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>

struct http_req {
	struct MHD_Connection *conn;
	const char *method, *url;
	const struct http_route *route;
	struct buf body;
	bool too_big;
	struct principal who; /* who sent it (PRINCIPAL_NONE on open routes without one) */
	char remote[64];      /* the client's address */
};

struct http_resp {
	unsigned status;
	const char *content_type;
	struct buf body;
};

typedef void (*http_handler)(struct hub *h, struct http_req *req, struct http_resp *resp);

struct http_server;

struct hub_tls;

/* Starts listening on host:port (port 0: any free one), with TLS when
 * tls->on (the certificate and key must outlive the server). */
int http_start(struct hub *h, const char *host, uint16_t port, const struct hub_tls *tls,
	       struct http_server **out) MW_MUST_CHECK;
uint16_t http_port(const struct http_server *s);
/* Stops accepting, finishes the requests in flight, frees the server. */
void http_stop(struct http_server *s);

/* Writes the role table (which role may call which endpoint) as Markdown:
 * `mw-hub --help-roles`, docs/security.md. */
void http_print_roles(FILE *f);

/* A request header or query-string argument; NULL when absent. */
const char *http_header(const struct http_req *req, const char *name);
const char *http_arg(const struct http_req *req, const char *name);
/* The token of "Authorization: Bearer TOKEN", or NULL. */
const char *http_bearer(const struct http_req *req);

/* The request's body as a JSON object (duplicate keys refused), or NULL
 * with a 400 naming the problem in resp. */
json_t *http_body_object(const struct http_req *req, struct http_resp *resp);
/* Sets status and the body {"error": "<message>"}. */
void http_error(struct http_resp *resp, unsigned status, const char *fmt, ...) MW_PRINTF(3, 4);
/* Sets status and a JSON body; takes the reference to j. */
void http_json(struct http_resp *resp, unsigned status, json_t *j);

#endif
