/* query.c -- GET /v1/events, /v1/nodes and /healthz.
 *
 * Events come back in the wire form (the canonical object plus prev and
 * hash), so a client can re-verify the chain itself. Paging is by row id:
 * `next` is the id of the last event of a full page, passed back as
 * `after`; ids only grow, so a page never repeats or skips an event even
 * while new ones arrive. An empty parameter counts as absent, so
 * `?node=&kind=x` works as a template. */
#include "hub/query.h"

#include "core/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 1000

struct params {
	struct db_query *q;
	char *err;
	size_t errlen;
	unsigned seen; /* bit per parameter, to refuse repeats */
	int rc;
};

static const char *param_names[] = {"node",  "source", "kind",	"severity",
				    "since", "until",  "after", "limit"};

static int bad(struct params *p, const char *msg, const char *name)
{
	snprintf(p->err, p->errlen, "%s: %s", name, msg);
	return MW_ERR_INVALID;
}

static int set_param(struct params *p, size_t k, const char *v)
{
	struct db_query *q = p->q;
	const char *name = param_names[k];
	int64_t n;

	switch (k) {
	case 0:
	case 1:
	case 2:
		if (!event_id_valid(v))
			return bad(p, "must be 1 to 64 characters from A-Z a-z 0-9 . _ : / -",
				   name);
		*(k == 0 ? &q->node : k == 1 ? &q->source : &q->kind) = v;
		return MW_OK;
	case 3: {
		enum severity s;
		if (severity_parse(v, &s))
			return bad(p, "must be one of debug, info, warning, alarm", name);
		q->min_severity = (int)s;
		return MW_OK;
	}
	case 4:
	case 5:
		if (mw_parse_i64(v, 0, INT64_MAX, &n))
			return bad(p, "must be a timestamp in ns since the Unix epoch", name);
		if (k == 4)
			q->has_since = true, q->since = n;
		else
			q->has_until = true, q->until = n;
		return MW_OK;
	case 6:
		if (mw_parse_i64(v, 0, INT64_MAX, &n))
			return bad(p, "must be the `next` cursor of a previous answer", name);
		q->after = n;
		return MW_OK;
	default:
		if (mw_parse_i64(v, 1, LIMIT_MAX, &n))
			return bad(p, "must be a whole number from 1 to 1000", name);
		q->limit = (unsigned)n;
		return MW_OK;
	}
}

static enum MHD_Result on_param(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct params *p = cls;
	size_t k = 0;

	while (k < MW_ARRAY_LEN(param_names) && strcmp(key, param_names[k]) != 0)
		k++;
	if (k == MW_ARRAY_LEN(param_names)) {
		snprintf(p->err, p->errlen,
			 "%.64s: unknown parameter; use node, source, kind, "
			 "severity, since, until, after, limit",
			 key);
		p->rc = MW_ERR_INVALID;
		return MHD_NO;
	}
	if (p->seen & (1u << k)) {
		p->rc = bad(p, "given more than once", key);
		return MHD_NO;
	}
	p->seen |= 1u << k;
	if (!value || !*value)
		return MHD_YES;
	p->rc = set_param(p, k, value);
	return p->rc ? MHD_NO : MHD_YES;
}

int query_parse_params(const struct http_req *req, struct db_query *q, char *err, size_t errlen)
{
	struct params p = {q, err, errlen, 0, MW_OK};

	memset(q, 0, sizeof(*q));
	q->min_severity = -1;
	q->limit = LIMIT_DEFAULT;
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, on_param, &p);
	return p.rc;
}

/* {"events":[wire...],"next":"ID"|null,"last":"ID"|null}, written straight
 * from the rows; last (the cursor of the page's last event) lets a client
 * that follows new events ask for those after it. */
static int write_page(const struct db_page *page, struct buf *out)
{
	int rc = buf_adds(out, "{\"events\":[");
	for (size_t i = 0; rc == MW_OK && i < page->n; i++) {
		if (i)
			rc = buf_addc(out, ',');
		if (rc == MW_OK)
			rc = event_to_wire(&page->events[i], out);
	}
	if (rc)
		return rc;
	if (page->n == 0)
		return buf_adds(out, "],\"next\":null,\"last\":null}\n");
	if (!page->more)
		return buf_printf(out, "],\"next\":null,\"last\":\"%" PRId64 "\"}\n",
				  page->ids[page->n - 1]);
	return buf_printf(out, "],\"next\":\"%" PRId64 "\",\"last\":\"%" PRId64 "\"}\n",
			  page->ids[page->n - 1], page->ids[page->n - 1]);
}

void query_events(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	struct db_query q;
	struct db_page page = {0};
	char err[256];
	int rc;

	if (query_parse_params(req, &q, err, sizeof(err))) {
		http_error(resp, 400, "%s", err);
		return;
	}
	rc = h->db->ops->query(h->db, &q, &page);
	if (rc == MW_OK)
		rc = write_page(&page, &resp->body);
	db_page_free(&page);
	if (rc) {
		http_error(resp, rc == MW_ERR_BUSY ? 503 : 500,
			   "events: cannot read the store (%s)", mw_strerror(rc));
		return;
	}
	resp->status = 200;
	resp->content_type = "application/json";
}

void query_health(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	http_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}
