/* tls.c -- the hub's CA and server certificate (tls.h), with GnuTLS. */
#include "hub/tls.h"

#include "core/hash.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY_S (24 * 3600)
#define CA_DAYS 3650
#define SERVER_DAYS 825 /* what browsers still accept for a server certificate */
#define RENEW_DAYS 30
#define NAMES_MAX 16
#define NAME_LEN 256

struct names {
	char v[NAMES_MAX][NAME_LEN];
	int n;
};

bool hub_tls_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0;
}

void hub_tls_free(struct hub_tls *t)
{
	free(t->cert_pem);
	free(t->key_pem);
	memset(t, 0, sizeof(*t));
}

/* ---- files ---------------------------------------------------------------- */

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *data = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1L << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n + 1))) {
		if (fread(data, 1, (size_t)n, f) != (size_t)n) {
			free(data);
			data = NULL;
		} else {
			data[n] = '\0';
		}
	}
	fclose(f);
	return data;
}

static int write_datum(const char *dir, const char *name, const gnutls_datum_t *d)
{
	char path[700];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return mw_write_private(path, d->data, d->size);
}

static int fail_gnutls(char *err, size_t errlen, const char *what, int rc)
{
	snprintf(err, errlen, "tls: %s: %s", what, gnutls_strerror(rc));
	return MW_ERR_IO;
}

/* ---- certificates ----------------------------------------------------------- */

static int new_key(gnutls_x509_privkey_t *key)
{
	int rc = gnutls_x509_privkey_init(key);

	if (rc == 0)
		rc = gnutls_x509_privkey_generate(
			*key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	return rc;
}

/* The fields every certificate of ours has: version, serial, validity, key. */
static int new_crt(gnutls_x509_crt_t *crt, gnutls_x509_privkey_t key, const char *cn, int days)
{
	uint8_t serial[16];
	time_t now = time(NULL);
	int rc;

	if (mw_random(serial, sizeof(serial)))
		return GNUTLS_E_RANDOM_FAILED;
	serial[0] &= 0x7f; /* a positive integer */
	if ((rc = gnutls_x509_crt_init(crt)) || (rc = gnutls_x509_crt_set_version(*crt, 3)) ||
	    (rc = gnutls_x509_crt_set_serial(*crt, serial, sizeof(serial))) ||
	    (rc = gnutls_x509_crt_set_activation_time(*crt, now - 3600)) ||
	    (rc = gnutls_x509_crt_set_expiration_time(*crt, now + (time_t)days * DAY_S)) ||
	    (rc = gnutls_x509_crt_set_dn_by_oid(*crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
						(unsigned)strlen(cn))) ||
	    (rc = gnutls_x509_crt_set_key(*crt, key)))
		return rc;
	return 0;
}

static int make_ca(const char *dir, char *err, size_t errlen)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t pem = {0}, kpem = {0};
	char cn[128], host[64] = "mw-hub";
	int rc;

	gethostname(host, sizeof(host) - 1);
	snprintf(cn, sizeof(cn), "Millwright hub CA (%s)", host);
	if ((rc = new_key(&key)) || (rc = new_crt(&crt, key, cn, CA_DAYS)) ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 1, 0)) ||
	    (rc = gnutls_x509_crt_set_key_usage(crt,
						GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) ||
	    (rc = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) ||
	    (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem)) ||
	    (rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kpem))) {
		rc = fail_gnutls(err, errlen, "cannot make the CA", rc);
	} else if (write_datum(dir, "ca.key", &kpem) || write_datum(dir, "ca.pem", &pem)) {
		snprintf(err, errlen, "tls: cannot write the CA into %s: %s", dir, strerror(errno));
		rc = MW_ERR_IO;
	} else {
		log_info("msg=\"made the hub's CA\" dir=%s", dir);
	}
	gnutls_free(pem.data);
	gnutls_free(kpem.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return rc;
}

