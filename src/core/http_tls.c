/* http_tls.c -- GnuTLS under http.c's client (http_tls.h).
 *
 * GnuTLS rather than OpenSSL: libmicrohttpd already brings it into the
 * daemons, and Nettle, which hashes our events, is its crypto, so TLS costs
 * the edge no second library. Verification is GnuTLS's own
 * (gnutls_session_set_verify_cert: chain to the trusted CA, validity,
 * host name or address). */
#include "core/http_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_tls {
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	int fd;
};

/* Waits until the socket can go the way GnuTLS needs; false at the deadline. */
static bool wait_ready(struct http_tls *t, int64_t deadline)
{
	struct pollfd p = {.fd = t->fd,
			   .events = gnutls_record_get_direction(t->s) ? POLLOUT : POLLIN};
	int64_t left = deadline - mw_mono_ns();
	int rc;

	if (gnutls_record_check_pending(t->s) > 0)
		return true;
	do {
		if (left <= 0)
			return false;
		rc = poll(&p, 1, (int)((left + 999999) / 1000000));
		left = deadline - mw_mono_ns();
	} while (rc < 0 && errno == EINTR);
	return rc > 0;
}

void http_tls_close(struct http_tls *t)
{
	if (!t)
		return;
	if (t->s)
		gnutls_deinit(t->s);
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	free(t);
}

static int trust(struct http_tls *t, const char *ca_file, char *err, size_t cap)
{
	int rc = gnutls_certificate_allocate_credentials(&t->cred);

	if (rc == 0 && ca_file && *ca_file) {
		rc = gnutls_certificate_set_x509_trust_file(t->cred, ca_file, GNUTLS_X509_FMT_PEM);
		if (rc <= 0) {
			snprintf(err, cap, "CA file %s: %s", ca_file,
				 rc == 0 ? "no certificate in it" : gnutls_strerror(rc));
			return MW_ERR_INVALID;
		}
		return MW_OK;
	}
	if (rc == 0)
		rc = gnutls_certificate_set_x509_system_trust(t->cred);
	if (rc < 0) {
		snprintf(err, cap, "TLS trust: %s", gnutls_strerror(rc));
		return MW_ERR_IO;
	}
	return MW_OK;
}

static int handshake(struct http_tls *t, const char *host, int64_t deadline, char *err, size_t cap)
{
	int rc;

	do {
		rc = gnutls_handshake(t->s);
		if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
			if (!wait_ready(t, deadline)) {
				snprintf(err, cap, "TLS handshake with %s: timed out", host);
				return MW_ERR_BUSY;
			}
			continue;
		}
	} while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_datum_t why = {0};
		unsigned status = gnutls_session_get_verify_cert_status(t->s);
		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0);
		snprintf(err, cap, "TLS: %s's certificate is not trusted: %s", host,
			 why.data ? (char *)why.data : "verification failed");
		gnutls_free(why.data);
		return MW_ERR_AUTH;
	}
	if (rc < 0) {
		snprintf(err, cap, "TLS handshake with %s: %s", host, gnutls_strerror(rc));
		return MW_ERR_IO;
	}
	return MW_OK;
}

int http_tls_open(int fd, const char *host, const char *ca_file, int64_t deadline,
		  struct http_tls **out, char *err, size_t cap)
{
	struct http_tls *t = calloc(1, sizeof(*t));
	unsigned char ip[16];
	bool literal = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
	int rc = MW_ERR_NOMEM;

	*out = NULL;
	if (!t)
		return rc;
	t->fd = fd;
	if ((rc = trust(t, ca_file, err, cap)))
		goto fail;
	rc = MW_ERR_IO;
	if (gnutls_init(&t->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK) ||
	    gnutls_set_default_priority(t->s) ||
	    gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, t->cred) ||
	    (!literal && gnutls_server_name_set(t->s, GNUTLS_NAME_DNS, host, strlen(host)))) {
		snprintf(err, cap, "TLS: cannot set up a session");
		goto fail;
	}
	gnutls_session_set_verify_cert(t->s, host, 0);
	gnutls_transport_set_int(t->s, fd);
	gnutls_handshake_set_timeout(t->s, GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT);
	if ((rc = handshake(t, host, deadline, err, cap)))
		goto fail;
	*out = t;
	return MW_OK;
fail:
	http_tls_close(t);
	return rc;
}

int http_tls_send(struct http_tls *t, const struct iovec *iov, int n, int64_t deadline, char *err,
		  size_t cap)
{
	for (int i = 0; i < n; i++) {
		const char *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left > 0) {
			ssize_t w = gnutls_record_send(t->s, p, left);
			if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
				if (!wait_ready(t, deadline))
					return MW_ERR_BUSY;
				continue;
			}
			if (w < 0) {
				snprintf(err, cap, "TLS send: %s", gnutls_strerror((int)w));
				return MW_ERR_IO;
			}
			p += w;
			left -= (size_t)w;
		}
	}
	return MW_OK;
}

int http_tls_recv(struct http_tls *t, char *buf, size_t cap_buf, size_t *got, int64_t deadline,
		  char *err, size_t cap)
{
	for (;;) {
		ssize_t r = gnutls_record_recv(t->s, buf, cap_buf);
		if (r >= 0) {
			*got = (size_t)r;
			return MW_OK;
		}
		if (r == GNUTLS_E_PREMATURE_TERMINATION) { /* closed without close_notify */
			*got = 0;
			return MW_OK;
		}
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED) {
			snprintf(err, cap, "TLS receive: %s", gnutls_strerror((int)r));
			return MW_ERR_IO;
		}
		if (!wait_ready(t, deadline))
			return MW_ERR_BUSY;
	}
}
