/* agent.c -- telemetry and the heartbeat thread (agent.h). */
#include "edge/agent.h"

#include "core/http.h"
#include "core/log.h"
#include "core/loop.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef MW_VERSION
#define MW_VERSION "dev"
#endif

#define FULL_EVERY 6
#define NS_PER_MS 1000000LL
#define TIMEOUT_MS 10000L
#define POKE_GAP_MS 1000

/* ---- reading the machine ---------------------------------------------------- */

static FILE *open_at(const struct telemetry *t, const char *path)
{
	char full[1024];

	snprintf(full, sizeof(full), "%s%s", t->root, path);
	return fopen(full, "r");
}

static void cpu(struct telemetry *t, json_t *out)
{
	FILE *f = open_at(t, "/proc/stat");
	unsigned long long v[8] = {0}, total = 0, idle;
	double pct = 0;

	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			total += v[i];
		idle = v[3] + v[4];
		if (t->cpu_total && total > t->cpu_total)
			pct = 100.0 *
			      (1.0 - (double)(idle - t->cpu_idle) / (double)(total - t->cpu_total));
		t->cpu_total = total;
		t->cpu_idle = idle;
	}
	fclose(f);
	json_object_set_new(out, "cpu",
			    json_pack("{s:f, s:i}", "percent", pct < 0 ? 0 : pct, "cores",
				      (int)sysconf(_SC_NPROCESSORS_ONLN)));
}

static void memory(const struct telemetry *t, json_t *out)
{
	FILE *f = open_at(t, "/proc/meminfo");
	char line[256];
	unsigned long long total = 0, avail = 0, kb;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			total = kb * 1024;
		else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			avail = kb * 1024;
	}
	fclose(f);
	if (total)
		json_object_set_new(out, "memory",
				    json_pack("{s:I, s:I, s:f}", "total_bytes", (json_int_t)total,
					      "available_bytes", (json_int_t)avail, "used_percent",
					      100.0 * (double)(total - avail) / (double)total));
}

static void disk(const struct telemetry *t, json_t *out)
{
	struct statvfs s;

	if (statvfs(t->data_dir, &s) == 0)
		json_object_set_new(out, "disk",
				    json_pack("{s:s, s:I, s:I}", "path", t->data_dir, "total_bytes",
					      (json_int_t)(s.f_blocks * s.f_frsize), "free_bytes",
					      (json_int_t)(s.f_bavail * s.f_frsize)));
}

static void network(const struct telemetry *t, json_t *out)
{
	FILE *f = open_at(t, "/proc/net/dev");
	char line[512], name[64];
	unsigned long long rx, tx, rx_all = 0, tx_all = 0, skip;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %63[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu", name,
			   &rx, &skip, &skip, &skip, &skip, &skip, &skip, &skip, &tx) == 10 &&
		    strcmp(name, "lo") != 0) {
			rx_all += rx;
			tx_all += tx;
		}
	fclose(f);
	json_object_set_new(out, "network",
			    json_pack("{s:I, s:I}", "rx_bytes", (json_int_t)rx_all, "tx_bytes",
				      (json_int_t)tx_all));
}

/* Calls fn(t, dir, name, arg) for each entry of root+dir whose name starts with prefix. */
static void each(const struct telemetry *t, const char *dir, const char *prefix,
		 void (*fn)(const struct telemetry *, const char *, const char *, json_t *),
		 json_t *arg)
{
	char path[1024];
	struct dirent *d;
	DIR *dp;

	snprintf(path, sizeof(path), "%s%s", t->root, dir);
	if (!(dp = opendir(path)))
		return;
	while ((d = readdir(dp)))
		if (strncmp(d->d_name, prefix, strlen(prefix)) == 0 && d->d_name[0] != '.')
			fn(t, dir, d->d_name, arg);
	closedir(dp);
}

