/* bench_hub.c -- ingest rate and idle memory of a real mw-hub process.
 *
 * Starts the mw-hub binary found next to this executable on a free
 * loopback port with a fresh data dir, measures the resident memory of
 * the idle process (VmRSS), then posts pre-built batches -- 1000 sealed
 * events of about 256 canonical bytes each, zstd-compressed as the edge's
 * uplink sends them -- one after the other over one keep-alive connection
 * (core/http.c, the uplink's own client), and reports events stored per
 * second. A second run has EDGES edges post at once (each one batch after
 * the other, as an uplink does): the hub decodes and verifies their
 * batches in parallel and only the store's commit is serialised, so this
 * is the figure for a fleet. Every answer is checked (200 and the acked
 * seq advancing), so a fast wrong hub cannot post a good figure.
 * Building the batches is not timed. */
#include "core/buf.h"
#include "core/event.h"
#include "core/http.h"

#include "benchlib.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#define BATCHES 100 /* per edge */
#define PER_BATCH 1000
#define EDGES 4 /* edges posting at once in the second run */
#define TOKEN "bench-token-%d-0123456789"

struct batch {
	void *z;
	size_t len;
};

static int64_t now_ns(void) { return mw_mono_ns(); }

static void die(const char *what)
{
	fprintf(stderr, "bench_hub: %s\n", what);
	exit(1);
}

/* One event of about 256 canonical bytes. */
static void make_event(struct event *e, const char *node, uint64_t seq, const uint8_t *prev,
		       struct buf *scratch)
{
	char attrs[256];

	event_init(e);
	mw_strlcpy(e->node, node, sizeof(e->node));
	mw_strlcpy(e->source, "line1/press-04/temp", sizeof(e->source));
	mw_strlcpy(e->kind, "sensor.threshold", sizeof(e->kind));
	e->severity = seq % 50 ? SEV_INFO : SEV_ALARM;
	e->seq = seq;
	e->ts = 1764065676000000000 + (int64_t)seq * 1000000;
	snprintf(attrs, sizeof(attrs),
		 "{\"limit\":80.0,\"unit\":\"C\",\"value\":%" PRIu64 ".25,\"window\":\"%s\"}",
		 60 + seq % 30, "rolling-mean-5s-of-channel-7-sampled-at-100Hz-xxxxxx");
	if (event_set_attrs_text(e, attrs) || event_seal(e, prev, scratch))
		die("cannot build an event");
}

static struct batch *build_batches(const char *node)
{
	struct batch *out = calloc(BATCHES, sizeof(*out));
	uint8_t prev[EVENT_HASH_LEN] = {0};
	struct buf json, scratch;
	size_t canon_total = 0;
	uint64_t seq = 0;

	buf_init(&json, 64u << 20);
	buf_init(&scratch, 1 << 20);
	for (int b = 0; out && b < BATCHES; b++) {
		buf_reset(&json);
		if (buf_printf(&json, "{\"node\":\"%s\",\"events\":[", node))
			die("buffer");
		for (int i = 0; i < PER_BATCH; i++) {
			struct event e;
			make_event(&e, node, ++seq, prev, &scratch);
			memcpy(prev, e.hash, EVENT_HASH_LEN);
			if (b == 0)
				canon_total += scratch.len - EVENT_HASH_LEN;
			if ((i && buf_addc(&json, ',')) || event_to_wire(&e, &json))
				die("buffer");
			event_clear(&e);
		}
		if (buf_adds(&json, "]}"))
			die("buffer");
		out[b].z = malloc(ZSTD_compressBound(json.len));
		out[b].len = ZSTD_compress(out[b].z, ZSTD_compressBound(json.len), json.data,
					   json.len, 3);
		if (ZSTD_isError(out[b].len))
			die("zstd");
		if (b == 0 && strcmp(node, "bench-0") == 0)
			fprintf(stderr,
				"bench_hub: batch of %d events: %zu bytes JSON, %zu zstd, "
				"%zu canonical bytes per event\n",
				PER_BATCH, json.len, out[b].len, canon_total / PER_BATCH);
	}
	buf_free(&json);
	buf_free(&scratch);
	return out;
}

