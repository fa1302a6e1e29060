/* plane.c -- 8-bit planes and the helper that turns a finding into an event.
 *
 * Rows are 64-byte aligned with a stride rounded up to 64, so that the
 * detectors' row loops start on a cache line and vector loads never split
 * one at the start of a row. */
#include "vision/vision.h"

#include <stdlib.h>
#include <string.h>

#define ROW_ALIGN 64

int plane_alloc(struct plane *p, int width, int height)
{
	size_t stride, bytes;

	memset(p, 0, sizeof(*p));
	if (width < 1 || height < 1 || width > VISION_DIM_MAX || height > VISION_DIM_MAX)
		return MW_ERR_INVALID;
	stride = ((size_t)width + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
	bytes = stride * (size_t)height;
	p->data = aligned_alloc(ROW_ALIGN, bytes);
	if (!p->data)
		return MW_ERR_NOMEM;
	memset(p->data, 0, bytes);
	p->width = width;
	p->height = height;
	p->stride = (ptrdiff_t)stride;
	return MW_OK;
}

void plane_free(struct plane *p)
{
	free(p->data);
	memset(p, 0, sizeof(*p));
}

void plane_copy(struct plane *dst, const struct plane *src)
{
	for (int y = 0; y < src->height; y++)
		memcpy(plane_row(dst, y), plane_row(src, y), (size_t)src->width);
}

struct plane plane_view(const struct plane *p, int x, int y, int w, int h)
{
	struct plane v = {p->data + (ptrdiff_t)y * p->stride + x, w, h, p->stride};
	return v;
}

int vision_event(struct event *e, const char *camera, const char *kind,
		 enum severity severity, const struct frame *frame, json_t *attrs)
{
	char err[256];
	int rc;

	event_init(e);
	e->severity = severity;
	e->ts = frame->wall_ns;
	if (mw_strlcpy(e->source, camera, sizeof(e->source)) ||
	    mw_strlcpy(e->kind, kind, sizeof(e->kind))) {
		json_decref(attrs);
		return MW_ERR_INVALID;
	}
	rc = attrs ? event_set_attrs(e, attrs, err, sizeof(err)) : MW_OK;
	json_decref(attrs);
	if (rc)
		event_clear(e);
	return rc;
}
