/* codes.c -- Data Matrix, QR and 1D barcode reading over a region of luma.
 *
 * Both libraries want a packed grey image (no stride), so the region is
 * first copied into a buffer the reader keeps and grows; that copy costs
 * far less than either decoder. zbar's scanner is made once and reused.
 * libdmtx ties its decoder to one image (it caches per-pixel state), so a
 * DmtxDecode is made per call; its region search, the slow part, is bounded
 * by the reader's timeout and told the smallest symbol size worth trying.
 * Regions wider than DMTX_SHRINK_ABOVE pixels are searched at half
 * resolution: a code on a part seen whole is still several pixels a module.
 * Small regions (a part in a 360p view: 3 px modules, often blurred and
 * noisy) are enlarged first, with libswscale's bicubic filter, by 3/2 and,
 * when that reads nothing and time is left, by 4/3. Over the boxes of
 * parts in noisy, blurred 360p conveyor clips, 3/2 alone read 87%, the
 * second scale took that to 95% (the rest mostly damaged codes or parts
 * half hidden), where the bilinear 2x enlargement used before read 61%
 * and took twice the time: a 2x image is four times the area libdmtx
 * searches, and on noise its edge following often ran into the timeout.
 * Both tries share the one timeout.
 *
 * libdmtx's image coordinates grow upwards from the bottom row, hence the
 * flip when its corners are turned into a box. */
#include "vision/codes.h"

#include "core/log.h"

#include <dmtx.h>
#include <libswscale/swscale.h>
#include <stdlib.h>
#include <string.h>
#include <zbar.h>

#define DMTX_EDGE_MIN 10      /* px: smaller symbols cannot be read anyway */
#define DMTX_SHRINK_ABOVE 640 /* px of the region's longer side */
#define DMTX_SCAN_GAP 2	      /* px between the search's probe lines */
/* Regions smaller than this (longer side, px) are searched enlarged, at
 * these scales in turn (numerator, denominator) until one reads. */
#define DMTX_ENLARGE_BELOW 128
static const int dmtx_scales[][2] = {{3, 2}, {4, 3}};
#define PAD 64 /* bytes past the images, for swscale's vector loads and stores */
/* Stricter than libdmtx's defaults (10 and 40): a printed or marked code
 * is high-contrast and nearly square in view, and weak or skewed edges are
 * what libdmtx wastes its time following. On the scenes' labels this cut a
 * successful read from ~8 ms to ~2 ms at 1080p. */
#define DMTX_EDGE_THRESH 20   /* least edge strength followed, 1..100 */
#define DMTX_SQUARE_DEVN 25   /* degrees a corner may differ from a right angle */

struct code_reader {
	unsigned syms;
	long dmtx_timeout_ms;
	zbar_image_scanner_t *zbar; /* NULL when neither QR nor barcodes are wanted */
	zbar_image_t *zimg;
	uint8_t *buf; /* packed copy of the region */
	size_t cap;
	uint8_t *big; /* the enlargement of a small region, for libdmtx */
	size_t big_cap;
	struct SwsContext *sws; /* the enlargement's, rebuilt when the sizes change */
};

static const zbar_symbol_type_t barcode_types[] = {
	ZBAR_EAN8,    ZBAR_UPCE,   ZBAR_UPCA,	ZBAR_EAN13,   ZBAR_I25,
	ZBAR_CODABAR, ZBAR_CODE39, ZBAR_CODE93, ZBAR_CODE128,
};

const char *code_symbology_name(enum code_symbology sym)
{
	switch (sym) {
	case CODE_DATAMATRIX: return "datamatrix";
	case CODE_QR: return "qr";
	case CODE_BARCODE: return "barcode";
	}
	return "unknown";
}

/* Printable ASCII only: the text ends up in event attrs, logs and UIs. */
static void sanitize(char *dst, size_t cap, const unsigned char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < cap; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
	dst[i] = '\0';
}

