/* metrics.c -- Prometheus exposition of the hub's counters.
 *
 * Counters live in struct hub_metrics (atomics bumped by the request
 * threads) and restart from zero with the process, as Prometheus counters
 * may; the node count is read from the store. Labelled families list
 * every label value, zero or not, so rate() works from the first scrape. */
#include "hub/metrics.h"

#include "hub/blobs.h"

#include <inttypes.h>

static int family(struct buf *out, const char *name, const char *type, const char *help)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int counter(struct buf *out, const char *name, const char *help, uint64_t v)
{
	int rc = family(out, name, "counter", help);
	return rc ? rc : buf_printf(out, "%s %" PRIu64 "\n", name, v);
}

static int rejected(struct hub *h, struct buf *out)
{
	const char *name = "mw_hub_batches_rejected_total";
	int rc = family(out, name, "counter", "Batches refused, by reason.");
	for (int r = 0; rc == MW_OK && r < REJ_COUNT; r++)
		rc = buf_printf(out, "%s{reason=\"%s\"} %" PRIu64 "\n", name,
				hub_reject_name((enum hub_reject)r),
				(uint64_t)atomic_load(&h->m.rejected[r]));
	return rc;
}

static int breaks(struct hub *h, struct buf *out)
{
	const char *name = "mw_hub_chain_breaks_total";
	int rc = family(out, name, "counter",
			"Chain breaks found in edges' event chains, by reason.");
	for (int r = 0; rc == MW_OK && r < CHAIN_REASONS; r++)
		rc = buf_printf(out, "%s{reason=\"%s\"} %" PRIu64 "\n", name,
				chain_reason_name((enum chain_reason)r),
				(uint64_t)atomic_load(&h->m.breaks[r]));
	return rc;
}

static int gauges(struct hub *h, struct buf *out)
{
	struct db_counters c = {0};
	int rc = h->db->ops->counters(h->db, &c);

	if (rc == MW_OK)
		rc = family(out, "mw_hub_nodes", "gauge", "Edge nodes that have sent a batch.");
	if (rc == MW_OK)
		rc = buf_printf(out, "mw_hub_nodes %" PRIu64 "\n", c.nodes);
	if (rc == MW_OK)
		rc = family(out, "mw_hub_events_stored", "gauge",
			    "Events in the store, every node and the hub's own.");
	if (rc == MW_OK)
		rc = buf_printf(out, "mw_hub_events_stored %" PRIu64 "\n", c.events);
	if (rc == MW_OK)
		rc = family(out, "process_start_time_seconds", "gauge",
			    "Start time of the process since the Unix epoch in seconds.");
	if (rc == MW_OK)
		rc = buf_printf(out, "process_start_time_seconds %.3f\n", h->started_ns / 1e9);
	if (rc == MW_OK)
		rc = family(out, "mw_hub_uptime_seconds", "gauge", "Seconds since the hub started.");
	if (rc == MW_OK)
		rc = buf_printf(out, "mw_hub_uptime_seconds %.3f\n",
				(mw_mono_ns() - h->started_mono) / 1e9);
	return rc;
}

static int blobs(struct hub *h, struct buf *out)
{
	struct hub_metrics *m = &h->m;
	uint64_t count = 0, bytes = 0;
	int rc;

	if (h->blobs)
		hub_blobs_counts(h->blobs, &count, &bytes);
	if ((rc = counter(out, "mw_hub_blobs_stored_total", "Blobs edges uploaded that were new.",
			  atomic_load(&m->blobs_stored))) ||
	    (rc = counter(out, "mw_hub_blobs_duplicate_total",
			  "Blob uploads the hub already held (answered 200).",
			  atomic_load(&m->blobs_duplicate))) ||
	    (rc = counter(out, "mw_hub_blobs_stored_bytes_total", "Bytes of new blobs stored.",
			  atomic_load(&m->blob_bytes))) ||
	    (rc = counter(out, "mw_hub_blobs_rejected_total",
			  "Blob uploads refused (bad token, wrong hash).",
			  atomic_load(&m->blobs_rejected))) ||
	    (rc = family(out, "mw_hub_blobs", "gauge", "Blobs in the hub's blob store.")) ||
	    (rc = buf_printf(out, "mw_hub_blobs %" PRIu64 "\n", count)) ||
	    (rc = family(out, "mw_hub_blobs_bytes", "gauge", "Bytes of the hub's blob store.")))
		return rc;
	return buf_printf(out, "mw_hub_blobs_bytes %" PRIu64 "\n", bytes);
}

int metrics_write(struct hub *h, struct buf *out)
{
	struct hub_metrics *m = &h->m;
	int rc;

	if ((rc = counter(out, "mw_hub_events_ingested_total", "Events stored from edges' batches.",
			  atomic_load(&m->events_ingested))) ||
	    (rc = counter(out, "mw_hub_events_duplicate_total",
			  "Events received again that the hub already held.",
			  atomic_load(&m->events_duplicate))) ||
	    (rc = counter(out, "mw_hub_batches_total", "Batches accepted.",
			  atomic_load(&m->batches))) ||
	    (rc = rejected(h, out)) || (rc = breaks(h, out)) ||
	    (rc = counter(out, "mw_hub_ingest_bytes_total",
			  "Bytes of ingest request bodies received, as sent (compressed).",
			  atomic_load(&m->ingest_bytes))) ||
	    (rc = blobs(h, out)))
		return rc;
	return gauges(h, out);
}

void metrics_handle(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	int rc = metrics_write(h, &resp->body);
	if (rc) {
		http_error(resp, 500, "metrics: %s", mw_strerror(rc));
		return;
	}
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
