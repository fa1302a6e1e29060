/* mw.c -- the command-line client of the hub's REST API.
 *
 * A thin reader: it builds a URL, GETs it with our HTTP client (core/http.h),
 * and prints the JSON answer as a table (or raw with --json). Every failure says what to
 * do next: which flag or variable to set, or what the hub said. The hub
 * address and token come from --hub/--token or MW_HUB/MW_TOKEN. */
#include "core/buf.h"
#include "core/event.h"
#include "core/http.h"
#include "core/mw.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MW_VERSION
#define MW_VERSION "dev"
#endif

#define ANSWER_CAP ((size_t)256 << 20)
#define TIMEOUT_MS 60000L
#define DEFAULT_HUB "http://127.0.0.1:7800"

static const char usage[] =
	"usage: mw [--hub URL] [--token TOKEN] COMMAND [options]\n"
	"\n"
	"commands:\n"
	"  events   list events, oldest first\n"
	"           [--node N] [--source S] [--kind K] [--severity MIN]\n"
	"           [--since NS] [--until NS] [--after CURSOR] [--limit 1-1000] [--json]\n"
	"  nodes    list the edge nodes the hub knows, with their acked seq [--json]\n"
	"  health   check that the hub answers\n"
	"\n"
	"  --hub URL      the hub (default $MW_HUB, else " DEFAULT_HUB ")\n"
	"  --token TOKEN  the hub's api.token (default $MW_TOKEN)\n"
	"\n"
	"examples:\n"
	"  mw events --node press-1 --severity alarm\n"
	"  MW_HUB=http://hub.plant:7800 mw nodes\n";

struct opts {
	const char *hub, *token, *cmd;
	const char *node, *source, *kind, *severity, *since, *until, *after, *limit;
	int json;
};

/* GETs hub+path into a; 0 on a 200 answer, else prints why and returns 1. */
static int get(const struct opts *o, const char *path, struct http_response *a)
{
	char url[4096];
	struct http_request req = {
		.method = "GET",
		.url = url,
		.bearer = o->token,
		.timeout_ms = TIMEOUT_MS,
		.max_response = ANSWER_CAP,
	};
	int rc;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", o->hub, path) >= sizeof(url)) {
		fprintf(stderr, "mw: the URL is longer than %zu bytes; shorten the filters\n",
			sizeof(url) - 1);
		return 1;
	}
	rc = http_request(&req, a);
	if (rc == MW_ERR_INVALID && a->status == 0) {
		fprintf(stderr, "mw: %s; check --hub or MW_HUB\n", a->error);
		return 1;
	}
	if (rc == MW_ERR_TOOBIG) {
		fprintf(stderr, "mw: %s; narrow the query (--limit)\n", a->error);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "mw: cannot reach the hub at %s: %s; is mw-hub running? "
			"set --hub or MW_HUB\n", o->hub, a->error);
		return 1;
	}
	if (a->status == 200)
		return 0;
	json_t *j = json_loadb(a->body.data, a->body.len, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "error"));
	if (a->status == 401)
		fprintf(stderr, "mw: the hub refused the request (401): %s; set --token or "
			"MW_TOKEN to the hub's api.token\n", msg ? msg : "unauthorised");
	else
		fprintf(stderr, "mw: the hub at %s answered %ld: %s\n", o->hub, a->status,
			msg ? msg : "(no error message)");
	json_decref(j);
	return 1;
}

static json_t *get_json(const struct opts *o, const char *path)
{
	struct http_response a = {0};
	json_t *j = NULL;
	json_error_t jerr;

	if (get(o, path, &a) == 0) {
		if (o->json) {
			fwrite(a.body.data, 1, a.body.len, stdout);
			j = json_true(); /* printed as is */
		} else if (!(j = json_loadb(a.body.data, a.body.len, 0, &jerr))) {
			fprintf(stderr, "mw: the hub's answer is not JSON (%s); is %s a "
				"Millwright hub?\n", jerr.text, o->hub);
		}
	}
	http_response_free(&a);
	return j;
}

