/* vision_run.c -- `mw-edge-vision run`: every configured camera, live.
 *
 * Each camera gets the runner of vision/camera.h (a decode thread and an
 * analysis thread) and its own pipeline and API sink, so a camera that
 * fails -- a dead stream, a zone that does not fit its frames -- only
 * reports it and retries; the others go on. State changes become
 * `camera.status` events (warning when a camera is lost or cannot be
 * analysed); every REPORT_S seconds the main thread sends the health of all
 * cameras to the daemon (PUT /v1/cameras), which shows it in /metrics and
 * /v1/status. SIGTERM or SIGINT stops the cameras and ends the process. */
#include "edge/vision_worker.h"

#include "core/log.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPORT_S 2

struct vw_cam {
	const struct edge_config *cfg;
	const struct edge_camera_config *cam;
	struct camera *runner;
	struct pipeline *pipe;
	struct vw_api_sink sink;   /* the analysis thread's */
	struct vw_api_sink status; /* the reading thread's (state changes) */
	atomic_bool failed;        /* the pipeline cannot analyse these frames */
	char error[512];           /* why, when failed */
	pthread_mutex_t mu;        /* guards error */
};

static void post_status(struct vw_api_sink *sink, const char *camera, const char *state,
			const char *why, enum severity sev, const struct camera_status *st)
{
	struct frame now = {.wall_ns = mw_now_ns()};
	json_t *a = json_pack("{s:s,s:s}", "state", state, "last_error", why ? why : "");
	struct event e;

	if (a && st) {
		json_object_set_new(a, "frames_in", json_integer((json_int_t)st->frames_in));
		json_object_set_new(a, "frames_dropped", json_integer((json_int_t)st->frames_dropped));
		json_object_set_new(a, "reconnects", json_integer((json_int_t)st->reconnects));
	}
	if (vision_event(&e, camera, "camera.status", sev, &now, a) == MW_OK) {
		vw__api_emit(sink, &e, NULL);
		event_clear(&e);
	}
}

static void on_status(void *arg, const struct camera_status *st)
{
	struct vw_cam *vc = arg;
	enum severity sev = st->state == CAMERA_RECONNECTING ? SEV_WARNING : SEV_INFO;

	if (st->state == CAMERA_STOPPED || st->state == CAMERA_CONNECTING)
		return;
	log_info("vision: camera=%s state=%s%s%s", vc->cam->id, camera_state_name(st->state),
		 st->last_error[0] ? " err=" : "", st->last_error);
	post_status(&vc->status, vc->cam->id, camera_state_name(st->state), st->last_error, sev,
		    st);
}

static void analyse(void *arg, const struct frame *f)
{
	struct vw_cam *vc = arg;
	struct vision_sink sink = {vw__api_emit, &vc->sink};
	int rc = pipeline_process(vc->pipe, f, &sink);

	if (rc == MW_ERR_INVALID && !atomic_load(&vc->failed)) {
		pthread_mutex_lock(&vc->mu);
		mw_strlcpy(vc->error, pipeline_error(vc->pipe), sizeof(vc->error));
		pthread_mutex_unlock(&vc->mu);
		atomic_store(&vc->failed, true);
		post_status(&vc->sink, vc->cam->id, "failed", vc->error, SEV_WARNING, NULL);
	} else if (rc == MW_OK && atomic_load(&vc->failed)) {
		atomic_store(&vc->failed, false); /* the frames changed and now fit */
	}
}

