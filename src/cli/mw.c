/* mw.c -- the command-line client of the hub's REST API.
 *
 * A thin client: it builds a URL, calls it with our HTTP client
 * (core/http.h), and prints the JSON answer as a table (or raw with
 * --json). Every failure says what to do next: which flag or variable to
 * set, or what the hub said. The hub address and token come from
 * --hub/--token, MW_HUB/MW_TOKEN, or the login `mw login` saved
 * (account.c). */
#include "cli/cli.h"

#include "core/buf.h"
#include "core/http.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MW_VERSION
#define MW_VERSION "dev"
#endif

#define ANSWER_CAP ((size_t)256 << 20)
#define TIMEOUT_MS 60000L

static const char usage[] =
	"usage: mw [--hub URL] [--token TOKEN] COMMAND [options]\n"
	"\n"
	"commands:\n"
	"  events   list events, oldest first\n"
	"           [--node N] [--source S] [--kind K] [--severity MIN]\n"
	"           [--since NS] [--until NS] [--after CURSOR] [--limit 1-1000] [--json]\n"
	"           [--follow]: keep printing new events as they come\n"
	"  nodes    list the edge nodes the hub knows, with their acked seq [--json]\n"
	"           show NODE: its chain, status and last health report\n"
	"           revoke NODE: the node's credential stops working      (admin)\n"
	"           label NODE KEY=VALUE... KEY-...: set or remove labels   (admin)\n"
	"  health   check that the hub answers\n"
	"  login    [--user NAME] [--password-stdin]: log in; the session is kept in\n"
	"           " CLI_CREDENTIALS_HELP "\n"
	"           --bootstrap TOKEN --user NAME: create the hub's first admin\n"
	"  logout   end the session    whoami   who the hub thinks you are\n"
	"  users    list | add NAME --role R | set NAME [--role R] [--password]\n"
	"           [--disable | --enable] | rm NAME                     (admin)\n"
	"  tokens   list | create NAME [--role viewer] [--ttl 90d] | revoke ID\n"
	"  audit    the audit log [--after ID] [--limit N]                (admin)\n"
	"  apps     list | add MANIFEST.yaml (admin) | show NAME: the app catalog\n"
	"  deploy   APP@VERSION --to SELECTOR [--set NAME=VALUE]... [--batch N]\n"
	"           [--settle 10s] [--wait] | APP --remove --to SELECTOR (admin, operator)\n"
	"           SELECTOR: KEY=VALUE[,KEY=VALUE] (labels), NODE[,NODE] or all\n"
	"  rollouts list | show ID (each node's state and last log lines) | wait ID\n"
	"  enroll   create [--label K=V]... [--ttl 24h] [--node ID] | list (admin):\n"
	"           one-time tokens for `mw-edge enroll HUB_URL TOKEN` on a new edge\n"
	"\n"
	"  --hub URL      the hub (default $MW_HUB, else the hub of your login, else\n"
	"                 " DEFAULT_HUB ")\n"
	"  --token TOKEN  a session or API token, or the hub's api.token (default\n"
	"                 $MW_TOKEN, else the token of your login)\n"
	"  --ca FILE      an https hub's CA certificate, such as its DATA_DIR/tls/ca.pem\n"
	"                 (default $MW_CA, else the CA of your login, else the system's)\n"
	"  --json         print the hub's answer as it is\n"
	"\n"
	"Passwords are read from the terminal without echo, or from standard input\n"
	"(one line) with --password-stdin or when it is not a terminal.\n"
	"\n"
	"examples:\n"
	"  mw login --user alice\n"
	"  mw events --node press-1 --severity alarm\n"
	"  mw users add bob --role operator\n"
	"  mw deploy camera-qa@1.2.0 --to line=3 --set threshold=0.8 --wait\n"
	"  mw tokens create grafana --role viewer --ttl 365d\n"
	"  MW_HUB=http://hub.plant:7800 mw nodes\n";

/* Says why the hub refused, and what to do about it. */
static void explain(const struct opts *o, long status, const char *msg)
{
	if (status == 401)
		fprintf(stderr,
			"mw: the hub refused the request (401): %s; log in with `mw "
			"login`, or set --token or MW_TOKEN\n",
			msg ? msg : "unauthorised");
	else if (status == 403)
		fprintf(stderr,
			"mw: not allowed (403): %s; an admin can change your role (mw users "
			"set NAME --role R)\n",
			msg ? msg : "forbidden");
	else
		fprintf(stderr, "mw: the hub at %s answered %ld: %s\n", o->hub, status,
			msg ? msg : "(no error message)");
}

int cli_call(const struct opts *o, const char *method, const char *path, json_t *body, json_t **out)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc;

	json_decref(body);
	rc = cli_call_raw(o, method, path, text, text ? strlen(text) : 0,
			  body ? "application/json" : NULL, out);
	free(text);
	return rc;
}

