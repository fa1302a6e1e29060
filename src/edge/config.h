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

#define EDGE_CAMERAS_MAX 16
#define EDGE_ZONES_MAX 16

/* One safety zone of a camera (cameras[].zones[]). */
struct edge_zone_config {
	char name[EVENT_ID_MAX + 1];
	struct config_points polygon; /* frame pixels */
	int severity;		      /* enum severity of zone.intrusion */
};

/* One camera (cameras[]). Its detectors are on when configured: zones when
 * it has any, counting when count.line is set, inspection when
 * inspection.roi is set. */
struct edge_camera_config {
	char id[EVENT_ID_MAX + 1];
	char url[EDGE_URL_MAX];
	bool loop;
	bool realtime;
	int64_t backoff_min_ms, backoff_max_ms;

	struct config_list zones; /* of struct edge_zone_config */
	int64_t zone_enter_ms, zone_leave_ms;

	int64_t motion_scale, motion_threshold, motion_min_area;

	struct config_points count_line;
	int count_direction; /* 0 both, 1 forward, 2 backward */
	int count_codes;     /* 0 none, 1 datamatrix, 2 qr, 3 barcode, 4 all */
	int64_t count_min_gap_ms;

	struct config_rect inspect_roi;
	char inspect_model[EDGE_PATH_MAX]; /* "" = DATA_DIR/models/ID.model */
	double inspect_threshold;
	int inspect_severity;

	int64_t snapshot_max_width;
	int64_t snapshot_quality;
};

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
	/* the hub's CA for https; "" = node.credential's, else the system's */
	char uplink_ca[EDGE_PATH_MAX];
	int64_t heartbeat_ms;  /* heartbeat.interval */
	char node_labels[600]; /* from node.credential (JSON); not a config key */
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

	struct config_list cameras; /* of struct edge_camera_config */
	char vision_worker[EDGE_PATH_MAX];

	/* apps deployed from the hub (edge/apps.h) */
	char apps_engine[EDGE_PATH_MAX];
	int64_t apps_healthy_ms, apps_backoff_min_ms, apps_backoff_max_ms, apps_stop_grace_ms;
	int64_t apps_log_max;
};

extern const struct config_key edge_config_keys[];

/* Defaults for every key. */
int edge_config_defaults(struct edge_config *c) MW_MUST_CHECK;
/* Checks what single keys cannot: required keys and relations between
 * keys. Fills api_socket from data_dir when empty. err gets "key: reason". */
int edge_config_check(struct edge_config *c, char *err, size_t errlen) MW_MUST_CHECK;
/* The command line of mw-edge and mw-edge-vision: reads --config FILE, then
 * applies --data-dir, --listen, --log-level and --set KEY=VALUE in order,
 * then edge_config_check(). Other arguments are left to the caller: their
 * indexes go to rest (room for argc), their count to *nrest. Errors are
 * printed to stderr as "PROG: ..."; MW_ERR_INVALID then. */
int edge_config_args(struct edge_config *c, int argc, char **argv, const char *prog, int *rest,
		     int *nrest) MW_MUST_CHECK;
/* Frees what the settings own (the cameras list). */
void edge_config_free(struct edge_config *c);
/* cameras[i], i < c->cameras.n. */
static inline struct edge_camera_config *edge_camera(const struct edge_config *c, size_t i)
{
	return &((struct edge_camera_config *)c->cameras.items)[i];
}
/* The camera's inspection model path (its own, or DATA_DIR/models/ID.model). */
int edge_camera_model_path(const struct edge_config *c, const struct edge_camera_config *cam,
			   char *out, size_t cap) MW_MUST_CHECK;

/* When api.token is empty: reads DATA_DIR/api.token, or creates it (0600)
 * with a random token, and copies it into c->api_token. */
int edge_config_token(struct edge_config *c) MW_MUST_CHECK;

#endif
