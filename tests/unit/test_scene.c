/* test_scene.c -- the synthetic factory scene generator.
 *
 * The accuracy tests of the detectors are only as good as the scenes and
 * the truth they are measured against, so this pins what they rely on:
 * a seed gives the same frames bit for bit (and another seed other
 * frames); the truth is consistent (parts counted in order, defects at
 * about the asked rate, people entering before they leave); a part really
 * is where the truth says; its printed code reads back as its serial with
 * the real decoders (libdmtx, zbar) unless the truth says it is
 * unreadable; bad parameters are refused by name. Frames are 640x360 and
 * clips short so the whole file runs in seconds under the sanitizers. */
#include "vision/scene.h"

#include <dmtx.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zbar.h>

#include <cmocka.h>

#define W 640
#define H 360

static struct scene *make(const struct scene_params *p)
{
	struct scene *s = NULL;
	char err[256];

	if (scene_new(p, &s, err, sizeof(err)))
		fail_msg("scene_new: %s", err);
	return s;
}

static uint64_t plane_hash(const struct plane *p)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (int y = 0; y < p->height; y++)
		for (int x = 0; x < p->width; x++)
			h = (h ^ plane_row(p, y)[x]) * 0x100000001b3ull;
	return h;
}

/* Renders up to and including frame. */
static void render_to(struct scene *s, int frame, struct plane *pl)
{
	assert_true(scene_index(s) <= frame);
	while (scene_index(s) <= frame)
		assert_int_equal(scene_next(s, pl), MW_OK);
}

static double mean_in(const struct plane *p, struct bbox b)
{
	double sum = 0;

	for (int y = b.y; y < b.y + b.h; y++)
		for (int x = b.x; x < b.x + b.w; x++)
			sum += plane_row(p, y)[x];
	return sum / ((double)b.w * b.h);
}

static void hashes(const struct scene_params *p, uint64_t *out, int n)
{
	struct scene *s = make(p);
	struct plane pl;

	assert_int_equal(plane_alloc(&pl, W, H), MW_OK);
	for (int i = 0; i < n; i++) {
		assert_int_equal(scene_next(s, &pl), MW_OK);
		out[i] = plane_hash(&pl);
	}
	plane_free(&pl);
	scene_free(s);
}

static void same_seed_same_frames(void **state)
{
	struct scene_params p = {.width = W, .height = H, .seed = 7, .frames = 8,
				 .defect_rate = 0.5, .people_per_min = 30, .lighting_drift = 0.1,
				 .noise = 3, .blur = 1, .code = SCENE_CODE_DATAMATRIX};
	uint64_t a[8], b[8], c[8];
	int differ = 0, moved = 0;

	hashes(&p, a, 8);
	hashes(&p, b, 8);
	p.seed = 8;
	hashes(&p, c, 8);
	for (int i = 0; i < 8; i++) {
		assert_true(a[i] == b[i]);
		differ += a[i] != c[i];
		moved += i > 0 && a[i] != a[i - 1];
	}
	assert_int_equal(differ, 8);
	assert_int_equal(moved, 7);
}

static void parts_in_order(void **state)
{
	struct scene_params p = {.width = W, .height = H, .seed = 3, .frames = 30 * 300,
				 .parts_per_min = 50, .code = SCENE_CODE_QR};
	struct scene *s = make(&p);
	const struct scene_truth *t = scene_truth(s);
	int crossed = 0;

	/* 5 min at 50 a minute, give or take the spacing's jitter. */
	assert_in_range(t->nparts, 240, 260);
	for (int k = 0; k < t->nparts; k++) {
		const struct scene_part *pt = &t->parts[k];

		assert_int_equal(pt->id, k + 1);
		assert_int_equal(pt->defect, SCENE_DEFECT_NONE);
		assert_true(pt->readable);
		assert_true(pt->enter_frame >= 0 && pt->enter_frame < t->frames);
		if (k > 0)
			assert_true(pt->enter_frame > t->parts[k - 1].enter_frame);
		if (pt->cross_frame < 0)
			continue;
		crossed++;
		assert_true(pt->inspect_frame > pt->enter_frame);
		assert_true(pt->cross_frame > pt->inspect_frame);
		assert_true(pt->exit_frame < 0 || pt->cross_frame < pt->exit_frame);
		if (k > 0)
			assert_true(pt->cross_frame > t->parts[k - 1].cross_frame);
	}
	assert_true(crossed >= t->nparts - 5);
	scene_free(s);
}

