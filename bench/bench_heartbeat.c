/* bench_heartbeat.c -- how many edges one hub keeps track of.
 *
 *   bench hub.heartbeats <per s>       heartbeats answered per second
 *   bench hub.heartbeat.p99_ms <ms>    99th percentile latency
 *   bench hub.rss.per_1k_nodes <KiB>   the hub's resident memory per 1000
 *                                      nodes, enrolled and reporting
 *
 * Starts the mw-hub binary next to this executable (loopback, tls.mode
 * off, a static admin token), enrolls NODES simulated edges the way real
 * ones enroll (an enrollment token each, traded at POST /v1/enroll for the
 * node's own credential), then has them report as edges do: each node
 * every INTERVAL_S seconds at its own phase, a full report (about 1 KiB)
 * every sixth time and the changed groups (about 150 bytes) otherwise, for
 * RUN_S seconds, from THREADS threads with a keep-alive connection each.
 * The load is open: a report is due at its time whether or not the hub
 * kept up, and its latency counts from that time (so a slow hub is not
 * hidden by the generator waiting for it). Every answer must be 200. The
 * generator shares the machine's 2 cores with the hub. */
#include "core/http.h"

#include "benchlib.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODES 20000
#define INTERVAL_S 10
#define RUN_S 20
#define THREADS 4
#define ADMIN "bench-admin-token-0123456789"
#define NS 1000000000LL

static void die(const char *what)
{
	fprintf(stderr, "bench_heartbeat: %s\n", what);
	exit(1);
}

/* POSTs body (JSON) to addr+path with token; the answer's JSON or NULL. */
static json_t *post(struct http_client *c, const char *addr, const char *path, const char *token,
		    const char *body, long want)
{
	static const char *const hdrs[] = {"Content-Type: application/json", NULL};
	char url[256];
	struct http_response r = {0};
	json_t *j = NULL;

	snprintf(url, sizeof(url), "http://%s%s", addr, path);
	if (http_do(c,
		    &(struct http_request){.method = "POST",
					   .url = url,
					   .headers = hdrs,
					   .bearer = token,
					   .body = body,
					   .body_len = strlen(body)},
		    &r) == MW_OK &&
	    r.status == want)
		j = json_loadb(r.body.data, r.body.len, 0, NULL);
	else
		fprintf(stderr, "bench_heartbeat: POST %s: %ld %s %s\n", path, r.status, r.error,
			r.body.data ? r.body.data : "");
	http_response_free(&r);
	return j;
}

struct node {
	char token[72];
};

struct worker {
	const char *addr;
	struct node *nodes;
	int first, n;
	int64_t start;
	char *full, *partial;
	double *lat_ms; /* one per report sent */
	size_t sent, failed, cap;
	pthread_t tid;
};

static void enroll_all(const char *addr, struct node *nodes)
{
	struct http_client *c;
	char body[256];

	if (http_client_new(&c))
		die("out of memory");
	for (int i = 0; i < NODES; i++) {
		json_t *e = post(c, addr, "/v1/enrollments", ADMIN, "{}", 201), *cred;
		const char *tok = json_string_value(json_object_get(e, "token"));
		if (!tok)
			die("cannot make an enrollment token");
		snprintf(body, sizeof(body), "{\"token\":\"%s\",\"node\":\"sim-%05d\"}", tok, i);
		json_decref(e);
		cred = post(c, addr, "/v1/enroll", NULL, body, 201);
		if (!json_string_value(json_object_get(cred, "token")))
			die("cannot enroll");
		mw_strlcpy(nodes[i].token, json_string_value(json_object_get(cred, "token")),
			   sizeof(nodes[i].token));
		json_decref(cred);
	}
	http_client_free(c);
}

