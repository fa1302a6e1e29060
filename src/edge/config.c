/* config.c -- the key table of mw-edge and the checks a table cannot
 * express (a required node id, backoff_min <= backoff_max), plus the API
 * token that is generated on first start and kept beside the data so that
 * local producers can read it. */
#include "edge/config.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Designated fields, so rows stay valid when struct config_key grows. */
#define K(name_, type_, field, min_, max_, def_, choices_, help_)                               \
	{                                                                                      \
		.name = name_, .type = type_, .offset = offsetof(struct edge_config, field),   \
		.size = sizeof(((struct edge_config *)0)->field), .min = min_, .max = max_,    \
		.def = def_, .choices = choices_, .help = help_                                \
	}
#define GIB (1LL << 30)
#define TIB (1LL << 40)
#define HOUR_MS 3600000LL

const struct config_key edge_config_keys[] = {
	K("node.id", CONF_STRING, node_id, 0, 0, NULL, NULL,
	  "required: the name this edge reports to the hub (1-64 of A-Z a-z 0-9 . _ : / -)"),
	K("data_dir", CONF_STRING, data_dir, 0, 0, "/var/lib/mw-edge", NULL,
	  "directory for the event store, the blob store, the API socket, token and address files"),
	K("log.level", CONF_ENUM, log_level, 0, 0, "info", "debug|info|warn|error",
	  "least severe log lines written to stderr"),
	K("store.sync", CONF_ENUM, store_sync, 0, 0, "normal", "normal|full",
	  "normal: appends survive a crash of the process; full: a power loss too (slower)"),
	K("store.quota", CONF_SIZE, store_quota, 0, 16 * TIB, "1G", NULL,
	  "disk space the store may use before dropping events by policy; 0 = no limit"),
	K("blobs.quota", CONF_SIZE, blobs_quota, 0, 16 * TIB, "2G", NULL,
	  "disk space for evidence snapshots (DATA_DIR/blobs); over it the oldest go, those the "
	  "hub has first, alarm evidence last; 0 = no limit"),
	K("blobs.max_size", CONF_SIZE, blobs_max_size, 1024, GIB, "8M", NULL,
	  "largest blob (snapshot) POST /v1/blobs accepts (413 above)"),
	K("api.listen", CONF_STRING, api_listen, 0, 0, "127.0.0.1:7801", NULL,
	  "TCP address of the local API (host:port; port 0 picks a free one; \"\" = no TCP)"),
	K("api.socket", CONF_STRING, api_socket, 0, 0, "", NULL,
	  "unix socket of the local API; \"\" = DATA_DIR/edge.sock"),
	K("api.token", CONF_STRING, api_token, 0, 0, "", NULL,
	  "bearer token of the local API; \"\" = generated once into DATA_DIR/api.token"),
	K("api.max_body", CONF_SIZE, api_max_body, 1024, GIB, "4M", NULL,
	  "largest request body the local API accepts"),
	K("uplink.hub_url", CONF_STRING, hub_url, 0, 0, "", NULL,
	  "base URL of the hub (http://hub:7800); \"\" = keep events local"),
	K("uplink.token", CONF_STRING, uplink_token, 0, 0, "", NULL,
	  "this node's token in the hub's nodes map"),
	K("uplink.batch_events", CONF_INT, batch_events, 1, 100000, "1000", NULL,
	  "most events per batch sent to the hub"),
	K("uplink.batch_bytes", CONF_SIZE, batch_bytes, 4096, GIB, "1M", NULL,
	  "most bytes of events per batch (before compression)"),
	K("uplink.compress", CONF_BOOL, compress, 0, 0, "true", NULL, "compress batches with zstd"),
	K("uplink.backoff_min", CONF_DURATION, backoff_min_ms, 1, HOUR_MS, "200ms", NULL,
	  "first wait after a failed send"),
	K("uplink.backoff_max", CONF_DURATION, backoff_max_ms, 1, HOUR_MS, "30s", NULL,
	  "longest wait between retries (waits double up to it, with jitter)"),
	K("uplink.timeout", CONF_DURATION, uplink_timeout_ms, 100, HOUR_MS, "10s", NULL,
	  "time limit of one send to the hub"),
	K("actions.webhook", CONF_STRING, webhook, 0, 0, "", NULL,
	  "URL that gets each qualifying event's JSON by POST; \"\" = none"),
	K("actions.command", CONF_STRING, command, 0, 0, "", NULL,
	  "shell command run per qualifying event, with MW_EVENT, MW_EVENT_KIND, "
	  "MW_EVENT_SEVERITY, MW_EVENT_SEQ, MW_EVENT_SOURCE set; \"\" = none"),
	K("actions.min_severity", CONF_ENUM, min_severity, 0, 0, "alarm",
	  "debug|info|warning|alarm", "least severe event that triggers the actions"),
	K("sim.enabled", CONF_BOOL, sim_enabled, 0, 0, "false", NULL,
	  "run the simulated machine (temperature, vibration, spindle)"),
	K("sim.interval", CONF_DURATION, sim_interval_ms, 1, HOUR_MS, "1s", NULL,
	  "time between two readings of the simulated machines"),
	K("sim.seed", CONF_INT, sim_seed, 0, INT64_MAX, "1", NULL,
	  "seed of the simulation: the same seed gives the same readings"),
	K("sim.machines", CONF_INT, sim_machines, 1, 64, "1", NULL, "number of simulated machines"),
	CONFIG_END,
};

