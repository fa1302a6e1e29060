/* chain.h -- per-node contiguity and hash-chain verification at the hub.
 *
 * chain_apply() takes one validated batch of a node and, in one
 * transaction of the given backend, stores its events idempotently on
 * (node, seq), records its drop ranges and advances the node's
 * acknowledged seq as docs/protocol.md ("Chain breaks") says. Each break
 * found becomes a hub event (node "hub", source "chain", kind
 * "chain.break", severity alarm) sealed into the hub's own chain. */
#ifndef MW_HUB_CHAIN_H
#define MW_HUB_CHAIN_H

#include "hub/db.h"

enum chain_reason { CHAIN_ALTERED, CHAIN_LINKAGE, CHAIN_GAP, CHAIN_REASONS };

/* A batch as the wire carries it, already validated: events in strictly
 * increasing seq, all of node; drops sorted by from, not overlapping each
 * other nor any event. */
struct chain_batch {
	const char *node;
	const struct event *events;
	size_t n_events;
	const struct db_drop *drops;
	size_t n_drops;
};

struct chain_result {
	uint64_t acked;	     /* the node's acknowledged seq after the batch */
	uint64_t stored;     /* events new to the hub */
	uint64_t duplicates; /* events the hub already held */
	uint64_t breaks;     /* breaks recorded for this batch */
	uint64_t by_reason[CHAIN_REASONS];
};

const char *chain_reason_name(enum chain_reason r);

/* Appends an event of the hub's own (node HUB_NODE_SELF) to its chain:
 * kind, severity, source and attrs (taken). In the caller's transaction. */
int chain_hub_event(struct db *db, const char *source, const char *kind, enum severity sev,
		    json_t *attrs) MW_MUST_CHECK;

/* All or nothing: on error the transaction is rolled back and the cause
 * logged; MW_ERR_BUSY / MW_ERR_IO mean "retry later". The caller
 * serialises calls on one db (see db.h). */
int chain_apply(struct db *db, const struct chain_batch *b, struct chain_result *out) MW_MUST_CHECK;

#endif
