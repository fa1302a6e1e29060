/* fuzz_users.c -- libFuzzer harness for the hub's user, token and enrollment
 * requests.
 *
 * POST /v1/login, /v1/bootstrap and /v1/enroll take bodies from anyone;
 * /v1/users, /v1/tokens and /v1/enrollments from holders of a token. The
 * first byte of an input picks the handler (login, bootstrap, create user,
 * change user "u1", delete user "u1", create token, revoke token 1, create
 * an enrollment token, enroll, revoke node "e1"), the rest is its body; the
 * caller is the admin "root". One hub (a real SQLite store in a temporary
 * directory) serves every input, so state carries over as it would. The
 * harness aborts when an answer is not one the API documents, when a
 * refusal does not say why, or when the hub is left without an enabled
 * admin (the last admin must stay). */
#include "hub/db.h"
#include "hub/enroll.h"
#include "hub/users.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct hub hub;
static struct hub_config cfg;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* The hub's temporary directory goes with the process. */
static void teardown(void)
{
	hub_close(&hub);
	nftw(cfg.data_dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
	hub_config_free(&cfg);
}

static void setup(void)
{
	char dir[] = "/tmp/mw-fuzz-users-XXXXXX";
	struct db_user root = {.name = "root", .role = ROLE_ADMIN};

	if (!mkdtemp(dir) || hub_config_init(&cfg))
		abort();
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
	if (hub_open(&hub, &cfg, &db_sqlite_ops) ||
	    auth_password_hash("root password 1", root.pass))
		abort();
	if (hub.db->ops->begin(hub.db) || hub.db->ops->user_put(hub.db, &root, true) ||
	    hub.db->ops->commit(hub.db))
		abort();
	atexit(teardown);
}

static bool admin_left(void)
{
	struct db_user *u;
	size_t n;
	bool found = false;

	if (hub.db->ops->users_list(hub.db, &u, &n))
		abort();
	for (size_t i = 0; i < n; i++)
		found |= u[i].role == ROLE_ADMIN && !u[i].disabled;
	free(u);
	return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		http_handler fn;
		const char *url;
	} calls[] = {
		{users_login, "/v1/login"},
		{users_bootstrap, "/v1/bootstrap"},
		{users_create, "/v1/users"},
		{users_change, "/v1/users/u1"},
		{users_delete, "/v1/users/u1"},
		{users_tokens_create, "/v1/tokens"},
		{users_tokens_revoke, "/v1/tokens/1"},
		{enroll_create, "/v1/enrollments"},
		{enroll_node, "/v1/enroll"},
		{enroll_revoke_node, "/v1/nodes/e1/revoke"},
	};
	struct http_req req = {.method = "POST", .remote = "192.0.2.1"};
	struct http_resp resp = {0};
	json_t *j;
	unsigned s;

	if (!hub.db)
		setup();
	if (size < 1)
		return 0;
	req.url = calls[data[0] % MW_ARRAY_LEN(calls)].url;
	req.who = (struct principal){PRINCIPAL_USER, ROLE_ADMIN, "root", 0};
	buf_init(&req.body, 1 << 20);
	buf_init(&resp.body, 1 << 20);
	if (buf_add(&req.body, data + 1, size - 1))
		abort();
	calls[data[0] % MW_ARRAY_LEN(calls)].fn(&hub, &req, &resp);
	s = resp.status;
	if (s != 200 && s != 201 && s != 400 && s != 401 && s != 403 && s != 404 && s != 409 &&
	    s != 429)
		abort();
	j = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
	if (!json_is_object(j) || (s >= 400 && !json_string_length(json_object_get(j, "error"))))
		abort(); /* every answer is JSON; a refusal says why */
	json_decref(j);
	if (!admin_left())
		abort();
	buf_free(&req.body);
	buf_free(&resp.body);
	return 0;
}
