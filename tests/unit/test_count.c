/* test_count.c -- counting parts across a line, from made-up blob lists.
 *
 * The counter is fed blobs as the motion stage would give them (box,
 * area, centroid), with a few pixels of centroid noise, at 25 frames a
 * second. What a user notices: N parts give N counts numbered 1..N in
 * order; the wrong direction gives none; a part resting on the line, a
 * part hidden for two frames, or two parts close together do not fool the
 * count; with codes on, the serial printed on the part is in its event,
 * and a part without one is flagged. */
#include "vision/count.h"

#include <dmtx.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define W 640
#define H 480
#define LINE_X 320
#define FRAME_NS 40000000LL /* 25 fps */
#define MAX_EVENTS 64

struct rec {
	int n;
	json_t *attrs[MAX_EVENTS];
	enum severity sev[MAX_EVENTS];
	bool snapshot_ok[MAX_EVENTS];
	bool bad; /* an event not shaped as promised */
};

static int rec_emit(void *arg, struct event *e, const struct plane *snap)
{
	struct rec *r = arg;

	if (r->n >= MAX_EVENTS || strcmp(e->kind, "part.counted") || strcmp(e->source, "cam1")) {
		r->bad = true;
		return MW_OK;
	}
	r->attrs[r->n] = json_loads(e->attrs ? e->attrs : "{}", 0, NULL);
	r->sev[r->n] = e->severity;
	r->snapshot_ok[r->n] = snap && snap->data && snap->width == W && snap->height == H;
	r->n++;
	return MW_OK;
}

static void rec_clear(struct rec *r)
{
	for (int i = 0; i < r->n; i++)
		json_decref(r->attrs[i]);
	memset(r, 0, sizeof(*r));
}