static void zone_temp(const struct telemetry *t, const char *dir, const char *name, json_t *o)
{
	char path[1024], type[64] = "";
	FILE *f;
	long milli;

	snprintf(path, sizeof(path), "%s/%s/type", dir, name);
	if ((f = open_at(t, path))) {
		if (!fgets(type, sizeof(type), f))
			type[0] = '\0';
		type[strcspn(type, "\n")] = '\0';
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/%s/temp", dir, name);
	if ((f = open_at(t, path))) {
		if (fscanf(f, "%ld", &milli) == 1)
			json_object_set_new(o, type[0] ? type : name, json_real(milli / 1000.0));
		fclose(f);
	}
}

static void add_name(const struct telemetry *t, const char *dir, const char *name, json_t *arr)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	json_array_append_new(arr, json_string(path));
}

static void usb_device(const struct telemetry *t, const char *dir, const char *name, json_t *arr)
{
	char path[1024], product[128] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/product", dir, name);
	if (!strchr(name, ':') && (f = open_at(t, path))) {
		if (fgets(product, sizeof(product), f)) {
			product[strcspn(product, "\n")] = '\0';
			json_array_append_new(
				arr, json_pack("{s:s, s:s}", "port", name, "product", product));
		}
		fclose(f);
	}
}

static void peripherals(const struct telemetry *t, json_t *out)
{
	json_t *p = json_pack("{s:[], s:[], s:[], s:[]}", "cameras", "serial", "usb", "gpus");

	each(t, "/dev", "video", add_name, json_object_get(p, "cameras"));
	each(t, "/dev", "ttyUSB", add_name, json_object_get(p, "serial"));
	each(t, "/dev", "ttyACM", add_name, json_object_get(p, "serial"));
	each(t, "/sys/bus/usb/devices", "", usb_device, json_object_get(p, "usb"));
	each(t, "/dev/dri", "card", add_name, json_object_get(p, "gpus"));
	json_object_set_new(out, "peripherals", p);
}

json_t *telemetry_collect(struct telemetry *t, struct store *store)
{
	json_t *out = json_object(), *temps = json_object();
	struct utsname u;
	struct store_stats st;
	FILE *f;
	double up = 0;

	if (!out || !temps) {
		json_decref(out);
		json_decref(temps);
		return NULL;
	}
	cpu(t, out);
	memory(t, out);
	disk(t, out);
	network(t, out);
	each(t, "/sys/class/thermal", "thermal_zone", zone_temp, temps);
	json_object_set_new(out, "temperatures", temps);
	if ((f = open_at(t, "/proc/uptime"))) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	json_object_set_new(out, "uptime_s", json_integer((json_int_t)up));
	json_object_set_new(out, "versions",
			    json_pack("{s:s, s:s}", "mw", MW_VERSION, "kernel",
				      uname(&u) == 0 ? u.release : "?"));
	peripherals(t, out);
	if (store && store_stats(store, &st) == MW_OK)
		json_object_set_new(
			out, "store",
			json_pack("{s:I, s:I, s:I, s:I}", "last_seq", (json_int_t)st.last_seq,
				  "acked_seq", (json_int_t)st.acked_seq, "unsent",
				  (json_int_t)st.unsent, "dropped", (json_int_t)st.dropped));
	return out;
}

/* ---- the heartbeat thread ------------------------------------------------------- */

struct agent {
	struct agent_options opt;
	char *url, *token, *ca, *labels;
	struct telemetry tel;
	struct http_client *http;
	json_t *sent; /* what the hub has, as we know it; NULL = send in full */
	unsigned beats;
	struct mw_loop loop; /* the heartbeat thread */
};

/* The groups of now that differ from what was sent. */
static json_t *changes(json_t *sent, json_t *now)
{
	json_t *d = json_object(), *v;
	const char *k;

	json_object_foreach(now, k, v) if (!json_equal(v, json_object_get(sent, k)))
		json_object_set(d, k, v);
	return d;
}

