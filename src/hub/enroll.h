/* enroll.h -- edges join the fleet with one-time enrollment tokens, and
 * leave it when revoked.
 *
 *   POST /v1/enrollments {labels?, ttl?, node?} (admin) -> {id, token, expires}
 *   GET  /v1/enrollments (admin): the tokens not yet used
 *   POST /v1/enroll {token, node} (no credential: the token is one)
 *        -> 201 {node, token, labels}: the node's own credential
 *   POST /v1/nodes/NODE/revoke (admin): the node's credential stops working
 *
 * An enrollment token works once and expires (ttl, default 24h); a reused,
 * expired or revoked one gets 401 with the reason, and every attempt is in
 * the audit log. The node credential (`mwn_...`) is stored as its SHA-256,
 * like every token, and carries the enrollment's labels. Nodes listed in
 * the hub's `nodes:` setting keep working with their configured tokens. */
#ifndef MW_HUB_ENROLL_H
#define MW_HUB_ENROLL_H

#include "hub/http.h"

#define ENROLL_LABELS_MAX 511 /* bytes of the labels' JSON */

/* The node whose credential bearer is (a configured token, or an enrolled
 * node's unrevoked one), copied into buf; NULL when it is none. */
const char *enroll_node_for_token(struct hub *h, const char *bearer, char *buf, size_t cap);

/* Labels: a JSON object of up to 16 "key": "value" strings, keys 1-63 of
 * [a-z0-9._/-], values 0-63 of [A-Za-z0-9._-]. NULL is {}. On success the
 * compact JSON goes to out; else err names the label and the rule. */
int enroll_labels_check(json_t *labels, char out[ENROLL_LABELS_MAX + 1], char *err,
			size_t errlen) MW_MUST_CHECK;

void enroll_create(struct hub *h, struct http_req *req, struct http_resp *resp);
void enroll_list(struct hub *h, struct http_req *req, struct http_resp *resp);
void enroll_node(struct hub *h, struct http_req *req, struct http_resp *resp);
void enroll_revoke_node(struct hub *h, struct http_req *req, struct http_resp *resp);

#endif
