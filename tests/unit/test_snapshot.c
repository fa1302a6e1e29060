/* test_snapshot.c -- JPEG evidence snapshots, checked by decoding them.
 *
 * What a user looking at the evidence would notice: the picture is the
 * frame (same size, pixels within JPEG's error), the reported box is drawn
 * where the finding was and nowhere else, a wide frame is shrunk to the
 * configured width with its aspect ratio, and the source frame is never
 * drawn on. */
#include "core/buf.h"
#include "vision/snapshot.h"
#include "vision/vision.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include <cmocka.h>

/* A smooth gradient with a darker square: content JPEG keeps well. */
static void draw(struct plane *p)
{
	for (int y = 0; y < p->height; y++)
		for (int x = 0; x < p->width; x++) {
			int v = 60 + (x * 120) / p->width + (y * 40) / p->height;
			if (x >= p->width / 4 && x < p->width / 2 && y >= p->height / 4 &&
			    y < p->height / 2)
				v = 40;
			plane_row(p, y)[x] = (uint8_t)v;
		}
}

/* Decodes a grayscale JPEG into a fresh plane. */
static void decode(const struct buf *jpeg, struct plane *out)
{
	tjhandle tj = tjInitDecompress();
	int w, h, sub, cs;

	assert_non_null(tj);
	assert_int_equal(tjDecompressHeader3(tj, (const unsigned char *)jpeg->data, jpeg->len, &w,
					     &h, &sub, &cs),
			 0);
	assert_int_equal(sub, TJSAMP_GRAY);
	assert_int_equal(plane_alloc(out, w, h), MW_OK);
	assert_int_equal(tjDecompress2(tj, (const unsigned char *)jpeg->data, jpeg->len, out->data,
				       w, (int)out->stride, h, TJPF_GRAY, 0),
			 0);
	tjDestroy(tj);
}

static double mean_abs_diff(const struct plane *a, const struct plane *b)
{
	double sum = 0;
	for (int y = 0; y < a->height; y++)
		for (int x = 0; x < a->width; x++)
			sum += abs((int)plane_row(a, y)[x] - (int)plane_row(b, y)[x]);
	return sum / ((double)a->width * a->height);
}

static void round_trip_same_picture(void **state)
{
	struct plane src, got;
	struct buf jpeg;
	struct snapshot_encoder *enc;

	assert_int_equal(plane_alloc(&src, 320, 240), MW_OK);
	draw(&src);
	buf_init(&jpeg, 16 << 20);
	assert_int_equal(snapshot_encoder_new(&enc), MW_OK);
	assert_int_equal(snapshot_jpeg(enc, &src, NULL, 0, 90, &jpeg), MW_OK);
	assert_true(jpeg.len > 2);
	assert_int_equal((uint8_t)jpeg.data[0], 0xff);
	assert_int_equal((uint8_t)jpeg.data[1], 0xd8);
	decode(&jpeg, &got);
	assert_int_equal(got.width, 320);
	assert_int_equal(got.height, 240);
	assert_true(mean_abs_diff(&src, &got) < 2.0);
	/* The encoder is reusable: a second picture from the same handle. */
	buf_reset(&jpeg);
	assert_int_equal(snapshot_jpeg(enc, &src, NULL, 0, 50, &jpeg), MW_OK);
	assert_true(jpeg.len > 2);
	snapshot_encoder_free(enc);
	plane_free(&got);
	plane_free(&src);
	buf_free(&jpeg);
}

static void highlight_drawn_on_a_copy(void **state)
{
	struct plane src, orig, got;
	struct buf jpeg;
	struct bbox box = {100, 60, 80, 50};

	assert_int_equal(plane_alloc(&src, 320, 240), MW_OK);
	assert_int_equal(plane_alloc(&orig, 320, 240), MW_OK);
	draw(&src);
	plane_copy(&orig, &src);
	buf_init(&jpeg, 16 << 20);
	assert_int_equal(snapshot_jpeg(NULL, &src, &box, 0, 95, &jpeg), MW_OK);
	assert_true(mean_abs_diff(&src, &orig) == 0.0); /* the frame is untouched */
	decode(&jpeg, &got);
	/* The inner line of the outline is white, the outer black, on all four
	 * sides; mid-gray content there was 60..220 before. */
	int mx = box.x + box.w / 2, my = box.y + box.h / 2;
	assert_true(plane_row(&got, box.y + 1)[mx] > 200);
	assert_true(plane_row(&got, box.y + box.h - 2)[mx] > 200);
	assert_true(plane_row(&got, my)[box.x + 1] > 200);
	assert_true(plane_row(&got, my)[box.x + box.w - 2] > 200);
	assert_true(plane_row(&got, box.y)[mx] < 60);
	assert_true(plane_row(&got, my)[box.x + box.w - 1] < 60);
	/* Inside and far outside the box the picture is the frame. */
	assert_true(abs((int)plane_row(&got, my)[mx] - (int)plane_row(&src, my)[mx]) < 8);
	assert_true(abs((int)plane_row(&got, 220)[300] - (int)plane_row(&src, 220)[300]) < 8);
	plane_free(&got);
	plane_free(&orig);
	plane_free(&src);
	buf_free(&jpeg);
}

static void downscale_respects_max_width(void **state)
{
	struct plane src, got;
	struct buf jpeg;
	struct bbox box = {400, 200, 200, 100};

	assert_int_equal(plane_alloc(&src, 1280, 720), MW_OK);
	draw(&src);
	buf_init(&jpeg, 16 << 20);
	assert_int_equal(snapshot_jpeg(NULL, &src, &box, 640, 85, &jpeg), MW_OK);
	decode(&jpeg, &got);
	assert_int_equal(got.width, 640);
	assert_int_equal(got.height, 360); /* aspect kept */
	/* The dark square (x 320..640, y 180..360 in the frame) is at half scale. */
	assert_true(plane_row(&got, 135)[240] < 55);
	assert_true(plane_row(&got, 300)[500] > 100);
	/* The box is drawn at half scale too: its top edge at y 100. */
	assert_true(plane_row(&got, 101)[250] > 200);
	plane_free(&got);
	buf_reset(&jpeg);
	/* A frame already narrower than max_width keeps its size. */
	assert_int_equal(snapshot_jpeg(NULL, &src, NULL, 4096, 85, &jpeg), MW_OK);
	decode(&jpeg, &got);
	assert_int_equal(got.width, 1280);
	plane_free(&got);
	plane_free(&src);
	buf_free(&jpeg);
}

static void bad_arguments_refused(void **state)
{
	struct plane src;
	struct buf jpeg;

	assert_int_equal(plane_alloc(&src, 16, 16), MW_OK);
	buf_init(&jpeg, 1 << 20);
	assert_int_equal(snapshot_jpeg(NULL, &src, NULL, 0, 0, &jpeg), MW_ERR_INVALID);
	assert_int_equal(snapshot_jpeg(NULL, &src, NULL, 0, 101, &jpeg), MW_ERR_INVALID);
	assert_int_equal(jpeg.len, 0);
	/* A cap too small for the picture is an error, not a cut JPEG. */
	buf_free(&jpeg);
	buf_init(&jpeg, 8);
	assert_int_equal(snapshot_jpeg(NULL, &src, NULL, 0, 80, &jpeg), MW_ERR_TOOBIG);
	plane_free(&src);
	buf_free(&jpeg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_same_picture),
		cmocka_unit_test(highlight_drawn_on_a_copy),
		cmocka_unit_test(downscale_respects_max_width),
		cmocka_unit_test(bad_arguments_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
