/* fleet.c -- `mw enroll create|list`, `mw nodes show|revoke NODE` and
 * `mw apps list|add|show`. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int enroll_create(struct opts *o)
{
	json_t *labels = cli_pairs(o->labels, o->nlabels, "--label", false), *body, *j;
	char exp[32];
	int rc;

	if (!labels)
		return 2;
	body = json_pack("{s:o}", "labels", labels);
	if (o->ttl)
		json_object_set_new(body, "ttl", json_string(o->ttl));
	if (o->node)
		json_object_set_new(body, "node", json_string(o->node));
	rc = cli_call(o, "POST", "/v1/enrollments", body, &j);
	if (rc || !j)
		return rc;
	cli_time(json_integer_value(json_object_get(j, "expires")), exp, sizeof(exp));
	printf("%s\n", json_string_value(json_object_get(j, "token")));
	fprintf(stderr,
		"one-time enrollment token (id %" JSON_INTEGER_FORMAT ", until %s); on the "
		"new edge:\n  mw-edge enroll %s TOKEN --config FILE\n",
		json_integer_value(json_object_get(j, "id")), exp, o->hub);
	json_decref(j);
	return 0;
}

static int enroll_list(struct opts *o)
{
	json_t *j, *e;
	size_t i;

	if (cli_call(o, "GET", "/v1/enrollments", NULL, &j))
		return 1;
	if (!j)
		return 0;
	printf("%6s  %-20s %-20s %s\n", "ID", "FOR NODE", "EXPIRES (UTC)", "LABELS");
	json_array_foreach(json_object_get(j, "enrollments"), i, e)
	{
		char exp[32], *labels = json_dumps(json_object_get(e, "labels"), JSON_COMPACT);
		const char *node = json_string_value(json_object_get(e, "node"));
		cli_time(json_integer_value(json_object_get(e, "expires")), exp, sizeof(exp));
		printf("%6" JSON_INTEGER_FORMAT "  %-20s %-20s %s\n",
		       json_integer_value(json_object_get(e, "id")), node && *node ? node : "(any)",
		       exp, labels ? labels : "{}");
		free(labels);
	}
	json_decref(j);
	return 0;
}

int cli_enroll(struct opts *o)
{
	const char *sub = o->nwords > 1 ? o->words[1] : "list";

	if (strcmp(sub, "create") == 0)
		return enroll_create(o);
	if (strcmp(sub, "list") == 0)
		return enroll_list(o);
	fprintf(stderr, "mw: enroll: create [--label K=V]... [--ttl 24h] [--node ID] | list\n");
	return 2;
}

/* `mw nodes show NODE`: the node's chain, status and last report. */
static int nodes_show(struct opts *o, const char *node)
{
	json_t *j, *n, *found = NULL;
	size_t i;
	int json = o->json;
	char *text;

	o->json = 0; /* the node's entry, not the whole list */
	if (cli_call(o, "GET", "/v1/nodes", NULL, &j))
		return 1;
	o->json = json;
	json_array_foreach(json_object_get(j, "nodes"), i,
			   n) if (strcmp(json_string_value(json_object_get(n, "node")), node) == 0)
		found = n;
	if (!found) {
		fprintf(stderr, "mw: nodes show: the hub knows no node %s (mw nodes lists them)\n",
			node);
		json_decref(j);
		return 1;
	}
	text = json_dumps(found, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("%s\n", text ? text : "{}");
	free(text);
	json_decref(j);
	return 0;
}

int cli_nodes_revoke(struct opts *o)
{
	char path[256];
	json_t *j;
	int rc;

	if (o->nwords == 3 && strcmp(o->words[1], "show") == 0)
		return nodes_show(o, o->words[2]);
	if (o->nwords != 3 || strcmp(o->words[1], "revoke") != 0) {
		fprintf(stderr, "mw: nodes: (list) | show NODE | revoke NODE\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/v1/nodes/%s/revoke", o->words[2]);
	rc = cli_call(o, "POST", path, NULL, &j);
	if (rc == 0 && j)
		printf("revoked %s: its next request is refused; it can enroll again with a new "
		       "token\n",
		       o->words[2]);
	json_decref(j);
	return rc;
}

/* ---- the catalog ---------------------------------------------------------------- */

static int apps_add(struct opts *o, const char *file)
{
	FILE *f = fopen(file, "r");
	char *text = NULL;
	size_t len = 0;
	json_t *j;
	int rc;

	if (f) {
		text = malloc((1u << 20) + 1);
		len = text ? fread(text, 1, 1u << 20, f) : 0;
		fclose(f);
	}
	if (!f || !text) {
		fprintf(stderr, "mw: apps add: %s: %s\n", file,
			f ? "out of memory" : strerror(errno));
		free(text);
		return 1;
	}
	rc = cli_call_raw(o, "POST", "/v1/apps", text, len, "application/yaml", &j);
	free(text);
	if (rc == 0 && j)
		printf("added %s@%s to the catalog\n",
		       json_string_value(json_object_get(j, "name")),
		       json_string_value(json_object_get(j, "version")));
	json_decref(j);
	return rc;
}

static int apps_list(struct opts *o)
{
	json_t *j, *a, *v;
	size_t i, k;

	if (cli_call(o, "GET", "/v1/apps", NULL, &j))
		return 1;
	if (!j)
		return 0;
	printf("%-24s %-20s %-30s %s\n", "APP", "VENDOR", "VERSIONS", "DESCRIPTION");
	json_array_foreach(json_object_get(j, "apps"), i, a)
	{
		char versions[256] = "";
		size_t used = 0;
		json_array_foreach(json_object_get(a, "versions"), k, v) used += (size_t)snprintf(
			versions + used, used < sizeof(versions) ? sizeof(versions) - used : 0,
			"%s%s", k ? " " : "", json_string_value(v));
		printf("%-24s %-20.20s %-30.30s %.60s\n",
		       json_string_value(json_object_get(a, "name")),
		       json_string_value(json_object_get(a, "vendor")), versions,
		       json_string_value(json_object_get(a, "description")));
	}
	json_decref(j);
	return 0;
}

int cli_apps(struct opts *o)
{
	const char *sub = o->nwords > 1 ? o->words[1] : "list";
	const char *arg = o->nwords > 2 ? o->words[2] : NULL;
	char path[256];
	json_t *j;
	char *text;

	if (strcmp(sub, "list") == 0 && !arg)
		return apps_list(o);
	if (strcmp(sub, "add") == 0 && arg)
		return apps_add(o, arg);
	if (strcmp(sub, "show") != 0 || !arg) {
		fprintf(stderr, "mw: apps: list | add MANIFEST.yaml | show NAME\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/v1/apps/%s", arg);
	if (cli_call(o, "GET", path, NULL, &j))
		return 1;
	if (j) {
		text = json_dumps(j, JSON_INDENT(2));
		printf("%s\n", text ? text : "{}");
		free(text);
	}
	json_decref(j);
	return 0;
}
