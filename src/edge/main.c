/* main.c -- mw-edge: the edge node daemon.
 *
 * Reads the config (file, then command-line overrides, edge_config_args()),
 * opens the event store and the blob store (evidence snapshots), and starts
 * the parts around it in dependency order: the actions worker and the
 * uplink (both fed from the store's append callback through one small
 * dispatcher, since the store takes a single callback), the local API, the
 * vision worker when cameras are configured, and the simulated machine.
 * Once the API listens, its TCP address is written to DATA_DIR/edge.addr
 * (temp file + rename, so a reader never sees half of it). SIGINT and
 * SIGTERM are taken synchronously by the main thread (sigwait), which then
 * stops everything in reverse order and exits 0.
 *
 * The camera analytics link FFmpeg, which this daemon must not (it stays a
 * few MiB), so they live in mw-edge-vision: the daemon supervises it
 * (edge/worker.h), and `mw-edge analyze|train` simply exec it. */
#include "core/http.h"
#include "core/log.h"
#include "edge/actions.h"
#include "edge/agent.h"
#include "edge/api.h"
#include "edge/apps.h"
#include "edge/blobs.h"
#include "edge/config.h"
#include "edge/enroll.h"
#include "edge/store.h"
#include "edge/uplink.h"
#include "edge/worker.h"
#include "sensors/sensors.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_CONFIG 2

struct edge {
	struct edge_config cfg;
	struct store *store;
	struct blobs *blobs;
	struct actions *actions;
	struct uplink *uplink;
	struct agent *agent;
	struct api *api;
	struct sim *sim;
	struct worker *worker;	  /* the vision worker's supervisor; NULL without cameras */
	struct apps *apps;	  /* the apps deployed from the hub */
	pthread_mutex_t agent_mu; /* agent: set, cleared and poked under it */
	int argc;
	char **argv;
	uint64_t appended;
	char addr_path[EDGE_PATH_MAX + 16];
};

static const char usage[] =
	"Usage: mw-edge [run] [options]\n"
	"       mw-edge analyze --config FILE INPUT...         analyse recorded video\n"
	"       mw-edge train --config FILE --camera ID INPUT  learn a camera's good parts\n"
	"       mw-edge enroll HUB_URL TOKEN --config FILE       join a hub (mw enroll create)\n"
	"\n"
	"The Millwright edge daemon: stores every event durably on local disk, fires\n"
	"local actions (webhook, command) on alarms, forwards events to the hub when\n"
	"it can, and serves a local API for producers.\n"
	"\n"
	"Options:\n"
	"  --config FILE       read settings from a YAML file\n"
	"  --data-dir DIR      same as --set data_dir=DIR\n"
	"  --listen ADDR       same as --set api.listen=ADDR (host:port, port 0 = any)\n"
	"  --log-level L       debug, info, warn or error\n"
	"  --set KEY=VALUE     set any config key (repeatable; wins over the file)\n"
	"  --help              this text\n"
	"  --help-config       every config key with its default and range (Markdown)\n"
	"  --version           print the version\n"
	"\n"
	"analyze and train run the vision worker (" WORKER_PROGRAM ", see vision.worker);\n"
	"`mw-edge analyze --help` lists their options. With cameras in the config, the\n"
	"daemon runs the worker too, with its own options, and restarts it if it exits.\n"
	"\n"
	"Example config (edge.yaml):\n"
	"  node:\n"
	"    id: line1-edge\n"
	"  data_dir: /var/lib/mw-edge\n"
	"  uplink:                  # or leave both to `mw-edge enroll`\n"
	"    hub_url: http://hub.plant.local:7800\n"
	"    token: the-token-the-hub-has-for-line1-edge\n"
	"  actions:\n"
	"    webhook: http://andon.plant.local/alarm\n"
	"    min_severity: alarm\n"
	"  sim:\n"
	"    enabled: true          # a simulated machine, to try things out\n"
	"\n"
	"Then: mw-edge --config edge.yaml\n"
	"Post an event: curl -H \"Authorization: Bearer $(cat /var/lib/mw-edge/api.token)\" \\\n"
	"  -d '{\"source\":\"line1/temp\",\"kind\":\"sensor.reading\",\"severity\":\"info\",\n"
	"       \"attrs\":{\"value\":21.5}}' http://127.0.0.1:7801/v1/events\n";

