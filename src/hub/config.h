/* config.h -- mw-hub's settings and their key table.
 *
 * Every key is declared once in hub_config_keys[] (core/config.h); the YAML
 * reader, `--set key=value`, the unknown-key check and `--help-config` all
 * follow it. hub_config_check() adds what a table cannot say: that the
 * listen address parses, that node ids are valid and their tokens unique. */
#ifndef MW_HUB_CONFIG_H
#define MW_HUB_CONFIG_H

#include "core/config.h"
#include "core/mw.h"

#include <stdint.h>

#define HUB_NODE_SELF "hub" /* the hub's own node id: its chain.break events */

enum hub_tls_mode { HUB_TLS_AUTO, HUB_TLS_FILES, HUB_TLS_OFF }; /* tls.mode, hub/tls.h */

struct hub_config {
	char listen[128];
	char data_dir[512];
	int log_level;		 /* enum log_level */
	int64_t max_body;	 /* bytes, compressed or not */
	int64_t blobs_max_size;	 /* bytes of one PUT /v1/blobs/HASH body */
	struct config_map nodes; /* node id -> ingest token */
	char api_token[256];	 /* a static admin token; empty: none */
	int64_t session_ttl_ms;	 /* auth.session_ttl: login sessions */
	int64_t token_ttl_ms;	 /* auth.token_ttl: API tokens, by default */
	int64_t stale_missed;	 /* fleet.stale_missed: heartbeats missed, then stale */
	int64_t offline_missed;	 /* fleet.offline_missed */
	int tls_mode;		 /* enum hub_tls_mode */
	char tls_cert[512], tls_key[512];
	char tls_names[1024]; /* comma-separated extra names of the auto certificate */
};

extern const struct config_key hub_config_keys[];

/* Defaults for every key. */
int hub_config_init(struct hub_config *c) MW_MUST_CHECK;
void hub_config_free(struct hub_config *c);
/* Cross-key checks; err names the key: "nodes.hub: the id 'hub' is reserved". */
int hub_config_check(const struct hub_config *c, char *err, size_t errlen) MW_MUST_CHECK;
/* Splits "host:port" (port 0..65535; host an IPv4 address or "localhost"). */
int hub_config_parse_listen(const char *s, char *host, size_t hostlen,
			    uint16_t *port) MW_MUST_CHECK;

#endif
