/* apps.h -- the apps the hub deployed to this edge: their desired state,
 * kept on disk, and the loop that makes the machine match it.
 *
 * The hub answers a heartbeat with the node's desired state when the edge
 * has an older generation (hub/deploy.h): {generation, apps: {NAME:
 * {deployment, version, runtime, params, resources, ...}}}. It is written
 * to DATA_DIR/desired.json (0600: parameters may be secrets) before
 * anything else, so an edge cut off from the hub, or restarted, keeps
 * converging to the last state it was given.
 *
 * A reconcile thread compares what runs with what should, once a second
 * and whenever the desired state changes:
 * - native apps (runtime.native.command) run under the edge's own
 *   supervisor (edge/worker.h): restarted with backoff, stdout and stderr
 *   in DATA_DIR/apps/NAME/app.log (rotated at apps.log_max), SIGTERM and
 *   apps.stop_grace to stop;
 * - container apps (runtime.container.image) run through the Docker Engine
 *   API on a unix socket (edge/engine.h; Podman or Docker) as container
 *   mw-NAME on the host network, restarted by this loop with the same
 *   backoff.
 * A changed entry (a new version or new parameters) replaces the app; an
 * entry gone stops and removes it. Every app gets in its environment
 * MW_APP, MW_APP_VERSION, MW_DEPLOYMENT, MW_NODE, the edge's local API
 * (MW_EDGE_API, MW_EDGE_TOKEN: events it posts there are stored and
 * forwarded like the edge's own) and each parameter as MW_PARAM_NAME.
 *
 * The report (in each heartbeat, group "apps") gives per app: deployment,
 * version, runtime, state (pending, pulling, running, restarting,
 * failed, stopped), started_at, restarts, reason and the last log lines.
 * An app that exits within apps.healthy of its start three times in a row
 * is failed, which the hub takes as a failed rollout. */
#ifndef MW_EDGE_APPS_H
#define MW_EDGE_APPS_H

#include "core/mw.h"

#include <jansson.h>

#define APPS_DESIRED_FILE "desired.json"
#define APPS_LOG_LINES 10

struct apps_options {
	const char *data_dir;
	const char *node;
	const char *engine;    /* the engine's socket; "" = the first of the defaults */
	const char *api_url;   /* the local API as apps reach it ("" = none) */
	const char *api_token; /* its bearer token */
	int64_t healthy_ms, backoff_min_ms, backoff_max_ms, stop_grace_ms;
	int64_t log_max;
	/* Called (from the reconcile thread) when the report changed, so the
	 * heartbeat can carry it now rather than at the next interval. */
	void (*changed)(void *arg);
	void *changed_arg;
};

struct apps;

/* Reads DATA_DIR/desired.json (a missing file is an empty state; a
 * corrupt one is logged and set aside as desired.json.bad) and starts the
 * reconcile thread. */
int apps_start(const struct apps_options *opt, struct apps **out) MW_MUST_CHECK;
/* Stops the thread and the native apps (containers keep running: the
 * engine owns them, and the next start takes them over). */
void apps_stop(struct apps *a);

/* The generation the edge has. */
int64_t apps_generation(struct apps *a);
/* A desired state from the hub: checked, written to disk, then taken.
 * MW_ERR_INVALID (logged, nothing changed) when malformed. */
int apps_set_desired(struct apps *a, json_t *desired) MW_MUST_CHECK;
/* The apps' report: {NAME: {...}} (a new object). */
json_t *apps_report(struct apps *a);

/* What the desired state must look like: MW_OK, or MW_ERR_INVALID with
 * err naming the field ("apps.qa.runtime: ..."). Public for the fuzzer. */
int apps_check_desired(json_t *desired, char *err, size_t errlen) MW_MUST_CHECK;

#endif
