/* agent.h -- the edge's heartbeat: what this machine is and how it is
 * doing, sent to the hub every heartbeat.interval.
 *
 * A report has cpu (percent since the last report, cores), memory, disk
 * (of data_dir), network (bytes in and out, loopback excluded),
 * temperatures (/sys/class/thermal), uptime, versions, labels (from the
 * enrollment), peripherals found (V4L2 cameras, serial ports, USB devices,
 * GPUs), the event store's backlog and drops, and what the options' extra
 * adds (the daemon: camera and vision worker health). Every FULL_EVERY-th report
 * is full; in between only the groups that changed are sent, which the hub
 * merges into what it has. A report that fails makes the next one full.
 *
 * /proc, /sys and /dev are read under a root directory (normally "/") so
 * tests can give a fake machine. */
#ifndef MW_EDGE_AGENT_H
#define MW_EDGE_AGENT_H

#include "edge/store.h"

#include <jansson.h>

struct telemetry {
	const char *root;	      /* "" for the real machine, else a test tree */
	const char *data_dir;	      /* whose disk is reported */
	uint64_t cpu_total, cpu_idle; /* the last sample, for the percentage */
};

/* The machine's state now (a new JSON object), or NULL without memory. */
json_t *telemetry_collect(struct telemetry *t, struct store *store);

struct agent_options {
	const char *node, *hub_url, *token, *ca_file;
	const char *labels_json; /* the node's labels, or NULL */
	int64_t interval_ms;
	const char *data_dir;
	struct store *store;
	/* Optional, each called with arg: more groups for the report (the
	 * cameras, the apps; a new object); the desired generation the edge
	 * has (sent as desired_generation); and what to do with a desired
	 * state the hub answers with (edge/apps.h). */
	json_t *(*extra)(void *arg);
	int64_t (*generation)(void *arg);
	void (*desired)(void *arg, json_t *desired);
	void *arg;
};

struct agent;

int agent_start(const struct agent_options *opt, struct agent **out) MW_MUST_CHECK;
void agent_stop(struct agent *a);
/* Sends a report soon (within a second) rather than at the next interval:
 * something the hub waits for changed (an app's state). */
void agent_poke(struct agent *a);

#endif
