/* snapshot.c -- grayscale JPEG snapshots; see snapshot.h.
 *
 * Steps: downscale into a private plane with libswscale (SWS_AREA: each
 * output pixel averages the input pixels it covers, so thin defects fade
 * rather than alias away), draw the highlight on that copy with the box
 * scaled by the same factor, then tjCompress2 with TJPF_GRAY/TJSAMP_GRAY
 * (one component: a third smaller than a 4:2:0 colour JPEG of the same
 * luma, and the detectors only see luma anyway). Without downscaling and
 * without a highlight the caller's plane is compressed in place, no copy.
 * The outline is two pixels, white inside black, so it stays visible on a
 * bright part as on a dark belt. */
#include "vision/snapshot.h"

#include "core/log.h"

#include <libswscale/swscale.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

struct snapshot_encoder {
	tjhandle tj;
	struct SwsContext *sws;
};

int snapshot_encoder_new(struct snapshot_encoder **out)
{
	struct snapshot_encoder *enc = calloc(1, sizeof(*enc));

	if (!enc)
		return MW_ERR_NOMEM;
	if (!(enc->tj = tjInitCompress())) {
		free(enc);
		log_error("snapshot cannot create a JPEG compressor err=\"%s\"",
			  tjGetErrorStr2(NULL));
		return MW_ERR_NOMEM;
	}
	*out = enc;
	return MW_OK;
}

void snapshot_encoder_free(struct snapshot_encoder *enc)
{
	if (!enc)
		return;
	if (enc->tj)
		tjDestroy(enc->tj);
	sws_freeContext(enc->sws);
	free(enc);
}

static void hline(struct plane *p, int x0, int x1, int y, uint8_t v)
{
	if (y < 0 || y >= p->height)
		return;
	x0 = x0 < 0 ? 0 : x0;
	x1 = x1 >= p->width ? p->width - 1 : x1;
	if (x1 >= x0)
		memset(plane_row(p, y) + x0, v, (size_t)(x1 - x0 + 1));
}

static void vline(struct plane *p, int x, int y0, int y1, uint8_t v)
{
	if (x < 0 || x >= p->width)
		return;
	y0 = y0 < 0 ? 0 : y0;
	y1 = y1 >= p->height ? p->height - 1 : y1;
	for (int y = y0; y <= y1; y++)
		plane_row(p, y)[x] = v;
}

/* One rectangle outline at inset d from (x0,y0)-(x1,y1). */
static void rect(struct plane *p, int x0, int y0, int x1, int y1, int d, uint8_t v)
{
	hline(p, x0 + d, x1 - d, y0 + d, v);
	hline(p, x0 + d, x1 - d, y1 - d, v);
	vline(p, x0 + d, y0 + d, y1 - d, v);
	vline(p, x1 - d, y0 + d, y1 - d, v);
}

static void draw_box(struct plane *p, const struct bbox *b, double sx, double sy)
{
	int x0 = (int)(b->x * sx), y0 = (int)(b->y * sy);
	int x1 = (int)((b->x + b->w) * sx) - 1, y1 = (int)((b->y + b->h) * sy) - 1;

	if (x1 < x0)
		x1 = x0;
	if (y1 < y0)
		y1 = y0;
	rect(p, x0, y0, x1, y1, 0, 0);
	rect(p, x0, y0, x1, y1, 1, 255);
}

static int scale_into(struct snapshot_encoder *enc, const struct plane *src, struct plane *dst)
{
	const uint8_t *const sp[4] = {src->data, NULL, NULL, NULL};
	const int ss[4] = {(int)src->stride, 0, 0, 0};
	uint8_t *const dp[4] = {dst->data, NULL, NULL, NULL};
	const int ds[4] = {(int)dst->stride, 0, 0, 0};

	enc->sws = sws_getCachedContext(enc->sws, src->width, src->height, AV_PIX_FMT_GRAY8,
					dst->width, dst->height, AV_PIX_FMT_GRAY8, SWS_AREA, NULL,
					NULL, NULL);
	if (!enc->sws) {
		log_error("snapshot cannot scale %dx%d to %dx%d", src->width, src->height,
			  dst->width, dst->height);
		return MW_ERR_INVALID;
	}
	if (sws_scale(enc->sws, sp, ss, 0, src->height, dp, ds) != dst->height)
		return MW_ERR_INVALID;
	return MW_OK;
}

/* The plane to compress: luma itself, or a scaled/annotated copy in tmp. */
static int prepare(struct snapshot_encoder *enc, const struct plane *luma, const struct bbox *hl,
		   int max_width, struct plane *tmp, const struct plane **img)
{
	int w = luma->width, h = luma->height, rc;

	*img = luma;
	if (max_width > 0 && w > max_width) {
		h = (int)((int64_t)h * max_width / w);
		w = max_width;
		h = h < 1 ? 1 : h;
	}
	if (w == luma->width && !hl)
		return MW_OK;
	if ((rc = plane_alloc(tmp, w, h)))
		return rc;
	if (w == luma->width)
		plane_copy(tmp, luma);
	else if ((rc = scale_into(enc, luma, tmp)))
		return rc;
	if (hl)
		draw_box(tmp, hl, (double)w / luma->width, (double)h / luma->height);
	*img = tmp;
	return MW_OK;
}

static int compress(struct snapshot_encoder *enc, const struct plane *img, int quality,
		    struct buf *out)
{
	unsigned char *jpeg = NULL;
	unsigned long len = 0;
	int rc;

	if (tjCompress2(enc->tj, img->data, img->width, (int)img->stride, img->height, TJPF_GRAY,
			&jpeg, &len, TJSAMP_GRAY, quality, TJFLAG_FASTDCT) != 0) {
		log_error("snapshot JPEG encoding failed err=\"%s\"", tjGetErrorStr2(enc->tj));
		tjFree(jpeg);
		return MW_ERR_INVALID;
	}
	rc = buf_add(out, jpeg, len);
	tjFree(jpeg);
	return rc;
}

int snapshot_jpeg(struct snapshot_encoder *enc, const struct plane *luma,
		  const struct bbox *highlight, int max_width, int quality, struct buf *out)
{
	struct snapshot_encoder *own = NULL;
	struct plane tmp = {0};
	const struct plane *img;
	int rc;

	if (!luma || !luma->data || luma->width < 1 || luma->height < 1 || quality < 1 ||
	    quality > 100 || max_width < 0)
		return MW_ERR_INVALID;
	if (!enc) {
		if ((rc = snapshot_encoder_new(&own)))
			return rc;
		enc = own;
	}
	if ((rc = prepare(enc, luma, highlight, max_width, &tmp, &img)))
		goto out;
	rc = compress(enc, img, quality, out);
out:
	plane_free(&tmp);
	snapshot_encoder_free(own);
	return rc;
}