static void defects_at_rate(void **state)
{
	struct scene_params p = {.width = W, .height = H, .seed = 11, .frames = 30 * 600,
				 .defect_rate = 0.3, .code = SCENE_CODE_DATAMATRIX};
	struct scene *s = make(&p);
	const struct scene_truth *t = scene_truth(s);
	int kinds[SCENE_DEFECT_KINDS] = {0}, bad = 0;

	for (int k = 0; k < t->nparts; k++) {
		const struct scene_part *pt = &t->parts[k];
		const struct bbox *b = &pt->defect_box, *w = &t->inspect_window;

		kinds[pt->defect]++;
		assert_true(pt->readable == (pt->defect != SCENE_DEFECT_CODE));
		if (pt->defect == SCENE_DEFECT_NONE || pt->inspect_frame < 0)
			continue;
		bad++;
		/* The defect lies on the part, inside the inspection window. */
		assert_true(b->w > 0 && b->h > 0);
		assert_true(b->x >= w->x && b->y >= w->y);
		assert_true(b->x + b->w <= w->x + w->w && b->y + b->h <= w->y + w->h);
	}
	assert_in_range(bad * 100 / t->nparts, 24, 36);
	for (int d = 1; d < SCENE_DEFECT_KINDS; d++)
		assert_true(kinds[d] > bad / 10);
	scene_free(s);
}

static void people_in_order(void **state)
{
	struct scene_params p = {.width = W, .height = H, .seed = 5, .frames = 30 * 600,
				 .people_per_min = 4, .parts_per_min = -1};
	struct scene *s = make(&p);
	const struct scene_truth *t = scene_truth(s);

	assert_int_equal(t->nparts, 0);
	/* About 4 a minute; fewer when a visit overruns the interval. */
	assert_in_range(t->npeople, 24, 44);
	for (int k = 0; k < t->npeople; k++) {
		const struct scene_person *q = &t->people[k];
		int stay = q->leave_frame - q->enter_frame;

		assert_int_equal(q->id, k + 1);
		assert_true(q->leave_frame > q->enter_frame || (k == t->npeople - 1 &&
								q->leave_frame == -1));
		if (q->leave_frame > 0)
			assert_in_range(stay, 30, 30 * 5 + 30 * 8);
		if (k > 0)
			assert_true(q->enter_frame > t->people[k - 1].leave_frame);
	}
	scene_free(s);
}

/* Frame 0 has an empty window; at its inspect frame part 1 fills it, and
 * its bright pixels are centred where the window is. */
static void part_where_truth_says(void **state)
{
	struct scene_params p = {.width = W, .height = H, .seed = 2, .fps = 10, .frames = 40,
				 .noise = 2,
				 .code = SCENE_CODE_DATAMATRIX};
	struct scene *s = make(&p);
	const struct scene_truth *t = scene_truth(s);
	const struct bbox w = t->inspect_window;
	double empty, full, sx = 0, sy = 0, n = 0;
	struct plane pl;

	assert_true(t->nparts >= 1 && t->parts[0].inspect_frame > 0);
	assert_int_equal(plane_alloc(&pl, W, H), MW_OK);
	render_to(s, 0, &pl);
	empty = mean_in(&pl, w);
	render_to(s, t->parts[0].inspect_frame, &pl);
	full = mean_in(&pl, w);
	assert_true(full > empty + 60);
	for (int y = w.y; y < w.y + w.h; y++)
		for (int x = w.x; x < w.x + w.w; x++)
			if (plane_row(&pl, y)[x] > 150)
				sx += x + 0.5, sy += y + 0.5, n++;
	/* Within half a frame's travel (6 px at 10 fps) plus the holes' and
	 * the code's pull on the centroid. */
	assert_true(fabs(sx / n - (w.x + w.w / 2.0)) < 10);
	assert_true(fabs(sy / n - (w.y + w.h / 2.0)) < 6);
	/* Gone from the window again a second later. */
	render_to(s, t->parts[0].inspect_frame + 10, &pl);
	assert_true(mean_in(&pl, w) < empty + 30);
	plane_free(&pl);
	scene_free(s);
}

