/* enroll.h -- joining a hub: `mw-edge enroll HUB_URL TOKEN`, and the node
 * credential it leaves in DATA_DIR/node.credential for the daemon.
 *
 * The hub's admin makes a one-time enrollment token (`mw enroll create`);
 * on the new edge, `mw-edge enroll http://hub:7800 mwe_... --config F`
 * exchanges it for the node's own credential, which is written (mode
 * 0600, via a temporary file and rename) with the hub's address. From
 * then on mw-edge sends with that credential unless uplink.token is set. */
#ifndef MW_EDGE_ENROLL_H
#define MW_EDGE_ENROLL_H

#include "edge/config.h"

#define EDGE_CREDENTIAL_FILE "node.credential"
#define EDGE_HUB_CA_FILE "hub-ca.pem" /* the hub's CA, pinned at enrollment */

/* `mw-edge enroll ...`: argv as main got it (argv[1] is "enroll"); returns
 * the process's exit code after saying what happened. */
int edge_enroll_main(int argc, char **argv);

/* With uplink.token empty and DATA_DIR/node.credential present: its token
 * becomes the uplink's, its hub the uplink.hub_url and its pinned CA the
 * uplink.ca when those are empty.
 * MW_ERR_INVALID (logged) when the file is for another node or unreadable;
 * MW_OK when there is none. */
int edge_config_credential(struct edge_config *c) MW_MUST_CHECK;

#endif
