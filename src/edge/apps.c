/* apps.c -- desired state on disk and the reconcile loop (apps.h).
 *
 * One thread owns everything that runs: the native apps' supervisors and
 * the engine client (which is used by one thread at a time). It works on
 * a copy of the desired state taken under the lock, so a heartbeat that
 * brings a new one never waits for a container to be pulled. The report
 * it builds each pass is what apps_report() hands the heartbeat. */
#include "edge/apps.h"

#include "core/config.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/loop.h"
#include "edge/engine.h"
#include "edge/worker.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS_PER_MS 1000000LL
#define PASS_MS 1000
#define FAIL_AFTER 3
#define LOGS_EVERY_MS 5000
#define NAME_MAX_LEN 64

struct app {
	char name[NAME_MAX_LEN + 1];
	char *spec;    /* the entry as JSON text: a change replaces the app */
	json_t *entry; /* its desired entry */
	bool container;
	struct worker *w; /* native */
	/* container: this loop is its supervisor */
	char cname[NAME_MAX_LEN + 8];
	bool created;
	bool looked;			  /* for a container of an earlier mw-edge to keep */
	char spec_hash[2 * HASH_LEN + 1]; /* SHA-256 of spec: its ENGINE_SPEC_LABEL */
	int64_t started_at;		  /* wall ns of the current run */
	int64_t seen_at;		  /* wall ns it was last seen running */
	int64_t retry_at, wait_ms;	  /* mono ns of the next start; backoff */
	unsigned failures, restarts;
	const char *state; /* pending, pulling, running, restarting, failed */
	char reason[256];
	json_t *log;	/* last lines */
	int64_t log_at; /* mono ns they were read */
};

struct apps {
	struct apps_options opt;
	char *data_dir, *node, *engine_path, *api_url, *api_token;
	pthread_mutex_t mu; /* desired, report */
	json_t *desired;    /* {generation, apps} */
	json_t *report;
	struct mw_loop loop; /* the reconcile thread ("apps") */
	/* the thread's own */
	struct app **run;
	size_t nrun;
	struct engine *engine;
	char *last_states; /* what the last report said, without the logs */
};

/* ---- the desired state ------------------------------------------------------ */

static int bad(char *err, size_t cap, const char *path, const char *why)
{
	snprintf(err, cap, "%s: %s", path, why);
	return MW_ERR_INVALID;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
		      strchr("._-", *s)))
			return false;
	return true;
}

static bool strings(json_t *a, bool need_one)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || (need_one && !json_array_size(a)))
		return false;
	json_array_foreach(a, i, v) if (!json_is_string(v) || !*json_string_value(v)) return false;
	return true;
}

static int check_entry(const char *name, json_t *e, char *err, size_t cap)
{
	json_t *rt = json_object_get(e, "runtime"), *params = json_object_get(e, "params"), *v;
	json_t *native = json_object_get(rt, "native"), *ctr = json_object_get(rt, "container");
	json_t *env = json_object_get(native ? native : ctr, "env");
	char path[128];
	const char *k;

	snprintf(path, sizeof(path), "apps.%s", name);
	if (!name_ok(name))
		return bad(err, cap, path, "an app name is 1 to 64 of a-z 0-9 . _ -");
	if (!json_is_object(e) || !json_is_integer(json_object_get(e, "deployment")) ||
	    !json_is_string(json_object_get(e, "version")))
		return bad(err, cap, path, "{deployment, version, runtime, params} expected");
	snprintf(path, sizeof(path), "apps.%s.runtime", name);
	if (!json_is_object(rt) || !native == !ctr)
		return bad(err, cap, path, "exactly one of native and container expected");
	if (native && !strings(json_object_get(native, "command"), true))
		return bad(err, cap, path, "native.command: a list of strings expected");
	if (ctr && !json_is_string(json_object_get(ctr, "image")))
		return bad(err, cap, path, "container.image: a string expected");
	if (env && !json_is_object(env))
		return bad(err, cap, path, "env: an object expected");
	json_object_foreach(env, k, v) if (!json_is_string(v) && !json_is_number(v)) return bad(
		err, cap, path, "env: string values expected");
	snprintf(path, sizeof(path), "apps.%s.params", name);
	if (params && !json_is_object(params))
		return bad(err, cap, path, "an object expected");
	json_object_foreach(params, k, v) if (json_is_object(v) || json_is_array(v)) return bad(
		err, cap, path, "strings, numbers or booleans expected");
	return MW_OK;
}

