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
#define K(name_, type_, field, min_, max_, def_, choices_, help_)                            \
	{                                                                                    \
		.name = name_, .type = type_, .offset = offsetof(struct edge_config, field), \
		.size = sizeof(((struct edge_config *)0)->field), .min = min_, .max = max_,  \
		.def = def_, .choices = choices_, .help = help_                              \
	}
/* The same for the rows of a list entry's sub-table. */
#define KE(T, name_, type_, field, min_, max_, def_, choices_, help_)                   \
	{                                                                               \
		.name = name_, .type = type_, .offset = offsetof(T, field),             \
		.size = sizeof(((T *)0)->field), .min = min_, .max = max_, .def = def_, \
		.choices = choices_, .help = help_                                      \
	}
#define KZ(...) KE(struct edge_zone_config, __VA_ARGS__)
#define KC(...) KE(struct edge_camera_config, __VA_ARGS__)
#define GIB (1LL << 30)
#define TIB (1LL << 40)
#define HOUR_MS 3600000LL

static const struct config_key zone_keys[] = {
	KZ("name", CONF_STRING, name, 0, 0, NULL, NULL,
	   "required: the zone's name in events (1-64 of A-Z a-z 0-9 . _ : / -)"),
	KZ("polygon", CONF_POINTS, polygon, 3, 16, NULL, NULL,
	   "required: the zone's corners in frame pixels, [[x, y], ...], 3 to 16, not crossing"),
	KZ("severity", CONF_ENUM, severity, 0, 0, "alarm", "debug|info|warning|alarm",
	   "severity of zone.intrusion events"),
	CONFIG_END,
};

