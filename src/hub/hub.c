/* hub.c -- opening and closing the hub, and its credential checks.
 *
 * Tokens are compared as SHA-256 digests with hash_equal: equal-length
 * inputs, constant time, so neither the length nor a prefix of a token
 * leaks through response timing; every node's digest is compared, hit or
 * miss, so the timing does not reveal which node a token belongs to. */
#include "hub/hub.h"

#include "core/hash.h"
#include "core/log.h"
#include "hub/auth.h"
#include "hub/blobs.h"
#include "hub/users.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *reject_names[REJ_COUNT] = {"auth",	  "forbidden", "too_large",
					      "encoding", "invalid",   "store"};

const char *hub_reject_name(enum hub_reject r)
{
	return (unsigned)r < REJ_COUNT ? reject_names[r] : "?";
}

static void digest(const char *s, uint8_t out[EVENT_HASH_LEN]) { hash_sha256(s, strlen(s), out); }

void hub_bootstrap_forget(const struct hub *h)
{
	char path[1024];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", h->cfg->data_dir, HUB_BOOTSTRAP_FILE) <
	    sizeof(path))
		unlink(path);
}

/* With no user yet, a one-time token for the first admin. */
static int open_bootstrap(struct hub *h)
{
	struct db_user *users = NULL;
	size_t n = 0;
	int rc = h->db->ops->users_list(h->db, &users, &n);

	free(users);
	if (rc == MW_OK && n > 0)
		hub_bootstrap_forget(h);
	if (rc || n > 0)
		return rc;
	rc = auth_token_new(TOKEN_BOOTSTRAP, h->bootstrap_token, h->bootstrap_digest);
	h->bootstrap_open = rc == MW_OK;
	return rc;
}

int hub_open(struct hub *h, const struct hub_config *cfg, const struct db_ops *backend)
{
	size_t n = cfg->nodes.n;
	int rc;

	memset(h, 0, sizeof(*h));
	h->cfg = cfg;
	h->started_ns = mw_now_ns();
	h->started_mono = mw_mono_ns();
	pthread_mutex_init(&h->write_lock, NULL);
	if (n && !(h->node_digests = calloc(n, sizeof(*h->node_digests)))) {
		rc = MW_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		digest(cfg->nodes.values[i], h->node_digests[i]);
	h->api_token_set = cfg->api_token[0] != '\0';
	if (h->api_token_set)
		digest(cfg->api_token, h->api_digest);
	if ((rc = backend->open(cfg->data_dir, &h->db)) ||
	    (rc = hub_blobs_open(cfg->data_dir, &h->blobs)) ||
	    (rc = auth_limiter_new(&h->limiter)) || (rc = users_cache_new(h)) ||
	    (rc = open_bootstrap(h)))
		goto fail;
	return MW_OK;
fail:
	hub_close(h);
	return rc;
}

void hub_close(struct hub *h)
{
	if (h->db)
		h->db->ops->close(h->db);
	h->db = NULL;
	hub_blobs_close(h->blobs);
	h->blobs = NULL;
	free(h->node_digests);
	h->node_digests = NULL;
	auth_limiter_free(h->limiter);
	h->limiter = NULL;
	users_cache_free(h);
	pthread_mutex_destroy(&h->write_lock);
}

int hub_write(struct hub *h, int (*fn)(struct hub *h, void *arg), void *arg)
{
	int rc;

	pthread_mutex_lock(&h->write_lock);
	rc = h->db->ops->begin(h->db);
	if (rc == MW_OK)
		rc = fn(h, arg);
	if (rc == MW_OK)
		rc = h->db->ops->commit(h->db);
	if (rc)
		h->db->ops->rollback(h->db);
	pthread_mutex_unlock(&h->write_lock);
	return rc;
}

const char *hub_node_for_digest(const struct hub *h, const uint8_t d[EVENT_HASH_LEN])
{
	const char *found = NULL;

	for (size_t i = 0; i < h->cfg->nodes.n; i++)
		if (hash_equal(d, h->node_digests[i], EVENT_HASH_LEN))
			found = h->cfg->nodes.names[i];
	return found;
}

bool hub_node_configured(const struct hub *h, const char *node)
{
	for (size_t i = 0; i < h->cfg->nodes.n; i++)
		if (strcmp(h->cfg->nodes.names[i], node) == 0)
			return true;
	return false;
}

bool hub_api_digest_ok(const struct hub *h, const uint8_t d[EVENT_HASH_LEN])
{
	return h->api_token_set && hash_equal(d, h->api_digest, EVENT_HASH_LEN);
}