int cli_call_raw(const struct opts *o, const char *method, const char *path, const char *body,
		 size_t len, const char *content_type, json_t **out)
{
	char url[4096], ctype[128];
	const char *hdrs[] = {ctype, NULL};
	struct http_request req = {
		.method = method,
		.url = url,
		.headers = content_type ? hdrs : NULL,
		.bearer = o->token,
		.ca_file = o->ca,
		.body = body,
		.body_len = len,
		.timeout_ms = TIMEOUT_MS,
		.max_response = ANSWER_CAP,
	};
	struct http_response a = {0};
	json_error_t jerr;
	json_t *j = NULL;
	bool ok;
	int rc;

	*out = NULL;
	snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type ? content_type : "");
	if ((size_t)snprintf(url, sizeof(url), "%s%s", o->hub, path) >= sizeof(url)) {
		fprintf(stderr, "mw: the URL is longer than %zu bytes; shorten the filters\n",
			sizeof(url) - 1);
		return 1;
	}
	rc = http_request(&req, &a);
	if (rc == MW_ERR_INVALID && a.status == 0)
		fprintf(stderr, "mw: %s; check --hub or MW_HUB\n", a.error);
	else if (rc == MW_ERR_TOOBIG)
		fprintf(stderr, "mw: %s; narrow the query (--limit)\n", a.error);
	else if (rc)
		fprintf(stderr,
			"mw: cannot reach the hub at %s: %s; is mw-hub running? "
			"set --hub or MW_HUB\n",
			o->hub, a.error);
	if (rc) {
		http_response_free(&a);
		return 1;
	}
	j = json_loadb(a.body.data, a.body.len, 0, &jerr);
	ok = a.status >= 200 && a.status <= 299;
	if (!ok) {
		explain(o, a.status, json_string_value(json_object_get(j, "error")));
		json_decref(j);
		j = NULL;
	} else if (o->json) {
		fwrite(a.body.data, 1, a.body.len, stdout);
		json_decref(j);
		j = NULL;
	} else if (!j) {
		fprintf(stderr, "mw: the hub's answer is not JSON (%s); is %s a Millwright hub?\n",
			jerr.text, o->hub);
	}
	http_response_free(&a);
	*out = j;
	return ok && (j || o->json) ? 0 : 1;
}

static json_t *get_json(const struct opts *o, const char *path)
{
	json_t *j;

	if (cli_call(o, "GET", path, NULL, &j))
		return NULL;
	return j ? j : json_true(); /* with --json: printed as is */
}

json_t *cli_pairs(const char *const *items, int n, const char *what, bool removals)
{
	json_t *o = json_object();

	for (int i = 0; o && i < n; i++) {
		const char *w = items[i], *eq = strchr(w, '=');
		size_t len = strlen(w), klen = eq ? (size_t)(eq - w) : len - 1;
		bool remove = !eq && removals && len > 1 && w[len - 1] == '-';
		char key[128];
		if ((!eq && !remove) || klen == 0 || klen >= sizeof(key)) {
			fprintf(stderr, "mw: %s %s: KEY=VALUE%s expected\n", what, w,
				removals ? " or KEY-" : "");
			json_decref(o);
			return NULL;
		}
		snprintf(key, sizeof(key), "%.*s", (int)klen, w);
		json_object_set_new(o, key, remove ? json_null() : json_string(eq + 1));
	}
	return o;
}

void cli_time(int64_t ns, char *out, size_t cap)
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
	cli_time(json_integer_value(json_object_get(e, "ts")), when, sizeof(when));
	printf("%-20s  %-16s %8" JSON_INTEGER_FORMAT "  %-7s  %-22s %-18s %.80s\n", when,
	       json_string_value(json_object_get(e, "node")),
	       json_integer_value(json_object_get(e, "seq")),
	       json_string_value(json_object_get(e, "severity")),
	       json_string_value(json_object_get(e, "kind")),
	       json_string_value(json_object_get(e, "source")), attrs ? attrs : "");
	free(attrs);
}

/* One page of events after the cursor `after` (NULL: from the filters'
 * start), or NULL after saying why. */
static json_t *events_page(const struct opts *o, const char *after)
{
	const char *names[] = {"node",	"source", "kind",  "severity",
			       "since", "until",  "after", "limit"};
	const char *vals[] = {o->node,	o->source, o->kind, o->severity,
			      o->since, o->until,  after,   o->limit};
	char path[9000];
	struct buf q;

	buf_init(&q, 8192);
	for (size_t i = 0; i < MW_ARRAY_LEN(names); i++)
		if (add_param(&q, names[i], vals[i])) {
			fprintf(stderr, "mw: the filters are too long\n");
			buf_free(&q);
			return NULL;
		}
	snprintf(path, sizeof(path), "/v1/events%s", q.data ? q.data : "");
	buf_free(&q);
	return get_json(o, path);
}