static int load_ca(const char *dir, gnutls_x509_crt_t *crt, gnutls_x509_privkey_t *key, char *err,
		   size_t errlen)
{
	char path[700], *cpem, *kpem;
	gnutls_datum_t c, k;
	int rc;

	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	cpem = read_text(path);
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	kpem = read_text(path);
	if (!cpem || !kpem) {
		free(cpem);
		free(kpem);
		snprintf(err, errlen,
			 "tls: %s/ca.pem or ca.key: unreadable; restore them from a "
			 "backup (edges pin this CA)",
			 dir);
		return MW_ERR_IO;
	}
	c = (gnutls_datum_t){(unsigned char *)cpem, (unsigned)strlen(cpem)};
	k = (gnutls_datum_t){(unsigned char *)kpem, (unsigned)strlen(kpem)};
	if ((rc = gnutls_x509_crt_init(crt)) ||
	    (rc = gnutls_x509_crt_import(*crt, &c, GNUTLS_X509_FMT_PEM)) ||
	    (rc = gnutls_x509_privkey_init(key)) ||
	    (rc = gnutls_x509_privkey_import(*key, &k, GNUTLS_X509_FMT_PEM)))
		rc = fail_gnutls(err, errlen, "the CA in DATA_DIR/tls does not load", rc);
	free(cpem);
	free(kpem);
	return rc;
}

static int add_san(gnutls_x509_crt_t crt, const char *name)
{
	unsigned char ip[16];

	if (inet_pton(AF_INET, name, ip) == 1)
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
							    GNUTLS_FSAN_APPEND);
	if (inet_pton(AF_INET6, name, ip) == 1)
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
							    GNUTLS_FSAN_APPEND);
	return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
						    (unsigned)strlen(name), GNUTLS_FSAN_APPEND);
}

static int make_server(const char *dir, const struct names *nm, const char *names_text, char *err,
		       size_t errlen)
{
	gnutls_x509_privkey_t key = NULL, ca_key = NULL;
	gnutls_x509_crt_t crt = NULL, ca = NULL;
	gnutls_datum_t pem = {0}, kpem = {0},
		       nt = {(unsigned char *)names_text, (unsigned)strlen(names_text)};
	int rc = load_ca(dir, &ca, &ca_key, err, errlen);

	if (rc)
		goto out;
	if ((rc = new_key(&key)) || (rc = new_crt(&crt, key, nm->v[0], SERVER_DAYS)) ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) ||
	    (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)))
		goto gnutls_fail;
	for (int i = 0; i < nm->n; i++)
		if ((rc = add_san(crt, nm->v[i])))
			goto gnutls_fail;
	if ((rc = gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0)) ||
	    (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem)) ||
	    (rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kpem)))
		goto gnutls_fail;
	if (write_datum(dir, "server.key", &kpem) || write_datum(dir, "server.pem", &pem) ||
	    write_datum(dir, "server.names", &nt)) {
		snprintf(err, errlen, "tls: cannot write into %s: %s", dir, strerror(errno));
		rc = MW_ERR_IO;
		goto out;
	}
	log_info("msg=\"made the hub's server certificate\" names=\"%s\"", names_text);
	goto out;
gnutls_fail:
	rc = fail_gnutls(err, errlen, "cannot make the server certificate", rc);
out:
	gnutls_free(pem.data);
	gnutls_free(kpem.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_privkey_deinit(key);
	gnutls_x509_privkey_deinit(ca_key);
	return rc;
}

/* The server certificate is there, for these names, and not about to expire. */
static bool server_fresh(const char *dir, const char *names_text)
{
	char path[700], *names, *pem;
	gnutls_x509_crt_t crt;
	gnutls_datum_t d;
	bool fresh = false;

	snprintf(path, sizeof(path), "%s/server.names", dir);
	names = read_text(path);
	snprintf(path, sizeof(path), "%s/server.pem", dir);
	pem = read_text(path);
	if (names && pem && strcmp(names, names_text) == 0 && gnutls_x509_crt_init(&crt) == 0) {
		d = (gnutls_datum_t){(unsigned char *)pem, (unsigned)strlen(pem)};
		fresh = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) == 0 &&
			gnutls_x509_crt_get_expiration_time(crt) > time(NULL) + RENEW_DAYS * DAY_S;
		gnutls_x509_crt_deinit(crt);
	}
	free(names);
	free(pem);
	return fresh;
}

/* ---- names ----------------------------------------------------------------- */

static void add_name(struct names *nm, const char *name, size_t len)
{
	while (len && (*name == ' ' || *name == '\t')) {
		name++;
		len--;
	}
	while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	if (!len || len >= NAME_LEN || nm->n == NAMES_MAX)
		return;
	for (int i = 0; i < nm->n; i++)
		if (strlen(nm->v[i]) == len && strncmp(nm->v[i], name, len) == 0)
			return;
	memcpy(nm->v[nm->n], name, len);
	nm->v[nm->n++][len] = '\0';
}

