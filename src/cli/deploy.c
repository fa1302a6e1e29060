/* deploy.c -- `mw deploy`, `mw rollouts` and `mw nodes label`: what runs
 * where (hub/deploy.h). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --to: "all", label selectors "k=v[,k=v]", or node ids "a[,b]". */
static json_t *targets(const char *to)
{
	json_t *sel = json_object(), *nodes = json_array();
	char *copy = strdup(to), *save = NULL;

	if (strcmp(to, "all") == 0) {
		json_decref(nodes);
		json_decref(sel);
		free(copy);
		return json_pack("{s:b}", "all", 1);
	}
	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			json_object_set_new(sel, p, json_string(eq + 1));
		} else {
			json_array_append_new(nodes, json_string(p));
		}
	}
	free(copy);
	if (json_object_size(sel) && json_array_size(nodes)) {
		fprintf(stderr, "mw: --to %s: either labels (k=v,...) or node ids, not both\n", to);
		json_decref(sel);
		json_decref(nodes);
		return NULL;
	}
	if (json_object_size(sel)) {
		json_decref(nodes);
		return json_pack("{s:o}", "labels", sel);
	}
	json_decref(sel);
	return json_pack("{s:o}", "nodes", nodes);
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void print_progress(json_t *d)
{
	json_t *t, *count;
	const char *state;
	size_t i;
	json_t *by = json_object();

	json_array_foreach(json_object_get(d, "targets"), i, t)
	{
		state = str(t, "state");
		count = json_object_get(by, state);
		json_object_set_new(by, state, json_integer(json_integer_value(count) + 1));
	}
	printf("deployment %" JSON_INTEGER_FORMAT " %s@%s: %s",
	       json_integer_value(json_object_get(d, "id")), str(d, "app"),
	       json_is_true(json_object_get(d, "remove")) ? "(remove)" : str(d, "version"),
	       str(d, "status"));
	json_object_foreach(by, state, count)
		printf(" %s=%" JSON_INTEGER_FORMAT, state, json_integer_value(count));
	printf("%s%s\n", *str(d, "reason") ? ": " : "", str(d, "reason"));
	fflush(stdout);
	json_decref(by);
}

/* What the progress line says, to print it only when it changes: the
 * rollout's status and each node's state. */
static char *progress_key(json_t *d)
{
	json_t *k = json_pack("{s:O}", "status", json_object_get(d, "status")), *t;
	char *text;
	size_t i;

	json_array_foreach(json_object_get(d, "targets"), i, t)
		json_object_set(k, str(t, "node"), json_object_get(t, "state"));
	text = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(k);
	return text;
}

/* Follows deployment id until it is no longer rolling: 0 done, 1 not. */
static int wait_rollout(struct opts *o, json_int_t id)
{
	char path[64], *last = NULL;
	int rc = 1;

	snprintf(path, sizeof(path), "/v1/deployments/%" JSON_INTEGER_FORMAT, id);
	for (;;) {
		json_t *d;
		char *now;
		if (cli_call(o, "GET", path, NULL, &d) || !d)
			break;
		now = progress_key(d);
		if (!last || !now || strcmp(last, now))
			print_progress(d);
		free(last);
		last = now;
		if (strcmp(str(d, "status"), "rolling")) {
			rc = strcmp(str(d, "status"), "done") ? 1 : 0;
			json_decref(d);
			break;
		}
		json_decref(d);
		nanosleep(&(struct timespec){0, 500000000L}, NULL);
	}
	free(last);
	return rc;
}

int cli_deploy(struct opts *o)
{
	const char *spec = o->nwords > 1 ? o->words[1] : NULL, *at;
	json_t *body, *p, *to, *j;
	char app[128];
	int rc;

	if (!spec || !o->to) {
		fprintf(stderr, "mw: deploy APP@VERSION --to SELECTOR [--set NAME=VALUE]... "
				"[--batch N] [--settle 10s] [--wait]\n"
				"       deploy APP --remove --to SELECTOR\n"
				"  SELECTOR: k=v[,k=v] (labels), NODE[,NODE] (ids) or all\n");
		return 2;
	}
	at = strchr(spec, '@');
	if (!o->remove && !at) {
		fprintf(stderr, "mw: deploy %s: APP@VERSION expected (mw apps show %s)\n", spec,
			spec);
		return 2;
	}
	snprintf(app, sizeof(app), "%.*s", at ? (int)(at - spec) : (int)strlen(spec), spec);
	/* strings: the hub reads each as its parameter's type */
	if (!(p = cli_pairs(o->sets, o->nsets, "--set", false)) || !(to = targets(o->to))) {
		json_decref(p);
		return 2;
	}
	body = json_pack("{s:s, s:o}", "app", app, "to", to);
	if (at)
		json_object_set_new(body, "version", json_string(at + 1));
	if (o->remove)
		json_object_set_new(body, "remove", json_true());
	if (json_object_size(p))
		json_object_set(body, "params", p);
	json_decref(p);
	if (o->batch) {
		char *end;
		long long n = strtoll(o->batch, &end, 10);
		/* the hub checks the range and names the field */
		json_object_set_new(body, "batch_size",
				    *end || end == o->batch ? json_string(o->batch)
							    : json_integer(n));
	}
	if (o->settle)
		json_object_set_new(body, "settle", json_string(o->settle));
	if ((rc = cli_call(o, "POST", "/v1/deployments", body, &j)) || !j)
		return rc;
	print_progress(j);
	if (o->wait)
		rc = wait_rollout(o, json_integer_value(json_object_get(j, "id")));
	else
		fprintf(stderr, "follow it with: mw rollouts show %" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(j, "id")));
	json_decref(j);
	return rc;
}

