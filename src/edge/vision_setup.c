/* vision_setup.c -- from a camera's config to its pipeline and source. */
#include "edge/vision_worker.h"

#include "vision/simsrc.h"

#include <stdio.h>
#include <string.h>

static void zones(const struct edge_camera_config *cam, struct pipeline_options *o)
{
	const struct edge_zone_config *z = cam->zones.items;

	o->nzones = (int)cam->zones.n;
	for (int i = 0; i < o->nzones; i++) {
		struct zone_def *d = &o->zones[i];
		mw_strlcpy(d->name, z[i].name, sizeof(d->name));
		d->npts = z[i].polygon.n;
		for (int k = 0; k < d->npts; k++)
			d->pts[k] = (struct point){z[i].polygon.xy[2 * k], z[i].polygon.xy[2 * k + 1]};
		d->severity = (enum severity)z[i].severity;
	}
}

int vw__pipeline_options(const struct edge_config *c, const struct edge_camera_config *cam,
			 struct pipeline_options *out, char *err, size_t errlen)
{
	static const int directions[] = {0, 1, -1};
	static const unsigned codes[] = {0, CODE_DATAMATRIX, CODE_QR, CODE_BARCODE, CODE_ALL};

	memset(out, 0, sizeof(*out));
	out->camera = cam->id;
	zones(cam, out);
	out->zone_enter_ms = cam->zone_enter_ms;
	out->zone_leave_ms = cam->zone_leave_ms;
	out->motion.scale = (int)cam->motion_scale;
	out->motion.threshold = (int)cam->motion_threshold;
	out->motion.min_area = (int)cam->motion_min_area;
	if (cam->count_line.n == 2) {
		out->count_line[0] = (struct point){cam->count_line.xy[0], cam->count_line.xy[1]};
		out->count_line[1] = (struct point){cam->count_line.xy[2], cam->count_line.xy[3]};
	}
	out->count_direction = directions[cam->count_direction];
	out->count_codes = codes[cam->count_codes];
	out->count_min_gap_ms = cam->count_min_gap_ms;
	if (cam->inspect_roi.w > 0 &&
	    edge_camera_model_path(c, cam, out->inspect_model, sizeof(out->inspect_model))) {
		snprintf(err, errlen, "camera %s: inspection.model: path too long", cam->id);
		return MW_ERR_INVALID;
	}
	out->inspect_threshold = cam->inspect_threshold;
	out->inspect_severity = (enum severity)cam->inspect_severity;
	return MW_OK;
}

int vw__source(const struct edge_camera_config *cam, bool realtime, struct frame_source *out,
	       char *err, size_t errlen)
{
	struct input_options io = {.camera = cam->id, .url = cam->url, .realtime = realtime};

	if (strncmp(cam->url, "sim://", 6) == 0)
		return simsrc_new(cam->id, cam->url, realtime, out, err, errlen);
	if (camera_input_source(&io, out)) {
		snprintf(err, errlen, "camera %s: out of memory", cam->id);
		return MW_ERR_NOMEM;
	}
	return MW_OK;
}

const struct edge_camera_config *vw__find_camera(const struct edge_config *c, const char *id,
						 char *err, size_t errlen)
{
	size_t n = 0;

	if (c->cameras.n == 0) {
		snprintf(err, errlen, "the config has no cameras (see `mw-edge --help-config`, "
			 "cameras[])");
		return NULL;
	}
	if (!id && c->cameras.n == 1)
		return edge_camera(c, 0);
	for (size_t i = 0; id && i < c->cameras.n; i++)
		if (strcmp(edge_camera(c, i)->id, id) == 0)
			return edge_camera(c, i);
	n = (size_t)snprintf(err, errlen, "%s; the config has:",
			     id ? "no such camera" : "several cameras: say which with --camera ID");
	for (size_t i = 0; i < c->cameras.n && n < errlen; i++)
		n += (size_t)snprintf(err + n, errlen - n, " %s", edge_camera(c, i)->id);
	return NULL;
}
