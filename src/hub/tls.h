/* tls.h -- the hub's certificate: the plant's own, or one from its own CA.
 *
 * tls.mode decides:
 *   auto   the hub keeps a private CA in DATA_DIR/tls/ (ca.pem, ca.key,
 *          made on first start, ECDSA P-256, 10 years) and a server
 *          certificate signed by it for the host names and addresses in
 *          tls.names plus the listen address and this machine's host name
 *          (made again when those change or it has under 30 days left).
 *          Edges pin the CA when they enroll; `mw` is given it with --ca.
 *   files  tls.cert and tls.key (PEM) from the plant's own PKI.
 *   off    plain HTTP: only on a loopback listen address (tests, a proxy
 *          in front that terminates TLS).
 * Keys are written with mode 0600. GnuTLS does the work (the TLS library
 * libmicrohttpd serves with, and the family of our Nettle hashing). */
#ifndef MW_HUB_TLS_H
#define MW_HUB_TLS_H

#include "hub/config.h"

#include <stdbool.h>

struct hub_tls {
	bool on;
	char *cert_pem, *key_pem; /* the server's chain and key, for libmicrohttpd */
	char ca_path[700];	  /* auto: the CA to give to edges and `mw` */
	char ca_sha256[65];	  /* auto: SHA-256 of the CA certificate (DER), hex */
};

/* Reads or makes what cfg's tls.mode asks for, for listen host host
 * (cfg has passed hub_config_check(), which keeps off to loopback). err
 * names the file or key and the cause. */
int hub_tls_prepare(const struct hub_config *cfg, const char *host, struct hub_tls *out, char *err,
		    size_t errlen) MW_MUST_CHECK;
void hub_tls_free(struct hub_tls *t);

/* True for 127.0.0.0/8 and "localhost". */
bool hub_tls_loopback(const char *host);

#endif