/* The hub's answer: a desired state when ours is older. */
static void take_answer(struct agent *a, const struct http_response *r)
{
	json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
	json_t *d = json_object_get(j, "desired");

	if (json_is_object(d) && a->opt.desired)
		a->opt.desired(a->opt.arg, d);
	json_decref(j);
}

static void beat(struct agent *a)
{
	json_t *now = telemetry_collect(&a->tel, a->opt.store), *body;
	bool full = !a->sent || a->beats % FULL_EVERY == 0;
	struct http_response r = {0};
	char *text;
	int rc;

	if (!now)
		return;
	if (a->labels)
		json_object_set_new(now, "labels", json_loads(a->labels, 0, NULL));
	if (a->opt.extra) {
		json_t *more = a->opt.extra(a->opt.arg);
		if (more)
			json_object_update(now, more);
		json_decref(more);
	}
	body = json_pack("{s:I, s:b, s:o, s:I}", "interval_ms", (json_int_t)a->opt.interval_ms,
			 "full", full, "state", full ? json_incref(now) : changes(a->sent, now),
			 "desired_generation",
			 (json_int_t)(a->opt.generation ? a->opt.generation(a->opt.arg) : 0));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		json_decref(now);
		return;
	}
	const char *hdrs[] = {"Content-Type: application/json", NULL};
	rc = http_do(a->http,
		     &(struct http_request){.method = "POST",
					    .url = a->url,
					    .headers = hdrs,
					    .bearer = a->token,
					    .ca_file = a->ca,
					    .body = text,
					    .body_len = strlen(text),
					    .timeout_ms = TIMEOUT_MS},
		     &r);
	free(text);
	json_decref(a->sent);
	a->sent = NULL;
	if (rc == MW_OK && r.status == 200) {
		a->sent = now; /* the hub has it all now */
		a->beats++;
		take_answer(a, &r);
	} else {
		log_warn("heartbeat failed status=%ld err=\"%s\"", r.status,
			 rc ? r.error : (r.body.data ? r.body.data : ""));
		json_decref(now);
	}
	http_response_free(&r);
}

/* The heartbeat thread's step: one report. */
static int64_t beat_step(void *arg)
{
	struct agent *a = arg;

	beat(a);
	return a->opt.interval_ms;
}

static void agent_free(struct agent *a)
{
	if (!a)
		return;
	http_client_free(a->http);
	json_decref(a->sent);
	free(a->url);
	free(a->token);
	free(a->ca);
	free(a->labels);
	free(a);
}

int agent_start(const struct agent_options *opt, struct agent **out)
{
	struct agent *a = calloc(1, sizeof(*a));
	size_t len = strlen(opt->hub_url);

	*out = NULL;
	if (!a)
		return MW_ERR_NOMEM;
	a->opt = *opt;
	/* a poke waits out the second after the last report (or the interval,
	 * when shorter): no storms */
	a->loop = (struct mw_loop){.step = beat_step,
				   .arg = a,
				   .min_gap_ms = opt->interval_ms < POKE_GAP_MS ? opt->interval_ms
										: POKE_GAP_MS};
	while (len && opt->hub_url[len - 1] == '/')
		len--;
	a->tel = (struct telemetry){.root = "", .data_dir = opt->data_dir};
	if (asprintf(&a->url, "%.*s/v1/heartbeat", (int)len, opt->hub_url) < 0)
		a->url = NULL;
	a->token = strdup(opt->token ? opt->token : "");
	a->ca = strdup(opt->ca_file ? opt->ca_file : "");
	a->labels = opt->labels_json ? strdup(opt->labels_json) : NULL;
	if (!a->url || !a->token || !a->ca || http_client_new(&a->http) ||
	    mw_loop_start(&a->loop, "heartbeat")) {
		agent_free(a);
		return MW_ERR_NOMEM;
	}
	*out = a;
	return MW_OK;
}

void agent_stop(struct agent *a)
{
	if (!a)
		return;
	mw_loop_stop(&a->loop);
	agent_free(a);
}

void agent_poke(struct agent *a) { mw_loop_wake(&a->loop); }