int apps_check_desired(json_t *d, char *err, size_t cap)
{
	json_t *apps = json_object_get(d, "apps"), *e;
	const char *name;
	int rc;

	if (!json_is_object(d) || !json_is_integer(json_object_get(d, "generation")) ||
	    json_integer_value(json_object_get(d, "generation")) < 0)
		return bad(err, cap, "generation", "a whole number expected");
	if (!json_is_object(apps))
		return bad(err, cap, "apps", "an object of app entries expected");
	json_object_foreach(apps, name, e) if ((rc = check_entry(name, e, err, cap))) return rc;
	return MW_OK;
}

static int desired_path(const struct apps *a, char *out, size_t cap, const char *suffix)
{
	int n = snprintf(out, cap, "%s/" APPS_DESIRED_FILE "%s", a->data_dir, suffix);
	return n < 0 || (size_t)n >= cap ? MW_ERR_TOOBIG : MW_OK;
}

static json_t *load_desired(struct apps *a)
{
	char path[4096], bad_path[4096], err[256];
	json_error_t je;
	json_t *d;

	if (desired_path(a, path, sizeof(path), "") ||
	    desired_path(a, bad_path, sizeof(bad_path), ".bad"))
		return NULL;
	if (!(d = json_load_file(path, 0, &je))) {
		if (access(path, F_OK) == 0) {
			log_error("msg=\"desired state unreadable; set aside\" file=%s err=\"%s\"",
				  path, je.text);
			rename(path, bad_path);
		}
		return json_pack("{s:i, s:{}}", "generation", 0, "apps");
	}
	if (apps_check_desired(d, err, sizeof(err))) {
		log_error("msg=\"desired state refused; set aside\" file=%s err=\"%s\"", path, err);
		rename(path, bad_path);
		json_decref(d);
		return json_pack("{s:i, s:{}}", "generation", 0, "apps");
	}
	return d;
}

int apps_set_desired(struct apps *a, json_t *d)
{
	char path[4096], err[256], *text;
	int rc;

	if (apps_check_desired(d, err, sizeof(err))) {
		log_error("msg=\"desired state from the hub refused\" err=\"%s\"", err);
		return MW_ERR_INVALID;
	}
	if ((rc = desired_path(a, path, sizeof(path), "")))
		return rc;
	if (!(text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS)))
		return MW_ERR_NOMEM;
	rc = mw_write_private(path, text, strlen(text));
	free(text);
	if (rc) {
		log_error("msg=\"desired state not saved\" file=%s err=\"%s\"", path,
			  mw_strerror(rc));
		return rc;
	}
	pthread_mutex_lock(&a->mu);
	json_decref(a->desired);
	a->desired = json_incref(d);
	pthread_mutex_unlock(&a->mu);
	mw_loop_wake(&a->loop);
	log_info("msg=\"desired state\" generation=%lld apps=%zu",
		 (long long)json_integer_value(json_object_get(d, "generation")),
		 json_object_size(json_object_get(d, "apps")));
	return MW_OK;
}

int64_t apps_generation(struct apps *a)
{
	int64_t g;

	pthread_mutex_lock(&a->mu);
	g = json_integer_value(json_object_get(a->desired, "generation"));
	pthread_mutex_unlock(&a->mu);
	return g;
}

json_t *apps_report(struct apps *a)
{
	json_t *r;

	pthread_mutex_lock(&a->mu);
	r = a->report ? json_deep_copy(a->report) : json_object();
	pthread_mutex_unlock(&a->mu);
	return r;
}

/* ---- what an app gets ------------------------------------------------------------ */

/* env[k] = v as an environment value: strings as they are, booleans as
 * true/false, numbers as written (0.8, not 0.80000000000000004). */