/* Sends each of its nodes' reports when due, for RUN_S seconds. */
static void *report(void *arg)
{
	struct worker *w = arg;
	struct http_client *c;
	int64_t end = w->start + RUN_S * NS;

	if (http_client_new(&c))
		die("out of memory");
	for (int64_t round = 0;; round++) {
		for (int k = 0; k < w->n; k++) {
			int i = w->first + k;
			/* node i's phase within the interval, spread evenly over all nodes */
			int64_t due = w->start + round * INTERVAL_S * NS +
				      (int64_t)i * INTERVAL_S * NS / NODES;
			int64_t now = mw_mono_ns();
			json_t *a;
			if (due >= end)
				goto out;
			if (due > now)
				usleep((useconds_t)((due - now) / 1000));
			a = post(c, w->addr, "/v1/heartbeat", w->nodes[i].token,
				 round % 6 == 0 ? w->full : w->partial, 200);
			if (!a)
				w->failed++;
			json_decref(a);
			if (w->sent < w->cap)
				w->lat_ms[w->sent++] = (double)(mw_mono_ns() - due) / 1e6;
		}
	}
out:
	http_client_free(c);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static char *report_body(bool full)
{
	json_t *state =
		json_pack("{s:{s:f, s:i}, s:{s:I, s:I, s:f}, s:{s:I, s:I}}", "cpu", "percent", 23.5,
			  "cores", 4, "memory", "total_bytes", (json_int_t)8 << 30,
			  "available_bytes", (json_int_t)5 << 30, "used_percent", 37.5, "network",
			  "rx_bytes", (json_int_t)123456789, "tx_bytes", (json_int_t)98765432);
	char *text;

	if (full) {
		json_object_set_new(state, "disk",
				    json_pack("{s:s, s:I, s:I}", "path", "/var/lib/mw-edge",
					      "total_bytes", (json_int_t)64 << 30, "free_bytes",
					      (json_int_t)40 << 30));
		json_object_set_new(state, "versions",
				    json_pack("{s:s, s:s}", "mw", "0.1.0", "kernel", "6.1.0-13"));
		json_object_set_new(state, "peripherals",
				    json_pack("{s:[s,s], s:[s], s:[{s:s, s:s},{s:s, s:s}], s:[s]}",
					      "cameras", "/dev/video0", "/dev/video2", "serial",
					      "/dev/ttyUSB0", "usb", "port", "1-1", "product",
					      "USB Camera", "port", "1-2", "product",
					      "FT232R USB UART", "gpus", "/dev/dri/card0"));
		json_object_set_new(state, "temperatures",
				    json_pack("{s:f, s:f}", "x86_pkg_temp", 54.0, "acpitz", 41.0));
		json_object_set_new(state, "store",
				    json_pack("{s:I, s:I, s:I, s:I}", "last_seq",
					      (json_int_t)123456, "acked_seq", (json_int_t)123400,
					      "unsent", (json_int_t)56, "dropped", (json_int_t)0));
		json_object_set_new(state, "uptime_s", json_integer(864000));
	}
	text = json_dumps(json_pack("{s:i, s:b, s:o}", "interval_ms", INTERVAL_S * 1000, "full",
				    full, "state", state),
			  JSON_COMPACT);
	return text;
}

int main(void)
{
	char dir[] = "/tmp/bench_heartbeat.XXXXXX", addr[128], cmd[64];
	struct node *nodes = calloc(NODES, sizeof(*nodes));
	struct worker w[THREADS];
	size_t sent = 0, failed = 0, k = 0, cap = (size_t)NODES * RUN_S / INTERVAL_S + NODES;
	double *all = calloc(cap, sizeof(double)), secs;
	long idle, loaded;
	int64_t t0;
	pid_t pid;
	int status;

	if (!nodes || !all || !mkdtemp(dir))
		die("out of memory");
	pid = bench_hub_start("bench_heartbeat", dir,
			      "api:\n  token: " ADMIN
			      "\nnodes:\n  unused-node: unused-token-0123\n",
			      addr, sizeof(addr));
	usleep(300000);
	idle = bench_rss_kib(pid);
	t0 = mw_mono_ns();
	enroll_all(addr, nodes);
	fprintf(stderr, "bench_heartbeat: enrolled %d nodes in %.1f s\n", NODES,
		(double)(mw_mono_ns() - t0) / NS);
	t0 = mw_mono_ns() + NS / 10;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.addr = addr,
				       .nodes = nodes,
				       .first = i * NODES / THREADS,
				       .n = (i + 1) * NODES / THREADS - i * NODES / THREADS,
				       .start = t0,
				       .full = report_body(true),
				       .partial = report_body(false),
				       .cap = cap / THREADS + 1};
		w[i].lat_ms = calloc(w[i].cap, sizeof(double));
		if (!w[i].lat_ms || pthread_create(&w[i].tid, NULL, report, &w[i]))
			die("cannot start the reporters");
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(w[i].tid, NULL);
		for (size_t j = 0; j < w[i].sent; j++)
			all[k++] = w[i].lat_ms[j];
		sent += w[i].sent;
		failed += w[i].failed;
		free(w[i].lat_ms);
		free(w[i].full);
		free(w[i].partial);
	}
	secs = (double)(mw_mono_ns() - t0) / NS;
	loaded = bench_rss_kib(pid);
	qsort(all, k, sizeof(double), cmp_double);
	fprintf(stderr,
		"bench_heartbeat: %zu reports in %.1f s (%zu failed), p50 %.2f ms, max %.1f ms\n",
		sent, secs, failed, k ? all[k / 2] : 0.0, k ? all[k - 1] : 0.0);
	if (failed)
		die("some reports were refused");
	printf("bench hub.heartbeats %.0f per s\n", (double)sent / secs);
	printf("bench hub.heartbeat.p99_ms %.1f ms\n",
	       k ? all[(size_t)(0.99 * (double)(k - 1))] : 0);
	printf("bench hub.rss.per_1k_nodes %.0f KiB\n",
	       (double)(loaded - idle) / ((double)NODES / 1000));
	fflush(stdout);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_heartbeat: could not remove %s\n", dir);
	free(all);
	free(nodes);
	return 0;
}
