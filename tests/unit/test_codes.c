/* test_codes.c -- reading Data Matrix and QR codes off a part.
 *
 * Codes are made by the real encoders (libdmtx's, libqrencode), drawn into
 * a noisy grey frame at a few module sizes and small rotations, blurred,
 * and read back through a region that is a strided view of the frame, as
 * the counter does with a part's box. What a user notices: the right serial
 * comes back; a scratched code or an empty region gives nothing rather
 * than a wrong serial; control bytes in a payload do not reach the event. */
#include "vision/codes.h"

#include <dmtx.h>
#include <math.h>
#include <qrencode.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FRAME_W 320
#define FRAME_H 240
#define REG_X 60 /* the region scanned: 160x120 inside the frame */
#define REG_Y 50
#define REG_W 160
#define REG_H 120
#define DARK 35
#define LIGHT 215

/* A symbol as a module grid, quiet zone included; dark[] is 1 for ink. */
struct symbol {
	int n;
	uint8_t *dark;
};

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static struct symbol symbol_alloc(int core, int quiet)
{
	struct symbol s = {core + 2 * quiet, NULL};

	s.dark = calloc((size_t)s.n * (size_t)s.n, 1);
	assert_non_null(s.dark);
	return s;
}

static struct symbol make_datamatrix(const unsigned char *payload, size_t len)
{
	DmtxEncode *enc = dmtxEncodeCreate();
	struct symbol s;
	int w, h;

	assert_non_null(enc);
	dmtxEncodeSetProp(enc, DmtxPropPixelPacking, DmtxPack8bppK);
	dmtxEncodeSetProp(enc, DmtxPropModuleSize, 1);
	dmtxEncodeSetProp(enc, DmtxPropMarginSize, 0);
	dmtxEncodeSetProp(enc, DmtxPropSizeRequest, DmtxSymbolSquareAuto);
	assert_int_equal(dmtxEncodeDataMatrix(enc, (int)len, (unsigned char *)payload), DmtxPass);
	w = dmtxImageGetProp(enc->image, DmtxPropWidth);
	h = dmtxImageGetProp(enc->image, DmtxPropHeight);
	assert_int_equal(w, h);
	s = symbol_alloc(w, 2);
	for (int r = 0; r < h; r++) {
		for (int c = 0; c < w; c++) {
			int v = 0;

			/* libdmtx counts rows from the bottom. */
			dmtxImageGetPixelValue(enc->image, c, h - 1 - r, 0, &v);
			s.dark[(size_t)(r + 2) * (size_t)s.n + (size_t)(c + 2)] = v < 128;
		}
	}
	dmtxEncodeDestroy(&enc);
	return s;
}

static struct symbol make_qr(const unsigned char *payload, size_t len)
{
	QRcode *qr = QRcode_encodeData((int)len, payload, 0, QR_ECLEVEL_M);
	struct symbol s;

	assert_non_null(qr);
	s = symbol_alloc(qr->width, 4);
	for (int r = 0; r < qr->width; r++)
		for (int c = 0; c < qr->width; c++)
			s.dark[(size_t)(r + 4) * (size_t)s.n + (size_t)(c + 4)] =
				qr->data[r * qr->width + c] & 1;
	QRcode_free(qr);
	return s;
}

/* Replaces a third of the symbol's modules, in a band through its middle,
 * with random ones: past what either code's error correction repairs. */
static void scratch(struct symbol *s)
{
	for (int r = s->n / 3; r < 2 * s->n / 3; r++)
		for (int c = 0; c < s->n; c++)
			s->dark[(size_t)r * (size_t)s->n + (size_t)c] = rng() & 1;
}

static void frame_noise(struct plane *f)
{
	for (int y = 0; y < f->height; y++)
		for (int x = 0; x < f->width; x++)
			plane_row(f, y)[x] = (uint8_t)(110 + rng() % 30);
}

/* Draws s centred at (cx, cy), module_px pixels a module, turned by deg
 * degrees, with 4x4 supersampling so edges are grey as a camera sees them. */
static void draw_symbol(struct plane *f, const struct symbol *s, double cx, double cy,
			double module_px, double deg)
{
	double a = deg * M_PI / 180.0, ca = cos(a), sa = sin(a);
	double half = s->n * module_px * 0.75;

	for (int y = (int)(cy - half); y <= (int)(cy + half); y++) {
		for (int x = (int)(cx - half); x <= (int)(cx + half); x++) {
			int ink = 0, in = 0;

			if (x < 0 || y < 0 || x >= f->width || y >= f->height)
				continue;
			for (int k = 0; k < 16; k++) {
				double dx = x + (k % 4 + 0.5) / 4 - cx,
				       dy = y + (k / 4 + 0.5) / 4 - cy;
				double u = (ca * dx + sa * dy) / module_px + s->n / 2.0;
				double v = (-sa * dx + ca * dy) / module_px + s->n / 2.0;

				if (u < 0 || v < 0 || u >= s->n || v >= s->n)
					continue;
				in++;
				ink += s->dark[(size_t)v * (size_t)s->n + (size_t)u];
			}
			if (in)
				plane_row(f, y)[x] = (uint8_t)((plane_row(f, y)[x] * (16 - in) +
								(in - ink) * LIGHT + ink * DARK) /
							       16);
		}
	}
}

