/* config.c -- the hub's key table and the checks that span keys.
 *
 * The table is the single source of truth for names, types, defaults and
 * help: docs/configuration.md is generated from it with --help-config. */
#include "hub/config.h"
#include "hub/tls.h"

#include "core/event.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define HC(f) offsetof(struct hub_config, f)
/* Designated fields, so rows stay valid when struct config_key grows. */
#define HK(name_, type_, field, size_, min_, max_, def_, choices_, help_)                      \
	{                                                                                      \
		.name = name_, .type = type_, .offset = HC(field), .size = size_, .min = min_, \
		.max = max_, .def = def_, .choices = choices_, .help = help_                   \
	}
#define HS(f) sizeof(((struct hub_config *)0)->f)

const struct config_key hub_config_keys[] = {
	HK("listen", CONF_STRING, listen, HS(listen), 0, 0, "127.0.0.1:7800", NULL,
	   "address the HTTP API listens on, host:port; port 0 picks a free one (see "
	   "DATA_DIR/hub.addr)"),
	HK("data_dir", CONF_STRING, data_dir, HS(data_dir), 0, 0, "/var/lib/mw-hub", NULL,
	   "directory of the database (hub.db), the blob store (blobs/) and hub.addr; created "
	   "when missing"),
	HK("log.level", CONF_ENUM, log_level, 0, 0, 0, "info", "debug|info|warn|error",
	   "lowest level of log lines written to stderr"),
	HK("max_body", CONF_SIZE, max_body, 0, 1024, (int64_t)1 << 30, "16M", NULL,
	   "largest request body accepted, compressed and decompressed (413 above)"),
	HK("blobs.max_size", CONF_SIZE, blobs_max_size, 0, 1024, (int64_t)1 << 30, "8M", NULL,
	   "largest blob (evidence snapshot) an edge may upload with PUT /v1/blobs/HASH (413 "
	   "above)"),
	HK("nodes", CONF_MAP, nodes, 0, 0, 0, NULL, NULL,
	   "edge nodes allowed to send events and blobs: node id -> ingest token (Bearer)"),
	HK("api.token", CONF_STRING, api_token, HS(api_token), 0, 0, NULL, NULL,
	   "a static Bearer token with the admin role, for scripts and tests (prefer users and "
	   "API tokens: docs/security.md); empty: none"),
	HK("auth.session_ttl", CONF_DURATION, session_ttl_ms, 0, 1000, (int64_t)30 * 86400000,
	   "12h", NULL, "how long a login (`mw login`) stays valid"),
	HK("auth.token_ttl", CONF_DURATION, token_ttl_ms, 0, 1000, (int64_t)3650 * 86400000,
	   "2160h", NULL,
	   "how long an API token stays valid unless it is created with its own ttl (2160h: 90 "
	   "days)"),
	HK("fleet.stale_missed", CONF_INT, stale_missed, 0, 1, 1000, "2", NULL,
	   "heartbeats a node may miss before it is marked stale (event node.stale)"),
	HK("fleet.offline_missed", CONF_INT, offline_missed, 0, 1, 1000, "3", NULL,
	   "heartbeats a node may miss before it is marked offline (event node.offline)"),
	HK("tls.mode", CONF_ENUM, tls_mode, 0, 0, 0, "auto", "auto|files|off",
	   "auto: the hub's own CA in DATA_DIR/tls signs its certificate; files: tls.cert and "
	   "tls.key; off: plain HTTP, only on a loopback listen address"),
	HK("tls.cert", CONF_STRING, tls_cert, HS(tls_cert), 0, 0, NULL, NULL,
	   "with tls.mode files: the server certificate chain (PEM)"),
	HK("tls.key", CONF_STRING, tls_key, HS(tls_key), 0, 0, NULL, NULL,
	   "with tls.mode files: the server's private key (PEM)"),
	HK("tls.names", CONF_STRING, tls_names, HS(tls_names), 0, 0, NULL, NULL,
	   "with tls.mode auto: host names and addresses edges use to reach the hub, "
	   "comma-separated (the listen address, the host name and localhost are added)"),
	CONFIG_END,
};

int hub_config_init(struct hub_config *c)
{
	memset(c, 0, sizeof(*c));
	return config_defaults(hub_config_keys, c);
}

void hub_config_free(struct hub_config *c) { config_free(hub_config_keys, c); }

int hub_config_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	int64_t p;
	size_t n;

	if (!colon || colon == s || mw_parse_i64(colon + 1, 0, 65535, &p))
		return MW_ERR_INVALID;
	n = (size_t)(colon - s);
	if (n >= hostlen)
		return MW_ERR_INVALID;
	memcpy(host, s, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return MW_OK;
}

static int check_nodes(const struct config_map *m, char *err, size_t errlen)
{
	for (size_t i = 0; i < m->n; i++) {
		const char *id = m->names[i];
		if (!event_id_valid(id)) {
			snprintf(err, errlen,
				 "nodes.%.64s: a node id is 1 to %d characters from "
				 "A-Z a-z 0-9 . _ : / -",
				 id, EVENT_ID_MAX);
			return MW_ERR_INVALID;
		}
		if (strcmp(id, HUB_NODE_SELF) == 0) {
			snprintf(err, errlen,
				 "nodes.%s: the id '%s' is reserved for the hub's own "
				 "events",
				 id, HUB_NODE_SELF);
			return MW_ERR_INVALID;
		}
		if (strlen(m->values[i]) < 8) {
			snprintf(err, errlen, "nodes.%s: the token must be at least 8 characters",
				 id);
			return MW_ERR_INVALID;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(m->values[i], m->values[j]) == 0) {
				snprintf(err, errlen,
					 "nodes.%s: same token as nodes.%s; each node "
					 "needs its own",
					 id, m->names[j]);
				return MW_ERR_INVALID;
			}
		}
	}
	return MW_OK;
}

int hub_config_check(const struct hub_config *c, char *err, size_t errlen)
{
	char host[128];
	uint16_t port;

	if (hub_config_parse_listen(c->listen, host, sizeof(host), &port)) {
		snprintf(err, errlen, "listen: '%.100s' is not host:port (like 127.0.0.1:7800)",
			 c->listen);
		return MW_ERR_INVALID;
	}
	if (c->tls_mode == HUB_TLS_FILES && (!c->tls_cert[0] || !c->tls_key[0])) {
		snprintf(err, errlen, "%s: needed with tls.mode files",
			 c->tls_cert[0] ? "tls.key" : "tls.cert");
		return MW_ERR_INVALID;
	}
	if (c->tls_mode == HUB_TLS_OFF && !hub_tls_loopback(host)) {
		snprintf(err, errlen,
			 "tls.mode: off is only allowed on a loopback address (listen is %s); use "
			 "auto or files",
			 c->listen);
		return MW_ERR_INVALID;
	}
	if (!c->data_dir[0]) {
		snprintf(err, errlen, "data_dir: must not be empty");
		return MW_ERR_INVALID;
	}
	return check_nodes(&c->nodes, err, errlen);
}
