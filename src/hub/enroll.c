/* enroll.c -- enrollment tokens, node credentials and their revocation
 * (enroll.h).
 *
 * Using an enrollment token and issuing the node's credential happen in
 * one transaction under the write lock: two edges racing with the same
 * token cannot both get a credential. The enrollment token is then marked
 * (revoked = the time it was used), so a second use is refused as "already
 * used", not as unknown, which is what the person at the second edge needs
 * to hear. */
#include "hub/enroll.h"

#include "hub/deploy.h"

#include "core/event.h"
#include "hub/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS 1000000LL
#define ENROLL_TTL_MS (24 * 3600 * 1000LL)
#define ENROLL_TTL_MAX_MS (30 * 24 * 3600 * 1000LL)
#define LABELS_MAX 16
#define LABEL_LEN_MAX 63

/* ---- credentials --------------------------------------------------------- */

const char *enroll_node_for_token(struct hub *h, const char *bearer, char *buf, size_t cap)
{
	struct principal p;

	users_authenticate(h, bearer, &p);
	if (p.kind != PRINCIPAL_NODE)
		return NULL;
	mw_strlcpy(buf, p.name, cap);
	return buf;
}

/* ---- labels -------------------------------------------------------------- */

static bool label_chars(const char *s, bool key)
{
	size_t n = strlen(s);

	if ((key && n < 1) || n > LABEL_LEN_MAX)
		return false;
	for (; *s; s++) {
		char c = *s;
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
			  c == '_' || c == '-' || (key ? c == '/' : (c >= 'A' && c <= 'Z'));
		if (!ok)
			return false;
	}
	return true;
}

int enroll_labels_check(json_t *labels, char out[ENROLL_LABELS_MAX + 1], char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	char *text;
	int rc = MW_OK;

	if (!labels)
		labels = json_object();
	else
		json_incref(labels);
	if (!json_is_object(labels) || json_object_size(labels) > LABELS_MAX) {
		snprintf(err, errlen, "labels: an object of at most %d \"key\": \"value\" strings",
			 LABELS_MAX);
		rc = MW_ERR_INVALID;
		goto out;
	}
	json_object_foreach(labels, key, v)
	{
		if (!label_chars(key, true)) {
			snprintf(err, errlen, "labels.%.64s: a key is 1 to %d of a-z 0-9 . _ / -",
				 key, LABEL_LEN_MAX);
			rc = MW_ERR_INVALID;
			goto out;
		}
		if (!json_is_string(v) || !label_chars(json_string_value(v), false)) {
			snprintf(err, errlen,
				 "labels.%s: a value is a string of 0 to %d of A-Z a-z "
				 "0-9 . _ -",
				 key, LABEL_LEN_MAX);
			rc = MW_ERR_INVALID;
			goto out;
		}
	}
	text = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
	rc = text && mw_strlcpy(out, text, ENROLL_LABELS_MAX + 1) == MW_OK ? MW_OK : MW_ERR_TOOBIG;
	if (rc)
		snprintf(err, errlen, "labels: at most %d bytes of JSON", ENROLL_LABELS_MAX);
	free(text);
out:
	json_decref(labels);
	return rc;
}

/* ---- enrollment tokens --------------------------------------------------- */

struct issue {
	struct new_token tok;
	/* enroll_node only: */
	const uint8_t *enroll_digest;
	const char *refusal; /* why the enrollment token was refused */
};

static int put_issue(struct hub *h, void *arg)
{
	return users_issue_token(h, &((struct issue *)arg)->tok);
}