/* ---- command line ---- */

/* --help and friends end at once, wherever they are. 0 = go on, else an
 * exit code + 1. */
static int info_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return fputs(usage, stdout), 1;
		if (strcmp(a, "--help-config") == 0)
			return config_write_docs(edge_config_keys, "mw-edge configuration", stdout),
			       1;
		if (strcmp(a, "--version") == 0)
			return printf("mw-edge %s\n", MW_VERSION), 1;
		if (strcmp(a, "--config") == 0 && i + 1 < argc)
			i++;
	}
	return 0;
}

/* An argument edge_config_args() does not take, reported before the
 * config is read: a mistyped option is the likelier cause of what the
 * config check would say next. */
static const char *unknown_arg(int argc, char **argv)
{
	static const char *const with_value[] = {"--config", "--data-dir", "--listen",
						 "--log-level", "--set"};

	for (int i = 1; i < argc; i++) {
		bool known = i == 1 && strcmp(argv[i], "run") == 0;
		for (size_t k = 0; !known && k < MW_ARRAY_LEN(with_value); k++)
			if (strcmp(argv[i], with_value[k]) == 0) {
				known = true;
				i++; /* its value, whatever it looks like */
			}
		if (!known)
			return argv[i];
	}
	return NULL;
}

/* Returns 0 to run, a process exit code + 1 to exit at once. */
static int parse_args(int argc, char **argv, struct edge_config *c)
{
	int *rest = calloc((size_t)argc, sizeof(*rest)), nrest = 0, rc = 0;
	const char *bad;

	if (!rest)
		return 1 + 1;
	if ((rc = info_args(argc, argv)))
		goto out;
	if ((bad = unknown_arg(argc, argv))) {
		fprintf(stderr, "mw-edge: '%s': unknown argument (see mw-edge --help)\n", bad);
		rc = EXIT_CONFIG + 1;
		goto out;
	}
	/* Everything left over is the leading "run": unknown_arg() saw the rest. */
	if (edge_config_args(c, argc, argv, "mw-edge", rest, &nrest))
		rc = EXIT_CONFIG + 1;
out:
	free(rest);
	return rc;
}

/* The worker program of `mw-edge analyze|train ...`: vision.worker from the
 * --config file or a --set, else the default. The config is read only for
 * that key, ignoring errors: the worker reads it again and reports them. */
static int find_worker(int argc, char **argv, char *path, size_t cap)
{
	static struct edge_config c; /* large; main runs once */
	char err[512];
	int rc;

	if (edge_config_defaults(&c))
		return MW_ERR_NOMEM;
	for (int i = 2; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 &&
		    config_load_file(edge_config_keys, &c, argv[i + 1], err, sizeof(err)))
			break;
		if (strcmp(argv[i], "--set") == 0 &&
		    strncmp(argv[i + 1], "vision.worker=", 14) == 0)
			mw_strlcpy(c.vision_worker, argv[i + 1] + 14, sizeof(c.vision_worker));
	}
	rc = worker_program(c.vision_worker, path, cap);
	edge_config_free(&c);
	return rc;
}

/* mw-edge analyze|train ARGS: the vision worker does the work; its argv is
 * {"mw-edge-vision", "analyze"|"train", ARGS...}. Returns only on failure,
 * with the shell's codes: 127 not found, 126 not runnable. */