static const struct config_key camera_keys[] = {
	KC("id", CONF_STRING, id, 0, 0, NULL, NULL,
	   "required: the camera's name, the source of its events"),
	KC("url", CONF_STRING, url, 0, 0, NULL, NULL,
	   "required: a file, rtsp:// http:// udp:// tcp:// stream, a V4L2 device such as "
	   "/dev/video0, or sim://conveyor?seed=1 for the built-in simulated line"),
	KC("loop", CONF_BOOL, loop, 0, 0, "false", NULL, "start a file over when it ends"),
	KC("realtime", CONF_BOOL, realtime, 0, 0, "true", NULL,
	   "play files (and sim://) at their own frame rate, as a camera would deliver them; "
	   "false: analyse every frame as fast as possible (not for live streams)"),
	KC("reconnect.min", CONF_DURATION, backoff_min_ms, 1, HOUR_MS, "500ms", NULL,
	   "first wait before reopening a failed stream"),
	KC("reconnect.max", CONF_DURATION, backoff_max_ms, 1, HOUR_MS, "30s", NULL,
	   "longest wait between reopening attempts (waits double up to it, with jitter)"),
	{.name = "zones",
	 .type = CONF_LIST,
	 .offset = offsetof(struct edge_camera_config, zones),
	 .size = sizeof(struct config_list),
	 .max = EDGE_ZONES_MAX,
	 .sub = zone_keys,
	 .elem_size = sizeof(struct edge_zone_config),
	 .help = "safety zones: an object inside one raises zone.intrusion"},
	KC("zone.enter", CONF_DURATION, zone_enter_ms, 0, HOUR_MS, "200ms", NULL,
	   "how long something must be inside a zone before zone.intrusion (debounce)"),
	KC("zone.leave", CONF_DURATION, zone_leave_ms, 0, HOUR_MS, "1s", NULL,
	   "how long a zone must be empty before zone.clear (hysteresis)"),
	KC("motion.scale", CONF_INT, motion_scale, 1, 8, "4", NULL,
	   "analyse motion at 1/scale of the resolution (1, 2, 4 or 8)"),
	KC("motion.threshold", CONF_INT, motion_threshold, 1, 255, "25", NULL,
	   "grey levels of difference from the background that count as foreground"),
	KC("motion.min_area", CONF_INT, motion_min_area, 1, 1LL << 26, "400", NULL,
	   "smallest moving object reported, in frame pixels"),
	KC("count.line", CONF_POINTS, count_line, 2, 2, NULL, NULL,
	   "the count line across the conveyor, [[x1, y1], [x2, y2]]; unset = no counting"),
	KC("count.direction", CONF_ENUM, count_direction, 0, 0, "both", "both|forward|backward",
	   "which crossings count: forward = from the left (or top) side of the line"),
	KC("count.codes", CONF_ENUM, count_codes, 0, 0, "none", "none|datamatrix|qr|barcode|all",
	   "codes read on each counted part and attached to its event"),
	KC("count.min_gap", CONF_DURATION, count_min_gap_ms, 0, HOUR_MS, "500ms", NULL,
	   "a part crossing back and forth within this time counts once"),
	KC("inspection.roi", CONF_RECT, inspect_roi, 0, 0, NULL, NULL,
	   "the inspection window [x, y, w, h] in frame pixels; unset = no inspection"),
	KC("inspection.model", CONF_STRING, inspect_model, 0, 0, "", NULL,
	   "model file written by `mw-edge train`; \"\" = DATA_DIR/models/ID.model"),
	{.name = "inspection.threshold",
	 .type = CONF_DOUBLE,
	 .offset = offsetof(struct edge_camera_config, inspect_threshold),
	 .size = sizeof(double),
	 .dmin = 0,
	 .dmax = 1e9,
	 .def = "0",
	 .help = "defect score above which a part is defective; 0 = the model's own"},
	KC("inspection.severity", CONF_ENUM, inspect_severity, 0, 0, "warning",
	   "debug|info|warning|alarm", "severity of inspection.defect events"),
	KC("snapshot.max_width", CONF_INT, snapshot_max_width, 0, 8192, "960", NULL,
	   "evidence snapshots are scaled down to this width; 0 = full size"),
	KC("snapshot.quality", CONF_INT, snapshot_quality, 1, 100, "80", NULL,
	   "JPEG quality of evidence snapshots"),
	CONFIG_END,
};

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
	  "base URL of the hub (http://hub:7800); \"\" = the hub `mw-edge enroll` saved, else "
	  "keep events local"),
	K("uplink.token", CONF_STRING, uplink_token, 0, 0, "", NULL,
	  "this node's token in the hub's nodes map; \"\" = the credential `mw-edge enroll` "
	  "saved in DATA_DIR/node.credential"),
	K("uplink.ca", CONF_STRING, uplink_ca, 0, 0, "", NULL,
	  "with an https hub_url: the hub's CA certificate (PEM) to trust; \"\" = the one "
	  "`mw-edge enroll` saved, else the system's trust store"),
	K("heartbeat.interval", CONF_DURATION, heartbeat_ms, 100, HOUR_MS, "10s", NULL,
	  "how often the edge reports its health to the hub (CPU, memory, disk, peripherals, "
	  "backlog); the hub marks it stale after 2 missed reports, offline after 3"),
	K("apps.engine", CONF_STRING, apps_engine, 0, 0, "", NULL,
	  "unix socket of the container engine (Docker Engine API: Podman's `podman system "
	  "service`, or Docker) for container apps; \"\" = /run/podman/podman.sock, else "
	  "/var/run/docker.sock"),
	K("apps.healthy", CONF_DURATION, apps_healthy_ms, 100, HOUR_MS, "10s", NULL,
	  "an app that exits sooner than this after starting counts a failure; 3 in a row make "
	  "it failed, which rolls back a rollout"),
	K("apps.backoff_min", CONF_DURATION, apps_backoff_min_ms, 10, HOUR_MS, "1s", NULL,
	  "first wait before an app that exited is started again"),
	K("apps.backoff_max", CONF_DURATION, apps_backoff_max_ms, 10, HOUR_MS, "1m", NULL,
	  "longest wait between restarts of an app (waits double up to it)"),
	K("apps.stop_grace", CONF_DURATION, apps_stop_grace_ms, 0, HOUR_MS, "10s", NULL,
	  "how long an app has to exit after SIGTERM before it is killed"),
	K("apps.log_max", CONF_SIZE, apps_log_max, 4096, GIB, "1M", NULL,
	  "size of a native app's log file (DATA_DIR/apps/NAME/app.log) before it is rotated "
	  "to app.log.1"),
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
	{.name = "cameras",
	 .type = CONF_LIST,
	 .offset = offsetof(struct edge_config, cameras),
	 .size = sizeof(struct config_list),
	 .max = EDGE_CAMERAS_MAX,
	 .sub = camera_keys,
	 .elem_size = sizeof(struct edge_camera_config),
	 .help = "cameras to analyse, each in the vision worker (mw-edge-vision)"},
	K("vision.worker", CONF_STRING, vision_worker, 0, 0, "", NULL,
	  "the vision worker program; \"\" = mw-edge-vision beside mw-edge"),
	CONFIG_END,
};

int edge_config_defaults(struct edge_config *c)
{
	memset(c, 0, sizeof(*c));
	return config_defaults(edge_config_keys, c);
}

void edge_config_free(struct edge_config *c) { config_free(edge_config_keys, c); }

int edge_camera_model_path(const struct edge_config *c, const struct edge_camera_config *cam,
			   char *out, size_t cap)
{
	int n = cam->inspect_model[0]
			? snprintf(out, cap, "%s", cam->inspect_model)
			: snprintf(out, cap, "%s/models/%s.model", c->data_dir, cam->id);
	return n < 0 || (size_t)n >= cap ? MW_ERR_TOOBIG : MW_OK;
}

