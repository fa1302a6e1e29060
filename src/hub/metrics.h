/* metrics.h -- GET /metrics: the hub's counters in Prometheus text format. */
#ifndef MW_HUB_METRICS_H
#define MW_HUB_METRICS_H

#include "hub/http.h"

/* Writes every metric, with # HELP and # TYPE lines, to out. */
int metrics_write(struct hub *h, struct buf *out) MW_MUST_CHECK;
void metrics_handle(struct hub *h, struct http_req *req, struct http_resp *resp);

#endif
