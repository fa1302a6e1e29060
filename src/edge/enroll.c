/* enroll.c -- `mw-edge enroll HUB_URL TOKEN` and the node credential file
 * (enroll.h). */
#include "edge/enroll.h"

#include "core/http.h"
#include "core/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENROLL_TIMEOUT_MS 30000L

static const char enroll_usage[] =
	"usage: mw-edge enroll HUB_URL TOKEN [--ca CA.pem] [--config FILE] [--data-dir DIR]\n"
	"                      [--set KEY=VALUE]...\n"
	"\n"
	"Joins this edge to the hub at HUB_URL with the one-time enrollment TOKEN an\n"
	"admin made (mw enroll create). The node id is node.id of the config. The\n"
	"node's own credential is saved in DATA_DIR/" EDGE_CREDENTIAL_FILE " (mode 0600);\n"
	"mw-edge then sends to that hub with it (unless uplink.token is set).\n"
	"\n"
	"  --ca CA.pem  for an https hub with its own CA: the hub's DATA_DIR/tls/ca.pem,\n"
	"               copied here by the admin. The hub must prove it holds that CA's\n"
	"               certificate; a copy is kept as DATA_DIR/" EDGE_HUB_CA_FILE " and\n"
	"               trusted from then on (the CA is pinned).\n";

static int credential_path(const struct edge_config *c, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", c->data_dir, EDGE_CREDENTIAL_FILE);

	return n > 0 && (size_t)n < cap ? MW_OK : MW_ERR_TOOBIG;
}

static int save_credential(const char *path, json_t *cred)
{
	char *text = json_dumps(cred, JSON_INDENT(2));
	int rc = text ? mw_write_private(path, text, strlen(text)) : MW_ERR_NOMEM;

	free(text);
	return rc;
}

/* POSTs {token, node} to hub/v1/enroll; the answer's JSON, or NULL after
 * printing why not. */
static json_t *ask_hub(const char *hub, const char *token, const char *node, const char *ca)
{
	char url[EDGE_URL_MAX + 32], *body = NULL;
	const char *hdrs[] = {"Content-Type: application/json", NULL};
	struct http_response a = {0};
	json_t *req = json_pack("{s:s, s:s}", "token", token, "node", node), *j = NULL;
	size_t len = strlen(hub);
	int rc;

	while (len && hub[len - 1] == '/')
		len--;
	snprintf(url, sizeof(url), "%.*s/v1/enroll", (int)len, hub);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return NULL;
	rc = http_request(&(struct http_request){.method = "POST",
						 .url = url,
						 .headers = hdrs,
						 .body = body,
						 .body_len = strlen(body),
						 .timeout_ms = ENROLL_TIMEOUT_MS,
						 .ca_file = ca},
			  &a);
	free(body);
	if (rc) {
		fprintf(stderr, "mw-edge enroll: cannot reach the hub at %s: %s\n", url, a.error);
	} else {
		j = json_loadb(a.body.data, a.body.len, 0, NULL);
		if (a.status != 201) {
			const char *msg = json_string_value(json_object_get(j, "error"));
			fprintf(stderr, "mw-edge enroll: the hub refused (%ld): %s\n", a.status,
				msg ? msg : "no reason given; is this a Millwright hub?");
			json_decref(j);
			j = NULL;
		} else if (!json_string_value(json_object_get(j, "token"))) {
			fprintf(stderr, "mw-edge enroll: the hub's answer has no credential\n");
			json_decref(j);
			j = NULL;
		}
	}
	http_response_free(&a);
	return j;
}

/* Copies the CA file given with --ca to DATA_DIR/hub-ca.pem (pinned). */
static int pin_ca(const struct edge_config *c, const char *ca, char *pinned, size_t cap)
{
	FILE *f = fopen(ca, "r");
	char pem[65536];
	size_t n = f ? fread(pem, 1, sizeof(pem), f) : 0;

	if (f)
		fclose(f);
	if (!n || n == sizeof(pem) || !memmem(pem, n, "BEGIN CERTIFICATE", 17)) {
		fprintf(stderr, "mw-edge enroll: --ca %s: %s\n", ca,
			f ? "not a PEM certificate" : strerror(errno));
		return MW_ERR_INVALID;
	}
	snprintf(pinned, cap, "%s/%s", c->data_dir, EDGE_HUB_CA_FILE);
	if (mw_write_private(pinned, pem, n)) {
		fprintf(stderr, "mw-edge enroll: cannot write %s: %s\n", pinned, strerror(errno));
		return MW_ERR_IO;
	}
	return MW_OK;
}

