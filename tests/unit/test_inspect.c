/* test_inspect.c -- the inspection detector on parts drawn here.
 *
 * A bright plate with three holes lies on a darker belt, each time a little
 * shifted (+-5 px), turned (+-3 degrees) and lit (+-8%), with sensor noise
 * (sigma 3), all from a fixed-seed generator. The model learns from 30 good
 * parts; 100 good and 100 defective parts (a scratch, a dark spot, a missing
 * corner, a bent edge) are then scored, and the test asks what the issue
 * asks: image-level AUROC >= 0.98, and at the model's own default threshold
 * recall >= 0.95 with false alarms on at most 1% of good parts, the
 * reported defect box on the drawn defect. Then the trigger: one event per
 * part sliding through the window or stopping in it; then model files:
 * identical scores after a round trip and a clear refusal for each way a
 * file can be wrong. */
#include "core/hash.h"
#include "vision/inspect.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define ROI_W 120
#define ROI_H 80
#define FRAME_W 320
#define FRAME_H 160
#define ROI_X 100
#define ROI_Y 40
#define PW 40.0 /* plate half-width */
#define PH 25.0
#define PLATE 190.0
#define BELT 60.0

enum defect { D_NONE, D_SCRATCH, D_SPOT, D_CORNER, D_BENT, D_KINDS };

struct part {
	double cx, cy, a, gain; /* centre in plane pixels, radians, brightness */
	enum defect defect;
	double p[4];            /* the defect's parameters, part coordinates */
};

static uint64_t rng_state;

