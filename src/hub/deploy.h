/* deploy.h -- deployments: which app version runs on which edges, rolled
 * out a batch at a time and rolled back when it fails.
 *
 *   POST  /v1/deployments (admin, operator)
 *         {app, version, params, to, batch_size, settle, remove}
 *         to: {nodes: [ID, ...]} or {labels: {k: v, ...}} (every label
 *         must match) or {all: true}. params are checked against the
 *         app's manifest (hub/manifest.h), defaults filled in. Everything
 *         is checked before anything is written: 400 naming the field.
 *         -> 201 the deployment.
 *   GET   /v1/deployments[?limit=N]: the latest, newest first.
 *   GET   /v1/deployments/ID: one, with each node's progress and what
 *         the node last reported of the app (state, reason, log lines).
 *   PATCH /v1/nodes/NODE (admin) {labels: {k: "v" or null}}: a node's
 *         labels, which label selectors match.
 *
 * Desired state. Every node has a generation and the apps it should run,
 * each {deployment, version, runtime, params, resources, peripherals}.
 * A change bumps the generation; the edge sends the generation it has
 * with each heartbeat and gets the new one in the answer (hub/fleet.h),
 * keeps it on disk and converges to it on its own (edge/apps.h).
 *
 * A rollout. The targets are split into batches of batch_size (default:
 * a quarter of them, at least 1). The first batch gets the new desired
 * state at once; a node is done when it reports the app running for this
 * deployment for settle (default 10 s) without a restart; the next batch
 * starts when the whole batch is done. A node that reports the app failed
 * (it cannot start, or keeps exiting) fails the rollout: every node that
 * got this deployment goes back to what it had before (the last good
 * version, or no app), the rest are skipped, and the hub records a
 * rollout.rolled_back alarm and an audit line. A node that is offline
 * holds the rollout until it is back. A new deployment of the same app
 * supersedes one still rolling. Secret parameters are never shown back.
 *
 * Rollouts are kept in the store (table deployments) and advanced by a
 * thread ("rollout") twice a second, so a restarted hub carries on. */
#ifndef MW_HUB_DEPLOY_H
#define MW_HUB_DEPLOY_H

#include "hub/http.h"

struct deploy;

/* Loads the nodes' desired state into the fleet (hub/fleet.h: after
 * fleet_start) and the rollouts in progress, and starts the thread. */
int deploy_start(struct hub *h, struct deploy **out) MW_MUST_CHECK;
void deploy_stop(struct deploy *d);

/* A node was enrolled with labels (JSON text): it may now be deployed to.
 * Revoked: it may not (what it had stays in the store). */
void deploy_node_enrolled(struct hub *h, const char *node, const char *labels);
void deploy_node_revoked(struct hub *h, const char *node);

void deploy_create(struct hub *h, struct http_req *req, struct http_resp *resp);
void deploy_list(struct hub *h, struct http_req *req, struct http_resp *resp);
void deploy_show(struct hub *h, struct http_req *req, struct http_resp *resp);
void deploy_label(struct hub *h, struct http_req *req, struct http_resp *resp);

#endif