static void fmt_time(int64_t ns, char *out, size_t cap)
{
	time_t s = (time_t)(ns / 1000000000);
	struct tm tm;
	if (ns <= 0) {
		snprintf(out, cap, "-");
		return;
	}
	gmtime_r(&s, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends &name=value when value is set, the value percent-encoded (all
 * but RFC 3986's unreserved characters). */
static int add_param(struct buf *q, const char *name, const char *value)
{
	int rc;

	if (!value)
		return MW_OK;
	rc = buf_printf(q, "%c%s=", q->len ? '&' : '?', name);
	for (const unsigned char *s = (const unsigned char *)value; !rc && *s; s++) {
		if (isalnum(*s) || strchr("-._~", *s))
			rc = buf_addc(q, (char)*s);
		else
			rc = buf_printf(q, "%%%02X", *s);
	}
	return rc;
}

static void print_event(const json_t *e)
{
	char when[32], *attrs = json_dumps(json_object_get(e, "attrs"), JSON_COMPACT);
	fmt_time(json_integer_value(json_object_get(e, "ts")), when, sizeof(when));
	printf("%-20s  %-16s %8" JSON_INTEGER_FORMAT "  %-7s  %-22s %-18s %.80s\n", when,
	       json_string_value(json_object_get(e, "node")),
	       json_integer_value(json_object_get(e, "seq")),
	       json_string_value(json_object_get(e, "severity")),
	       json_string_value(json_object_get(e, "kind")),
	       json_string_value(json_object_get(e, "source")), attrs ? attrs : "");
	free(attrs);
}

static int cmd_events(const struct opts *o)
{
	const char *names[] = {"node", "source", "kind", "severity", "since", "until", "after",
			       "limit"};
	const char *vals[] = {o->node, o->source, o->kind, o->severity, o->since, o->until,
			      o->after, o->limit};
	struct buf q;
	json_t *j, *evs, *e;
	char path[9000];
	size_t i;
	int rc = 1;

	buf_init(&q, 8192);
	for (i = 0; i < MW_ARRAY_LEN(names); i++)
		if (add_param(&q, names[i], vals[i])) {
			fprintf(stderr, "mw: the filters are too long\n");
			goto out;
		}
	snprintf(path, sizeof(path), "/v1/events%s", q.data ? q.data : "");
	if (!(j = get_json(o, path)))
		goto out;
	rc = 0;
	if (o->json) {
		json_decref(j);
		goto out;
	}
	evs = json_object_get(j, "events");
	printf("%-20s  %-16s %8s  %-7s  %-22s %-18s %s\n", "TIME (UTC)", "NODE", "SEQ", "SEVERITY",
	       "KIND", "SOURCE", "ATTRS");
	json_array_foreach(evs, i, e)
		print_event(e);
	if (json_is_string(json_object_get(j, "next")))
		printf("-- more: add --after %s\n", json_string_value(json_object_get(j, "next")));
	else if (json_array_size(evs) == 0)
		printf("-- no events match\n");
	json_decref(j);
out:
	buf_free(&q);
	return rc;
}

static int cmd_nodes(const struct opts *o)
{
	json_t *j = get_json(o, "/v1/nodes"), *n;
	size_t i;

	if (!j)
		return 1;
	if (o->json) {
		json_decref(j);
		return 0;
	}
	printf("%-24s %10s %10s %7s  %s\n", "NODE", "ACKED SEQ", "EVENTS", "BREAKS", "LAST SEEN (UTC)");
	json_array_foreach(json_object_get(j, "nodes"), i, n) {
		char when[32];
		fmt_time(json_integer_value(json_object_get(n, "last_seen")), when, sizeof(when));
		printf("%-24s %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %7" JSON_INTEGER_FORMAT "  %s\n",
		       json_string_value(json_object_get(n, "node")),
		       json_integer_value(json_object_get(n, "acked_seq")),
		       json_integer_value(json_object_get(n, "events")),
		       json_integer_value(json_object_get(n, "breaks")), when);
	}
	json_decref(j);
	return 0;
}

static int cmd_health(const struct opts *o)
{
	json_t *j = get_json(o, "/healthz");
	if (!j)
		return 1;
	const char *status = json_string_value(json_object_get(j, "status"));
	if (!o->json)
		printf("hub %s: %s\n", o->hub, status ? status : "answers");
	json_decref(j);
	return 0;
}

/* Reads flags (anywhere on the line) and the command; 0, 1 (exit 0), 2. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct {
		const char *flag;
		size_t off;
	} vflags[] = {
		{"--hub", offsetof(struct opts, hub)},
		{"--token", offsetof(struct opts, token)},
		{"--node", offsetof(struct opts, node)},
		{"--source", offsetof(struct opts, source)},
		{"--kind", offsetof(struct opts, kind)},
		{"--severity", offsetof(struct opts, severity)},
		{"--since", offsetof(struct opts, since)},
		{"--until", offsetof(struct opts, until)},
		{"--after", offsetof(struct opts, after)},
		{"--limit", offsetof(struct opts, limit)},
	};
	for (int i = 1; i < argc; i++) {
		size_t k = 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("mw %s\n", MW_VERSION);
			return 1;
		}
		if (strcmp(argv[i], "--json") == 0) {
			o->json = 1;
			continue;
		}
		while (k < MW_ARRAY_LEN(vflags) && strcmp(argv[i], vflags[k].flag) != 0)
			k++;
		if (k < MW_ARRAY_LEN(vflags)) {
			if (i + 1 >= argc) {
				fprintf(stderr, "mw: %s needs a value; see mw --help\n", argv[i]);
				return 2;
			}
			*(const char **)((char *)o + vflags[k].off) = argv[++i];
		} else if (argv[i][0] == '-' || o->cmd) {
			fprintf(stderr, "mw: unknown argument '%s'; see mw --help\n", argv[i]);
			return 2;
		} else {
			o->cmd = argv[i];
		}
	}
	if (!o->cmd) {
		fputs(usage, stderr);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	char hub[1024];
	int rc;

	o.hub = getenv("MW_HUB");
	o.token = getenv("MW_TOKEN");
	if ((rc = parse_args(argc, argv, &o)))
		return rc == 1 ? 0 : 2;
	if (!o.hub || !*o.hub)
		o.hub = DEFAULT_HUB;
	if (!strstr(o.hub, "://")) { /* "127.0.0.1:7800", as hub.addr holds it */
		snprintf(hub, sizeof(hub), "http://%s", o.hub);
		o.hub = hub;
	}
	if (o.token && !*o.token)
		o.token = NULL;
	if (strcmp(o.cmd, "events") == 0)
		rc = cmd_events(&o);
	else if (strcmp(o.cmd, "nodes") == 0)
		rc = cmd_nodes(&o);
	else if (strcmp(o.cmd, "health") == 0)
		rc = cmd_health(&o);
	else {
		fprintf(stderr, "mw: unknown command '%s'; commands: events, nodes, health\n", o.cmd);
		rc = 2;
	}
	return rc;
}
