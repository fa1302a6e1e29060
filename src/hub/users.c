/* users.c -- bootstrap, login, users, API tokens and the audit log (users.h).
 *
 * Every change to a user or a token, every login (failed or not) and the
 * bootstrap write one audit line: who (the principal, or the name tried),
 * what, on what, from which address, and how it went. Writes hold the
 * hub's write lock, like ingest: the store has one writer.
 *
 * A login for a user that does not exist still verifies a password against
 * a fixed hash, so the answer takes as long as for a wrong password and
 * does not tell which names exist; both get the same message. */
#include "hub/users.h"

#include "core/config.h"
#include "core/hash.h"
#include "core/log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS 1000000LL
#define AUDIT_LIMIT_MAX 1000

/* ---- helpers ------------------------------------------------------------ */

/* The string member key of o, or NULL (absent or not a string). */
static const char *member(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The path's last segment after prefix ("/v1/users/" + NAME), or NULL. */
static const char *path_rest(const struct http_req *req, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *rest = req->url + n;

	return strncmp(req->url, prefix, n) == 0 && *rest && !strchr(rest, '/') ? rest : NULL;
}

static void actor_of(const struct principal *p, char *out, size_t cap)
{
	static const char *kinds[] = {"anonymous", "user", "node", "static"};

	if (p->kind == PRINCIPAL_NONE)
		snprintf(out, cap, "anonymous");
	else
		snprintf(out, cap, "%s:%s", kinds[p->kind], p->name);
}

static int put_audit(struct hub *h, void *arg) { return h->db->ops->audit_put(h->db, arg); }

static void audit_line(struct hub *h, const char *actor, const char *remote, const char *action,
		       const char *target, const char *result, const char *detail)
{
	struct db_audit a = {.ts = mw_now_ns()};
	int rc;

	mw_strlcpy(a.actor, actor, sizeof(a.actor));
	mw_strlcpy(a.action, action, sizeof(a.action));
	mw_strlcpy(a.target, target ? target : "", sizeof(a.target));
	mw_strlcpy(a.remote, remote, sizeof(a.remote));
	mw_strlcpy(a.result, result, sizeof(a.result));
	mw_strlcpy(a.detail, detail ? detail : "", sizeof(a.detail));
	rc = hub_write(h, put_audit, &a);
	log_info("msg=\"audit\" actor=%s action=%s target=\"%s\" remote=%s result=%s detail=\"%s\"",
		 a.actor, a.action, a.target, a.remote, a.result, a.detail);
	if (rc)
		log_error("msg=\"audit line not stored\" action=%s err=\"%s\"", action,
			  mw_strerror(rc));
}

void users_audit(struct hub *h, const struct http_req *req, const char *action, const char *target,
		 const char *result, const char *detail)
{
	char actor[DB_NAME_MAX + 16];

	actor_of(&req->who, actor, sizeof(actor));
	audit_line(h, actor, req->remote, action, target, result, detail);
}

void users_audit_hub(struct hub *h, const char *action, const char *target, const char *result,
		     const char *detail)
{
	audit_line(h, "hub", "", action, target, result, detail);
}

/* ---- authentication ------------------------------------------------------ */

/* ---- enrolled nodes' credentials, cached ----------------------------------- */

/* Every heartbeat and batch of an enrolled edge would otherwise look its
 * token up in the store, through the store's one reader connection, which
 * all request threads then queue for. Node credentials never expire and
 * change only when a node is revoked, which empties the cache
 * (users_forget_nodes), so a hit is as good as the store's answer. User
 * tokens are not cached: they expire, and users change. */
#define CACHE_MIN 1024
#define CACHE_MAX (1u << 20)

struct cached_node {
	uint8_t digest[32];
	int64_t token_id;
	char node[AUTH_NAME_MAX + 1];
	bool used;
};

struct node_cache {
	pthread_mutex_t lock;
	struct cached_node *slots;
	size_t nslots, n;
	uint64_t gen; /* bumped by each forget: a lookup from before one is not cached */
};

static struct cached_node *cache_slot(struct node_cache *c, const uint8_t d[32])
{
	size_t i;

	memcpy(&i, d, sizeof(i)); /* a SHA-256 is as good a hash as any */
	for (i &= c->nslots - 1; c->slots[i].used && memcmp(c->slots[i].digest, d, 32);
	     i = (i + 1) & (c->nslots - 1))
		;
	return &c->slots[i];
}

static bool cache_get(struct hub *h, const uint8_t d[32], struct principal *out, uint64_t *gen)
{
	struct node_cache *c = h->node_cache;
	struct cached_node *s;
	bool hit = false;

	pthread_mutex_lock(&c->lock);
	*gen = c->gen;
	if (c->nslots && (s = cache_slot(c, d))->used) {
		*out = (struct principal){PRINCIPAL_NODE, ROLE_NODE, "", s->token_id};
		mw_strlcpy(out->name, s->node, sizeof(out->name));
		hit = true;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

static void cache_grow(struct node_cache *c)
{
	struct cached_node *old = c->slots;
	size_t nold = c->nslots, want = nold ? nold * 2 : CACHE_MIN;
	struct cached_node *slots = want <= CACHE_MAX ? calloc(want, sizeof(*slots)) : NULL;

	if (!slots)
		return;
	c->slots = slots;
	c->nslots = want;
	for (size_t i = 0; i < nold; i++)
		if (old[i].used)
			*cache_slot(c, old[i].digest) = old[i];
	free(old);
}

static void cache_put(struct hub *h, const uint8_t d[32], const struct principal *p, uint64_t gen)
{
	struct node_cache *c = h->node_cache;
	struct cached_node *s;

	pthread_mutex_lock(&c->lock);
	if (gen != c->gen) { /* a node was revoked meanwhile: maybe this one */
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if ((c->n + 1) * 2 > c->nslots)
		cache_grow(c);
	if ((c->n + 1) * 2 <= c->nslots && !(s = cache_slot(c, d))->used) {
		memcpy(s->digest, d, 32);
		s->token_id = p->token_id;
		mw_strlcpy(s->node, p->name, sizeof(s->node));
		s->used = true;
		c->n++;
	}
	pthread_mutex_unlock(&c->lock);
}

int users_cache_new(struct hub *h)
{
	struct node_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return MW_ERR_NOMEM;
	pthread_mutex_init(&c->lock, NULL);
	h->node_cache = c;
	return MW_OK;
}

void users_cache_free(struct hub *h)
{
	struct node_cache *c = h->node_cache;

	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->slots);
	free(c);
	h->node_cache = NULL;
}

void users_forget_nodes(struct hub *h)
{
	struct node_cache *c = h->node_cache;

	pthread_mutex_lock(&c->lock);
	if (c->nslots)
		memset(c->slots, 0, c->nslots * sizeof(*c->slots));
	c->n = 0;
	c->gen++;
	pthread_mutex_unlock(&c->lock);
}

void users_authenticate(struct hub *h, const char *bearer, struct principal *out)
{
	struct db_token t;
	uint8_t d[32];
	const char *node;
	uint64_t gen;
	int64_t now = mw_now_ns();

	memset(out, 0, sizeof(*out));
	if (!bearer || !*bearer)
		return;
	auth_token_digest(bearer, d); /* once: every check below compares digests */
	if (hub_api_digest_ok(h, d)) {
		*out = (struct principal){PRINCIPAL_STATIC, ROLE_ADMIN, "api.token", 0};
		return;
	}
	if ((node = hub_node_for_digest(h, d))) {
		out->kind = PRINCIPAL_NODE;
		out->role = ROLE_NODE;
		mw_strlcpy(out->name, node, sizeof(out->name));
		return;
	}
	if (cache_get(h, d, out, &gen))
		return;
	if (h->db->ops->token_find(h->db, d, &t) || t.revoked || (t.expires && t.expires <= now))
		return;
	if (t.kind != TOKEN_SESSION && t.kind != TOKEN_API && t.kind != TOKEN_NODE)
		return;
	out->kind = t.kind == TOKEN_NODE ? PRINCIPAL_NODE : PRINCIPAL_USER;
	out->role = t.role;
	out->token_id = t.id;
	mw_strlcpy(out->name, t.owner, sizeof(out->name));
	if (t.kind == TOKEN_NODE && !t.expires)
		cache_put(h, d, out, gen);
}

/* ---- writes ------------------------------------------------------------- */

int users_issue_token(struct hub *h, struct new_token *nt)
{
	int64_t now = mw_now_ns();
	int rc = auth_token_new(nt->kind, nt->text, nt->row.digest);

	if (rc)
		return rc;
	nt->row.kind = (char)nt->kind;
	mw_strlcpy(nt->row.owner, nt->owner, sizeof(nt->row.owner));
	mw_strlcpy(nt->row.name, nt->name ? nt->name : "", sizeof(nt->row.name));
	nt->row.role = nt->role;
	nt->row.created = now;
	nt->row.expires = nt->ttl_ms ? now + nt->ttl_ms * NS_PER_MS : 0;
	return h->db->ops->token_put(h->db, &nt->row);
}

static int put_token(struct hub *h, void *arg) { return users_issue_token(h, arg); }

static json_t *token_json(const struct db_token *t)
{
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id", (json_int_t)t->id,
			 "kind", t->kind == TOKEN_SESSION ? "session" : "api", "owner", t->owner,
			 "name", t->name, "role", role_name(t->role), "created",
			 (json_int_t)t->created, "expires", (json_int_t)t->expires, "revoked",
			 (json_int_t)t->revoked);
}

/* Answers a new session: {token, expires, user, role}. */
static void session_answer(struct hub *h, struct http_resp *resp, const char *user, int role)
{
	struct new_token nt = {.kind = TOKEN_SESSION,
			       .owner = user,
			       .name = "login",
			       .role = role,
			       .ttl_ms = h->cfg->session_ttl_ms};
	int rc = hub_write(h, put_token, &nt);

	if (rc) {
		http_error(resp, 503, "cannot store the session: %s", mw_strerror(rc));
		return;
	}
	http_json(resp, 200,
		  json_pack("{s:s, s:I, s:s, s:s}", "token", nt.text, "expires",
			    (json_int_t)nt.row.expires, "user", user, "role", role_name(role)));
}

/* ---- bootstrap and login ------------------------------------------------- */

struct user_edit {
	struct db_user u;
	bool create;
	bool revoke; /* revoke the user's tokens too (disabled, demoted, deleted) */
	bool remove;
};

static int put_user(struct hub *h, void *arg)
{
	struct user_edit *e = arg;
	int rc = e->remove ? h->db->ops->user_delete(h->db, e->u.name)
			   : h->db->ops->user_put(h->db, &e->u, e->create);

	if (rc == MW_OK && e->revoke)
		rc = h->db->ops->token_revoke(h->db, 0, e->u.name, "sa", mw_now_ns());
	return rc;
}

/* Checks name, role and password of a new user; a 400 naming the field. */
static bool user_fields_ok(json_t *o, struct http_resp *resp, struct db_user *u, bool need_role)
{
	const char *name = member(o, "name") ? member(o, "name") : member(o, "user");
	const char *role = member(o, "role"), *pw = member(o, "password");

	if (!auth_name_ok(name)) {
		http_error(resp, 400, "name: 1 to %d letters, digits, '.', '_' or '-' expected",
			   AUTH_NAME_MAX);
		return false;
	}
	if (need_role && !role_parse(role)) {
		http_error(resp, 400, "role: one of admin, operator, data-scientist, viewer");
		return false;
	}
	if (auth_password_hash(pw, u->pass)) {
		http_error(resp, 400, "password: %d to %d characters expected", AUTH_PASSWORD_MIN,
			   AUTH_PASSWORD_MAX);
		return false;
	}
	mw_strlcpy(u->name, name, sizeof(u->name));
	u->role = need_role ? (int)role_parse(role) : ROLE_ADMIN;
	u->created = mw_now_ns();
	return true;
}

void users_bootstrap(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	json_t *o = http_body_object(req, resp);
	struct user_edit e = {.create = true};
	const char *token;
	uint8_t d[32];
	bool ok;
	int rc;

	if (!o)
		return;
	token = member(o, "token");
	auth_token_digest(token ? token : "", d);
	pthread_mutex_lock(&h->write_lock);
	ok = h->bootstrap_open && hash_equal(d, h->bootstrap_digest, sizeof(d));
	pthread_mutex_unlock(&h->write_lock);
	if (!ok) {
		http_error(resp, 403,
			   "token: not this hub's bootstrap token, or the first admin "
			   "exists already (ask an admin for an account)");
		users_audit(h, req, "bootstrap", "", "denied", "wrong or used token");
	} else if (user_fields_ok(o, resp, &e.u, false)) {
		rc = hub_write(h, put_user, &e);
		if (rc) {
			http_error(resp, 503, "cannot store the user: %s", mw_strerror(rc));
		} else {
			pthread_mutex_lock(&h->write_lock);
			h->bootstrap_open = false;
			pthread_mutex_unlock(&h->write_lock);
			hub_bootstrap_forget(h);
			mw_strlcpy(req->who.name, e.u.name, sizeof(req->who.name));
			req->who.kind = PRINCIPAL_USER;
			users_audit(h, req, "bootstrap", e.u.name, "ok", "first admin created");
			session_answer(h, resp, e.u.name, ROLE_ADMIN);
		}
	}
	json_decref(o);
}

/* A hash of a password nobody has (zero salt, zero hash, the parameters of
 * auth.c), to spend a login's time on names that do not exist. */
static const char dummy_hash[] = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
				 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

void users_login(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	json_t *o = http_body_object(req, resp);
	const char *name, *pw;
	struct db_user u;
	int64_t now = mw_now_ns();
	int wait;
	bool ok;

	if (!o)
		return;
	name = member(o, "user");
	pw = member(o, "password");
	if (!name || !pw) {
		http_error(resp, 400, "%s: missing; send {\"user\": ..., \"password\": ...}",
			   name ? "password" : "user");
		goto out;
	}
	wait = auth_limiter_wait(h->limiter, name, req->remote, now);
	if (wait > 0) {
		http_json(resp, 429,
			  json_pack("{s:s, s:i}", "error",
				    "too many failed logins; try again later", "retry_after",
				    wait));
		users_audit(h, req, "login", name, "denied", "rate limited");
		goto out;
	}
	ok = h->db->ops->user_get(h->db, name, &u) == MW_OK;
	ok = auth_password_ok(ok ? u.pass : dummy_hash, pw) && ok && !u.disabled;
	if (!ok) {
		auth_limiter_fail(h->limiter, name, req->remote, now);
		http_error(resp, 401, "wrong user name or password");
		users_audit(h, req, "login", name, "failed", "");
		goto out;
	}
	auth_limiter_success(h->limiter, name);
	req->who.kind = PRINCIPAL_USER;
	req->who.role = u.role;
	mw_strlcpy(req->who.name, u.name, sizeof(req->who.name));
	users_audit(h, req, "login", u.name, "ok", "");
	session_answer(h, resp, u.name, u.role);
out:
	json_decref(o);
}

static int revoke_token(struct hub *h, void *arg)
{
	return h->db->ops->token_revoke(h->db, *(int64_t *)arg, NULL, NULL, mw_now_ns());
}

void users_logout(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	int rc;

	if (req->who.kind != PRINCIPAL_USER || !req->who.token_id) {
		http_error(resp, 400, "only a login or an API token can be logged out");
		return;
	}
	rc = hub_write(h, revoke_token, &req->who.token_id);
	if (rc) {
		http_error(resp, 503, "cannot revoke the token: %s", mw_strerror(rc));
		return;
	}
	users_audit(h, req, "logout", req->who.name, "ok", "");
	http_json(resp, 200, json_pack("{s:b}", "revoked", 1));
}

void users_whoami(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	static const char *kinds[] = {"none", "user", "node", "static"};

	http_json(resp, 200,
		  json_pack("{s:s, s:s, s:s}", "name", req->who.name, "kind", kinds[req->who.kind],
			    "role", role_name(req->who.role)));
}

/* ---- users -------------------------------------------------------------- */

static json_t *user_json(const struct db_user *u)
{
	return json_pack("{s:s, s:s, s:I, s:b}", "name", u->name, "role", role_name(u->role),
			 "created", (json_int_t)u->created, "disabled", u->disabled);
}

void users_list(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	struct db_user *users;
	size_t n;
	json_t *arr;
	int rc = h->db->ops->users_list(h->db, &users, &n);

	if (rc) {
		http_error(resp, 503, "cannot read the users: %s", mw_strerror(rc));
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, user_json(&users[i]));
	free(users);
	http_json(resp, 200, json_pack("{s:o}", "users", arr));
}

void users_create(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	json_t *o = http_body_object(req, resp);
	struct user_edit e = {.create = true};
	char detail[64];
	int rc;

	if (!o)
		return;
	if (user_fields_ok(o, resp, &e.u, true)) {
		rc = hub_write(h, put_user, &e);
		snprintf(detail, sizeof(detail), "role %s", role_name(e.u.role));
		if (rc == MW_ERR_EXISTS)
			http_error(resp, 409, "name: a user %s exists already", e.u.name);
		else if (rc)
			http_error(resp, 503, "cannot store the user: %s", mw_strerror(rc));
		else
			http_json(resp, 201, user_json(&e.u));
		users_audit(h, req, "user.create", e.u.name, rc ? "failed" : "ok", detail);
	}
	json_decref(o);
}

/* How many enabled admins there are besides name. */
static size_t other_admins(struct hub *h, const char *name)
{
	struct db_user *users;
	size_t n, count = 0;

	if (h->db->ops->users_list(h->db, &users, &n))
		return 0;
	for (size_t i = 0; i < n; i++)
		count += users[i].role == ROLE_ADMIN && !users[i].disabled &&
			 strcmp(users[i].name, name) != 0;
	free(users);
	return count;
}

/* Applies the members of o to e->u; false with a 400 or 409 in resp. */
static bool apply_change(struct hub *h, json_t *o, struct user_edit *e, struct http_resp *resp)
{
	json_t *dis = json_object_get(o, "disabled");
	const char *role = member(o, "role"), *pw = member(o, "password");
	int was = e->u.role;
	bool was_disabled = e->u.disabled;

	if (json_object_get(o, "role") && !role_parse(role)) {
		http_error(resp, 400, "role: one of admin, operator, data-scientist, viewer");
		return false;
	}
	if (dis && !json_is_boolean(dis)) {
		http_error(resp, 400, "disabled: true or false expected");
		return false;
	}
	if (json_object_get(o, "password") && auth_password_hash(pw, e->u.pass)) {
		http_error(resp, 400, "password: %d to %d characters expected", AUTH_PASSWORD_MIN,
			   AUTH_PASSWORD_MAX);
		return false;
	}
	if (role)
		e->u.role = (int)role_parse(role);
	if (dis)
		e->u.disabled = json_is_true(dis);
	e->revoke = e->u.role != was || (e->u.disabled && !was_disabled) || pw;
	if (was == ROLE_ADMIN && (e->u.role != ROLE_ADMIN || e->u.disabled) &&
	    other_admins(h, e->u.name) == 0) {
		http_error(resp, 409, "%s: the last admin cannot be demoted or disabled",
			   e->u.name);
		return false;
	}
	return true;
}

void users_change(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	const char *name = path_rest(req, "/v1/users/");
	struct user_edit e = {0};
	json_t *o;
	int rc;

	if (!name || h->db->ops->user_get(h->db, name, &e.u)) {
		http_error(resp, 404, "%s: no such user", name ? name : req->url);
		return;
	}
	if (!(o = http_body_object(req, resp)))
		return;
	if (apply_change(h, o, &e, resp)) {
		rc = hub_write(h, put_user, &e);
		if (rc)
			http_error(resp, 503, "cannot store the user: %s", mw_strerror(rc));
		else
			http_json(resp, 200, user_json(&e.u));
		users_audit(h, req, "user.change", name, rc ? "failed" : "ok",
			    e.revoke ? "tokens revoked" : "");
	}
	json_decref(o);
}

void users_delete(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	const char *name = path_rest(req, "/v1/users/");
	struct user_edit e = {.remove = true, .revoke = true};
	int rc;

	if (!name || h->db->ops->user_get(h->db, name, &e.u)) {
		http_error(resp, 404, "%s: no such user", name ? name : req->url);
		return;
	}
	if (e.u.role == ROLE_ADMIN && other_admins(h, name) == 0) {
		http_error(resp, 409, "%s: the last admin cannot be deleted", name);
		return;
	}
	rc = hub_write(h, put_user, &e);
	if (rc)
		http_error(resp, 503, "cannot delete the user: %s", mw_strerror(rc));
	else
		http_json(resp, 200, json_pack("{s:s}", "deleted", name));
	users_audit(h, req, "user.delete", name, rc ? "failed" : "ok", "tokens revoked");
}

/* ---- tokens ------------------------------------------------------------- */

void users_tokens_list(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	bool all = req->who.role == ROLE_ADMIN;
	struct db_token *t;
	size_t n;
	json_t *arr;
	int rc = h->db->ops->tokens_list(h->db, all ? NULL : req->who.name, &t, &n);

	if (rc) {
		http_error(resp, 503, "cannot read the tokens: %s", mw_strerror(rc));
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		if (t[i].kind == TOKEN_SESSION || t[i].kind == TOKEN_API)
			json_array_append_new(arr, token_json(&t[i]));
	free(t);
	http_json(resp, 200, json_pack("{s:o}", "tokens", arr));
}

bool users_ttl(json_t *o, int64_t min_ms, int64_t max_ms, int64_t *ms)
{
	const char *v = member(o, "ttl");
	int64_t n;

	if (!json_object_get(o, "ttl"))
		return true;
	if (!v || config_parse_duration(v, &n) || n < min_ms || n > max_ms)
		return false;
	*ms = n;
	return true;
}

void users_tokens_create(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	json_t *o = http_body_object(req, resp);
	struct new_token nt = {.kind = TOKEN_API,
			       .owner = req->who.name,
			       .role = req->who.role,
			       .ttl_ms = h->cfg->token_ttl_ms};
	const char *role;
	int rc;

	if (!o)
		return;
	nt.name = member(o, "name");
	role = member(o, "role");
	if (!auth_name_ok(nt.name)) {
		http_error(resp, 400, "name: 1 to %d letters, digits, '.', '_' or '-' expected",
			   AUTH_NAME_MAX);
	} else if (role && role_parse(role) != (enum role)req->who.role &&
		   role_parse(role) != ROLE_VIEWER) {
		http_error(resp, 400, "role: a token carries your role (%s) or viewer",
			   role_name(req->who.role));
	} else if (!users_ttl(o, 60000, 3650 * 86400000LL, &nt.ttl_ms)) {
		http_error(resp, 400,
			   "ttl: a number of days, hours or minutes expected: 90d, 12h, "
			   "30m (at most 3650)");
	} else {
		if (role)
			nt.role = (int)role_parse(role);
		rc = hub_write(h, put_token, &nt);
		if (rc) {
			http_error(resp, 503, "cannot store the token: %s", mw_strerror(rc));
		} else {
			json_t *j = token_json(&nt.row);
			json_object_set_new(j, "token", json_string(nt.text));
			http_json(resp, 201, j);
		}
		users_audit(h, req, "token.create", nt.name, rc ? "failed" : "ok",
			    role_name(nt.role));
	}
	json_decref(o);
}

void users_tokens_revoke(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	const char *rest = path_rest(req, "/v1/tokens/");
	struct db_token *t = NULL;
	int64_t id = 0;
	size_t n = 0, i;
	int rc;

	if (!rest || mw_parse_i64(rest, 1, INT64_MAX, &id)) {
		http_error(resp, 404, "%s: no such token (the id is a number)", req->url);
		return;
	}
	rc = h->db->ops->tokens_list(h->db, req->who.role == ROLE_ADMIN ? NULL : req->who.name, &t,
				     &n);
	for (i = 0; rc == MW_OK && i < n && t[i].id != id; i++)
		;
	if (rc || i == n || (t[i].kind != TOKEN_SESSION && t[i].kind != TOKEN_API)) {
		http_error(resp, 404, "token %s: none of yours", rest);
	} else {
		rc = hub_write(h, revoke_token, &id);
		if (rc)
			http_error(resp, 503, "cannot revoke the token: %s", mw_strerror(rc));
		else
			http_json(resp, 200, json_pack("{s:I}", "revoked", (json_int_t)id));
		users_audit(h, req, "token.revoke", t[i].name, rc ? "failed" : "ok", t[i].owner);
	}
	free(t);
}

/* ---- audit -------------------------------------------------------------- */

void users_audit_list(struct hub *h, struct http_req *req, struct http_resp *resp)
{
	const char *a = http_arg(req, "after"), *l = http_arg(req, "limit");
	int64_t after = 0, limit = 100;
	struct db_audit *lines;
	size_t n;
	json_t *arr;
	int rc;

	if ((a && mw_parse_i64(a, 0, INT64_MAX, &after)) ||
	    (l && mw_parse_i64(l, 1, AUDIT_LIMIT_MAX, &limit))) {
		http_error(resp, 400, "after, limit: numbers expected (limit 1..%d)",
			   AUDIT_LIMIT_MAX);
		return;
	}
	rc = h->db->ops->audit_list(h->db, after, (unsigned)limit, &lines, &n);
	if (rc) {
		http_error(resp, 503, "cannot read the audit log: %s", mw_strerror(rc));
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(
			arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
				       (json_int_t)lines[i].id, "ts", (json_int_t)lines[i].ts,
				       "actor", lines[i].actor, "action", lines[i].action, "target",
				       lines[i].target, "remote", lines[i].remote, "result",
				       lines[i].result, "detail", lines[i].detail));
	http_json(resp, 200,
		  json_pack("{s:o, s:I}", "lines", arr, "next",
			    (json_int_t)(n ? lines[n - 1].id : after)));
	free(lines);
}
