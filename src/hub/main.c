/* main.c -- mw-hub: the command line, start-up and shutdown.
 *
 * Settings come from the key table's defaults, then --config FILE, then
 * the command-line overrides in the order given. Any setting error prints
 * `mw-hub: FILE:LINE: key: reason` and exits 2 before anything starts.
 * Once listening, the hub writes the address it actually got to
 * DATA_DIR/hub.addr (temp file + rename, so a reader never sees half of
 * it): with `listen: 127.0.0.1:0` that is how scripts and tests find it.
 * SIGINT and SIGTERM stop it cleanly: no new connections, requests in
 * flight finish, the store is closed, exit 0. */
#include "core/log.h"
#include "hub/config.h"
#include "hub/deploy.h"
#include "hub/fleet.h"
#include "hub/http.h"
#include "hub/hub.h"
#include "hub/tls.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MW_VERSION
#define MW_VERSION "dev"
#endif

static const char usage[] =
	"usage: mw-hub [--config FILE] [--data-dir DIR] [--listen HOST:PORT]\n"
	"              [--log-level debug|info|warn|error] [--set KEY=VALUE]...\n"
	"       mw-hub --help | --help-config | --help-roles | --version\n"
	"\n"
	"The Millwright hub: receives the event batches of mw-edge nodes over HTTP,\n"
	"checks each node's hash chain, stores the events (SQLite in DATA_DIR/hub.db)\n"
	"and answers queries from `mw`, dashboards and scripts.\n"
	"\n"
	"options:\n"
	"  --config FILE      read settings from a YAML file (see --help-config)\n"
	"  --data-dir DIR     same as --set data_dir=DIR\n"
	"  --listen ADDR      same as --set listen=ADDR (port 0 picks a free port)\n"
	"  --log-level L      same as --set log.level=L\n"
	"  --set KEY=VALUE    set any key; applied after --config, in order\n"
	"  --help-config      print every setting as Markdown and exit\n"
	"  --help-roles       print which role may call which endpoint and exit\n"
	"  --version          print the version and exit\n"
	"\n"
	"example config (/etc/mw-hub.yaml):\n"
	"  listen: 0.0.0.0:7800\n"
	"  data_dir: /var/lib/mw-hub\n"
	"  max_body: 16M\n"
	"  nodes:                      # node id -> the token that node sends\n"
	"    press-line-1: 6f1c0d2e9a7b4c11\n"
	"    paint-shop-2: a93e55f0c2d84b07\n"
	"  api:\n"
	"    token: a-long-random-secret  # optional: a static admin token for scripts\n"
	"\n"
	"  mw-hub --config /etc/mw-hub.yaml\n"
	"  curl http://127.0.0.1:7800/healthz\n"
	"\n"
	"The first start, with no user yet, prints a one-time bootstrap token: give it\n"
	"to `mw login --bootstrap TOKEN` to create the first admin.\n"
	"\n"
	"API: POST /v1/ingest, PUT /v1/blobs/HASH (edges), GET /v1/events, /v1/nodes,\n"
	"/v1/blobs/HASH, users and tokens (/v1/login, /v1/users, /v1/tokens, /v1/audit),\n"
	"/healthz, /metrics. See docs/protocol.md and docs/security.md. The bound\n"
	"address is written to DATA_DIR/hub.addr.\n";

/* No user exists yet: how to create the first admin. The token goes to
 * stderr and to DATA_DIR/bootstrap.token (mode 0600), never to the log
 * lines of a running hub; it is good until used or the hub restarts. */
static void print_bootstrap(const struct hub *h, const struct hub_tls *tls, const char *host,
			    uint16_t port)
{
	char path[1024], line[sizeof(h->bootstrap_token) + 1];
	int n = snprintf(line, sizeof(line), "%s\n", h->bootstrap_token);

	snprintf(path, sizeof(path), "%s/%s", h->cfg->data_dir, HUB_BOOTSTRAP_FILE);
	if (mw_write_private(path, line, (size_t)n))
		log_warn("msg=\"cannot write the bootstrap token file\" path=%s", path);
	fprintf(stderr,
		"mw-hub: no users yet. Create the first admin with this one-time token:\n"
		"  mw --hub %s://%s:%u%s%s login --bootstrap %s --user admin\n"
		"(also in %s, readable by this user only)\n",
		tls->on ? "https" : "http", host, (unsigned)port, tls->ca_path[0] ? " --ca " : "",
		tls->ca_path, h->bootstrap_token, path);
}