void enroll_create(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	json_t *o = http_body_object(req, resp), *node;
	struct issue is = {.tok = {.kind = TOKEN_ENROLL,
				   .owner = "",
				   .role = ROLE_NODE,
				   .ttl_ms = ENROLL_TTL_MS}};
	char err[256];
	int rc;

	if (!o)
		return;
	node = json_object_get(o, "node");
	if (node && (!json_is_string(node) || !event_id_valid(json_string_value(node)))) {
		http_error(resp, 400, "node: 1 to %d of A-Z a-z 0-9 . _ : / - expected",
			   EVENT_ID_MAX);
	} else if (!users_ttl(o, 1000, ENROLL_TTL_MAX_MS, &is.tok.ttl_ms)) {
		http_error(resp, 400, "ttl: 1s to 30d expected, such as 24h, 30m or 7d");
	} else if (enroll_labels_check(json_object_get(o, "labels"), is.tok.row.labels, err,
				       sizeof(err))) {
		http_error(resp, 400, "%s", err);
	} else {
		is.tok.owner = node ? json_string_value(node) : "";
		rc = hub_write(h, put_issue, &is);
		if (rc) {
			http_error(resp, 503, "cannot store the token: %s", mw_strerror(rc));
		} else {
			json_t *j =
				json_pack("{s:I, s:s, s:I, s:s}", "id", (json_int_t)is.tok.row.id,
					  "token", is.tok.text, "expires",
					  (json_int_t)is.tok.row.expires, "node", is.tok.owner);
			json_object_set_new(j, "labels", json_loads(is.tok.row.labels, 0, NULL));
			http_json(resp, 201, j);
		}
		users_audit(h, req, "enroll.create", is.tok.owner, rc ? "failed" : "ok",
			    is.tok.row.labels);
	}
	json_decref(o);
}

void enroll_list(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	struct db_token *t;
	size_t n;
	json_t *arr;
	int64_t now = mw_now_ns();
	int rc = h->db->ops->tokens_list(h->db, NULL, &t, &n);

	if (rc) {
		http_error(resp, 503, "cannot read the tokens: %s", mw_strerror(rc));
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		json_t *e;
		if (t[i].kind != TOKEN_ENROLL || t[i].revoked || t[i].expires <= now)
			continue;
		e = json_pack("{s:I, s:s, s:I, s:I}", "id", (json_int_t)t[i].id, "node", t[i].owner,
			      "created", (json_int_t)t[i].created, "expires",
			      (json_int_t)t[i].expires);
		json_object_set_new(e, "labels", json_loads(t[i].labels, 0, NULL));
		json_array_append_new(arr, e);
	}
	free(t);
	http_json(resp, 200, json_pack("{s:o}", "enrollments", arr));
}

/* ---- an edge enrolls ------------------------------------------------------ */

/* True when node has a credential that works. */
static bool enrolled(struct hub *h, const char *node)
{
	struct db_token *t;
	size_t n;
	bool found = false;

	if (h->db->ops->tokens_list(h->db, node, &t, &n))
		return false;
	for (size_t i = 0; i < n; i++)
		found |= t[i].kind == TOKEN_NODE && !t[i].revoked;
	free(t);
	return found;
}

/* In the transaction: the enrollment token is valid and unused, the node
 * is free; then it is used up and the node's credential issued. */
static int use_enrollment(struct hub *h, void *arg)
{
	struct issue *is = arg;
	struct db_token e;
	int64_t now = mw_now_ns();
	int rc = h->db->ops->token_find(h->db, is->enroll_digest, &e);

	if (rc == MW_ERR_NOTFOUND || (rc == MW_OK && e.kind != TOKEN_ENROLL)) {
		is->refusal = "token: not an enrollment token of this hub";
		return MW_ERR_AUTH;
	}
	if (rc)
		return rc;
	if (e.revoked) {
		is->refusal = "token: already used (or revoked); ask an admin for a new one "
			      "(mw enroll create)";
		return MW_ERR_AUTH;
	}
	if (e.expires <= now) {
		is->refusal = "token: expired; ask an admin for a new one (mw enroll create)";
		return MW_ERR_AUTH;
	}
	if (e.owner[0] && strcmp(e.owner, is->tok.owner) != 0) {
		is->refusal = "node: this token is for another node";
		return MW_ERR_AUTH;
	}
	if (enrolled(h, is->tok.owner) || hub_node_configured(h, is->tok.owner))
		return MW_ERR_EXISTS;
	mw_strlcpy(is->tok.row.labels, e.labels, sizeof(is->tok.row.labels));
	if ((rc = h->db->ops->token_revoke(h->db, e.id, NULL, NULL, now)))
		return rc;
	return users_issue_token(h, &is->tok);
}