static void add_env(json_t *env, const char *k, json_t *v)
{
	char buf[64];

	if (json_is_string(v)) {
		json_object_set_new(env, k, json_string(json_string_value(v)));
		return;
	}
	if (json_is_boolean(v))
		snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false");
	else if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, sizeof(buf), "%.15g", json_real_value(v));
	else
		return;
	json_object_set_new(env, k, json_string(buf));
}

/* "K=V" strings (a NULL-terminated array to free with free_env). */
static char **app_env(const struct apps *a, const struct app *p, bool native)
{
	json_t *env = json_object(), *rt = json_object_get(p->entry, "runtime"), *v;
	const char *k;
	char key[128], **out;
	size_t n = 0;

	if (native) {
		json_object_set_new(env, "PATH", json_string("/usr/local/bin:/usr/bin:/bin"));
		json_object_set_new(env, "HOME", json_string("."));
	}
	json_object_foreach(
		json_object_get(json_object_get(rt, native ? "native" : "container"), "env"), k, v)
		add_env(env, k, v);
	json_object_foreach(json_object_get(p->entry, "params"), k, v)
	{
		snprintf(key, sizeof(key), "MW_PARAM_%s", k);
		for (size_t i = strlen("MW_PARAM_"); key[i]; i++)
			key[i] = isalnum((unsigned char)key[i])
					 ? (char)toupper((unsigned char)key[i])
					 : '_';
		add_env(env, key, v);
	}
	json_object_set_new(env, "MW_APP", json_string(p->name));
	json_object_set(env, "MW_APP_VERSION", json_object_get(p->entry, "version"));
	add_env(env, "MW_DEPLOYMENT", json_object_get(p->entry, "deployment"));
	json_object_set_new(env, "MW_NODE", json_string(a->node));
	json_object_set_new(env, "MW_EDGE_API", json_string(a->api_url));
	json_object_set_new(env, "MW_EDGE_TOKEN", json_string(a->api_token));
	if ((out = calloc(json_object_size(env) + 1, sizeof(*out))))
		json_object_foreach(env, k, v) if (asprintf(&out[n], "%s=%s", k,
							    json_string_value(v)) >= 0) n++;
	json_decref(env);
	return out;
}

static void free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* DATA_DIR/apps/NAME, made when missing. */
static int app_dir(const struct apps *a, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/apps", a->data_dir);

	if (n < 0 || (size_t)n >= cap || (mkdir(out, 0700) && errno != EEXIST))
		return MW_ERR_IO;
	n = snprintf(out, cap, "%s/apps/%s", a->data_dir, name);
	if (n < 0 || (size_t)n >= cap || (mkdir(out, 0700) && errno != EEXIST))
		return MW_ERR_IO;
	return MW_OK;
}

/* A command's program: as given when it has a slash, else found in PATH. */
static void find_program(const char *cmd, char *out, size_t cap)
{
	static const char *const dirs[] = {"/usr/local/bin", "/usr/bin", "/bin"};

	snprintf(out, cap, "%s", cmd);
	if (strchr(cmd, '/'))
		return;
	for (size_t i = 0; i < MW_ARRAY_LEN(dirs); i++) {
		snprintf(out, cap, "%s/%s", dirs[i], cmd);
		if (access(out, X_OK) == 0)
			return;
	}
}

/* ---- native apps --------------------------------------------------------------- */

static int start_native(struct apps *a, struct app *p)
{
	json_t *cmd = json_object_get(
		json_object_get(json_object_get(p->entry, "runtime"), "native"), "command");
	char prog[4096], dir[4096], logf[4096 + 8], who[NAME_MAX_LEN + 8];
	const char **argv = calloc(json_array_size(cmd) + 1, sizeof(*argv));
	char **env = app_env(a, p, true);
	int rc = MW_ERR_NOMEM;

	if (argv && env && (rc = app_dir(a, p->name, dir, sizeof(dir))) == MW_OK) {
		snprintf(logf, sizeof(logf), "%s/app.log", dir);
		for (size_t i = 0; i < json_array_size(cmd); i++)
			argv[i] = json_string_value(json_array_get(cmd, i));
		find_program(argv[0], prog, sizeof(prog));
		snprintf(who, sizeof(who), "app %s", p->name);
		rc = worker_new(&(struct worker_options){.name = who,
							 .path = prog,
							 .argv = argv,
							 .env = (const char *const *)env,
							 .cwd = dir,
							 .log_path = logf,
							 .log_max_bytes = (size_t)a->opt.log_max,
							 .backoff_min_ms = a->opt.backoff_min_ms,
							 .backoff_max_ms = a->opt.backoff_max_ms,
							 .healthy_ms = a->opt.healthy_ms,
							 .stop_timeout_ms = a->opt.stop_grace_ms,
							 .fail_after = FAIL_AFTER},
				&p->w);
		if (rc == MW_OK && (rc = worker_start(p->w))) {
			worker_free(p->w);
			p->w = NULL;
		}
	}
	if (rc)
		snprintf(p->reason, sizeof(p->reason), "cannot start: %s", mw_strerror(rc));
	free(argv);
	free_env(env);
	return rc;
}

