/* simsrc.c -- the synthetic line as a frame source; see simsrc.h.
 *
 * Pacing sleeps in slices of at most 50 ms and checks a flag between them,
 * so camera_stop() (through the interrupt hook) is never kept waiting. A
 * clip is long (an hour's worth of frames by default) and when it ends the
 * next seed starts, so the source never runs dry; frame times keep
 * increasing across clips, as a camera's would. */
#include "vision/simsrc.h"

#include "core/log.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLICE_NS 50000000LL

struct simsrc {
	char camera[VISION_ID_MAX + 1];
	struct scene_params params;
	bool realtime;
	struct scene *scene;
	struct plane plane;
	uint64_t index;   /* frames delivered since open */
	int64_t start_ns; /* mw_mono_ns() at open */
	atomic_bool stop;
	char error[256];
};

static int bad(char *err, size_t errlen, const char *camera, const char *key, const char *why)
{
	snprintf(err, errlen, "camera %s: sim:// URL: %s: %s", camera, key, why);
	return MW_ERR_INVALID;
}

static int num(const char *v, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(v, &end);
	return (*v && !*end && !errno && isfinite(*out) && *out >= lo && *out <= hi) ? MW_OK
										  : MW_ERR_INVALID;
}

/* One key=value of the query. */
static int set_param(struct scene_params *p, const char *k, const char *v)
{
	static const struct {
		const char *name;
		size_t off;
		double lo, hi;
	} dbl[] = {
		{"fps", offsetof(struct scene_params, fps), 1, 240},
		{"parts_per_min", offsetof(struct scene_params, parts_per_min), -1, 1000},
		{"defect_rate", offsetof(struct scene_params, defect_rate), 0, 1},
		{"people_per_min", offsetof(struct scene_params, people_per_min), 0, 60},
		{"drift", offsetof(struct scene_params, lighting_drift), 0, 1},
		{"noise", offsetof(struct scene_params, noise), 0, 50},
		{"blur", offsetof(struct scene_params, blur), 0, 10},
	};
	double d;

	for (size_t i = 0; i < MW_ARRAY_LEN(dbl); i++)
		if (strcmp(k, dbl[i].name) == 0) {
			if (num(v, dbl[i].lo, dbl[i].hi, &d))
				return MW_ERR_INVALID;
			*(double *)((char *)p + dbl[i].off) = d;
			return MW_OK;
		}
	if (!strcmp(k, "width") || !strcmp(k, "height") || !strcmp(k, "seed") ||
	    !strcmp(k, "design")) {
		bool big = !strcmp(k, "seed") || !strcmp(k, "design");
		if (num(v, 0, big ? 1e15 : VISION_DIM_MAX, &d) || d != floor(d))
			return MW_ERR_INVALID;
		if (big)
			*(!strcmp(k, "seed") ? &p->seed : &p->design) = (uint64_t)d;
		else
			*(!strcmp(k, "width") ? &p->width : &p->height) = (int)d;
		return MW_OK;
	}
	if (!strcmp(k, "belt_stops") && (!strcmp(v, "0") || !strcmp(v, "1"))) {
		p->belt_stops = v[0] == '1';
		return MW_OK;
	}
	if (!strcmp(k, "code")) {
		static const char *const names[] = {"none", "datamatrix", "qr"};
		for (size_t i = 0; i < MW_ARRAY_LEN(names); i++)
			if (!strcmp(v, names[i])) {
				p->code = (enum scene_code)i;
				return MW_OK;
			}
	}
	return MW_ERR_INVALID;
}