static int exec_worker(int argc, char **argv)
{
	char path[EDGE_PATH_MAX];
	char **wargv = calloc((size_t)argc + 1, sizeof(*wargv));
	int err;

	if (!wargv || find_worker(argc, argv, path, sizeof(path))) {
		fprintf(stderr, "mw-edge: cannot find the vision worker (%s)\n",
			wargv ? "path too long" : "out of memory");
		free(wargv);
		return 126;
	}
	wargv[0] = (char *)WORKER_PROGRAM;
	for (int i = 1; i < argc; i++)
		wargv[i] = argv[i];
	execv(path, wargv);
	err = errno;
	fprintf(stderr,
		"mw-edge %s: cannot run the vision worker %s: %s (set vision.worker in the "
		"config, or install " WORKER_PROGRAM " beside mw-edge)\n",
		argv[1], path, strerror(err));
	free(wargv);
	return err == ENOENT ? 127 : 126;
}

/* ---- wiring ---- */

static void on_append(const struct event *events, size_t n, void *arg)
{
	struct edge *e = arg;
	__atomic_add_fetch(&e->appended, n, __ATOMIC_RELAXED);
	if (e->actions)
		actions_on_append(events, n, e->actions);
	if (e->uplink)
		uplink_wake(e->uplink);
}

static int sim_emit(struct event *events, size_t n, void *arg)
{
	struct edge *e = arg;
	return store_append(e->store, events, n);
}

static int make_dir(const char *path)
{
	char p[EDGE_PATH_MAX];
	mw_strlcpy(p, path, sizeof(p));
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0750) && errno != EEXIST)
			break;
		*s = '/';
	}
	if (mkdir(p, 0750) && errno != EEXIST) {
		log_error("data_dir: cannot create %s: %s", path, strerror(errno));
		return MW_ERR_IO;
	}
	return MW_OK;
}