static void poll_native(struct app *p)
{
	struct worker_stats st;

	if (!p->w) {
		p->state = "failed";
		return;
	}
	worker_stats(p->w, &st);
	p->state = st.state == WORKER_FAILED	? "failed"
		   : st.state == WORKER_BACKOFF ? "restarting"
		   : st.state == WORKER_STOPPED ? "stopped"
		   : st.running			? "running"
						: "pending";
	p->started_at = st.running ? st.started_at_ns : 0;
	p->seen_at = st.running ? mw_now_ns() : 0;
	p->restarts = (unsigned)st.restarts;
	mw_strlcpy(p->reason, st.reason, sizeof(p->reason));
	if (mw_mono_ns() - p->log_at >= PASS_MS * NS_PER_MS) {
		json_t *lines = NULL;
		if (worker_log_tail(p->w, APPS_LOG_LINES, &lines) == MW_OK) {
			json_decref(p->log);
			p->log = lines;
		}
		p->log_at = mw_mono_ns();
	}
}

/* ---- container apps ------------------------------------------------------------- */

/* resources.memory: bytes, or a size as the manifest's check took it. */
static int64_t memory_bytes(json_t *m)
{
	int64_t bytes = 0;

	if (json_is_integer(m))
		return json_integer_value(m);
	if (!json_is_string(m) || config_parse_size(json_string_value(m), &bytes))
		return 0;
	return bytes;
}

static int engine_ready(struct apps *a, char *err, size_t cap)
{
	static const char *const defaults[] = {"/run/podman/podman.sock", "/var/run/docker.sock"};
	const char *path = a->engine_path;

	if (a->engine)
		return MW_OK;
	for (size_t i = 0; !*path && i < MW_ARRAY_LEN(defaults); i++)
		if (access(defaults[i], F_OK) == 0)
			path = defaults[i];
	if (!*path) {
		snprintf(err, cap,
			 "no container engine: set apps.engine to Podman's or Docker's socket "
			 "(podman system service)");
		return MW_ERR_NOTFOUND;
	}
	return engine_new(path, &a->engine);
}