/* --follow: the events as they come, a line each (JSON lines with
 * --json), until interrupted. */
static int follow_events(struct opts *o)
{
	char cursor[32] = "";
	bool json = o->json, header = !json;

	mw_strlcpy(cursor, o->after ? o->after : "", sizeof(cursor));
	o->json = 0;
	for (;;) {
		json_t *j = events_page(o, cursor[0] ? cursor : NULL), *e;
		size_t i;
		if (!j)
			return 1;
		if (header)
			printf("%-20s  %-16s %8s  %-7s  %-22s %-18s %s\n", "TIME (UTC)", "NODE",
			       "SEQ", "SEVERITY", "KIND", "SOURCE", "ATTRS");
		header = false;
		json_array_foreach(json_object_get(j, "events"), i, e)
		{
			char *line = json ? json_dumps(e, JSON_COMPACT) : NULL;
			if (json)
				printf("%s\n", line ? line : "{}");
			else
				print_event(e);
			free(line);
		}
		fflush(stdout);
		if (json_is_string(json_object_get(j, "last")))
			mw_strlcpy(cursor, json_string_value(json_object_get(j, "last")),
				   sizeof(cursor));
		if (!json_is_string(json_object_get(j, "next")))
			nanosleep(&(struct timespec){1, 0}, NULL);
		json_decref(j);
	}
}

static int cmd_events(struct opts *o)
{
	json_t *j, *evs, *e;
	size_t i;

	if (o->follow)
		return follow_events(o);
	if (!(j = events_page(o, o->after)))
		return 1;
	if (o->json) {
		json_decref(j);
		return 0;
	}
	evs = json_object_get(j, "events");
	printf("%-20s  %-16s %8s  %-7s  %-22s %-18s %s\n", "TIME (UTC)", "NODE", "SEQ", "SEVERITY",
	       "KIND", "SOURCE", "ATTRS");
	json_array_foreach(evs, i, e) print_event(e);
	if (json_is_string(json_object_get(j, "next")))
		printf("-- more: add --after %s\n", json_string_value(json_object_get(j, "next")));
	else if (json_array_size(evs) == 0)
		printf("-- no events match\n");
	json_decref(j);
	return 0;
}

static int cmd_nodes(struct opts *o)
{
	json_t *j, *n;
	size_t i;

	if (o->nwords > 1 && strcmp(o->words[1], "label") == 0)
		return cli_nodes_label(o);
	if (o->nwords > 1)
		return cli_nodes_revoke(o);
	if (!(j = get_json(o, "/v1/nodes")))
		return 1;
	if (o->json) {
		json_decref(j);
		return 0;
	}
	printf("%-24s %-8s %10s %10s %7s  %-20s  %-20s  %s\n", "NODE", "STATUS", "ACKED SEQ",
	       "EVENTS", "BREAKS", "LAST SEEN (UTC)", "LAST HEARTBEAT (UTC)", "LABELS");
	json_array_foreach(json_object_get(j, "nodes"), i, n)
	{
		char when[32], beat[32], labels[256] = "";
		size_t used = 0;
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(n, "labels"), k, v) if (used < sizeof(labels))
			used += (size_t)snprintf(labels + used, sizeof(labels) - used, "%s%s=%s",
						 used ? "," : "", k, json_string_value(v));
		cli_time(json_integer_value(json_object_get(n, "last_seen")), when, sizeof(when));
		cli_time(json_integer_value(json_object_get(n, "last_heartbeat")), beat,
			 sizeof(beat));
		printf("%-24s %-8s %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %7" JSON_INTEGER_FORMAT "  %-20s  %-20s  %s\n",
		       json_string_value(json_object_get(n, "node")),
		       json_string_value(json_object_get(n, "status")),
		       json_integer_value(json_object_get(n, "acked_seq")),
		       json_integer_value(json_object_get(n, "events")),
		       json_integer_value(json_object_get(n, "breaks")), when, beat,
		       labels[0] ? labels : "-");
	}
	json_decref(j);
	return 0;
}

static int cmd_health(struct opts *o)
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

#define REPEATED ((size_t)-1) /* a flag whose values are collected */