int simsrc_parse(const char *camera, const char *url, struct scene_params *out, char *err,
		 size_t errlen)
{
	char query[512], *save = NULL, *kv;
	const char *q;

	memset(out, 0, sizeof(*out));
	out->fps = 15;
	out->width = 1280;
	out->height = 720;
	out->seed = 1;
	out->people_per_min = 1;
	out->defect_rate = 0.1;
	out->noise = 2;
	out->lighting_drift = 0.05;
	out->code = SCENE_CODE_DATAMATRIX;
	if (strncmp(url, SIMSRC_PREFIX, strlen(SIMSRC_PREFIX)) != 0)
		return bad(err, errlen, camera, url, "must start with " SIMSRC_PREFIX);
	q = url + strlen(SIMSRC_PREFIX);
	if (*q == '\0')
		return MW_OK;
	if (*q != '?' || mw_strlcpy(query, q + 1, sizeof(query)))
		return bad(err, errlen, camera, url, "expected ?key=value&... after " SIMSRC_PREFIX);
	for (kv = strtok_r(query, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			return bad(err, errlen, camera, kv, "expected key=value");
		*eq = '\0';
		if (set_param(out, kv, eq + 1))
			return bad(err, errlen, camera, kv,
				   "unknown key or bad value (see docs/vision.md, simulated camera)");
	}
	return MW_OK;
}

static int sim_open(void *arg, char *err, size_t errlen)
{
	struct simsrc *s = arg;
	struct scene_params p = s->params;
	int rc;

	if (p.frames == 0)
		p.frames = (int)(3600 * p.fps); /* an hour, then the next seed */
	p.seed += s->index / (uint64_t)p.frames;
	if ((rc = scene_new(&p, &s->scene, err, errlen)))
		return rc;
	if (!s->plane.data &&
	    (rc = plane_alloc(&s->plane, scene_truth(s->scene)->width, scene_truth(s->scene)->height)))
		return rc;
	if (s->index == 0)
		s->start_ns = mw_mono_ns();
	return MW_OK;
}

static void sim_close(void *arg)
{
	struct simsrc *s = arg;
	scene_free(s->scene);
	s->scene = NULL;
}

/* Waits until the frame's time has come; false when stopped meanwhile. */
static bool pace(struct simsrc *s, int64_t due)
{
	for (;;) {
		int64_t left = due - mw_mono_ns();
		struct timespec ts;
		if (atomic_load(&s->stop))
			return false;
		if (left <= 0)
			return true;
		if (left > SLICE_NS)
			left = SLICE_NS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left;
		nanosleep(&ts, NULL);
	}
}

static int sim_read(void *arg, struct frame *out)
{
	struct simsrc *s = arg;
	int64_t due = s->start_ns + (int64_t)((double)s->index * 1e9 / s->params.fps);
	int rc;

	if (s->realtime && !pace(s, due))
		return MW_ERR_STATE;
	rc = scene_next(s->scene, &s->plane);
	if (rc == MW_ERR_NOTFOUND) { /* the clip ended: the next seed goes on */
		sim_close(s);
		if ((rc = sim_open(s, s->error, sizeof(s->error))) == MW_OK)
			rc = scene_next(s->scene, &s->plane);
	}
	if (rc) {
		if (!s->error[0])
			snprintf(s->error, sizeof(s->error), "camera %s: scene: %s", s->camera,
				 mw_strerror(rc));
		return MW_ERR_IO;
	}
	memset(out, 0, sizeof(*out));
	out->y = s->plane;
	out->pts_ns = (int64_t)((double)s->index * 1e9 / s->params.fps);
	out->arrival_ns = mw_mono_ns();
	out->wall_ns = mw_now_ns();
	out->index = s->index++;
	return MW_OK;
}

static const char *sim_error(void *arg)
{
	return ((struct simsrc *)arg)->error;
}

static void sim_interrupt(void *arg)
{
	atomic_store(&((struct simsrc *)arg)->stop, true);
}

static void sim_release(void *arg)
{
	struct simsrc *s = arg;
	sim_close(s);
	plane_free(&s->plane);
	free(s);
}

int simsrc_new(const char *camera, const char *url, bool realtime, struct frame_source *out,
	       char *err, size_t errlen)
{
	struct simsrc *s = calloc(1, sizeof(*s));
	int rc;

	memset(out, 0, sizeof(*out));
	if (!s)
		return MW_ERR_NOMEM;
	if ((rc = mw_strlcpy(s->camera, camera, sizeof(s->camera))) ||
	    (rc = simsrc_parse(camera, url, &s->params, err, errlen))) {
		free(s);
		return rc ? rc : MW_ERR_INVALID;
	}
	s->realtime = realtime;
	*out = (struct frame_source){.open = sim_open, .read = sim_read, .close = sim_close,
				     .arg = s, .error = sim_error, .interrupt = sim_interrupt,
				     .release = sim_release};
	return MW_OK;
}