/* Creates and starts the container (pulling its image first if needed). */
static void run_container(struct apps *a, struct app *p)
{
	json_t *rt = json_object_get(json_object_get(p->entry, "runtime"), "container");
	json_t *res = json_object_get(p->entry, "resources");
	json_t *labels = json_pack(
		"{s:s, s:s, s:o}", "io.millwright.app", p->name, ENGINE_SPEC_LABEL, p->spec_hash,
		"io.millwright.deployment",
		json_sprintf("%" JSON_INTEGER_FORMAT,
			     json_integer_value(json_object_get(p->entry, "deployment"))));
	char **env = app_env(a, p, false), err[256] = "";
	json_t *cmd = json_object_get(rt, "command");
	const char **argv = calloc(json_array_size(cmd) + 1, sizeof(*argv));
	bool present = true;
	int rc = argv ? engine_ready(a, err, sizeof(err)) : MW_ERR_NOMEM;

	for (size_t i = 0; argv && i < json_array_size(cmd); i++)
		argv[i] = json_string_value(json_array_get(cmd, i));
	if (rc == MW_OK)
		rc = engine_image_present(a->engine,
					  json_string_value(json_object_get(rt, "image")), &present,
					  err, sizeof(err));
	if (rc == MW_OK && !present) {
		p->state = "pulling";
		if (a->opt.changed)
			a->opt.changed(a->opt.changed_arg);
	}
	if (rc == MW_OK)
		rc = engine_run(
			a->engine,
			&(struct engine_spec){
				.name = p->cname,
				.image = json_string_value(json_object_get(rt, "image")),
				.cmd = json_array_size(cmd) ? argv : NULL,
				.env = (const char *const *)env,
				.ports = json_object_get(rt, "ports"),
				.volumes = json_object_get(rt, "volumes"),
				.devices = json_object_get(rt, "devices"),
				.labels = labels,
				.memory_bytes = memory_bytes(json_object_get(res, "memory")),
				.cpus = json_number_value(json_object_get(res, "cpu")),
				.host_network = true,
				.grace_s = (int)(a->opt.stop_grace_ms / 1000),
			},
			err, sizeof(err));
	p->created = rc == MW_OK;
	if (rc) {
		p->state = "failed";
		mw_strlcpy(p->reason, err[0] ? err : mw_strerror(rc), sizeof(p->reason));
		p->retry_at = mw_mono_ns() + p->wait_ms * NS_PER_MS;
		p->wait_ms = p->wait_ms * 2 > a->opt.backoff_max_ms ? a->opt.backoff_max_ms
								    : p->wait_ms * 2;
		log_warn("msg=\"app cannot start\" app=%s err=\"%s\"", p->name, p->reason);
	} else {
		p->state = "running";
		p->started_at = p->seen_at = mw_now_ns();
		log_info("msg=\"app started\" app=%s container=%s", p->name, p->cname);
	}
	free_env(env);
	free(argv);
	json_decref(labels);
}

/* A container that ended: how, and when it is started again. */
static void container_ended(struct apps *a, struct app *p, const struct engine_state *st)
{
	int64_t ran_ms = st->finished_at_ns > st->started_at_ns
				 ? (st->finished_at_ns - st->started_at_ns) / NS_PER_MS
				 : 0;

	if (!strcmp(p->state, "running")) { /* just now */
		if (ran_ms < a->opt.healthy_ms)
			p->failures++;
		else
			p->wait_ms = a->opt.backoff_min_ms;
		if (st->error[0])
			snprintf(p->reason, sizeof(p->reason), "%s", st->error);
		else
			snprintf(p->reason, sizeof(p->reason), "exited with status %d",
				 st->exit_code);
		p->retry_at = mw_mono_ns() + p->wait_ms * NS_PER_MS;
		p->wait_ms = p->wait_ms * 2 > a->opt.backoff_max_ms ? a->opt.backoff_max_ms
								    : p->wait_ms * 2;
		log_warn("msg=\"app exited\" app=%s reason=\"%s\" ran_ms=%lld failures=%u", p->name,
			 p->reason, (long long)ran_ms, p->failures);
	}
	p->state = p->failures >= FAIL_AFTER ? "failed" : "restarting";
	p->started_at = p->seen_at = 0;
}

/* A container this app's spec made, left running by an earlier mw-edge
 * (containers outlive it), is kept rather than made again. */
static void adopt(struct apps *a, struct app *p)
{
	struct engine_state st;
	char err[256];

	p->looked = true;
	if (engine_inspect(a->engine, p->cname, &st, err, sizeof(err)) || !st.running ||
	    strcmp(st.spec, p->spec_hash) != 0)
		return;
	p->created = true;
	p->state = "running";
	p->started_at = st.started_at_ns;
	p->seen_at = mw_now_ns();
	log_info("msg=\"app kept running\" app=%s container=%s", p->name, p->cname);
}