static json_int_t attr_int(const struct rec *r, int i, const char *key)
{
	json_t *v = json_object_get(r->attrs[i], key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static uint32_t rng_state = 2024;

static int noise(int amp)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return (int)(rng_state % (uint32_t)(2 * amp + 1)) - amp;
}

/* A part on the belt: where it is at frame 0, how it moves, how big it is. */
struct part {
	double x, y;   /* centre at frame 0 */
	double vx, vy; /* px per frame */
	int w, h;
	int hidden_from, hidden_to; /* frames in which it is not seen (occluded) */
};

struct scene {
	struct counter *c;
	struct frame f;
	struct vision_sink sink;
	struct rec rec;
	int jitter; /* centroid noise amplitude, px */
};

static struct count_options line_options(int direction)
{
	struct count_options o = {
		.camera = "cam1",
		.line = {{LINE_X, 20}, {LINE_X, H - 20}},
		.direction = direction,
		.min_gap_ms = 500,
	};
	return o;
}

static void scene_init(struct scene *s, const struct count_options *o)
{
	char err[256] = "";

	memset(s, 0, sizeof(*s));
	assert_int_equal(plane_alloc(&s->f.y, W, H), MW_OK);
	assert_int_equal(counter_new(o, W, H, &s->c, err, sizeof(err)), MW_OK);
	s->sink.emit = rec_emit;
	s->sink.arg = &s->rec;
	s->jitter = 3;
}

static void scene_free(struct scene *s)
{
	counter_free(s->c);
	plane_free(&s->f.y);
	rec_clear(&s->rec);
}

/* The blob a part makes at frame k, if it is in view and not hidden. */
static bool part_blob(const struct part *p, int k, int jitter, struct blob *b)
{
	int cx = (int)(p->x + p->vx * k) + noise(jitter),
	    cy = (int)(p->y + p->vy * k) + noise(jitter);

	if (k >= p->hidden_from && k < p->hidden_to)
		return false;
	b->box = (struct bbox){cx - p->w / 2, cy - p->h / 2, p->w, p->h};
	if (b->box.x < 0 || b->box.y < 0 || b->box.x + p->w > W || b->box.y + p->h > H)
		return false;
	b->cx = cx;
	b->cy = cy;
	b->area = p->w * p->h * 3 / 4;
	return true;
}

static void feed(struct scene *s, const struct blob *blobs, int n)
{
	assert_int_equal(counter_process(s->c, &s->f, blobs, n, &s->sink), MW_OK);
	s->f.pts_ns += FRAME_NS;
	s->f.wall_ns += FRAME_NS;
	s->f.index++;
}

static void run(struct scene *s, const struct part *parts, int nparts, int frames)
{
	struct blob blobs[16];

	for (int k = 0; k < frames; k++) {
		int n = 0;

		for (int i = 0; i < nparts && n < 16; i++)
			n += part_blob(&parts[i], k, s->jitter, &blobs[n]);
		feed(s, blobs, n);
	}
}

static void test_parts_counted_in_order(void **state)
{
	/* Five parts at different speeds, entering one after the other. */
	const struct part parts[] = {
		{40, 120, 6, 0, 60, 50, 0, 0},	   {-200, 300, 10, 0.3, 50, 60, 0, 0},
		{-600, 200, 15, 0, 70, 40, 0, 0},  {-1200, 380, 22, -0.5, 60, 60, 0, 0},
		{-2000, 240, 30, 0, 80, 80, 0, 0},
	};
	struct count_options o = line_options(1);
	struct scene s;
	uint64_t tracks[5];

	(void)state;
	scene_init(&s, &o);
	run(&s, parts, 5, 130);
	assert_false(s.rec.bad);
	assert_int_equal(s.rec.n, 5);
	assert_int_equal(counter_total(s.c), 5);
	for (int i = 0; i < 5; i++) {
		json_t *box = json_object_get(s.rec.attrs[i], "bbox");
		double speed = parts[i].vx * 1e9 / FRAME_NS;

		assert_int_equal(attr_int(&s.rec, i, "count"), i + 1);
		assert_int_equal(s.rec.sev[i], SEV_INFO);
		assert_true(s.rec.snapshot_ok[i]);
		/* In crossing order: the i-th event is the i-th part, seen at the line. */
		assert_true(json_is_array(box) && json_array_size(box) == 4);
		assert_int_equal(json_integer_value(json_array_get(box, 2)), parts[i].w);
		assert_true(labs((long)(json_integer_value(json_array_get(box, 0)) +
					parts[i].w / 2 - LINE_X)) < 60);
		assert_true(attr_int(&s.rec, i, "speed_px_s") > speed * 0.6);
		assert_true(attr_int(&s.rec, i, "speed_px_s") < speed * 1.4);
		assert_null(json_object_get(s.rec.attrs[i], "code_missing"));
		tracks[i] = (uint64_t)attr_int(&s.rec, i, "track");
		for (int j = 0; j < i; j++)
			assert_true(tracks[j] != tracks[i]);
	}
	scene_free(&s);
}

static void test_direction(void **state)
{
	/* Right to left, and one part that enters already past the line. */
	const struct part back[] = {{600, 200, -12, 0, 60, 60, 0, 0},
				    {500, 350, -9, 0, 60, 60, 0, 0}};
	const struct part born_past = {360, 100, 10, 0, 60, 60, 0, 0};
	struct scene s;

	(void)state;
	for (int dir = -1; dir <= 1; dir++) {
		struct count_options o = line_options(dir);

		scene_init(&s, &o);
		run(&s, back, 2, 60);
		assert_false(s.rec.bad);
		assert_int_equal(s.rec.n, dir == 1 ? 0 : 2);
		if (dir != 1)
			assert_int_equal(attr_int(&s.rec, 0, "direction"), -1);
		scene_free(&s);
	}
	scene_init(&s, &(struct count_options){.camera = "cam1",
					       .line = {{LINE_X, 20}, {LINE_X, H - 20}}});
	run(&s, &born_past, 1, 30);
	assert_int_equal(s.rec.n, 0);
	scene_free(&s);
}

/* A part that stops on the line for three seconds, its centroid wandering
 * across it, then goes on: one count. */
static void test_stopped_on_line_counts_once(void **state)
{
	struct count_options o = line_options(0);
	struct scene s;
	struct blob b;
	struct part p = {150, 240, 10, 0, 60, 60, 0, 0};
	int k = 0;

	(void)state;
	scene_init(&s, &o);
	for (; p.x + p.vx * k < LINE_X - 2; k++) {
		assert_true(part_blob(&p, k, 2, &b));
		feed(&s, &b, 1);
	}
	for (int i = 0; i < 75; i++) {
		assert_true(part_blob(&(struct part){LINE_X, 240, 0, 0, 60, 60, 0, 0}, 0, 0, &b));
		b.cx += (i % 2 ? 7 : -7) + noise(2);
		b.box.x = b.cx - 30;
		feed(&s, &b, 1);
	}
	p = (struct part){LINE_X, 240, 10, 0, 60, 60, 0, 0};
	for (k = 0; k < 20; k++) {
		assert_true(part_blob(&p, k, 2, &b));
		feed(&s, &b, 1);
	}
	assert_false(s.rec.bad);
	assert_int_equal(s.rec.n, 1);
	assert_int_equal(counter_total(s.c), 1);
	scene_free(&s);
}

static void test_close_parts_count_twice(void **state)
{
	/* 60 px wide parts whose centres are 1.5 widths apart (a 30 px gap). */
	const struct part parts[] = {{100, 240, 14, 0, 60, 60, 0, 0},
				     {10, 240, 14, 0, 60, 60, 0, 0}};
	const struct part fast[] = {{0, 240, 45, 0, 60, 60, 0, 0}, {-90, 240, 45, 0, 60, 60, 0, 0}};
	struct count_options o = line_options(1);
	struct scene s;

	(void)state;
	scene_init(&s, &o);
	run(&s, parts, 2, 50);
	assert_false(s.rec.bad);
	assert_int_equal(s.rec.n, 2);
	assert_true(attr_int(&s.rec, 0, "track") != attr_int(&s.rec, 1, "track"));
	scene_free(&s);

	/* Fast ones, moving further in a frame than the gap between them: only
	 * the tracks' predicted positions keep the two apart. */
	scene_init(&s, &o);
	run(&s, fast, 2, 30);
	assert_false(s.rec.bad);
	assert_int_equal(s.rec.n, 2);
	assert_true(attr_int(&s.rec, 0, "track") != attr_int(&s.rec, 1, "track"));
	scene_free(&s);
}

static void test_occlusion_counts_once(void **state)
{
	/* Hidden for two frames, once before the line and once just as it crosses. */
	const struct part parts[] = {{100, 150, 12, 0, 60, 60, 10, 12},
				     {-80, 330, 12, 0, 60, 60, 32, 34}};
	struct count_options o = line_options(1);
	struct scene s;

	(void)state;
	scene_init(&s, &o);
	run(&s, parts, 2, 60);
	assert_false(s.rec.bad);
	assert_int_equal(s.rec.n, 2);
	assert_int_equal(counter_total(s.c), 2);
	scene_free(&s);
}

/* A horizontal line: +1 is top to bottom whichever end is given first, and
 * parts passing beyond the line's ends are not counted. */
static void test_line_geometry(void **state)
{
	const struct part parts[] = {
		{250, 60, 0, 12, 60, 60, 0, 0},	  /* down, across the segment */
		{550, 60, 0, 12, 60, 60, 0, 0},	  /* down, beyond its right end */
		{330, 420, 0, -12, 60, 60, 0, 0}, /* up, across the segment */
	};
	struct scene s;

	(void)state;
	for (int order = 0; order < 2; order++) {
		struct count_options o = line_options(1);

		o.line[order] = (struct point){100, 240};
		o.line[1 - order] = (struct point){400, 240};
		scene_init(&s, &o);
		run(&s, parts, 3, 40);
		assert_false(s.rec.bad);
		assert_int_equal(s.rec.n, 1);
		assert_true(labs((long)attr_int(&s.rec, 0, "speed_px_s") - 300) < 60);
		/* The one counted is the part at x = 250 (box from 220, give or take noise). */
		assert_true(labs((long)json_integer_value(json_array_get(
					 json_object_get(s.rec.attrs[0], "bbox"), 0)) -
				 220) <= 3);
		scene_free(&s);
	}
}

/* ---- codes on the parts ---- */

struct symbol {
	int n;
	uint8_t *dark;
};

static struct symbol make_datamatrix(const char *text)
{
	DmtxEncode *enc = dmtxEncodeCreate();
	struct symbol s;

	assert_non_null(enc);
	dmtxEncodeSetProp(enc, DmtxPropPixelPacking, DmtxPack8bppK);
	dmtxEncodeSetProp(enc, DmtxPropModuleSize, 1);
	dmtxEncodeSetProp(enc, DmtxPropMarginSize, 0);
	assert_int_equal(dmtxEncodeDataMatrix(enc, (int)strlen(text), (unsigned char *)text),
			 DmtxPass);
	s.n = dmtxImageGetProp(enc->image, DmtxPropWidth);
	s.dark = calloc((size_t)s.n * (size_t)s.n, 1);
	assert_non_null(s.dark);
	for (int r = 0; r < s.n; r++) {
		for (int c = 0; c < s.n; c++) {
			int v = 0;

			dmtxImageGetPixelValue(enc->image, c, s.n - 1 - r, 0, &v);
			s.dark[r * s.n + c] = v < 128;
		}
	}
	dmtxEncodeDestroy(&enc);
	return s;
}

/* Grey belt, light part in the blob's box, the code (4 px a module) in its middle. */
static void draw_part(struct plane *f, const struct blob *b, const struct symbol *code)
{
	int mod = 4, x0, y0;

	for (int y = 0; y < f->height; y++)
		for (int x = 0; x < f->width; x++)
			plane_row(f, y)[x] = (uint8_t)(90 + noise(4));
	for (int y = b->box.y; y < b->box.y + b->box.h; y++)
		for (int x = b->box.x; x < b->box.x + b->box.w; x++)
			plane_row(f, y)[x] = (uint8_t)(200 + noise(4));
	if (!code)
		return;
	x0 = b->cx - code->n * mod / 2;
	y0 = b->cy - code->n * mod / 2;
	for (int y = 0; y < code->n * mod; y++)
		for (int x = 0; x < code->n * mod; x++)
			if (code->dark[(y / mod) * code->n + x / mod])
				plane_row(f, y0 + y)[x0 + x] = (uint8_t)(40 + noise(4));
}

static void run_coded(struct scene *s, const struct part *p, const struct symbol *code, int frames)
{
	struct blob b;

	for (int k = 0; k < frames; k++) {
		bool seen = part_blob(p, k, 2, &b);

		draw_part(&s->f.y, seen ? &b : &(struct blob){{0, 0, 1, 1}, 1, 0, 0},
			  seen ? code : NULL);
		feed(s, &b, seen);
	}
}

static void test_code_read_on_counted_part(void **state)
{
	struct count_options o = line_options(1);
	struct symbol code = make_datamatrix("SN-4711-B");
	const struct part coded = {200, 240, 16, 0, 110, 110, 0, 0};
	const struct part blank = {200, 240, 16, 0, 110, 110, 0, 0};
	struct scene s;
	json_t *c;

	(void)state;
	o.codes = CODE_DATAMATRIX | CODE_QR;
	scene_init(&s, &o);
	run_coded(&s, &coded, &code, 20);
	assert_false(s.rec.bad);
	assert_int_equal(s.rec.n, 1);
	c = json_object_get(s.rec.attrs[0], "code");
	assert_true(json_is_object(c));
	assert_string_equal(json_string_value(json_object_get(c, "text")), "SN-4711-B");
	assert_string_equal(json_string_value(json_object_get(c, "symbology")), "datamatrix");
	assert_int_equal(s.rec.sev[0], SEV_INFO);
	assert_true(s.rec.snapshot_ok[0]);

	/* A part without a code: counted all the same, flagged as a warning. */
	run_coded(&s, &blank, NULL, 25);
	assert_int_equal(s.rec.n, 2);
	assert_int_equal(attr_int(&s.rec, 1, "count"), 2);
	assert_true(json_is_true(json_object_get(s.rec.attrs[1], "code_missing")));
	assert_null(json_object_get(s.rec.attrs[1], "code"));
	assert_int_equal(s.rec.sev[1], SEV_WARNING);
	free(code.dark);
	scene_free(&s);
}

/* A part first seen just before the line has searches left when it
 * crosses: its count waits for them, and comes out on flush when the
 * stream ends first. */
static void test_flush_emits_waiting_count(void **state)
{
	struct count_options o = line_options(1);
	const struct part blank = {280, 240, 20, 0, 110, 110, 0, 0};
	struct scene s;

	(void)state;
	o.codes = CODE_DATAMATRIX;
	scene_init(&s, &o);
	run_coded(&s, &blank, NULL, 5); /* searches at frames 1 and 3, crosses at 4 */
	assert_int_equal(counter_total(s.c), 1);
	assert_int_equal(s.rec.n, 0);
	counter_flush(s.c, &s.sink);
	assert_int_equal(s.rec.n, 1);
	assert_true(json_is_true(json_object_get(s.rec.attrs[0], "code_missing")));
	scene_free(&s);
}

static void expect_invalid(const struct count_options *o, int w, int h, const char *needle)
{
	struct counter *c = (struct counter *)&c;
	char err[256] = "";

	assert_int_equal(counter_new(o, w, h, &c, err, sizeof(err)), MW_ERR_INVALID);
	assert_null(c);
	assert_non_null(strstr(err, needle));
}

static void test_validation(void **state)
{
	struct count_options o = line_options(1);
	struct scene s;
	struct frame small = {0};

	(void)state;
	o.line[1] = (struct point){LINE_X, H};
	expect_invalid(&o, W, H, "cam1");
	o.line[1] = (struct point){-1, 10};
	expect_invalid(&o, W, H, "outside");
	o.line[1] = o.line[0];
	expect_invalid(&o, W, H, "zero length");
	o = line_options(2);
	expect_invalid(&o, W, H, "direction");
	o = line_options(1);
	o.codes = 64;
	expect_invalid(&o, W, H, "cam1");
	o = line_options(1);
	o.min_gap_ms = -1;
	expect_invalid(&o, W, H, "negative");
	o.min_gap_ms = 0;
	o.camera = "bad camera!";
	expect_invalid(&o, W, H, "camera");

	/* A frame of the wrong size is refused, not read out of bounds. */
	o = line_options(1);
	scene_init(&s, &o);
	assert_int_equal(plane_alloc(&small.y, 64, 48), MW_OK);
	assert_int_equal(counter_process(s.c, &small, NULL, 0, &s.sink), MW_ERR_INVALID);
	plane_free(&small.y);
	scene_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parts_counted_in_order),
		cmocka_unit_test(test_direction),
		cmocka_unit_test(test_stopped_on_line_counts_once),
		cmocka_unit_test(test_close_parts_count_twice),
		cmocka_unit_test(test_occlusion_counts_once),
		cmocka_unit_test(test_line_geometry),
		cmocka_unit_test(test_code_read_on_counted_part),
		cmocka_unit_test(test_flush_emits_waiting_count),
		cmocka_unit_test(test_validation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