static int rollouts_list(struct opts *o)
{
	json_t *j, *d;
	size_t i;

	if (cli_call(o, "GET", "/v1/deployments", NULL, &j) || !j)
		return j || o->json ? 0 : 1;
	printf("%5s  %-28s %-12s %-20s %5s  %s\n", "ID", "APP", "STATUS", "CREATED (UTC)", "NODES",
	       "PROGRESS / REASON");
	json_array_foreach(json_object_get(j, "deployments"), i, d)
	{
		char when[32], what[128],
			*prog = json_dumps(json_object_get(d, "progress"),
					   JSON_COMPACT | JSON_SORT_KEYS);
		cli_time(json_integer_value(json_object_get(d, "created")), when, sizeof(when));
		snprintf(what, sizeof(what), "%s@%s", str(d, "app"),
			 json_is_true(json_object_get(d, "remove")) ? "(remove)"
								    : str(d, "version"));
		printf("%5" JSON_INTEGER_FORMAT "  %-28s %-12s %-20s %5" JSON_INTEGER_FORMAT
		       "  %s %s\n",
		       json_integer_value(json_object_get(d, "id")), what, str(d, "status"), when,
		       json_integer_value(json_object_get(d, "nodes")), prog ? prog : "",
		       str(d, "reason"));
		free(prog);
	}
	json_decref(j);
	return 0;
}

static int rollouts_show(struct opts *o, const char *id)
{
	char path[128];
	json_t *d, *t, *line;
	size_t i, k;

	snprintf(path, sizeof(path), "/v1/deployments/%s", id);
	if (cli_call(o, "GET", path, NULL, &d) || !d)
		return d || o->json ? 0 : 1;
	print_progress(d);
	printf("%-24s %5s  %-11s %-10s %-9s %8s  %s\n", "NODE", "BATCH", "ROLLOUT", "VERSION",
	       "APP", "RESTARTS", "REASON");
	json_array_foreach(json_object_get(d, "targets"), i, t)
	{
		json_t *rep = json_object_get(t, "report");
		printf("%-24s %5" JSON_INTEGER_FORMAT "  %-11s %-10s %-9s %8" JSON_INTEGER_FORMAT
		       "  %s\n",
		       str(t, "node"), json_integer_value(json_object_get(t, "batch")),
		       str(t, "state"), rep ? str(rep, "version") : "-",
		       rep ? str(rep, "state") : "-",
		       json_integer_value(json_object_get(rep, "restarts")),
		       *str(t, "reason") ? str(t, "reason") : str(rep, "reason"));
		json_array_foreach(json_object_get(rep, "log"), k, line)
			printf("    | %s\n", json_string_value(line));
	}
	json_decref(d);
	return 0;
}

int cli_rollouts(struct opts *o)
{
	const char *sub = o->nwords > 1 ? o->words[1] : "list";

	if (strcmp(sub, "list") == 0 && o->nwords <= 2)
		return rollouts_list(o);
	if (strcmp(sub, "show") == 0 && o->nwords == 3)
		return rollouts_show(o, o->words[2]);
	if (strcmp(sub, "wait") == 0 && o->nwords == 3)
		return wait_rollout(o, strtoll(o->words[2], NULL, 10));
	fprintf(stderr, "mw: rollouts: (list) | show ID | wait ID\n");
	return 2;
}

/* `mw nodes label NODE k=v k2-`: sets k, removes k2. */
int cli_nodes_label(struct opts *o)
{
	json_t *set, *j;
	char path[256], *text;
	int rc;

	if (o->nwords < 4) {
		fprintf(stderr, "mw: nodes label NODE KEY=VALUE... KEY-...\n");
		return 2;
	}
	if (!(set = cli_pairs(o->words + 3, o->nwords - 3, "nodes label", true)))
		return 2;
	snprintf(path, sizeof(path), "/v1/nodes/%s", o->words[2]);
	rc = cli_call(o, "PATCH", path, json_pack("{s:o}", "labels", set), &j);
	if (rc == 0 && j) {
		text = json_dumps(json_object_get(j, "labels"), JSON_COMPACT | JSON_SORT_KEYS);
		printf("%s: labels %s\n", o->words[2], text ? text : "{}");
		free(text);
	}
	json_decref(j);
	return rc;
}