/* tls.names, the listen host (unless a wildcard), the host name, and the
 * loopback names, as a list and as the text kept in server.names. */
static void server_names(const struct hub_config *cfg, const char *host, struct names *nm,
			 char *text, size_t cap)
{
	char hn[256] = "";
	size_t used = 0;

	memset(nm, 0, sizeof(*nm));
	for (const char *s = cfg->tls_names; *s;) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		add_name(nm, s, n);
		s += n + (comma ? 1 : 0);
	}
	if (strcmp(host, "0.0.0.0") && strcmp(host, "*"))
		add_name(nm, host, strlen(host));
	if (gethostname(hn, sizeof(hn) - 1) == 0)
		add_name(nm, hn, strlen(hn));
	add_name(nm, "localhost", 9);
	add_name(nm, "127.0.0.1", 9);
	text[0] = '\0';
	for (int i = 0; i < nm->n; i++)
		used += (size_t)snprintf(text + used, used < cap ? cap - used : 0, "%s%s",
					 i ? "," : "", nm->v[i]);
}

/* ---- the hub's TLS ------------------------------------------------------------ */

static int fingerprint(const char *dir, char hex[65], char *err, size_t errlen)
{
	char path[700], *pem;
	gnutls_x509_crt_t crt;
	gnutls_datum_t d, der = {0};
	uint8_t h[32];
	int rc;

	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if (!(pem = read_text(path)))
		return MW_ERR_IO;
	d = (gnutls_datum_t){(unsigned char *)pem, (unsigned)strlen(pem)};
	rc = gnutls_x509_crt_init(&crt);
	if (rc == 0 && (rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) == 0 &&
	    (rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der)) == 0) {
		hash_sha256(der.data, der.size, h);
		mw_hex(h, sizeof(h), hex);
	}
	if (rc)
		rc = fail_gnutls(err, errlen, "the CA does not load", rc);
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crt);
	free(pem);
	return rc;
}

static int prepare_auto(const struct hub_config *cfg, const char *host, struct hub_tls *t,
			char *err, size_t errlen)
{
	char dir[600], path[700], names_text[NAMES_MAX * NAME_LEN];
	struct names nm;
	int rc;

	snprintf(dir, sizeof(dir), "%s/tls", cfg->data_dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "tls: cannot create %s: %s", dir, strerror(errno));
		return MW_ERR_IO;
	}
	snprintf(t->ca_path, sizeof(t->ca_path), "%s/ca.pem", dir);
	if (access(t->ca_path, F_OK) != 0 && (rc = make_ca(dir, err, errlen)))
		return rc;
	server_names(cfg, host, &nm, names_text, sizeof(names_text));
	if (!server_fresh(dir, names_text) && (rc = make_server(dir, &nm, names_text, err, errlen)))
		return rc;
	if ((rc = fingerprint(dir, t->ca_sha256, err, errlen)))
		return rc;
	snprintf(path, sizeof(path), "%s/server.pem", dir);
	t->cert_pem = read_text(path);
	snprintf(path, sizeof(path), "%s/server.key", dir);
	t->key_pem = read_text(path);
	return MW_OK;
}

int hub_tls_prepare(const struct hub_config *cfg, const char *host, struct hub_tls *t, char *err,
		    size_t errlen)
{
	int rc = MW_OK;

	memset(t, 0, sizeof(*t));
	if (cfg->tls_mode == HUB_TLS_OFF) /* on loopback only: hub_config_check() */
		return MW_OK;
	t->on = true;
	if (cfg->tls_mode == HUB_TLS_AUTO) {
		rc = prepare_auto(cfg, host, t, err, errlen);
	} else {
		t->cert_pem = read_text(cfg->tls_cert);
		t->key_pem = read_text(cfg->tls_key);
		if (!t->cert_pem || !t->key_pem)
			snprintf(err, errlen, "%s: %s: cannot read it (PEM expected)",
				 !t->cert_pem ? "tls.cert" : "tls.key",
				 !t->cert_pem ? cfg->tls_cert : cfg->tls_key);
	}
	if (rc == MW_OK && (!t->cert_pem || !t->key_pem)) {
		if (!err[0])
			snprintf(err, errlen, "tls: the server certificate or key is unreadable");
		rc = MW_ERR_IO;
	}
	if (rc)
		hub_tls_free(t);
	return rc;
}