void enroll_node(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	json_t *o = http_body_object(req, resp);
	struct issue is = {.tok = {.kind = TOKEN_NODE, .role = ROLE_NODE}};
	const char *token, *node;
	uint8_t d[32];
	int rc;

	if (!o)
		return;
	token = json_string_value(json_object_get(o, "token"));
	node = json_string_value(json_object_get(o, "node"));
	if (!token) {
		http_error(resp, 400,
			   "token: missing; send {\"token\": \"mwe_...\", \"node\": ID}");
		goto out;
	}
	if (!node || !event_id_valid(node) || strcmp(node, HUB_NODE_SELF) == 0) {
		http_error(resp, 400, "node: 1 to %d of A-Z a-z 0-9 . _ : / - expected (not '%s')",
			   EVENT_ID_MAX, HUB_NODE_SELF);
		goto out;
	}
	auth_token_digest(token, d);
	is.enroll_digest = d;
	is.tok.owner = node;
	mw_strlcpy(req->who.name, node, sizeof(req->who.name));
	req->who.kind = PRINCIPAL_NODE;
	rc = hub_write(h, use_enrollment, &is);
	if (rc == MW_ERR_AUTH)
		http_error(resp, 401, "%s", is.refusal);
	else if (rc == MW_ERR_EXISTS)
		http_error(resp, 409,
			   "node: %s is enrolled already; revoke it first (mw nodes "
			   "revoke %s) or choose another id",
			   node, node);
	else if (rc)
		http_error(resp, 503, "cannot enroll: %s", mw_strerror(rc));
	if (rc) {
		users_audit(h, req, "enroll", node, rc == MW_ERR_AUTH ? "denied" : "failed",
			    rc == MW_ERR_AUTH ? is.refusal : mw_strerror(rc));
		goto out;
	}
	users_audit(h, req, "enroll", node, "ok", is.tok.row.labels);
	deploy_node_enrolled(h, node, is.tok.row.labels);
	{
		json_t *j = json_pack("{s:s, s:s}", "node", node, "token", is.tok.text);
		json_object_set_new(j, "labels", json_loads(is.tok.row.labels, 0, NULL));
		http_json(resp, 201, j);
	}
out:
	json_decref(o);
}

/* ---- revocation ------------------------------------------------------------ */

static int revoke_node(struct hub *h, void *arg)
{
	return h->db->ops->token_revoke(h->db, 0, arg, "n", mw_now_ns());
}

void enroll_revoke_node(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	static const char prefix[] = "/v1/nodes/", suffix[] = "/revoke";
	const char *rest = req->url + strlen(prefix);
	size_t n = strlen(rest), sl = strlen(suffix);
	char node[EVENT_ID_MAX + 1];
	int rc;

	if (strncmp(req->url, prefix, strlen(prefix)) != 0 || n <= sl ||
	    strcmp(rest + n - sl, suffix) != 0 || n - sl > EVENT_ID_MAX) {
		http_error(resp, 404, "%s: no such path; POST /v1/nodes/NODE/revoke", req->url);
		return;
	}
	memcpy(node, rest, n - sl);
	node[n - sl] = '\0';
	if (hub_node_configured(h, node)) {
		http_error(resp, 409,
			   "%s: listed in the hub's nodes: setting; remove it there and "
			   "restart the hub",
			   node);
		return;
	}
	if (!enrolled(h, node)) {
		http_error(resp, 404, "%s: no enrolled node of that id (or revoked already)", node);
		return;
	}
	rc = hub_write(h, revoke_node, node);
	users_forget_nodes(h); /* its credential may be cached */
	if (rc == MW_OK)
		deploy_node_revoked(h, node);
	if (rc)
		http_error(resp, 503, "cannot revoke: %s", mw_strerror(rc));
	else
		http_json(resp, 200, json_pack("{s:s}", "revoked", node));
	users_audit(h, req, "node.revoke", node, rc ? "failed" : "ok", "");
}