/* ---- codes -------------------------------------------------------------- */

static uint8_t *crop(const struct plane *p, struct bbox b)
{
	uint8_t *buf = malloc((size_t)b.w * (size_t)b.h);

	assert_non_null(buf);
	for (int y = 0; y < b.h; y++)
		memcpy(buf + (size_t)y * (size_t)b.w, plane_row(p, b.y + y) + b.x, (size_t)b.w);
	return buf;
}

static bool read_dmtx(uint8_t *buf, int w, int h, char *out, size_t cap)
{
	DmtxImage *img = dmtxImageCreate(buf, w, h, DmtxPack8bppK);
	DmtxDecode *dec = dmtxDecodeCreate(img, 1);
	DmtxTime timeout = dmtxTimeAdd(dmtxTimeNow(), 1000);
	DmtxRegion *reg = dmtxRegionFindNext(dec, &timeout);
	bool ok = false;

	if (reg) {
		DmtxMessage *msg = dmtxDecodeMatrixRegion(dec, reg, DmtxUndefined);

		if (msg) {
			snprintf(out, cap, "%.*s", (int)msg->outputIdx, (char *)msg->output);
			ok = true;
			dmtxMessageDestroy(&msg);
		}
		dmtxRegionDestroy(&reg);
	}
	dmtxDecodeDestroy(&dec);
	dmtxImageDestroy(&img);
	return ok;
}

static bool read_qr(uint8_t *buf, int w, int h, char *out, size_t cap)
{
	zbar_image_scanner_t *sc = zbar_image_scanner_create();
	zbar_image_t *img = zbar_image_create();
	const zbar_symbol_t *sym;
	bool ok = false;

	zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
	zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
	zbar_image_set_format(img, zbar_fourcc('Y', '8', '0', '0'));
	zbar_image_set_size(img, (unsigned)w, (unsigned)h);
	zbar_image_set_data(img, buf, (unsigned long)w * (unsigned long)h, NULL);
	if (zbar_scan_image(sc, img) > 0) {
		sym = zbar_image_first_symbol(img);
		snprintf(out, cap, "%s", zbar_symbol_get_data(sym));
		ok = true;
	}
	zbar_image_destroy(img);
	zbar_image_scanner_destroy(sc);
	return ok;
}

/* The first part of the first seed whose first part is (or is not) given
 * a damaged code: scene_new is cheap, rendering is not. */
static struct scene *scene_with_first_part(struct scene_params *p, bool damaged)
{
	for (p->seed = 1; p->seed < 200; p->seed++) {
		struct scene *s = make(p);
		const struct scene_part *pt = &scene_truth(s)->parts[0];

		if ((pt->defect == SCENE_DEFECT_CODE) == damaged && pt->inspect_frame > 0)
			return s;
		scene_free(s);
	}
	fail_msg("no seed gives the part wanted");
	return NULL;
}

