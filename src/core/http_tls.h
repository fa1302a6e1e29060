/* http_tls.h -- the TLS layer of http.c's client (internal to core/http).
 *
 * GnuTLS over an already connected, non-blocking TCP socket, with every
 * wait bounded by the request's deadline. The server must present a chain
 * to the CA in ca_file (PEM: the CA an edge pinned when it enrolled, or the
 * one given to `mw --ca`), or, without ca_file, to the system's trust
 * store; and a certificate for host (a name, or an address in its
 * subjectAltName). */
#ifndef MW_HTTP_TLS_H
#define MW_HTTP_TLS_H

#include "core/mw.h"

#include <stddef.h>
#include <sys/uio.h>

struct http_tls;

/* Handshakes on fd. MW_ERR_AUTH when the server's certificate is not
 * trusted (err says why), MW_ERR_BUSY at the deadline, else MW_ERR_IO. */
int http_tls_open(int fd, const char *host, const char *ca_file, int64_t deadline,
		  struct http_tls **out, char *err, size_t cap) MW_MUST_CHECK;
void http_tls_close(struct http_tls *t);

/* Sends all of iov[0..n); MW_ERR_BUSY at the deadline, MW_ERR_IO (err set). */
int http_tls_send(struct http_tls *t, const struct iovec *iov, int n, int64_t deadline, char *err,
		  size_t cap) MW_MUST_CHECK;
/* Reads what is there (waiting for something): *got bytes, 0 at the end of
 * the stream. MW_ERR_BUSY at the deadline, MW_ERR_IO (err set). */
int http_tls_recv(struct http_tls *t, char *buf, size_t cap_buf, size_t *got, int64_t deadline,
		  char *err, size_t cap) MW_MUST_CHECK;

#endif