static int enroll(struct edge_config *c, const char *hub, const char *token, const char *ca)
{
	char path[EDGE_PATH_MAX + 32], pinned[EDGE_PATH_MAX + 32] = "";
	json_t *answer, *cred, *labels;
	int rc;

	if (credential_path(c, path, sizeof(path)))
		return 2;
	if (access(path, F_OK) == 0) {
		fprintf(stderr,
			"mw-edge enroll: this edge is enrolled already (%s); to enroll "
			"again, have an admin revoke node %s, then remove that file\n",
			path, c->node_id);
		return 1;
	}
	if (mkdir(c->data_dir, 0750) && errno != EEXIST) {
		fprintf(stderr, "mw-edge enroll: data_dir: cannot create %s: %s\n", c->data_dir,
			strerror(errno));
		return 1;
	}
	if (ca && pin_ca(c, ca, pinned, sizeof(pinned)))
		return 1;
	if (!(answer = ask_hub(hub, token, c->node_id, pinned))) {
		if (pinned[0])
			unlink(pinned);
		return 1;
	}
	labels = json_object_get(answer, "labels");
	labels = labels ? json_incref(labels) : json_object();
	cred = json_pack("{s:s, s:s, s:O, s:o, s:s}", "hub_url", hub, "node", c->node_id, "token",
			 json_object_get(answer, "token"), "labels", labels, "ca", pinned);
	rc = cred ? save_credential(path, cred) : MW_ERR_NOMEM;
	if (rc)
		fprintf(stderr,
			"mw-edge enroll: enrolled, but cannot write %s: %s; the hub "
			"has the node, so have an admin revoke it and enroll again\n",
			path, strerror(errno));
	else
		printf("enrolled %s at %s; credential saved in %s\nstart it: mw-edge --config "
		       "FILE (uplink.hub_url and uplink.token may stay empty)\n",
		       c->node_id, hub, path);
	json_decref(cred);
	json_decref(answer);
	return rc ? 1 : 0;
}

int edge_enroll_main(int argc, char **argv)
{
	static struct edge_config c; /* large; runs once */
	int *rest = calloc((size_t)argc, sizeof(*rest)), nrest = 0, rc = 2, n = 0;
	char **args = calloc((size_t)argc + 1, sizeof(*args));
	const char *ca = NULL;

	for (int i = 0; args && i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(enroll_usage, stdout);
			rc = 0;
			goto out;
		}
		if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
			ca = argv[++i]; /* ours, not a config option */
		else
			args[n++] = argv[i];
	}
	if (!rest || !args || edge_config_defaults(&c))
		goto out;
	log_set_level(LOG_WARN);
	if (edge_config_args(&c, n, args, "mw-edge enroll", rest, &nrest))
		goto out;
	if (nrest != 3 || strncmp(args[rest[1]], "http", 4) != 0) {
		fputs(enroll_usage, stderr);
		goto out;
	}
	rc = enroll(&c, args[rest[1]], args[rest[2]], ca);
out:
	edge_config_free(&c);
	free(rest);
	free(args);
	return rc;
}

int edge_config_credential(struct edge_config *c)
{
	char path[EDGE_PATH_MAX + 32];
	json_t *j;
	const char *node, *token, *hub, *ca;
	int rc = MW_ERR_INVALID;

	if (c->uplink_token[0] || credential_path(c, path, sizeof(path)) || access(path, F_OK) != 0)
		return MW_OK;
	j = json_load_file(path, 0, NULL);
	node = json_string_value(json_object_get(j, "node"));
	token = json_string_value(json_object_get(j, "token"));
	hub = json_string_value(json_object_get(j, "hub_url"));
	ca = json_string_value(json_object_get(j, "ca"));
	if (!node || !token || !hub)
		log_error("node credential unreadable file=%s hint=\"enroll again\"", path);
	else if (strcmp(node, c->node_id) != 0)
		log_error("node credential is for another node file=%s credential_node=%s "
			  "node.id=%s",
			  path, node, c->node_id);
	else if (mw_strlcpy(c->uplink_token, token, sizeof(c->uplink_token)) ||
		 (!c->hub_url[0] && mw_strlcpy(c->hub_url, hub, sizeof(c->hub_url))) ||
		 (!c->uplink_ca[0] && ca && mw_strlcpy(c->uplink_ca, ca, sizeof(c->uplink_ca))))
		log_error("node credential too long file=%s", path);
	else
		rc = MW_OK;
	if (rc == MW_OK) {
		char *labels = json_dumps(json_object_get(j, "labels"), JSON_COMPACT);
		if (labels)
			mw_strlcpy(c->node_labels, labels, sizeof(c->node_labels));
		free(labels);
		log_info("node credential read file=%s hub=%s", path, c->hub_url);
	}
	json_decref(j);
	return rc;
}