static void poll_container(struct apps *a, struct app *p)
{
	struct engine_state st;
	char err[256] = "";

	if (!p->looked && engine_ready(a, err, sizeof(err)) == MW_OK)
		adopt(a, p);
	if ((!p->created || !a->engine) && mw_mono_ns() >= p->retry_at)
		run_container(a, p); /* and look at it at once: it may be gone already */
	if (!p->created || !a->engine)
		return;
	if (engine_inspect(a->engine, p->cname, &st, err, sizeof(err))) {
		snprintf(p->reason, sizeof(p->reason), "%s", err);
		return;
	}
	if (!st.exists) {
		p->created = false; /* removed behind our back: make it again */
		return;
	}
	if (st.running) {
		p->state = "running";
		p->started_at = st.started_at_ns;
		p->seen_at = mw_now_ns();
		if (mw_now_ns() - st.started_at_ns >= a->opt.healthy_ms * NS_PER_MS) {
			p->failures = 0;
			p->wait_ms = a->opt.backoff_min_ms;
		}
	} else {
		container_ended(a, p, &st);
		if (mw_mono_ns() >= p->retry_at) {
			if (engine_start(a->engine, p->cname, err, sizeof(err)) == MW_OK) {
				p->restarts++;
				p->state = "running";
			} else {
				mw_strlcpy(p->reason, err, sizeof(p->reason));
			}
		}
	}
	if (mw_mono_ns() - p->log_at >= LOGS_EVERY_MS * NS_PER_MS) {
		json_t *lines = NULL;
		if (engine_logs(a->engine, p->cname, APPS_LOG_LINES, &lines, err, sizeof(err)) ==
		    MW_OK) {
			json_decref(p->log);
			p->log = lines;
		}
		p->log_at = mw_mono_ns();
	}
}

/* ---- the loop -------------------------------------------------------------------------- */

static struct app *app_new(struct apps *a, const char *name, json_t *entry)
{
	struct app *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	mw_strlcpy(p->name, name, sizeof(p->name));
	snprintf(p->cname, sizeof(p->cname), "mw-%s", name);
	p->entry = json_incref(entry);
	p->spec = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
	if (p->spec) {
		uint8_t h[HASH_LEN];
		hash_sha256(p->spec, strlen(p->spec), h);
		mw_hex(h, HASH_LEN, p->spec_hash);
	}
	p->container = json_object_get(json_object_get(entry, "runtime"), "container") != NULL;
	p->state = "pending";
	p->wait_ms = a->opt.backoff_min_ms;
	if (!p->spec) {
		json_decref(p->entry);
		free(p);
		return NULL;
	}
	log_info("msg=\"app deploying\" app=%s version=%s deployment=%lld runtime=%s", name,
		 json_string_value(json_object_get(entry, "version")),
		 (long long)json_integer_value(json_object_get(entry, "deployment")),
		 p->container ? "container" : "native");
	if (!p->container && start_native(a, p))
		p->state = "failed";
	return p;
}

/* Stops p (its process or container) and frees it. */
static void app_free(struct apps *a, struct app *p, bool remove_container)
{
	char err[256];

	if (p->w)
		worker_free(p->w);
	if (p->container && remove_container && a->engine &&
	    engine_remove(a->engine, p->cname, (int)(a->opt.stop_grace_ms / 1000), err,
			  sizeof(err)))
		log_warn("msg=\"app container not removed\" app=%s err=\"%s\"", p->name, err);
	log_info("msg=\"app stopped\" app=%s", p->name);
	json_decref(p->entry);
	json_decref(p->log);
	free(p->spec);
	free(p);
}

/* Makes the running set match apps (the desired entries by name). */
static void converge(struct apps *a, json_t *apps)
{
	size_t k = 0;
	const char *name;
	json_t *e;

	for (size_t i = 0; i < a->nrun; i++) {
		struct app *p = a->run[i];
		char *spec = (e = json_object_get(apps, p->name))
				     ? json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS)
				     : NULL;
		if (spec && strcmp(spec, p->spec) == 0)
			a->run[k++] = p;
		else
			app_free(a, p, true);
		free(spec);
	}
	a->nrun = k;
	json_object_foreach(apps, name, e)
	{
		struct app **more, *p;
		bool have = false;
		for (size_t i = 0; i < a->nrun; i++)
			have |= strcmp(a->run[i]->name, name) == 0;
		if (have || !(more = realloc(a->run, (a->nrun + 1) * sizeof(*more))))
			continue;
		a->run = more;
		if ((p = app_new(a, name, e)))
			a->run[a->nrun++] = p;
	}
}

