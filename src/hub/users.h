/* users.h -- the hub's people: bootstrap, login, users, API tokens, and
 * the audit log every security-relevant action writes to.
 *
 * Endpoints (docs/security.md has the role table):
 *   POST /v1/bootstrap   {token, user, password}: the first admin, once
 *   POST /v1/login       {user, password} -> {token, expires, role}
 *   POST /v1/logout      revokes the token of the request
 *   GET  /v1/whoami
 *   GET  /v1/users       POST /v1/users {name, role, password}
 *   PATCH /v1/users/NAME {role?, password?, disabled?}   DELETE /v1/users/NAME
 *   GET  /v1/tokens      POST /v1/tokens {name, role?, ttl?}   DELETE /v1/tokens/ID
 *   GET  /v1/audit       ?after=ID&limit=N */
#ifndef MW_HUB_USERS_H
#define MW_HUB_USERS_H

#include "hub/auth.h"
#include "hub/http.h"

/* The cache of enrolled nodes' credentials (users.c says why): made by
 * hub_open(), freed by hub_close(); users_forget_nodes() empties it, which
 * revoking a node must do. */
int users_cache_new(struct hub *h) MW_MUST_CHECK;
void users_cache_free(struct hub *h);
void users_forget_nodes(struct hub *h);

/* Who sent req (hub/auth.h), from its Bearer token; PRINCIPAL_NONE when it
 * sent none or one that is unknown, expired or revoked. */
void users_authenticate(struct hub *h, const char *bearer, struct principal *out);

/* A token to issue: kind, owner, name, role and ttl (0: never expires) in;
 * the clear text (shown once to whoever asked) and the stored row out. */
struct new_token {
	enum token_kind kind;
	const char *owner, *name;
	int role;
	int64_t ttl_ms;
	char text[AUTH_TOKEN_LEN + 1];
	struct db_token row; /* set row.labels before, if any */
};

/* Makes and stores nt's token; inside a write transaction (hub_write). */
int users_issue_token(struct hub *h, struct new_token *nt) MW_MUST_CHECK;

/* The ttl member of a request ("30d", "12h", "90m", as config durations)
 * into *ms when it is within [min_ms, max_ms]; *ms untouched when there
 * is none. False when it is malformed or out of range. */
bool users_ttl(json_t *o, int64_t min_ms, int64_t max_ms, int64_t *ms);

/* Appends a line to the audit log (takes the write lock). result is "ok",
 * "denied" or "failed"; target and detail may be empty. */
void users_audit(struct hub *h, const struct http_req *req, const char *action, const char *target,
		 const char *result, const char *detail);

/* The same for what the hub does by itself (a rollout rolled back): actor "hub". */
void users_audit_hub(struct hub *h, const char *action, const char *target, const char *result,
		     const char *detail);

void users_bootstrap(struct hub *h, struct http_req *req, struct http_resp *resp);
void users_login(struct hub *h, struct http_req *req, struct http_resp *resp);
void users_logout(struct hub *h, struct http_req *req, struct http_resp *resp);
void users_whoami(struct hub *h, struct http_req *req, struct http_resp *resp);
void users_list(struct hub *h, struct http_req *req, struct http_resp *resp);
void users_create(struct hub *h, struct http_req *req, struct http_resp *resp);
void users_change(struct hub *h, struct http_req *req, struct http_resp *resp);
void users_delete(struct hub *h, struct http_req *req, struct http_resp *resp);
void users_tokens_list(struct hub *h, struct http_req *req, struct http_resp *resp);
void users_tokens_create(struct hub *h, struct http_req *req, struct http_resp *resp);
void users_tokens_revoke(struct hub *h, struct http_req *req, struct http_resp *resp);
void users_audit_list(struct hub *h, struct http_req *req, struct http_resp *resp);

#endif
