/* api.h -- the edge's local HTTP API (docs/protocol.md, "Edge local API").
 *
 * Served by libmicrohttpd on a loopback TCP address and on a unix socket,
 * both with the same routes: POST /v1/events, POST /v1/blobs, GET /v1/status, /healthz,
 * /metrics. Producers (apps, scripts) post events here and get the store's
 * durability, the chain and the forwarding for free. */
#ifndef MW_EDGE_API_H
#define MW_EDGE_API_H

#include "core/mw.h"
#include "edge/actions.h"
#include "edge/blobs.h"
#include "edge/store.h"
#include "edge/uplink.h"

#include <stddef.h>
#include <stdint.h>

struct api;

struct api_options {
	const char *listen;	 /* "host:port" (port 0 = any free); "" = no TCP */
	const char *socket_path; /* unix socket; "" = none */
	const char *token;	 /* bearer token every route but /healthz needs */
	size_t max_body;
	const char *node;
	struct store *store;
	struct uplink *uplink; /* NULL when the uplink is off */
	struct actions *actions;
	struct blobs *blobs;   /* evidence snapshots; NULL = /v1/blobs answers 503 */
	const uint64_t *appended; /* events appended since start (read atomically) */
};

int api_start(const struct api_options *opt, struct api **out) MW_MUST_CHECK;
/* The TCP address actually bound ("127.0.0.1:40123"); "" when TCP is off. */
const char *api_address(const struct api *a);
/* Stops serving (waits for requests in progress) and frees. */
void api_free(struct api *a);

#endif
