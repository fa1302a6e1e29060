/* fleet.h -- edges report their health; the hub knows who is online.
 *
 *   POST /v1/heartbeat (node) {interval_ms, full, state}: an edge's report.
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

#endif