static int zbar_setup(struct code_reader *r)
{
	r->zbar = zbar_image_scanner_create();
	r->zimg = zbar_image_create();
	if (!r->zbar || !r->zimg)
		return MW_ERR_NOMEM;
	zbar_image_set_format(r->zimg, zbar_fourcc('Y', '8', '0', '0'));
	/* Everything off, then only what was asked for: fewer decoders, fewer false reads. */
	zbar_image_scanner_set_config(r->zbar, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
	if (r->syms & CODE_QR) {
		zbar_image_scanner_set_config(r->zbar, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
		/* Raw bytes rather than zbar's charset guess; sanitize() decides. */
		zbar_image_scanner_set_config(r->zbar, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1);
	}
	if (r->syms & CODE_BARCODE) {
		for (size_t i = 0; i < sizeof(barcode_types) / sizeof(barcode_types[0]); i++)
			zbar_image_scanner_set_config(r->zbar, barcode_types[i], ZBAR_CFG_ENABLE,
						      1);
	}
	return MW_OK;
}

int code_reader_new(unsigned symbologies, int64_t dmtx_timeout_ms, struct code_reader **out)
{
	struct code_reader *r;
	int rc = MW_OK;

	*out = NULL;
	if (!symbologies || (symbologies & ~(unsigned)CODE_ALL) || dmtx_timeout_ms < 1 ||
	    dmtx_timeout_ms > 60000)
		return MW_ERR_INVALID;
	r = calloc(1, sizeof(*r));
	if (!r)
		return MW_ERR_NOMEM;
	r->syms = symbologies;
	r->dmtx_timeout_ms = (long)dmtx_timeout_ms;
	if (symbologies & (CODE_QR | CODE_BARCODE))
		rc = zbar_setup(r);
	if (rc)
		goto fail;
	*out = r;
	return MW_OK;
fail:
	code_reader_free(r);
	return rc;
}

void code_reader_free(struct code_reader *r)
{
	if (!r)
		return;
	if (r->zimg)
		zbar_image_destroy(r->zimg);
	if (r->zbar)
		zbar_image_scanner_destroy(r->zbar);
	sws_freeContext(r->sws);
	free(r->buf);
	free(r->big);
	free(r);
}

static int pack_region(struct code_reader *r, const struct plane *region)
{
	size_t need = (size_t)region->width * (size_t)region->height;

	if (need > r->cap) {
		uint8_t *nb = realloc(r->buf, need + PAD);

		if (!nb)
			return MW_ERR_NOMEM;
		r->buf = nb;
		r->cap = need;
	}
	for (int y = 0; y < region->height; y++)
		memcpy(r->buf + (size_t)y * (size_t)region->width, plane_row(region, y),
		       (size_t)region->width);
	return MW_OK;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The box around libdmtx's fitted corners, in top-down region pixels. */
static struct bbox dmtx_box(DmtxRegion *reg, int shrink, int width, int height)
{
	static const double cx[4] = {0, 1, 1, 0}, cy[4] = {0, 0, 1, 1};
	double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
	struct bbox b;

	for (int i = 0; i < 4; i++) {
		DmtxVector2 p = {cx[i], cy[i]};

		dmtxMatrix3VMultiplyBy(&p, reg->fit2raw);
		x0 = p.X < x0 ? p.X : x0;
		x1 = p.X > x1 ? p.X : x1;
		y0 = p.Y < y0 ? p.Y : y0;
		y1 = p.Y > y1 ? p.Y : y1;
	}
	b.x = clampi((int)(x0 * shrink), 0, width - 1);
	b.w = clampi((int)(x1 * shrink + 0.5), b.x + 1, width) - b.x;
	b.y = clampi(height - (int)(y1 * shrink + 0.5), 0, height - 1);
	b.h = clampi(height - (int)(y0 * shrink), b.y + 1, height) - b.y;
	return b;
}

/* One libdmtx search over a packed width x height image, until timeout. */
static int scan_dmtx_at(uint8_t *pixels, int width, int height, DmtxTime *timeout,
			struct code_result *out, int max)
{
	int shrink = (width > DMTX_SHRINK_ABOVE || height > DMTX_SHRINK_ABOVE) ? 2 : 1;
	DmtxImage *img = dmtxImageCreate(pixels, width, height, DmtxPack8bppK);
	DmtxDecode *dec = NULL;
	DmtxRegion *reg;
	int n = 0;

	if (!img)
		return MW_ERR_NOMEM;
	dec = dmtxDecodeCreate(img, shrink);
	if (!dec) {
		dmtxImageDestroy(&img);
		return MW_ERR_NOMEM;
	}
	dmtxDecodeSetProp(dec, DmtxPropEdgeMin, DMTX_EDGE_MIN / shrink);
	dmtxDecodeSetProp(dec, DmtxPropEdgeMax, (width > height ? width : height) / shrink);
	dmtxDecodeSetProp(dec, DmtxPropScanGap, DMTX_SCAN_GAP);
	dmtxDecodeSetProp(dec, DmtxPropEdgeThresh, DMTX_EDGE_THRESH);
	dmtxDecodeSetProp(dec, DmtxPropSquareDevn, DMTX_SQUARE_DEVN);
	while (n < max && (reg = dmtxRegionFindNext(dec, timeout)) != NULL) {
		DmtxMessage *msg = dmtxDecodeMatrixRegion(dec, reg, DmtxUndefined);

		if (msg) {
			out[n].sym = CODE_DATAMATRIX;
			sanitize(out[n].text, sizeof(out[n].text), msg->output,
				 (size_t)msg->outputIdx);
			out[n].box = dmtx_box(reg, shrink, width, height);
			n++;
			dmtxMessageDestroy(&msg);
		}
		dmtxRegionDestroy(&reg);
	}
	dmtxDecodeDestroy(&dec);
	dmtxImageDestroy(&img);
	return n;
}

/* r->big = r->buf (width x height) scaled to bw x bh, bicubic. */
static int enlarge(struct code_reader *r, int width, int height, int bw, int bh)
{
	size_t need = (size_t)bw * (size_t)bh + PAD;
	const uint8_t *src[4] = {r->buf};
	uint8_t *dst[4];
	int sstride[4] = {width}, dstride[4] = {bw};

	if (need > r->big_cap) {
		uint8_t *nb = realloc(r->big, need);

		if (!nb)
			return MW_ERR_NOMEM;
		r->big = nb;
		r->big_cap = need;
	}
	dst[0] = r->big;
	r->sws = sws_getCachedContext(r->sws, width, height, AV_PIX_FMT_GRAY8, bw, bh,
				      AV_PIX_FMT_GRAY8, SWS_BICUBIC, NULL, NULL, NULL);
	if (!r->sws)
		return MW_ERR_NOMEM;
	return sws_scale(r->sws, src, sstride, 0, height, dst, dstride) == bh ? MW_OK
									    : MW_ERR_INVALID;
}

/* A small region: each scale of dmtx_scales in turn, within one timeout. */
static int scan_dmtx_small(struct code_reader *r, int width, int height, DmtxTime *timeout,
			   struct code_result *out, int max)
{
	int n = 0;

	for (size_t k = 0; k < sizeof(dmtx_scales) / sizeof(dmtx_scales[0]); k++) {
		int num = dmtx_scales[k][0], den = dmtx_scales[k][1];
		int bw = (width * num + den - 1) / den, bh = (height * num + den - 1) / den;
		int rc;

		if (k > 0 && dmtxTimeExceeded(*timeout))
			break;
		rc = enlarge(r, width, height, bw, bh);
		if (rc)
			return rc;
		n = scan_dmtx_at(r->big, bw, bh, timeout, out, max);
		if (n != 0) {
			for (int i = 0; i < n; i++) { /* back to the region's pixels */
				struct bbox *b = &out[i].box;
				int x1 = ((b->x + b->w) * den + num - 1) / num;
				int y1 = ((b->y + b->h) * den + num - 1) / num;

				b->x = b->x * den / num;
				b->y = b->y * den / num;
				b->w = clampi(x1, b->x + 1, width) - b->x;
				b->h = clampi(y1, b->y + 1, height) - b->y;
			}
			break;
		}
	}
	return n;
}

static int scan_dmtx(struct code_reader *r, int width, int height, struct code_result *out, int max)
{
	DmtxTime timeout = dmtxTimeAdd(dmtxTimeNow(), r->dmtx_timeout_ms);

	if (width >= DMTX_ENLARGE_BELOW || height >= DMTX_ENLARGE_BELOW)
		return scan_dmtx_at(r->buf, width, height, &timeout, out, max);
	return scan_dmtx_small(r, width, height, &timeout, out, max);
}

static struct bbox zbar_box(const zbar_symbol_t *s, int width, int height)
{
	unsigned n = zbar_symbol_get_loc_size(s);
	int x0 = width, y0 = height, x1 = 0, y1 = 0;
	struct bbox b = {0, 0, width, height};

	if (!n)
		return b;
	for (unsigned i = 0; i < n; i++) {
		int x = zbar_symbol_get_loc_x(s, i), y = zbar_symbol_get_loc_y(s, i);

		x0 = x < x0 ? x : x0;
		x1 = x > x1 ? x : x1;
		y0 = y < y0 ? y : y0;
		y1 = y > y1 ? y : y1;
	}
	b.x = clampi(x0, 0, width - 1);
	b.y = clampi(y0, 0, height - 1);
	b.w = clampi(x1 + 1, b.x + 1, width) - b.x;
	b.h = clampi(y1 + 1, b.y + 1, height) - b.y;
	return b;
}

static int scan_zbar(struct code_reader *r, int width, int height, struct code_result *out, int max)
{
	const zbar_symbol_t *s;
	int n = 0;

	zbar_image_scanner_recycle_image(r->zbar, r->zimg);
	zbar_image_set_size(r->zimg, (unsigned)width, (unsigned)height);
	zbar_image_set_data(r->zimg, r->buf, (unsigned long)width * (unsigned long)height, NULL);
	if (zbar_scan_image(r->zbar, r->zimg) < 0)
		return MW_ERR_INVALID;
	for (s = zbar_image_first_symbol(r->zimg); s && n < max; s = zbar_symbol_next(s)) {
		out[n].sym = zbar_symbol_get_type(s) == ZBAR_QRCODE ? CODE_QR : CODE_BARCODE;
		sanitize(out[n].text, sizeof(out[n].text),
			 (const unsigned char *)zbar_symbol_get_data(s),
			 zbar_symbol_get_data_length(s));
		out[n].box = zbar_box(s, width, height);
		n++;
	}
	return n;
}

int code_reader_scan(struct code_reader *r, const struct plane *region, struct code_result *out,
		     int max)
{
	int n = 0, rc;

	if (!region->data || region->width < 1 || region->height < 1 || max < 0)
		return MW_ERR_INVALID;
	if (max == 0)
		return 0;
	rc = pack_region(r, region);
	if (rc)
		return rc;
	if (r->zbar) {
		rc = scan_zbar(r, region->width, region->height, out, max);
		if (rc < 0)
			return rc;
		n = rc;
	}
	if ((r->syms & CODE_DATAMATRIX) && n < max) {
		rc = scan_dmtx(r, region->width, region->height, out + n, max - n);
		if (rc < 0)
			return rc;
		n += rc;
	}
	return n;
}