/* Reads flags (anywhere on the line), the command and its words; 0, 1
 * (exit 0), 2. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct {
		const char *flag;
		size_t off;
	} vflags[] = {
		{"--hub", offsetof(struct opts, hub)},
		{"--token", offsetof(struct opts, token)},
		{"--ca", offsetof(struct opts, ca)},
		{"--node", offsetof(struct opts, node)},
		{"--source", offsetof(struct opts, source)},
		{"--kind", offsetof(struct opts, kind)},
		{"--severity", offsetof(struct opts, severity)},
		{"--since", offsetof(struct opts, since)},
		{"--until", offsetof(struct opts, until)},
		{"--after", offsetof(struct opts, after)},
		{"--limit", offsetof(struct opts, limit)},
		{"--user", offsetof(struct opts, user)},
		{"--role", offsetof(struct opts, role)},
		{"--ttl", offsetof(struct opts, ttl)},
		{"--bootstrap", offsetof(struct opts, bootstrap)},
		{"--to", offsetof(struct opts, to)},
		{"--batch", offsetof(struct opts, batch)},
		{"--settle", offsetof(struct opts, settle)},
		{"--label", REPEATED},
		{"--set", REPEATED},
	};
	static const struct {
		const char *flag;
		size_t off;
	} bflags[] = {
		{"--json", offsetof(struct opts, json)},
		{"--password-stdin", offsetof(struct opts, password_stdin)},
		{"--password", offsetof(struct opts, password)},
		{"--disable", offsetof(struct opts, disable)},
		{"--enable", offsetof(struct opts, enable)},
		{"--remove", offsetof(struct opts, remove)},
		{"--wait", offsetof(struct opts, wait)},
		{"--follow", offsetof(struct opts, follow)},
	};
	for (int i = 1; i < argc; i++) {
		size_t k = 0, b = 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("mw %s\n", MW_VERSION);
			return 1;
		}
		while (b < MW_ARRAY_LEN(bflags) && strcmp(argv[i], bflags[b].flag) != 0)
			b++;
		if (b < MW_ARRAY_LEN(bflags)) {
			*(int *)((char *)o + bflags[b].off) = 1;
			continue;
		}
		while (k < MW_ARRAY_LEN(vflags) && strcmp(argv[i], vflags[k].flag) != 0)
			k++;
		if (k < MW_ARRAY_LEN(vflags)) {
			if (i + 1 >= argc) {
				fprintf(stderr, "mw: %s needs a value; see mw --help\n", argv[i]);
				return 2;
			}
			if (vflags[k].off != REPEATED)
				*(const char **)((char *)o + vflags[k].off) = argv[++i];
			else if (argv[i][2] == 'l' && o->nlabels < (int)MW_ARRAY_LEN(o->labels))
				o->labels[o->nlabels++] = argv[++i];
			else if (argv[i][2] == 's' && o->nsets < (int)MW_ARRAY_LEN(o->sets))
				o->sets[o->nsets++] = argv[++i];
			else {
				fprintf(stderr, "mw: too many %s\n", argv[i]);
				return 2;
			}
		} else if (argv[i][0] == '-' || o->nwords == MW_ARRAY_LEN(o->words)) {
			fprintf(stderr, "mw: unknown argument '%s'; see mw --help\n", argv[i]);
			return 2;
		} else {
			o->words[o->nwords++] = argv[i];
		}
	}
	if (!o->nwords) {
		fputs(usage, stderr);
		return 2;
	}
	o->cmd = o->words[0];
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct opts *o);
	int words; /* most words after the command */
} commands[] = {
	{"events", cmd_events, 0},     {"nodes", cmd_nodes, 7},	  {"health", cmd_health, 0},
	{"login", cli_login, 0},       {"logout", cli_logout, 0}, {"whoami", cli_whoami, 0},
	{"users", cli_users, 2},       {"tokens", cli_tokens, 2}, {"audit", cli_audit, 0},
	{"enroll", cli_enroll, 1},     {"apps", cli_apps, 2},	  {"deploy", cli_deploy, 1},
	{"rollouts", cli_rollouts, 2},
};

int main(int argc, char **argv)
{
	struct opts o = {0};
	char hub[1024];
	size_t i;
	int rc;

	if ((rc = parse_args(argc, argv, &o)))
		return rc == 1 ? 0 : 2;
	cli_resolve_hub(&o, hub, sizeof(hub));
	for (i = 0; i < MW_ARRAY_LEN(commands) && strcmp(o.cmd, commands[i].name) != 0; i++)
		;
	if (i == MW_ARRAY_LEN(commands)) {
		fprintf(stderr,
			"mw: unknown command '%s'; commands: events, nodes, health, login, "
			"logout, whoami, users, tokens, audit, apps, enroll, deploy, rollouts\n",
			o.cmd);
		return 2;
	}
	if (o.nwords - 1 > commands[i].words) {
		fprintf(stderr, "mw: %s: unexpected '%s'; see mw --help\n", o.cmd,
			o.words[commands[i].words + 1]);
		return 2;
	}
	return commands[i].fn(&o);
}