struct poster {
	const char *addr;
	int edge;
	struct batch *batches;
	pthread_t tid;
};

/* Posts one edge's batches in order, each after the previous answer. */
static void *post_all(void *arg)
{
	static const char *const headers[] = {"Content-Type: application/json",
					      "Content-Encoding: zstd", NULL};
	struct poster *p = arg;
	const struct batch *batches = p->batches;
	struct http_client *c;
	char url[256], token[64];

	if (http_client_new(&c))
		die("out of memory");
	snprintf(url, sizeof(url), "http://%s/v1/ingest", p->addr);
	snprintf(token, sizeof(token), TOKEN, p->edge);
	for (int b = 0; b < BATCHES; b++) {
		struct http_request req = {.url = url,
					   .headers = headers,
					   .bearer = token,
					   .body = batches[b].z,
					   .body_len = batches[b].len};
		struct http_response resp;
		json_t *j;
		if (http_do(c, &req, &resp)) {
			fprintf(stderr, "bench_hub: batch %d: %s\n", b, resp.error);
			die("post failed");
		}
		j = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
		if (resp.status != 200 || json_integer_value(json_object_get(j, "acked")) !=
						  (json_int_t)(b + 1) * PER_BATCH) {
			fprintf(stderr, "bench_hub: batch %d: status %ld: %s\n", b, resp.status,
				resp.body.data ? resp.body.data : "");
			die("the hub refused a batch");
		}
		json_decref(j);
		http_response_free(&resp);
	}
	http_client_free(c);
	return NULL;
}

/* Runs edges [first, first+n) at once; events stored per second. */
static double run(const char *addr, struct poster *p, int first, int n)
{
	int64_t t0 = now_ns();
	for (int i = first; i < first + n; i++)
		if (pthread_create(&p[i].tid, NULL, post_all, &p[i]))
			die("pthread_create");
	for (int i = first; i < first + n; i++)
		pthread_join(p[i].tid, NULL);
	return (double)n * BATCHES * PER_BATCH / ((double)(now_ns() - t0) / 1e9);
}

int main(void)
{
	char dir[] = "/tmp/bench_hub.XXXXXX", addr[128], cmd[64], node[32];
	struct poster p[EDGES + 1];
	pid_t pid;
	long idle;
	double one, many;
	int status;

	if (!mkdtemp(dir))
		die("mkdtemp");
	for (int i = 0; i <= EDGES; i++) {
		snprintf(node, sizeof(node), "bench-%d", i);
		p[i] = (struct poster){addr, i, build_batches(node), 0};
		if (!p[i].batches)
			die("out of memory");
	}
	{
		char tail[1024];
		size_t used = (size_t)snprintf(tail, sizeof(tail), "nodes:\n");
		for (int i = 0; i <= EDGES; i++)
			used += (size_t)snprintf(tail + used, sizeof(tail) - used,
						 "  bench-%d: " TOKEN "\n", i, i);
		pid = bench_hub_start("bench_hub", dir, tail, addr, sizeof(addr));
	}
	usleep(300000);
	idle = bench_rss_kib(pid);
	one = run(addr, p, 0, 1);
	many = run(addr, p, 1, EDGES);
	printf("bench hub.ingest %.0f events/s\n", one);
	printf("bench hub.ingest.%dedges %.0f events/s\n", EDGES, many);
	printf("bench hub.rss.idle %ld KiB\n", idle);
	fflush(stdout);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "bench_hub: mw-hub did not exit cleanly on SIGTERM\n");
	for (int i = 0; i <= EDGES; i++) {
		for (int b = 0; b < BATCHES; b++)
			free(p[i].batches[b].z);
		free(p[i].batches);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_hub: could not remove %s\n", dir);
	return 0;
}
