/* hub.h -- the running hub: its settings, store, credentials and counters.
 *
 * One struct hub is shared by every request thread. What changes at run
 * time is either behind write_lock (the store's single writer) or an
 * atomic counter; the rest is read-only after hub_open(). */
#ifndef MW_HUB_HUB_H
#define MW_HUB_HUB_H

#include "core/event.h"
#include "hub/chain.h"
#include "hub/config.h"
#include "hub/db.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* Why a batch was refused: the label of mw_hub_batches_rejected_total. */
enum hub_reject {
	REJ_AUTH,      /* 401 */
	REJ_FORBIDDEN, /* 403 */
	REJ_TOO_LARGE, /* 413 */
	REJ_ENCODING,  /* 415 */
	REJ_INVALID,   /* 400 */
	REJ_STORE,     /* 503 */
	REJ_COUNT
};

struct hub_metrics {
	atomic_uint_fast64_t events_ingested, events_duplicate, batches, ingest_bytes;
	atomic_uint_fast64_t rejected[REJ_COUNT];
	atomic_uint_fast64_t breaks[CHAIN_REASONS];
	atomic_uint_fast64_t blobs_stored, blobs_duplicate, blob_bytes, blobs_rejected;
};

struct hub_blobs;
struct auth_limiter;
struct fleet;
struct deploy;
struct node_cache;

struct hub {
	const struct hub_config *cfg;
	struct db *db;
	struct hub_blobs *blobs;    /* evidence snapshots (hub/blobs.h) */
	pthread_mutex_t write_lock; /* one writer at a time (db.h) */
	struct hub_metrics m;
	int64_t started_ns; /* wall clock, for process_start_time_seconds */
	int64_t started_mono;
	uint8_t (*node_digests)[EVENT_HASH_LEN]; /* SHA-256 of each nodes.* token */
	bool api_token_set;
	uint8_t api_digest[EVENT_HASH_LEN];
	struct auth_limiter *limiter;  /* failed logins (hub/auth.h) */
	struct node_cache *node_cache; /* enrolled nodes' credentials (users.c) */
	struct fleet *fleet;	       /* nodes' health (hub/fleet.h); set by fleet_start() */
	struct deploy *deploy;	       /* rollouts (hub/deploy.h); set by deploy_start() */
	/* While no user exists: the one-time token that creates the first
	 * admin (POST /v1/bootstrap), printed at start. Guarded by write_lock. */
	bool bootstrap_open;
	char bootstrap_token[80];
	uint8_t bootstrap_digest[EVENT_HASH_LEN];
};

const char *hub_reject_name(enum hub_reject r);

/* DATA_DIR/bootstrap.token, where the start of a hub without users puts
 * its one-time token; hub_bootstrap_forget() removes it once used (or
 * when a user exists). */
#define HUB_BOOTSTRAP_FILE "bootstrap.token"
void hub_bootstrap_forget(const struct hub *h);

/* Opens the store and the blob store under cfg->data_dir with the given
 * backend. */
int hub_open(struct hub *h, const struct hub_config *cfg,
	     const struct db_ops *backend) MW_MUST_CHECK;
void hub_close(struct hub *h);

/* Runs fn(h, arg) in a write transaction of the store, under write_lock:
 * committed when fn returns MW_OK, rolled back otherwise. fn's result. */
int hub_write(struct hub *h, int (*fn)(struct hub *h, void *arg), void *arg) MW_MUST_CHECK;

/* Given the SHA-256 of a Bearer token (computed once per request): the
 * configured node whose token it is (constant time over all nodes), or
 * NULL. */
const char *hub_node_for_digest(const struct hub *h, const uint8_t d[EVENT_HASH_LEN]);
/* True when node is listed in the nodes: setting. */
bool hub_node_configured(const struct hub *h, const char *node);
/* True when api.token is set and the digest is its (constant time). */
bool hub_api_digest_ok(const struct hub *h, const uint8_t d[EVENT_HASH_LEN]);

#endif