/* 3x3 box blur, then a little sensor noise on top. */
static void blur(struct plane *f)
{
	struct plane t;

	assert_int_equal(plane_alloc(&t, f->width, f->height), MW_OK);
	plane_copy(&t, f);
	for (int y = 1; y < f->height - 1; y++) {
		for (int x = 1; x < f->width - 1; x++) {
			int sum = 0;

			for (int j = -1; j <= 1; j++)
				for (int i = -1; i <= 1; i++)
					sum += plane_row(&t, y + j)[x + i];
			sum = sum / 9 + (int)(rng() % 7) - 3;
			plane_row(f, y)[x] = (uint8_t)(sum < 0 ? 0 : sum > 255 ? 255 : sum);
		}
	}
	plane_free(&t);
}

struct fixture {
	struct plane frame;
	struct plane region;
	struct code_reader *reader;
	struct code_result res[4];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx || plane_alloc(&fx->frame, FRAME_W, FRAME_H))
		return -1;
	fx->region = plane_view(&fx->frame, REG_X, REG_Y, REG_W, REG_H);
	if (code_reader_new(CODE_ALL, 5000, &fx->reader))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	code_reader_free(fx->reader);
	plane_free(&fx->frame);
	free(fx);
	return 0;
}

/* Draws s in the middle of the region on a fresh noisy frame and scans. */
static int draw_and_scan(struct fixture *fx, const struct symbol *s, double module_px, double deg)
{
	int n;

	frame_noise(&fx->frame);
	draw_symbol(&fx->frame, s, REG_X + REG_W / 2.0, REG_Y + REG_H / 2.0, module_px, deg);
	blur(&fx->frame);
	memset(fx->res, 0, sizeof(fx->res));
	n = code_reader_scan(fx->reader, &fx->region, fx->res, 4);
	assert_true(n >= 0);
	return n;
}

/* The code's box must cover the region's centre, where it was drawn. */
static void assert_box_central(const struct code_result *r)
{
	assert_true(r->box.x < REG_W / 2 && r->box.x + r->box.w > REG_W / 2);
	assert_true(r->box.y < REG_H / 2 && r->box.y + r->box.h > REG_H / 2);
}

static void test_datamatrix_reads(void **state)
{
	static const double sizes[] = {3.5, 4.5, 6.0};
	static const double angles[] = {0.0, 6.0, -11.0};
	const char *text = "SN-000123-A";
	struct fixture *fx = *state;
	struct symbol s = make_datamatrix((const unsigned char *)text, strlen(text));

	for (size_t i = 0; i < 3; i++) {
		for (size_t j = 0; j < 3; j++) {
			int n = draw_and_scan(fx, &s, sizes[i], angles[j]);

			assert_int_equal(n, 1);
			assert_int_equal(fx->res[0].sym, CODE_DATAMATRIX);
			assert_string_equal(fx->res[0].text, text);
			assert_box_central(&fx->res[0]);
		}
	}
	free(s.dark);
}

static void test_qr_reads(void **state)
{
	static const double sizes[] = {3.0, 3.5, 4.0};
	static const double angles[] = {0.0, 5.0, -9.0};
	const char *text = "LOT7/SN:0042-QR";
	struct fixture *fx = *state;
	struct symbol s = make_qr((const unsigned char *)text, strlen(text));

	for (size_t i = 0; i < 3; i++) {
		for (size_t j = 0; j < 3; j++) {
			int n = draw_and_scan(fx, &s, sizes[i], angles[j]);

			assert_int_equal(n, 1);
			assert_int_equal(fx->res[0].sym, CODE_QR);
			assert_string_equal(fx->res[0].text, text);
			assert_box_central(&fx->res[0]);
		}
	}
	free(s.dark);
}

static void test_damaged_reads_nothing(void **state)
{
	const char *text = "SN-998877-Z";
	struct fixture *fx = *state;
	struct symbol dm = make_datamatrix((const unsigned char *)text, strlen(text));
	struct symbol qr = make_qr((const unsigned char *)text, strlen(text));

	/* Intact, both read: the damage is what makes them fail below. */
	assert_int_equal(draw_and_scan(fx, &dm, 5.0, 0.0), 1);
	assert_int_equal(draw_and_scan(fx, &qr, 4.0, 0.0), 1);
	scratch(&dm);
	scratch(&qr);
	assert_int_equal(draw_and_scan(fx, &dm, 5.0, 0.0), 0);
	assert_int_equal(draw_and_scan(fx, &qr, 4.0, 0.0), 0);
	free(dm.dark);
	free(qr.dark);
}