static int write_addr(struct edge *e)
{
	char tmp[sizeof(e->addr_path) + 8];
	FILE *f;

	snprintf(e->addr_path, sizeof(e->addr_path), "%s/edge.addr", e->cfg.data_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", e->addr_path);
	if (!*api_address(e->api)) {
		unlink(e->addr_path); /* no TCP: no address, and none stale */
		return MW_OK;
	}
	if (!(f = fopen(tmp, "w")) || fprintf(f, "%s\n", api_address(e->api)) < 0 || fclose(f) ||
	    rename(tmp, e->addr_path)) {
		log_error("cannot write %s: %s", e->addr_path, strerror(errno));
		return MW_ERR_IO;
	}
	return MW_OK;
}

static int start_store(struct edge *e)
{
	char path[EDGE_PATH_MAX + 16];
	struct store_options so = {
		.path = path,
		.node = e->cfg.node_id,
		.sync = (enum store_sync)e->cfg.store_sync,
		.quota_bytes = e->cfg.store_quota,
	};
	struct blobs_options bo = {
		.data_dir = e->cfg.data_dir,
		.quota = e->cfg.blobs_quota,
		.max_size = e->cfg.blobs_max_size,
	};
	int rc;

	snprintf(path, sizeof(path), "%s/events.db", e->cfg.data_dir);
	if ((rc = store_open(&so, &e->store)))
		return rc;
	return blobs_open(&bo, &e->blobs);
}

static int start_workers(struct edge *e)
{
	const struct edge_config *c = &e->cfg;
	struct actions_options ao = {.webhook = c->webhook,
				     .command = c->command,
				     .min_severity = (enum severity)c->min_severity};
	struct uplink_options uo = {
		.node = c->node_id,
		.hub_url = c->hub_url,
		.token = c->uplink_token,
		.ca_file = c->uplink_ca,
		.batch_events = (size_t)c->batch_events,
		.batch_bytes = (size_t)c->batch_bytes,
		.compress = c->compress,
		.backoff_min_ms = c->backoff_min_ms,
		.backoff_max_ms = c->backoff_max_ms,
		.timeout_ms = (long)c->uplink_timeout_ms,
		.blobs = e->blobs,
	};
	int rc;

	if ((rc = actions_new(&ao, &e->actions)) || (rc = actions_start(e->actions)))
		return rc;
	if (c->hub_url[0]) {
		if ((rc = uplink_new(&uo, e->store, &e->uplink)) || (rc = uplink_start(e->uplink)))
			return rc;
	} else {
		log_info("uplink off (uplink.hub_url is empty): events stay on this edge");
	}
	store_on_append(e->store, on_append, e);
	return MW_OK;
}

/* The daemon's groups of the heartbeat: cameras, vision worker, apps. */
static json_t *edge_groups(void *arg)
{
	struct edge *e = arg;
	json_t *g = e->api ? api_vision_json(e->api) : NULL;

	if (!g)
		g = json_object();
	if (g && e->apps) {
		json_object_set_new(g, "apps", apps_report(e->apps));
		json_object_set_new(g, "desired_generation",
				    json_integer(apps_generation(e->apps)));
	}
	return g;
}

static int64_t desired_generation(void *arg)
{
	struct edge *e = arg;

	return e->apps ? apps_generation(e->apps) : 0;
}

static void desired_state(void *arg, json_t *desired)
{
	struct edge *e = arg;

	if (e->apps && apps_set_desired(e->apps, desired) != MW_OK)
		log_warn("msg=\"desired state not taken; the hub sends it again\"");
}

/* An app's state changed: report it now. The agent starts after the
 * apps and stops before them, so it may not be there; the lock keeps it
 * from being freed under the poke. */
static void apps_changed(void *arg)
{
	struct edge *e = arg;

	pthread_mutex_lock(&e->agent_mu);
	if (e->agent)
		agent_poke(e->agent);
	pthread_mutex_unlock(&e->agent_mu);
}

/* The apps the hub deployed here, once the local API they talk to is up.
 * They start from DATA_DIR/desired.json with or without a hub. */
static int start_apps(struct edge *e)
{
	const struct edge_config *c = &e->cfg;
	char url[200] = "";

	if (*api_address(e->api))
		snprintf(url, sizeof(url), "http://%s", api_address(e->api));
	return apps_start(&(struct apps_options){.data_dir = c->data_dir,
						 .node = c->node_id,
						 .engine = c->apps_engine,
						 .api_url = url,
						 .api_token = c->api_token,
						 .healthy_ms = c->apps_healthy_ms,
						 .backoff_min_ms = c->apps_backoff_min_ms,
						 .backoff_max_ms = c->apps_backoff_max_ms,
						 .stop_grace_ms = c->apps_stop_grace_ms,
						 .log_max = c->apps_log_max,
						 .changed = apps_changed,
						 .changed_arg = e},
			  &e->apps);
}

/* The heartbeat, once the API (which holds the cameras' health) is up. */
static int start_agent(struct edge *e)
{
	const struct edge_config *c = &e->cfg;
	struct agent_options ag = {.node = c->node_id,
				   .hub_url = c->hub_url,
				   .token = c->uplink_token,
				   .ca_file = c->uplink_ca,
				   .labels_json = c->node_labels[0] ? c->node_labels : NULL,
				   .interval_ms = c->heartbeat_ms,
				   .data_dir = c->data_dir,
				   .store = e->store,
				   .extra = edge_groups,
				   .generation = desired_generation,
				   .desired = desired_state,
				   .arg = e};
	struct agent *a = NULL;
	int rc = c->hub_url[0] ? agent_start(&ag, &a) : MW_OK;

	pthread_mutex_lock(&e->agent_mu);
	e->agent = a;
	pthread_mutex_unlock(&e->agent_mu);
	return rc;
}

/* With cameras: the vision worker, run as `mw-edge-vision run` with the
 * daemon's own options (minus a leading "run"), so it reads the same
 * settings. */
static int new_vision(struct edge *e)
{
	char path[EDGE_PATH_MAX];
	const char **argv;
	int skip = e->argc > 1 && strcmp(e->argv[1], "run") == 0, rc;

	if (e->cfg.cameras.n == 0)
		return MW_OK;
	if (worker_program(e->cfg.vision_worker, path, sizeof(path))) {
		log_error("vision.worker: cannot make the worker's path");
		return MW_ERR_INVALID;
	}
	if (!(argv = calloc((size_t)e->argc + 2, sizeof(*argv))))
		return MW_ERR_NOMEM;
	argv[0] = WORKER_PROGRAM;
	argv[1] = "run";
	for (int i = 1 + skip, k = 2; i < e->argc; i++, k++)
		argv[k] = e->argv[i];
	rc = worker_new(&(struct worker_options){.path = path, .argv = argv}, &e->worker);
	free(argv);
	log_info("vision cameras=%zu worker=%s", e->cfg.cameras.n, path);
	return rc;
}

static int start_front(struct edge *e)
{
	const struct edge_config *c = &e->cfg;
	struct api_options ao = {
		.listen = c->api_listen,
		.socket_path = c->api_socket,
		.token = c->api_token,
		.max_body = (size_t)c->api_max_body,
		.node = c->node_id,
		.store = e->store,
		.uplink = e->uplink,
		.actions = e->actions,
		.blobs = e->blobs,
		.appended = &e->appended,
	};
	struct sim_options so = {
		.machines = (int)c->sim_machines,
		.interval_ns = c->sim_interval_ms * 1000000,
		.seed = (uint64_t)c->sim_seed,
	};
	int rc;

	if ((rc = new_vision(e)))
		return rc;
	ao.worker = e->worker;
	if ((rc = api_start(&ao, &e->api)) || (rc = write_addr(e)))
		return rc;
	if (e->worker && (rc = worker_start(e->worker))) /* once the API it reports to is up */
		return rc;
	if (c->sim_enabled &&
	    ((rc = sim_new(&so, sim_emit, e, &e->sim)) || (rc = sim_start(e->sim))))
		return rc;
	return start_apps(e);
}

static void stop_all(struct edge *e)
{
	struct agent *ag;

	pthread_mutex_lock(&e->agent_mu);
	ag = e->agent;
	e->agent = NULL;
	pthread_mutex_unlock(&e->agent_mu);
	agent_stop(ag); /* it reads the API's camera health and the apps */
	apps_stop(e->apps);
	worker_free(e->worker); /* it reports to the API until it stops */
	sim_free(e->sim);
	api_free(e->api);
	if (e->addr_path[0])
		unlink(e->addr_path);
	uplink_free(e->uplink);
	actions_free(e->actions);
	blobs_close(e->blobs);
	if (e->store)
		store_close(e->store);
}

static int wait_signal(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	while (sigwait(&set, &sig) != 0)
		;
	return sig;
}

int main(int argc, char **argv)
{
	static struct edge e; /* large (config strings); not on the stack */
	enum log_level lvl;
	sigset_t set;
	int rc;

	log_set_program("mw-edge");
	if (argc > 1 && (strcmp(argv[1], "analyze") == 0 || strcmp(argv[1], "train") == 0))
		return exec_worker(argc, argv);
	if (argc > 1 && strcmp(argv[1], "enroll") == 0)
		return edge_enroll_main(argc, argv);
	e.argc = argc;
	e.argv = argv;
	pthread_mutex_init(&e.agent_mu, NULL);
	if (edge_config_defaults(&e.cfg))
		return 1;
	if ((rc = parse_args(argc, argv, &e.cfg))) {
		edge_config_free(&e.cfg);
		return rc - 1;
	}
	lvl = (enum log_level)e.cfg.log_level;
	log_set_level(lvl);

	/* Block the stop signals in every thread; main takes them with sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (make_dir(e.cfg.data_dir) || edge_config_token(&e.cfg) ||
	    edge_config_credential(&e.cfg) || http_global_init() || start_store(&e) ||
	    start_workers(&e) || start_front(&e) || start_agent(&e)) {
		log_error("mw-edge could not start; stopping");
		stop_all(&e);
		edge_config_free(&e.cfg);
		return 1;
	}
	log_info("mw-edge started node=%s version=%s data_dir=%s", e.cfg.node_id, MW_VERSION,
		 e.cfg.data_dir);
	int sig = wait_signal();
	log_info("mw-edge stopping signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	stop_all(&e);
	http_global_cleanup();
	edge_config_free(&e.cfg);
	log_info("mw-edge stopped");
	return 0;
}