static int check_zones(const struct edge_camera_config *cam, size_t ci, char *err, size_t errlen)
{
	const struct edge_zone_config *z = cam->zones.items;

	for (size_t i = 0; i < cam->zones.n; i++) {
		if (!event_id_valid(z[i].name)) {
			snprintf(err, errlen, "cameras[%zu].zones[%zu].name: %s", ci, i,
				 z[i].name[0]
					 ? "must be 1 to 64 characters of A-Z a-z 0-9 . _ : / -"
					 : "required");
			return MW_ERR_INVALID;
		}
		if (z[i].polygon.n == 0) {
			snprintf(err, errlen, "cameras[%zu].zones[%zu].polygon: required", ci, i);
			return MW_ERR_INVALID;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(z[i].name, z[j].name) == 0) {
				snprintf(err, errlen,
					 "cameras[%zu].zones[%zu].name: '%s' is used twice", ci, i,
					 z[i].name);
				return MW_ERR_INVALID;
			}
	}
	return MW_OK;
}

/* What a camera's table cannot say: required keys, unique ids. Polygons
 * are checked against the frames once the camera delivers them. */
static int check_cameras(const struct edge_config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->cameras.n; i++) {
		const struct edge_camera_config *cam = edge_camera(c, i);
		int rc;
		if (!event_id_valid(cam->id)) {
			snprintf(err, errlen, "cameras[%zu].id: %s", i,
				 cam->id[0] ? "must be 1 to 64 characters of A-Z a-z 0-9 . _ : / -"
					    : "required (the source of the camera's events)");
			return MW_ERR_INVALID;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(cam->id, edge_camera(c, j)->id) == 0) {
				snprintf(err, errlen, "cameras[%zu].id: '%s' is used twice", i,
					 cam->id);
				return MW_ERR_INVALID;
			}
		if (!cam->url[0]) {
			snprintf(err, errlen,
				 "cameras[%zu].url: required (a file, stream URL, "
				 "/dev/videoN or sim://conveyor)",
				 i);
			return MW_ERR_INVALID;
		}
		if (cam->backoff_min_ms > cam->backoff_max_ms) {
			snprintf(err, errlen, "cameras[%zu].reconnect.min: more than reconnect.max",
				 i);
			return MW_ERR_INVALID;
		}
		if ((rc = check_zones(cam, i, err, errlen)))
			return rc;
	}
	return MW_OK;
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
	return check_cameras(c, err, errlen);
}

static int override(struct edge_config *c, const char *prog, const char *opt, const char *key,
		    const char *value)
{
	char err[512];

	if (config_set(edge_config_keys, c, key, value, err, sizeof(err)) == MW_OK)
		return MW_OK;
	fprintf(stderr, "%s: %s: %s\n", prog, opt, err);
	return MW_ERR_INVALID;
}

static int override_kv(struct edge_config *c, const char *prog, const char *kv)
{
	char key[128];
	const char *eq = strchr(kv, '=');

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
		fprintf(stderr, "%s: --set %s: expected KEY=VALUE (see mw-edge --help-config)\n",
			prog, kv);
		return MW_ERR_INVALID;
	}
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = '\0';
	return override(c, prog, "--set", key, eq + 1);
}

static bool takes_value(const char *a)
{
	static const char *const opts[] = {"--config", "--data-dir", "--listen", "--log-level",
					   "--set"};
	for (size_t i = 0; i < MW_ARRAY_LEN(opts); i++)
		if (strcmp(a, opts[i]) == 0)
			return true;
	return false;
}

int edge_config_args(struct edge_config *c, int argc, char **argv, const char *prog, int *rest,
		     int *nrest)
{
	const char *config = NULL;
	char err[512];
	int i, rc = MW_OK;

	*nrest = 0;
	for (i = 1; i < argc; i++) /* the file first, whatever its position */
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
	if (config && config_load_file(edge_config_keys, c, config, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return MW_ERR_INVALID;
	}
	for (i = 1; i < argc && rc == MW_OK; i++) { /* then the overrides, in order */
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!takes_value(a)) {
			rest[(*nrest)++] = i;
			continue;
		}
		if (!v) {
			fprintf(stderr, "%s: %s: needs a value (see %s --help)\n", prog, a, prog);
			return MW_ERR_INVALID;
		}
		i++;
		if (strcmp(a, "--data-dir") == 0)
			rc = override(c, prog, a, "data_dir", v);
		else if (strcmp(a, "--listen") == 0)
			rc = override(c, prog, a, "api.listen", v);
		else if (strcmp(a, "--log-level") == 0)
			rc = override(c, prog, a, "log.level", v);
		else if (strcmp(a, "--set") == 0)
			rc = override_kv(c, prog, v);
	}
	if (rc)
		return rc;
	if (edge_config_check(c, err, sizeof(err))) {
		fprintf(stderr, "%s: %s%s%s\n", prog, config ? config : "", config ? ": " : "",
			err);
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