/* How long the app has been seen running, by this machine's clock. */
static json_int_t up_ms(const struct app *p)
{
	return p->started_at && p->seen_at > p->started_at
		       ? (p->seen_at - p->started_at) / NS_PER_MS
		       : 0;
}

/* Each app's report; with detail, also what changes on every pass (its
 * up_ms and last log lines). */
static json_t *build_report(struct apps *a, bool detail)
{
	json_t *r = json_object();

	for (size_t i = 0; i < a->nrun; i++) {
		struct app *p = a->run[i];
		json_t *o = json_pack("{s:O, s:O, s:s, s:s, s:I, s:i, s:s}", "deployment",
				      json_object_get(p->entry, "deployment"), "version",
				      json_object_get(p->entry, "version"), "runtime",
				      p->container ? "container" : "native", "state", p->state,
				      "started_at", (json_int_t)p->started_at, "restarts",
				      (int)p->restarts, "reason", p->reason);
		if (detail) {
			json_object_set_new(o, "up_ms", json_integer(up_ms(p)));
			json_object_set_new(o, "log", p->log ? json_incref(p->log) : json_array());
		}
		json_object_set_new(r, p->name, o);
	}
	return r;
}

/* The reconcile thread's step: converge, look at each app, publish the
 * report. Returns the wait before the next, in ms. */
static int64_t pass(void *arg)
{
	struct apps *a = arg;
	json_t *apps, *report;
	char *states;

	pthread_mutex_lock(&a->mu);
	apps = json_deep_copy(json_object_get(a->desired, "apps"));
	pthread_mutex_unlock(&a->mu);
	converge(a, apps);
	json_decref(apps);
	for (size_t i = 0; i < a->nrun; i++) {
		if (a->run[i]->container)
			poll_container(a, a->run[i]);
		else
			poll_native(a->run[i]);
	}
	report = build_report(a, true);
	pthread_mutex_lock(&a->mu);
	json_decref(a->report);
	a->report = report;
	pthread_mutex_unlock(&a->mu);
	/* the heartbeat hears of a change in state now; up_ms and new log
	 * lines can wait for the next one */
	report = build_report(a, false);
	states = json_dumps(report, JSON_COMPACT | JSON_SORT_KEYS);
	if (states && (!a->last_states || strcmp(states, a->last_states)) && a->opt.changed)
		a->opt.changed(a->opt.changed_arg);
	free(a->last_states);
	a->last_states = states;
	json_decref(report);
	return PASS_MS;
}

static void apps_free(struct apps *a)
{
	for (size_t i = 0; i < a->nrun; i++)
		app_free(a, a->run[i], false);
	free(a->run);
	engine_free(a->engine);
	json_decref(a->desired);
	json_decref(a->report);
	free(a->last_states);
	free(a->data_dir);
	free(a->node);
	free(a->engine_path);
	free(a->api_url);
	free(a->api_token);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

int apps_start(const struct apps_options *opt, struct apps **out)
{
	struct apps *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a)
		return MW_ERR_NOMEM;
	a->opt = *opt;
	pthread_mutex_init(&a->mu, NULL);
	a->loop = (struct mw_loop){.step = pass, .arg = a};
	a->data_dir = strdup(opt->data_dir);
	a->node = strdup(opt->node ? opt->node : "");
	a->engine_path = strdup(opt->engine ? opt->engine : "");
	a->api_url = strdup(opt->api_url ? opt->api_url : "");
	a->api_token = strdup(opt->api_token ? opt->api_token : "");
	if (!a->data_dir || !a->node || !a->engine_path || !a->api_url || !a->api_token ||
	    !(a->desired = load_desired(a))) {
		apps_free(a);
		return MW_ERR_NOMEM;
	}
	log_info("msg=\"apps\" generation=%lld apps=%zu",
		 (long long)json_integer_value(json_object_get(a->desired, "generation")),
		 json_object_size(json_object_get(a->desired, "apps")));
	if (mw_loop_start(&a->loop, "apps")) {
		apps_free(a);
		return MW_ERR_NOMEM;
	}
	*out = a;
	return MW_OK;
}

void apps_stop(struct apps *a)
{
	if (!a)
		return;
	mw_loop_stop(&a->loop);
	apps_free(a);
}