/* Applies the settings the command line gives; 0, 1 (exit 0) or 2. */
static int apply_args(int argc, char **argv, struct hub_config *c)
{
	const char *file = NULL;
	char err[512];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strcmp(argv[i], "--help-config") == 0) {
			config_write_docs(hub_config_keys, "mw-hub settings", stdout);
			return 1;
		}
		if (strcmp(argv[i], "--help-roles") == 0) {
			http_print_roles(stdout);
			return 1;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("mw-hub %s\n", MW_VERSION);
			return 1;
		}
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[++i];
	}
	if (file && config_load_file(hub_config_keys, c, file, err, sizeof(err))) {
		fprintf(stderr, "mw-hub: %s\n", err);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		static const char *opts[][2] = {{"--data-dir", "data_dir"},
						{"--listen", "listen"},
						{"--log-level", "log.level"}};
		const char *key = NULL, *val = NULL;
		char kv[1024];

		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			i++;
			continue;
		}
		for (size_t k = 0; k < MW_ARRAY_LEN(opts); k++)
			if (strcmp(argv[i], opts[k][0]) == 0)
				key = opts[k][1];
		if ((key || strcmp(argv[i], "--set") == 0) && i + 1 >= argc) {
			fprintf(stderr, "mw-hub: %s needs a value; see mw-hub --help\n", argv[i]);
			return 2;
		}
		if (key) {
			val = argv[++i];
		} else if (strcmp(argv[i], "--set") == 0) {
			char *eq;
			mw_strlcpy(kv, argv[++i], sizeof(kv));
			if (!(eq = strchr(kv, '='))) {
				fprintf(stderr, "mw-hub: --set %s: expected KEY=VALUE\n", kv);
				return 2;
			}
			*eq = '\0';
			key = kv;
			val = eq + 1;
		} else {
			fprintf(stderr, "mw-hub: unknown option '%s'; see mw-hub --help\n",
				argv[i]);
			return 2;
		}
		if (config_set(hub_config_keys, c, key, val, err, sizeof(err))) {
			fprintf(stderr, "mw-hub: command line: %s\n", err);
			return 2;
		}
	}
	if (hub_config_check(c, err, sizeof(err))) {
		fprintf(stderr, "mw-hub: %s: %s\n", file ? file : "settings", err);
		return 2;
	}
	return 0;
}

static int make_dir(const char *dir)
{
	char path[512];
	size_t n;

	if (mw_strlcpy(path, dir, sizeof(path)))
		return MW_ERR_INVALID;
	n = strlen(path);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0750) && errno != EEXIST) {
			log_error("msg=\"cannot create data_dir\" path=%s error=\"%s\"", path,
				  strerror(errno));
			return MW_ERR_IO;
		}
		path[i] = i < n ? '/' : '\0';
	}
	return MW_OK;
}

static int write_addr(const char *dir, const char *host, uint16_t port)
{
	char tmp[600], path[600], addr[160];
	FILE *f;
	int n;

	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0 ||
	    strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	n = snprintf(addr, sizeof(addr), "%s:%u", host, (unsigned)port);
	snprintf(path, sizeof(path), "%s/hub.addr", dir);
	snprintf(tmp, sizeof(tmp), "%s/.hub.addr.%ld", dir, (long)getpid());
	if (!(f = fopen(tmp, "w")) || fprintf(f, "%s\n", addr) != n + 1 || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		log_error("msg=\"cannot write hub.addr\" path=%s error=\"%s\"", path,
			  strerror(errno));
		return MW_ERR_IO;
	}
	log_info("msg=\"listening\" addr=%s data_dir=%s", addr, dir);
	return MW_OK;
}

/* Serves until SIGINT or SIGTERM. Signals are blocked before the server's
 * threads start, so they inherit the mask and only sigwait() sees them. */
static int serve(struct hub_config *c)
{
	struct http_server *srv = NULL;
	struct fleet *fleet = NULL;
	struct deploy *deploy = NULL;
	struct hub_tls tls = {0};
	struct hub h;
	char host[128], err[512] = "";
	uint16_t port;
	sigset_t set;
	int sig = 0, rc;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = hub_config_parse_listen(c->listen, host, sizeof(host), &port)) ||
	    (rc = make_dir(c->data_dir)))
		return rc;
	if ((rc = hub_tls_prepare(c, host, &tls, err, sizeof(err)))) {
		fprintf(stderr, "mw-hub: %s\n", err);
		return rc;
	}
	if ((rc = hub_open(&h, c, &db_sqlite_ops))) {
		hub_tls_free(&tls);
		return rc;
	}
	if ((rc = fleet_start(&h, &fleet)) || (rc = deploy_start(&h, &deploy)) ||
	    (rc = http_start(&h, host, port, &tls, &srv)))
		goto out;
	/* hub.addr says the hub is ready: the bootstrap token is there before it */
	if (h.bootstrap_open)
		print_bootstrap(&h, &tls, host, http_port(srv));
	if ((rc = write_addr(c->data_dir, host, http_port(srv))))
		goto out;
	log_info("msg=\"mw-hub started\" version=%s nodes=%zu api_token=%s tls=%s ca=%s "
		 "ca_sha256=%s",
		 MW_VERSION, c->nodes.n, h.api_token_set ? "set" : "none", tls.on ? "on" : "off",
		 tls.ca_path[0] ? tls.ca_path : "-", tls.ca_sha256[0] ? tls.ca_sha256 : "-");
	while (sigwait(&set, &sig) != 0)
		;
	log_info("msg=\"stopping\" signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
out:
	http_stop(srv);
	deploy_stop(deploy);
	fleet_stop(fleet);
	hub_close(&h);
	hub_tls_free(&tls);
	return rc;
}

int main(int argc, char **argv)
{
	struct hub_config c;
	int rc;

	log_set_program("mw-hub");
	if (hub_config_init(&c)) {
		fprintf(stderr, "mw-hub: internal error: bad config defaults\n");
		return 2;
	}
	rc = apply_args(argc, argv, &c);
	if (rc) {
		hub_config_free(&c);
		return rc == 1 ? 0 : 2;
	}
	log_set_level((enum log_level)c.log_level);
	rc = serve(&c);
	hub_config_free(&c);
	if (rc == MW_OK)
		log_info("msg=\"stopped\"");
	return rc == MW_OK ? 0 : 1;
}