static void code_reads_back(enum scene_code code, bool damaged)
{
	struct scene_params p = {.width = W, .height = H, .fps = 10, .frames = 30, .noise = 2,
				 .defect_rate = damaged ? 1 : 0, .code = code};
	struct scene *s = scene_with_first_part(&p, damaged);
	const struct scene_truth *t = scene_truth(s);
	struct plane pl;
	char got[64] = "";
	uint8_t *buf;
	bool ok;

	assert_int_equal(plane_alloc(&pl, W, H), MW_OK);
	render_to(s, t->parts[0].inspect_frame, &pl);
	buf = crop(&pl, t->inspect_window);
	if (code == SCENE_CODE_DATAMATRIX)
		ok = read_dmtx(buf, t->inspect_window.w, t->inspect_window.h, got, sizeof(got));
	else
		ok = read_qr(buf, t->inspect_window.w, t->inspect_window.h, got, sizeof(got));
	assert_true(t->parts[0].readable == !damaged);
	if (damaged) {
		if (ok)
			fail_msg("a damaged code read as '%s'", got);
	} else {
		assert_true(ok);
		assert_string_equal(got, t->parts[0].serial);
	}
	free(buf);
	plane_free(&pl);
	scene_free(s);
}

static void datamatrix_reads_back(void **state)
{
	code_reads_back(SCENE_CODE_DATAMATRIX, false);
}

static void datamatrix_damaged_unreadable(void **state)
{
	code_reads_back(SCENE_CODE_DATAMATRIX, true);
}

static void qr_reads_back(void **state)
{
	code_reads_back(SCENE_CODE_QR, false);
}

static void qr_damaged_unreadable(void **state)
{
	code_reads_back(SCENE_CODE_QR, true);
}

/* ---- the rest of the API ------------------------------------------------ */

static void good_part_varies_a_little(void **state)
{
	struct scene_params p = {.width = W, .height = H, .frames = 1, .noise = 2,
				 .code = SCENE_CODE_DATAMATRIX};
	struct scene *s = make(&p);
	const struct bbox w = scene_truth(s)->inspect_window;
	struct plane a, b, c, small;

	assert_int_equal(plane_alloc(&a, w.w, w.h), MW_OK);
	assert_int_equal(plane_alloc(&b, w.w, w.h), MW_OK);
	assert_int_equal(plane_alloc(&c, w.w, w.h), MW_OK);
	assert_int_equal(plane_alloc(&small, w.w - 2, w.h), MW_OK);
	assert_int_equal(scene_good_part(s, 1, &a), MW_OK);
	assert_int_equal(scene_good_part(s, 1, &b), MW_OK);
	assert_int_equal(scene_good_part(s, 2, &c), MW_OK);
	assert_int_equal(scene_good_part(s, 1, &small), MW_ERR_INVALID);
	assert_true(plane_hash(&a) == plane_hash(&b));
	assert_true(plane_hash(&a) != plane_hash(&c));
	/* A bright plate in the middle, the dark belt at the corners. */
	assert_true(mean_in(&a, (struct bbox){w.w / 2 - 10, w.h / 2 - 10, 20, 20}) > 120);
	assert_true(mean_in(&a, (struct bbox){0, 0, 4, 4}) < 100);
	plane_free(&a);
	plane_free(&b);
	plane_free(&c);
	plane_free(&small);
	scene_free(s);
}

static void clip_ends(void **state)
{
	struct scene_params p = {.width = W, .height = H, .frames = 3};
	struct scene *s = make(&p);
	struct plane pl, wrong;

	assert_int_equal(plane_alloc(&pl, W, H), MW_OK);
	assert_int_equal(plane_alloc(&wrong, W / 2, H), MW_OK);
	assert_int_equal(scene_next(s, &wrong), MW_ERR_INVALID);
	render_to(s, 2, &pl);
	assert_int_equal(scene_index(s), 3);
	assert_int_equal(scene_next(s, &pl), MW_ERR_NOTFOUND);
	plane_free(&pl);
	plane_free(&wrong);
	scene_free(s);
}

