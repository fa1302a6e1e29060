/* pipeline.c -- one camera's detectors, built on the first frame.
 *
 * Order per frame: safety zones first (an alarm must not wait behind the
 * slower detectors), then counting, then inspection. Each detector writes
 * into the caller's sink through a small wrapper that counts events and
 * sink errors, so the worker can report them per camera.
 *
 * Zones and counting share one motion model: when the camera has zones,
 * the counter takes the zone detector's blobs of the same frame; only a
 * camera that counts without zones runs a model of its own. */
#include "vision/pipeline.h"

#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pipeline {
	struct pipeline_options opt;
	int width, height; /* of the frames the detectors were built for; 0 = not built */
	bool failed;       /* the options do not fit frames of this size */
	char error[512];
	struct zone_detector *zones;
	struct motion *motion; /* for the counter */
	struct counter *counter;
	struct inspector *inspector;
	struct blob blobs[MOTION_BLOBS_MAX];
	struct pipeline_stats stats;
	const struct vision_sink *out; /* during a call: where events go */
};

bool pipeline_has_detectors(const struct pipeline_options *opt)
{
	const struct point *l = opt->count_line;
	return opt->nzones > 0 || opt->inspect_model[0] ||
	       l[0].x != l[1].x || l[0].y != l[1].y;
}

static bool counting(const struct pipeline_options *opt)
{
	const struct point *l = opt->count_line;
	return l[0].x != l[1].x || l[0].y != l[1].y;
}

int pipeline_new(const struct pipeline_options *opt, struct pipeline **out)
{
	struct pipeline *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return MW_ERR_NOMEM;
	p->opt = *opt;
	if (opt->camera && !(p->opt.camera = strdup(opt->camera))) {
		free(p);
		return MW_ERR_NOMEM;
	}
	*out = p;
	return MW_OK;
}

static void teardown(struct pipeline *p)
{
	zone_detector_free(p->zones);
	motion_free(p->motion);
	counter_free(p->counter);
	inspect_free(p->inspector);
	p->zones = NULL;
	p->motion = NULL;
	p->counter = NULL;
	p->inspector = NULL;
	p->width = p->height = 0;
	p->failed = false;
	p->error[0] = '\0';
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	teardown(p);
	free((char *)p->opt.camera);
	free(p);
}

static int build_zones(struct pipeline *p, int w, int h)
{
	struct zone_options zo = {
		.camera = p->opt.camera,
		.zones = p->opt.zones,
		.nzones = p->opt.nzones,
		.motion = p->opt.motion,
		.enter_ms = p->opt.zone_enter_ms,
		.leave_ms = p->opt.zone_leave_ms,
	};
	if (p->opt.nzones == 0)
		return MW_OK;
	return zone_detector_new(&zo, w, h, &p->zones, p->error, sizeof(p->error));
}

static int build_counter(struct pipeline *p, int w, int h)
{
	struct count_options co = {
		.camera = p->opt.camera,
		.line = {p->opt.count_line[0], p->opt.count_line[1]},
		.direction = p->opt.count_direction,
		.codes = p->opt.count_codes,
		.min_gap_ms = p->opt.count_min_gap_ms,
	};
	int rc;

	if (!counting(&p->opt))
		return MW_OK;
	if (!p->zones &&
	    (rc = motion_new(&p->opt.motion, w, h, &p->motion, p->error, sizeof(p->error))))
		return rc;
	return counter_new(&co, w, h, &p->counter, p->error, sizeof(p->error));
}

static int build_inspector(struct pipeline *p, int w, int h)
{
	struct inspect_options io = {
		.camera = p->opt.camera,
		.threshold = p->opt.inspect_threshold,
		.severity = p->opt.inspect_severity,
	};
	struct inspect_model *m = NULL;
	int rc;

	if (!p->opt.inspect_model[0])
		return MW_OK;
	rc = inspect_model_load(p->opt.inspect_model, p->opt.camera, w, h, &m, p->error,
				sizeof(p->error));
	if (rc)
		return rc;
	return inspect_new(&io, m, &p->inspector, p->error, sizeof(p->error));
}

/* Builds the detectors for frames of w x h. */
static int build(struct pipeline *p, int w, int h)
{
	int rc;

	teardown(p);
	p->width = w;
	p->height = h;
	if ((rc = build_zones(p, w, h)) || (rc = build_counter(p, w, h)) ||
	    (rc = build_inspector(p, w, h))) {
		if (!p->error[0])
			snprintf(p->error, sizeof(p->error), "camera %s: %s", p->opt.camera,
				 mw_strerror(rc));
		log_error("vision: cannot analyse camera=%s err=\"%s\"", p->opt.camera, p->error);
		p->failed = true;
		return rc;
	}
	return MW_OK;
}

static int counting_emit(void *arg, struct event *e, const struct plane *snapshot)
{
	struct pipeline *p = arg;
	int rc = p->out->emit(p->out->arg, e, snapshot);

	p->stats.events++;
	if (rc)
		p->stats.sink_errors++;
	return rc;
}

int pipeline_process(struct pipeline *p, const struct frame *f, const struct vision_sink *sink)
{
	struct vision_sink wrap = {counting_emit, p};
	int64_t t0 = mw_mono_ns();
	int rc = MW_OK, n;

	if (f->y.width != p->width || f->y.height != p->height)
		build(p, f->y.width, f->y.height);
	if (p->failed)
		return MW_ERR_INVALID;
	p->out = sink;
	if (p->zones && (rc = zone_detector_process(p->zones, f, &wrap)))
		goto out;
	if (p->counter) {
		const struct blob *blobs = p->blobs;
		if (p->zones)
			blobs = zone_detector_blobs(p->zones, &n);
		else if ((n = motion_process(p->motion, &f->y, p->blobs, MOTION_BLOBS_MAX)) < 0) {
			rc = n;
			goto out;
		}
		if ((rc = counter_process(p->counter, f, blobs, n, &wrap)))
			goto out;
	}
	if (p->inspector && (n = inspect_process(p->inspector, f, &wrap)) < 0)
		rc = n;
out:
	p->stats.frames++;
	p->stats.busy_ns += mw_mono_ns() - t0;
	p->out = NULL;
	return rc;
}

void pipeline_flush(struct pipeline *p, const struct vision_sink *sink)
{
	struct vision_sink wrap = {counting_emit, p};

	if (!p->counter)
		return;
	p->out = sink;
	counter_flush(p->counter, &wrap);
	p->out = NULL;
}

const char *pipeline_error(const struct pipeline *p)
{
	return p->error;
}

void pipeline_stats(const struct pipeline *p, struct pipeline_stats *out)
{
	*out = p->stats;
}