int edge_config_defaults(struct edge_config *c)
{
	memset(c, 0, sizeof(*c));
	return config_defaults(edge_config_keys, c);
}

int edge_config_check(struct edge_config *c, char *err, size_t errlen)
{
	if (!c->node_id[0]) {
		snprintf(err, errlen, "node.id: required (the name this edge reports to the hub)");
		return MW_ERR_INVALID;
	}
	if (!event_id_valid(c->node_id)) {
		snprintf(err, errlen,
			 "node.id: '%s' must be 1 to 64 characters of A-Z a-z 0-9 . _ : / -",
			 c->node_id);
		return MW_ERR_INVALID;
	}
	if (!c->data_dir[0]) {
		snprintf(err, errlen, "data_dir: must not be empty");
		return MW_ERR_INVALID;
	}
	if (c->backoff_min_ms > c->backoff_max_ms) {
		snprintf(err, errlen,
			 "uplink.backoff_min: %lldms is more than uplink.backoff_max (%lldms)",
			 (long long)c->backoff_min_ms, (long long)c->backoff_max_ms);
		return MW_ERR_INVALID;
	}
	if (c->hub_url[0] && strncmp(c->hub_url, "http://", 7) &&
	    strncmp(c->hub_url, "https://", 8)) {
		snprintf(err, errlen, "uplink.hub_url: '%s' must start with http:// or https://",
			 c->hub_url);
		return MW_ERR_INVALID;
	}
	if (c->webhook[0] && strncmp(c->webhook, "http://", 7) &&
	    strncmp(c->webhook, "https://", 8)) {
		snprintf(err, errlen, "actions.webhook: '%s' must start with http:// or https://",
			 c->webhook);
		return MW_ERR_INVALID;
	}
	if (!c->api_socket[0] &&
	    (size_t)snprintf(c->api_socket, sizeof(c->api_socket), "%s/edge.sock", c->data_dir) >=
		    sizeof(c->api_socket)) {
		snprintf(err, errlen, "data_dir: too long for the API socket path");
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

static int read_token(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	int rc = MW_ERR_IO;

	if (!f)
		return errno == ENOENT ? MW_ERR_NOTFOUND : MW_ERR_IO;
	if (fgets(out, (int)cap, f)) {
		out[strcspn(out, "\r\n")] = '\0';
		rc = out[0] ? MW_OK : MW_ERR_INVALID;
	}
	fclose(f);
	if (rc)
		log_error("api token unreadable file=%s", path);
	return rc;
}

static int write_token(const char *path, char *out, size_t cap)
{
	uint8_t raw[24];
	char hex[2 * sizeof(raw) + 2];
	int fd, rc = MW_ERR_IO;

	if (mw_random(raw, sizeof(raw)))
		return MW_ERR_IO;
	mw_hex(raw, sizeof(raw), hex);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		log_error("cannot create api token file=%s err=\"%s\"", path, strerror(errno));
		return MW_ERR_IO;
	}
	size_t n = strlen(hex);
	hex[n] = '\n';
	if (write(fd, hex, n + 1) == (ssize_t)(n + 1) && fsync(fd) == 0)
		rc = MW_OK;
	close(fd);
	hex[n] = '\0';
	if (rc == MW_OK)
		rc = mw_strlcpy(out, hex, cap);
	return rc;
}

int edge_config_token(struct edge_config *c)
{
	char path[EDGE_PATH_MAX + 16];
	int rc;

	if (c->api_token[0])
		return MW_OK;
	snprintf(path, sizeof(path), "%s/api.token", c->data_dir);
	rc = read_token(path, c->api_token, sizeof(c->api_token));
	if (rc == MW_ERR_NOTFOUND) {
		rc = write_token(path, c->api_token, sizeof(c->api_token));
		if (rc == MW_OK)
			log_info("api token generated file=%s", path);
	} else if (rc == MW_OK) {
		log_info("api token read file=%s", path);
	}
	return rc;
}