static void truth_as_json(void **state)
{
	struct scene_params p = {.width = W, .height = H, .frames = 300, .seed = 4,
				 .defect_rate = 1, .people_per_min = 20,
				 .code = SCENE_CODE_DATAMATRIX};
	struct scene *s = make(&p);
	const struct scene_truth *t = scene_truth(s);
	json_t *j = scene_truth_json(t), *parts, *part0;
	const char *defect;

	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "width")), W);
	assert_int_equal(json_integer_value(json_object_get(j, "frames")), 300);
	assert_int_equal(json_array_size(json_object_get(j, "zone")), 4);
	assert_int_equal(json_integer_value(json_array_get(
				 json_array_get(json_object_get(j, "line"), 0), 0)),
			 t->line[0].x);
	assert_int_equal(json_array_size(json_object_get(j, "inspect_window")), 4);
	assert_int_equal(json_array_size(json_object_get(j, "belt")), 4);
	parts = json_object_get(j, "parts");
	assert_true(t->nparts > 0 && t->npeople > 0);
	assert_int_equal(json_array_size(parts), t->nparts);
	assert_int_equal(json_array_size(json_object_get(j, "people")), t->npeople);
	part0 = json_array_get(parts, 0);
	assert_string_equal(json_string_value(json_object_get(part0, "serial")), t->parts[0].serial);
	defect = json_string_value(json_object_get(part0, "defect"));
	assert_non_null(defect);
	assert_true(strcmp(defect, "none") != 0);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(part0, "defect_box"), 2)),
			 t->parts[0].defect_box.w);
	assert_int_equal(json_integer_value(json_object_get(part0, "cross_frame")),
			 t->parts[0].cross_frame);
	json_decref(j);
	scene_free(s);
}

static void expect_invalid(struct scene_params p, const char *name)
{
	struct scene *s = (struct scene *)&s;
	char err[256] = "";

	assert_int_equal(scene_new(&p, &s, err, sizeof(err)), MW_ERR_INVALID);
	assert_null(s);
	if (!strstr(err, name))
		fail_msg("error '%s' does not name %s", err, name);
}

static void bad_params_named(void **state)
{
	const struct scene_params ok = {.width = W, .height = H, .frames = 10};

	expect_invalid((struct scene_params){.width = 100, .height = H}, "width");
	expect_invalid((struct scene_params){.width = W, .height = 9000}, "height");
	expect_invalid((struct scene_params){.width = W, .height = H, .fps = -1}, "fps");
	expect_invalid((struct scene_params){.width = W, .height = H, .frames = -5}, "frames");
	expect_invalid((struct scene_params){.width = W, .height = H, .parts_per_min = 500},
		       "parts_per_min");
	expect_invalid((struct scene_params){.width = W, .height = H, .defect_rate = 1.5},
		       "defect_rate");
	expect_invalid((struct scene_params){.width = W, .height = H, .defect_rate = NAN},
		       "defect_rate");
	expect_invalid((struct scene_params){.width = W, .height = H, .people_per_min = -1},
		       "people_per_min");
	expect_invalid((struct scene_params){.width = W, .height = H, .lighting_drift = 2},
		       "lighting_drift");
	expect_invalid((struct scene_params){.width = W, .height = H, .noise = -1}, "noise");
	expect_invalid((struct scene_params){.width = W, .height = H, .blur = INFINITY}, "blur");
	expect_invalid((struct scene_params){.width = W, .height = H, .code = (enum scene_code)7},
		       "code");
	scene_free(make(&ok));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_seed_same_frames),
		cmocka_unit_test(parts_in_order),
		cmocka_unit_test(defects_at_rate),
		cmocka_unit_test(people_in_order),
		cmocka_unit_test(part_where_truth_says),
		cmocka_unit_test(datamatrix_reads_back),
		cmocka_unit_test(datamatrix_damaged_unreadable),
		cmocka_unit_test(qr_reads_back),
		cmocka_unit_test(qr_damaged_unreadable),
		cmocka_unit_test(good_part_varies_a_little),
		cmocka_unit_test(clip_ends),
		cmocka_unit_test(truth_as_json),
		cmocka_unit_test(bad_params_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