static void test_empty_region_reads_nothing(void **state)
{
	struct fixture *fx = *state;

	frame_noise(&fx->frame);
	blur(&fx->frame);
	assert_int_equal(code_reader_scan(fx->reader, &fx->region, fx->res, 4), 0);
	for (int y = 0; y < FRAME_H; y++)
		memset(plane_row(&fx->frame, y), 128, FRAME_W);
	assert_int_equal(code_reader_scan(fx->reader, &fx->region, fx->res, 4), 0);
}

static void test_unprintable_payload_sanitized(void **state)
{
	static const unsigned char dm_payload[] = {'A', 'B', 0x01, 0x7f, 0xe9, 'C', '"', '\\'};
	static const unsigned char qr_payload[] = {'Q', 0x1b, '[', '2', 'J', 0x0a, 'R'};
	struct fixture *fx = *state;
	struct symbol dm = make_datamatrix(dm_payload, sizeof(dm_payload));
	struct symbol qr = make_qr(qr_payload, sizeof(qr_payload));

	assert_int_equal(draw_and_scan(fx, &dm, 5.0, 0.0), 1);
	assert_string_equal(fx->res[0].text, "AB???C\"\\");
	assert_int_equal(draw_and_scan(fx, &qr, 4.0, 0.0), 1);
	assert_string_equal(fx->res[0].text, "Q?[2J?R");
	free(dm.dark);
	free(qr.dark);
}

/* Two codes on one part: both come back, and max is honoured. */
static void test_two_codes_and_max(void **state)
{
	struct fixture *fx = *state;
	struct symbol dm = make_datamatrix((const unsigned char *)"DM-1", 4);
	struct symbol qr = make_qr((const unsigned char *)"QR-2", 4);
	int seen = 0;

	frame_noise(&fx->frame);
	draw_symbol(&fx->frame, &dm, REG_X + 40, REG_Y + REG_H / 2.0, 4.0, 0.0);
	draw_symbol(&fx->frame, &qr, REG_X + 115, REG_Y + REG_H / 2.0, 3.0, 0.0);
	blur(&fx->frame);
	assert_int_equal(code_reader_scan(fx->reader, &fx->region, fx->res, 4), 2);
	for (int i = 0; i < 2; i++) {
		if (fx->res[i].sym == CODE_DATAMATRIX && !strcmp(fx->res[i].text, "DM-1"))
			seen |= 1;
		if (fx->res[i].sym == CODE_QR && !strcmp(fx->res[i].text, "QR-2"))
			seen |= 2;
	}
	assert_int_equal(seen, 3);
	assert_int_equal(code_reader_scan(fx->reader, &fx->region, fx->res, 1), 1);
	free(dm.dark);
	free(qr.dark);
}

/* A reader for QR only does not report a Data Matrix, and the other way round. */
static void test_symbology_mask(void **state)
{
	struct fixture *fx = *state;
	struct symbol dm = make_datamatrix((const unsigned char *)"ONLY-DM", 7);
	struct code_reader *qr_only = NULL, *dm_only = NULL;
	struct code_result r[2];

	assert_int_equal(code_reader_new(CODE_QR, 100, &qr_only), MW_OK);
	assert_int_equal(code_reader_new(CODE_DATAMATRIX, 100, &dm_only), MW_OK);
	assert_int_equal(draw_and_scan(fx, &dm, 5.0, 0.0), 1);
	assert_int_equal(code_reader_scan(qr_only, &fx->region, r, 2), 0);
	assert_int_equal(code_reader_scan(dm_only, &fx->region, r, 2), 1);
	assert_string_equal(r[0].text, "ONLY-DM");
	code_reader_free(qr_only);
	code_reader_free(dm_only);
	free(dm.dark);
}

static void test_bad_arguments(void **state)
{
	struct code_reader *r = (struct code_reader *)&r;

	(void)state;
	assert_int_equal(code_reader_new(0, 100, &r), MW_ERR_INVALID);
	assert_null(r);
	assert_int_equal(code_reader_new(8, 100, &r), MW_ERR_INVALID);
	assert_int_equal(code_reader_new(CODE_QR, 0, &r), MW_ERR_INVALID);
	assert_string_equal(code_symbology_name(CODE_BARCODE), "barcode");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_datamatrix_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qr_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_reads_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_region_reads_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unprintable_payload_sanitized, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_two_codes_and_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symbology_mask, setup, teardown),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
