/* fleet.h -- edges report their health; the hub knows who is online.
 *
 *   POST /v1/heartbeat (node) {interval_ms, full, state, desired_generation}:
 *        an edge's report; answered {status, desired}, desired being the
 *        apps the node should run ({generation, apps}, hub/deploy.h) when
 *        the edge's desired_generation is older, else null.
 *        A full report replaces the node's state; between them an edge
 *        sends only what changed, merged in. The minute's CPU, memory and
 *        free disk go to a downsampled series.
 *   GET  /v1/nodes: every node with its chain (events, acked seq) and its
 *        health (status, last heartbeat, state).
 *
 * A monitor thread (every half of the shortest interval, 100 ms to 1 s)
 * marks a node stale when it missed fleet.stale_missed
 * heartbeats (2) and offline after fleet.offline_missed (3), each once,
 * with an event in the hub's own chain (node.stale, node.offline; then
 * node.online when it reports again), so the change reaches the event
 * query, the dashboards and the alarms like any event. */
#ifndef MW_HUB_FLEET_H
#define MW_HUB_FLEET_H

#include "hub/http.h"

struct fleet;

/* Loads the fleet's state from the store, starts the monitor and flusher
 * ("fleet" thread) and sets h->fleet. fleet_stop() writes what is left. */
int fleet_start(struct hub *h, struct fleet **out) MW_MUST_CHECK;
void fleet_stop(struct fleet *f);
/* One pass of the monitor at now_ns; returns the shortest heartbeat
 * interval of the fleet in ms (0: no node), which paces the next pass. */
int64_t fleet_check(struct hub *h, int64_t now_ns);

void fleet_heartbeat(struct hub *h, struct http_req *req, struct http_resp *resp);
void fleet_nodes(struct hub *h, struct http_req *req, struct http_resp *resp);

/* For hub/deploy.c. The node's merged reports (a new object), or NULL. */
json_t *fleet_node_state(struct hub *h, const char *node);
/* Sets what may be deployed to node: config {labels, apps} (copied; NULL:
 * nothing, such as for a revoked node) at generation. The heartbeat
 * answers an edge whose desired_generation is older with {generation,
 * apps}. MW_ERR_NOMEM. */
int fleet_config_set(struct hub *h, const char *node, int64_t generation,
		     json_t *config) MW_MUST_CHECK;
/* The node's config (a new object) and its generation; NULL when none. */
json_t *fleet_config(struct hub *h, const char *node, int64_t *generation);
/* Every node's config with its generation: {node: {labels, apps,
 * generation}} (a new object). */
json_t *fleet_configs(struct hub *h);

#endif