static int start_camera(struct vw_cam *vc)
{
	struct pipeline_options po;
	struct camera_options co = {.id = vc->cam->id, .loop = vc->cam->loop,
				    .lossless = !vc->cam->realtime,
				    .backoff_min_ms = vc->cam->backoff_min_ms,
				    .backoff_max_ms = vc->cam->backoff_max_ms,
				    .analyse = analyse, .analyse_arg = vc,
				    .status = on_status, .status_arg = vc};
	char err[512] = "";
	int rc;

	pthread_mutex_init(&vc->mu, NULL);
	if ((rc = vw__pipeline_options(vc->cfg, vc->cam, &po, err, sizeof(err))) ||
	    (rc = pipeline_new(&po, &vc->pipe)) ||
	    (rc = vw__api_sink_init(&vc->sink, vc->cfg, vc->cam)) ||
	    (rc = vw__api_sink_init(&vc->status, vc->cfg, vc->cam)) ||
	    (rc = vw__source(vc->cam, vc->cam->realtime, &co.src, err, sizeof(err))))
		goto fail;
	if (!pipeline_has_detectors(&po))
		log_warn("vision: camera=%s has no detectors configured (zones, count.line or "
			 "inspection.roi): frames are decoded and counted only", vc->cam->id);
	if ((rc = camera_start(&co, &vc->runner)))
		goto fail;
	log_info("vision: camera started camera=%s url=%s", vc->cam->id, vc->cam->url);
	return MW_OK;
fail:
	log_error("vision: camera not started camera=%s err=\"%s\"", vc->cam->id,
		  err[0] ? err : mw_strerror(rc));
	return rc;
}

static json_t *camera_json(struct vw_cam *vc)
{
	struct camera_status st = {0};
	struct pipeline_stats ps = {0};
	const char *state = "failed";
	char error[512];

	if (vc->runner) {
		camera_status(vc->runner, &st);
		state = camera_state_name(st.state);
	}
	if (vc->pipe)
		pipeline_stats(vc->pipe, &ps);
	pthread_mutex_lock(&vc->mu);
	mw_strlcpy(error, atomic_load(&vc->failed) ? vc->error : st.last_error, sizeof(error));
	pthread_mutex_unlock(&vc->mu);
	if (atomic_load(&vc->failed))
		state = "failed";
	return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:f,s:f,s:I,s:i,s:i,s:s}", "id", vc->cam->id,
			 "state", state, "frames_in", (json_int_t)st.frames_in, "frames_analysed",
			 (json_int_t)st.frames_analysed, "frames_dropped",
			 (json_int_t)st.frames_dropped, "reconnects", (json_int_t)st.reconnects,
			 "fps_in", st.fps_in, "fps_analysed", st.fps_analysed, "events",
			 (json_int_t)ps.events, "width", st.width, "height", st.height,
			 "last_error", error);
}

static void report(struct vw_api_sink *reporter, struct vw_cam *cams, size_t n)
{
	json_t *arr = json_array(), *doc;
	char *body = NULL;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, camera_json(&cams[i]));
	if ((doc = json_pack("{s:o}", "cameras", arr))) /* takes arr, even on failure */
		body = json_dumps(doc, JSON_COMPACT);
	if (body && vw__api_put(reporter, "/v1/cameras", body))
		log_debug("vision: camera health not delivered to the daemon");
	free(body);
	json_decref(doc);
}

/* Waits REPORT_S seconds for SIGTERM or SIGINT; true when one came. */
static bool stop_requested(const sigset_t *set)
{
	struct timespec ts = {REPORT_S, 0};
	return sigtimedwait(set, NULL, &ts) > 0;
}

int vw__run(const struct edge_config *c)
{
	struct vw_cam *cams = calloc(c->cameras.n ? c->cameras.n : 1, sizeof(*cams));
	struct vw_api_sink reporter;
	sigset_t set;
	size_t started = 0;

	if (!cams || vw__api_sink_init(&reporter, c, edge_camera(c, 0))) {
		free(cams);
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* camera threads inherit it */
	for (size_t i = 0; i < c->cameras.n; i++) {
		cams[i].cfg = c;
		cams[i].cam = edge_camera(c, i);
		if (start_camera(&cams[i]) == MW_OK)
			started++;
	}
	log_info("vision: worker running cameras=%zu started=%zu", c->cameras.n, started);
	do
		report(&reporter, cams, c->cameras.n);
	while (!stop_requested(&set));
	log_info("vision: stopping");
	for (size_t i = 0; i < c->cameras.n; i++) {
		camera_free(cams[i].runner);
		pipeline_free(cams[i].pipe);
		vw__api_sink_free(&cams[i].sink);
		vw__api_sink_free(&cams[i].status);
		pthread_mutex_destroy(&cams[i].mu);
	}
	vw__api_sink_free(&reporter);
	free(cams);
	return 0;
}
