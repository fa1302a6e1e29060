/* query.h -- the hub's read API: GET /v1/events, /v1/nodes, /healthz. */
#ifndef MW_HUB_QUERY_H
#define MW_HUB_QUERY_H

#include "hub/http.h"

/* Reads and checks the query string of GET /v1/events into q; err names
 * the parameter ("limit: must be a whole number from 1 to 1000"). */
int query_parse_params(const struct http_req *req, struct db_query *q, char *err, size_t errlen)
	MW_MUST_CHECK;

void query_events(struct hub *h, struct http_req *req, struct http_resp *resp);
void query_health(struct hub *h, struct http_req *req, struct http_resp *resp);

#endif
