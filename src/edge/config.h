/* config.h -- mw-edge's settings: one table of keys (core/config.h) that the
 * YAML reader, --set, the unknown-key check and `mw-edge --help-config`
 * all follow. */
#ifndef MW_EDGE_CONFIG_H
#define MW_EDGE_CONFIG_H

#include "core/config.h"
#include "core/event.h"
#include "core/mw.h"

#include <stdbool.h>
#include <stdint.h>

#define EDGE_PATH_MAX 1024
#define EDGE_URL_MAX 1024
#define EDGE_TOKEN_MAX 256

struct edge_config {
	char node_id[EVENT_ID_MAX + 1];
	char data_dir[EDGE_PATH_MAX];
	int log_level;	     /* enum log_level */
	int store_sync;	     /* enum store_sync */
	int64_t store_quota; /* bytes, 0 = none */
	int64_t blobs_quota; /* bytes, 0 = none */
	int64_t blobs_max_size;

	char api_listen[128];
	char api_socket[EDGE_PATH_MAX];
	char api_token[EDGE_TOKEN_MAX];
	int64_t api_max_body;

	char hub_url[EDGE_URL_MAX];
	char uplink_token[EDGE_TOKEN_MAX];
	int64_t batch_events;
	int64_t batch_bytes;
	bool compress;
	int64_t backoff_min_ms, backoff_max_ms, uplink_timeout_ms;

	char webhook[EDGE_URL_MAX];
	char command[4096];
	int min_severity; /* enum severity */

	bool sim_enabled;
	int64_t sim_interval_ms;
	int64_t sim_seed;
	int64_t sim_machines;
};

extern const struct config_key edge_config_keys[];

/* Defaults for every key. */
int edge_config_defaults(struct edge_config *c) MW_MUST_CHECK;
/* Checks what single keys cannot: required keys and relations between
 * keys. Fills api_socket from data_dir when empty. err gets "key: reason". */
int edge_config_check(struct edge_config *c, char *err, size_t errlen) MW_MUST_CHECK;
/* When api.token is empty: reads DATA_DIR/api.token, or creates it (0600)
 * with a random token, and copies it into c->api_token. */
int edge_config_token(struct edge_config *c) MW_MUST_CHECK;

#endif