static double uniform(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static double gauss(void)
{
	double u = uniform() + 1e-12, v = uniform();

	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static bool in_plate(const struct part *pt, double u, double v)
{
	static const double holes[3][3] = {{-24, 0, 6}, {24, 0, 6}, {0, -12, 4}};
	double top = -PH, bottom = PH;

	if (pt->defect == D_BENT) /* the bottom edge bulges out around p[0] */
		bottom += 4 * fmax(0, 1 - fabs(u - pt->p[0]) / 9);
	if (fabs(u) > PW || v < top || v > bottom)
		return false;
	if (pt->defect == D_CORNER && pt->p[0] * u + pt->p[1] * v > PW + PH - 14)
		return false;
	for (int i = 0; i < 3; i++)
		if (hypot(u - holes[i][0], v - holes[i][1]) < holes[i][2])
			return false;
	return true;
}

static double shade(const struct part *pt, double u, double v)
{
	double x0 = pt->p[0], y0 = pt->p[1], x1 = pt->p[2], y1 = pt->p[3], t, dx, dy;

	if (!in_plate(pt, u, v))
		return BELT;
	switch (pt->defect) {
	case D_SCRATCH:
		dx = x1 - x0;
		dy = y1 - y0;
		t = fmax(0, fmin(1, ((u - x0) * dx + (v - y0) * dy) / (dx * dx + dy * dy)));
		return hypot(u - x0 - t * dx, v - y0 - t * dy) < 0.9 ? PLATE - 70 : PLATE;
	case D_SPOT:
		return hypot(u - x0, v - y0) < 3.5 ? PLATE - 80 : PLATE;
	default:
		return PLATE;
	}
}

/* The defect's extent in part coordinates. */
static void defect_extent(const struct part *pt, double *u0, double *v0, double *u1, double *v1)
{
	switch (pt->defect) {
	case D_SCRATCH:
		*u0 = fmin(pt->p[0], pt->p[2]) - 1;
		*u1 = fmax(pt->p[0], pt->p[2]) + 1;
		*v0 = fmin(pt->p[1], pt->p[3]) - 1;
		*v1 = fmax(pt->p[1], pt->p[3]) + 1;
		break;
	case D_SPOT:
		*u0 = pt->p[0] - 4, *u1 = pt->p[0] + 4, *v0 = pt->p[1] - 4, *v1 = pt->p[1] + 4;
		break;
	case D_CORNER:
		*u0 = pt->p[0] > 0 ? PW - 14 : -PW, *u1 = *u0 + 14;
		*v0 = pt->p[1] > 0 ? PH - 14 : -PH, *v1 = *v0 + 14;
		break;
	default:
		*u0 = pt->p[0] - 9, *u1 = pt->p[0] + 9, *v0 = PH, *v1 = PH + 4;
		break;
	}
}

/* The defect's box in the plane's pixels. */
static struct bbox defect_box(const struct part *pt)
{
	double u[2], v[2], x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;

	defect_extent(pt, &u[0], &v[0], &u[1], &v[1]);
	for (int i = 0; i < 4; i++) {
		double uu = u[i & 1], vv = v[i >> 1];
		double x = pt->cx + cos(pt->a) * uu - sin(pt->a) * vv;
		double y = pt->cy + sin(pt->a) * uu + cos(pt->a) * vv;

		x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
	}
	return (struct bbox){(int)floor(x0), (int)floor(y0), (int)ceil(x1 - x0),
			     (int)ceil(y1 - y0)};
}

/* Renders with 2x2 supersampling (edges soft, as through a lens) plus noise. */
static void draw(struct plane *out, const struct part *pt)
{
	double ca = cos(pt->a), sa = sin(pt->a);

	for (int y = 0; y < out->height; y++)
		for (int x = 0; x < out->width; x++) {
			double s = 0, v;

			for (int j = 0; j < 2; j++)
				for (int i = 0; i < 2; i++) {
					double px = x + 0.25 + 0.5 * i - pt->cx;
					double py = y + 0.25 + 0.5 * j - pt->cy;

					s += shade(pt, ca * px + sa * py, -sa * px + ca * py);
				}
			v = s / 4 * pt->gain + 3 * gauss();
			plane_row(out, y)[x] = (uint8_t)fmax(0, fmin(255, lround(v)));
		}
}

/* A part at (cx, cy) with the test's jitter and a defect of the given kind. */
static struct part make_part(double cx, double cy, enum defect d)
{
	struct part pt = {cx + 10 * uniform() - 5, cy + 10 * uniform() - 5,
			  (6 * uniform() - 3) * M_PI / 180, 0.92 + 0.16 * uniform(), d, {0}};
	double ang;

	switch (d) {
	case D_SCRATCH:
		pt.p[0] = -30 + 20 * uniform();
		pt.p[1] = -18 + 36 * uniform();
		ang = 2 * M_PI * uniform();
		pt.p[2] = pt.p[0] + 22 * cos(ang);
		pt.p[3] = fmax(-22, fmin(22, pt.p[1] + 22 * sin(ang)));
		break;
	case D_SPOT:
		pt.p[0] = uniform() < 0.5 ? -12 + 4 * uniform() : 8 + 4 * uniform();
		pt.p[1] = -18 + 36 * uniform();
		pt.p[1] = fabs(pt.p[1]) < 4 ? 12 : pt.p[1];
		break;
	case D_CORNER:
		pt.p[0] = uniform() < 0.5 ? -1 : 1;
		pt.p[1] = uniform() < 0.5 ? -1 : 1;
		break;
	case D_BENT:
		pt.p[0] = -25 + 50 * uniform();
		break;
	default:
		break;
	}
	return pt;
}

static void roi_part(struct plane *img, enum defect d, struct part *out)
{
	struct part pt = make_part(ROI_W / 2.0, ROI_H / 2.0, d);

	draw(img, &pt);
	if (out)
		*out = pt;
}

static const struct inspect_options opts = {
	.camera = "cam1", .roi = {ROI_X, ROI_Y, ROI_W, ROI_H},
};

static struct inspect_model *train(void)
{
	struct inspect_trainer *t;
	struct inspect_model *m;
	struct plane img;
	char err[256];

	rng_state = 0x1234567;
	assert_int_equal(plane_alloc(&img, ROI_W, ROI_H), 0);
	assert_int_equal(inspect_train_new(&opts, FRAME_W, FRAME_H, &t, err, sizeof(err)), 0);
	for (int i = 0; i < 30; i++) {
		roi_part(&img, D_NONE, NULL);
		assert_int_equal(inspect_train_add(t, &img), 0);
	}
	assert_int_equal(inspect_train_finish(t, &m, err, sizeof(err)), 0);
	inspect_train_free(t);
	plane_free(&img);
	return m;
}

static struct inspector *inspector(void)
{
	struct inspector *ins;
	char err[256];

	assert_int_equal(inspect_new(&opts, train(), &ins, err, sizeof(err)), 0);
	return ins;
}

static bool overlaps(struct bbox a, struct bbox b)
{
	return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static void test_accuracy(void **state)
{
	struct inspector *ins = inspector();
	double good[100], bad[100], th = inspect_threshold(ins), pairs = 0;
	int recalled = 0, false_alarms = 0, boxed = 0, missed[D_KINDS] = {0};
	struct plane img;
	struct part pt;
	struct bbox box;

	assert_int_equal(plane_alloc(&img, ROI_W, ROI_H), 0);
	rng_state = 0xabcdef;
	for (int i = 0; i < 100; i++) {
		roi_part(&img, D_NONE, NULL);
		assert_int_equal(inspect_score(ins, &img, &good[i], &box), 0);
		false_alarms += good[i] > th;
	}
	for (int i = 0; i < 100; i++) {
		roi_part(&img, D_SCRATCH + i % 4, &pt);
		assert_int_equal(inspect_score(ins, &img, &bad[i], &box), 0);
		if (bad[i] > th) {
			recalled++;
			boxed += overlaps(box, defect_box(&pt));
		} else {
			missed[pt.defect]++;
		}
	}
	for (int i = 0; i < 100; i++)
		for (int j = 0; j < 100; j++)
			pairs += bad[i] > good[j] ? 1 : bad[i] == good[j] ? 0.5 : 0;
	print_message("inspect: AUROC %.4f, threshold %.1f, recall %d%%, false alarms %d%%, "
		      "boxes on the defect %d of %d; missed scratch %d spot %d corner %d bent %d\n",
		      pairs / 1e4, th, recalled, false_alarms, boxed, recalled, missed[D_SCRATCH],
		      missed[D_SPOT], missed[D_CORNER], missed[D_BENT]);
	if (getenv("INSPECT_DEBUG"))
		for (int i = 0; i < 100; i++)
			print_message("score good %.1f bad %.1f kind %d\n", good[i], bad[i], i % 4 + 1);
	assert_true(pairs / 1e4 >= 0.98);
	assert_true(recalled >= 95);
	assert_true(false_alarms <= 1);
	assert_true(boxed >= recalled * 9 / 10);
	plane_free(&img);
	inspect_free(ins);
}

/* ---- the trigger ------------------------------------------------------------ */

struct collect {
	int defects, passes;
	struct bbox bbox;
	bool snapshot;
};

static int collect_emit(void *arg, struct event *e, const struct plane *snapshot)
{
	struct collect *c = arg;
	json_t *attrs = json_loads(e->attrs ? e->attrs : "{}", 0, NULL);
	json_t *b = json_object_get(attrs, "bbox");

	if (strcmp(e->kind, "inspection.defect") == 0) {
		c->defects++;
		c->snapshot = snapshot && snapshot->width > 0;
		c->bbox = (struct bbox){(int)json_integer_value(json_array_get(b, 0)),
					(int)json_integer_value(json_array_get(b, 1)),
					(int)json_integer_value(json_array_get(b, 2)),
					(int)json_integer_value(json_array_get(b, 3))};
		assert_int_equal(e->severity, SEV_WARNING);
	} else if (strcmp(e->kind, "inspection.pass") == 0) {
		c->passes++;
		assert_int_equal(e->severity, SEV_DEBUG);
		assert_non_null(json_object_get(attrs, "score"));
	}
	assert_string_equal(e->source, "cam1");
	json_decref(attrs);
	return 0;
}

/* Runs a part along the belt: x positions given per frame, y fixed. */
static void run(struct inspector *ins, struct collect *c, const double *xs, int n,
		enum defect d, struct bbox *truth)
{
	struct vision_sink sink = {collect_emit, c};
	struct frame f = {0};
	struct part base = make_part(0, ROI_Y + ROI_H / 2.0, d);
	double x0 = base.cx;

	assert_int_equal(plane_alloc(&f.y, FRAME_W, FRAME_H), 0);
	for (int i = 0; i < n; i++) {
		struct part pt = base;

		pt.cx = x0 + xs[i];
		if (fabs(xs[i] - (ROI_X + ROI_W / 2.0)) < 8 && truth)
			*truth = defect_box(&pt);
		draw(&f.y, &pt);
		f.index = (uint64_t)i;
		assert_true(inspect_process(ins, &f, &sink) >= 0);
	}
	plane_free(&f.y);
}

static void test_trigger_sliding(void **state)
{
	struct inspector *ins = inspector();
	struct collect c = {0};
	struct bbox truth = {0};
	double xs[22];

	for (int i = 0; i < 22; i++)
		xs[i] = -50 + 19.0 * i; /* from off the left edge to off the right */
	run(ins, &c, xs, 22, D_NONE, NULL);
	assert_int_equal(c.passes, 1);
	assert_int_equal(c.defects, 0);
	run(ins, &c, xs, 22, D_SPOT, &truth);
	run(ins, &c, xs, 22, D_NONE, NULL);
	assert_int_equal(c.passes, 2);
	assert_int_equal(c.defects, 1);
	assert_true(c.snapshot);
	assert_true(overlaps(c.bbox, truth));
	inspect_free(ins);
}

static void test_trigger_stopping(void **state)
{
	struct inspector *ins = inspector();
	struct collect c = {0};
	double xs[50];

	for (int i = 0; i < 50; i++)
		xs[i] = i < 10 ? -40 + 20.0 * i : i < 40 ? 160 : 160 + 20.0 * (i - 39);
	run(ins, &c, xs, 50, D_NONE, NULL);
	assert_int_equal(c.passes + c.defects, 1);
	assert_int_equal(c.passes, 1);
	inspect_free(ins);
}

/* ---- model files ------------------------------------------------------------- */

static char dir[64];

static void path_in(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void test_round_trip(void **state)
{
	struct inspect_model *m = train(), *m2;
	struct inspector *a, *b;
	struct plane img;
	char path[128], err[256];

	path_in(path, sizeof(path), "cam1.model");
	assert_int_equal(inspect_model_save(m, path, err, sizeof(err)), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(inspect_model_load(path, "cam1", FRAME_W, FRAME_H, &m2, err, sizeof(err)),
			 0);
	assert_int_equal(inspect_new(&opts, m, &a, err, sizeof(err)), 0);
	assert_int_equal(inspect_new(&opts, m2, &b, err, sizeof(err)), 0);
	assert_true(inspect_threshold(a) == inspect_threshold(b));
	assert_int_equal(plane_alloc(&img, ROI_W, ROI_H), 0);
	for (int i = 0; i < 10; i++) {
		double sa, sb;
		struct bbox ba, bb;

		roi_part(&img, (enum defect)(i % D_KINDS), NULL);
		assert_int_equal(inspect_score(a, &img, &sa, &ba), 0);
		assert_int_equal(inspect_score(b, &img, &sb, &bb), 0);
		assert_true(sa == sb);
		assert_memory_equal(&ba, &bb, sizeof(ba));
	}
	plane_free(&img);
	inspect_free(a);
	inspect_free(b);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 20);

	assert_non_null(f);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static void spill(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void refused(const char *path, const char *camera, int w, int h, const char *msg)
{
	struct inspect_model *m = (void *)1;
	char err[512];

	assert_true(inspect_model_load(path, camera, w, h, &m, err, sizeof(err)) < 0);
	assert_null(m);
	if (!strstr(err, msg))
		fail_msg("expected \"%s\" in \"%s\"", msg, err);
}

static void test_refusals(void **state)
{
	struct inspect_model *m = train();
	char good[128], bad[128], err[256], msg[256];
	uint8_t *data;
	size_t len;

	path_in(good, sizeof(good), "good.model");
	path_in(bad, sizeof(bad), "bad.model");
	assert_int_equal(inspect_model_save(m, good, err, sizeof(err)), 0);
	inspect_model_free(m);
	data = slurp(good, &len);

	spill(bad, (const uint8_t *)"hello, not a model\n", 19);
	refused(bad, "cam1", FRAME_W, FRAME_H, "not an inspection model");
	refused(bad, "cam1", FRAME_W, FRAME_H, "camera cam1");
	spill(bad, data, len - 100);
	refused(bad, "cam1", FRAME_W, FRAME_H, "truncated or corrupt");
	data[len / 2] ^= 0x40;
	spill(bad, data, len);
	refused(bad, "cam1", FRAME_W, FRAME_H, "checksum");
	data[len / 2] ^= 0x40;
	snprintf(msg, sizeof(msg), "model %s is for camera cam1, not cam2", good);
	refused(good, "cam2", FRAME_W, FRAME_H, msg);
	refused(good, "cam1", 640, 360, "trained on 320x160 frames, this camera gives 640x360");
	refused("/nonexistent/x.model", "cam1", FRAME_W, FRAME_H, "cannot read");
	/* a ROI moved outside the frame, with a valid checksum: x at byte 85 */
	data[85] = 0x40;
	data[86] = 0x01;
	hash_sha256(data, len - HASH_LEN, data + len - HASH_LEN);
	spill(bad, data, len);
	refused(bad, "cam1", FRAME_W, FRAME_H, "lies outside the 320x160 frame");
	free(data);
}

static void test_training_refusals(void **state)
{
	struct inspect_options o = opts;
	struct inspect_trainer *t;
	struct inspect_model *m;
	struct plane img;
	char err[256];

	o.roi.x = 250;
	assert_int_equal(inspect_train_new(&o, FRAME_W, FRAME_H, &t, err, sizeof(err)),
			 MW_ERR_INVALID);
	assert_non_null(strstr(err, "outside"));
	assert_int_equal(inspect_train_new(&opts, FRAME_W, FRAME_H, &t, err, sizeof(err)), 0);
	assert_int_equal(plane_alloc(&img, ROI_W, ROI_H), 0);
	for (int i = 0; i < 5; i++) {
		roi_part(&img, D_NONE, NULL);
		assert_int_equal(inspect_train_add(t, &img), 0);
	}
	assert_int_equal(inspect_train_finish(t, &m, err, sizeof(err)), MW_ERR_INVALID);
	assert_non_null(strstr(err, "at least 10"));
	inspect_train_free(t);
	plane_free(&img);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_inspect.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accuracy),
		cmocka_unit_test(test_trigger_sliding),
		cmocka_unit_test(test_trigger_stopping),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_training_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
