/* bench_count.c -- what part counting with serial codes costs.
 *
 * Figures (one a line, as `make bench` expects):
 *   bench vision.count.1080p <fps>      motion + counter with Data Matrix codes
 *   bench vision.codes.decode_ms <ms>   mean time of one code search
 * A 1080p conveyor clip (vision/scene.h: Data Matrix codes, a few damaged,
 * light sensor noise) is rendered into memory first; then the motion model
 * and the counter, on the clip's own count line, run over it, one thread,
 * pass after pass (each a fresh start of both, as a camera restarting) for
 * about three seconds. The clip is long (15 s, ~930 MB of luma) because a
 * short loop makes parts jump back and be searched for codes again and
 * again, which a real stream never does.
 * decode_ms times code_reader_scan() on the box (with the counter's margin)
 * of every part blob wholly in view in the clip, readable or not: the
 * search a part costs when nothing is known yet of where its code sits. */
#include "core/mw.h"
#include "vision/count.h"
#include "vision/scene.h"

#include <stdio.h>
#include <stdlib.h>

#define W 1920
#define H 1080
#define SKIP 180	   /* frames rendered but not kept: the belt filling up */
#define FRAMES 450 /* frames kept: 15 s, longer than a part takes across the view */
#define RUN_NS 3000000000LL
#define FRAME_NS 33333333LL

static int discard(void *arg, struct event *e, const struct plane *snapshot)
{
	(void)e;
	(void)snapshot;
	(*(long *)arg)++;
	return MW_OK;
}

static int render(struct plane *frames, struct scene_truth *truth)
{
	struct scene_params p = {.width = W, .height = H, .seed = 7, .frames = SKIP + FRAMES,
				 .parts_per_min = 40, .defect_rate = 0.3, .noise = 2,
				 .code = SCENE_CODE_DATAMATRIX};
	struct scene *s = NULL;
	struct plane tmp = {0};
	char err[256] = "";
	int rc = scene_new(&p, &s, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "bench_count: %s\n", err);
		return rc;
	}
	*truth = *scene_truth(s);
	rc = plane_alloc(&tmp, W, H);
	for (int i = 0; !rc && i < SKIP + FRAMES; i++) {
		struct plane *out = i < SKIP ? &tmp : &frames[i - SKIP];

		if (i >= SKIP)
			rc = plane_alloc(out, W, H);
		if (!rc)
			rc = scene_next(s, out);
	}
	truth->parts = NULL; /* owned by the scene, gone with it */
	plane_free(&tmp);
	scene_free(s);
	return rc;
}

/* One pass over the clip from a fresh model and counter; adds to *n, *events. */
static int one_pass(const struct plane *frames, const struct scene_truth *t, long *n,
		    long *events)
{
	struct motion_options mo = {.scale = 4, .threshold = 25, .min_area = 400};
	struct count_options co = {.camera = "bench", .line = {t->line[0], t->line[1]},
				   .direction = 1, .codes = CODE_DATAMATRIX};
	static struct blob blobs[MOTION_BLOBS_MAX];
	struct vision_sink sink = {discard, events};
	struct motion *m = NULL;
	struct counter *c = NULL;
	char err[256] = "";
	int rc, nb = 0;

	rc = motion_new(&mo, W, H, &m, err, sizeof(err));
	if (!rc)
		rc = counter_new(&co, W, H, &c, err, sizeof(err));
	if (rc)
		fprintf(stderr, "bench_count: %s\n", err);
	for (int i = 0; !rc && i < FRAMES; i++) {
		struct frame f = {.y = frames[i], .pts_ns = i * FRAME_NS, .index = (uint64_t)i};

		nb = motion_process(m, &f.y, blobs, MOTION_BLOBS_MAX);
		rc = nb < 0 ? nb : counter_process(c, &f, blobs, nb, &sink);
		(*n)++;
	}
	counter_free(c);
	motion_free(m);
	return rc;
}

static int bench_fps(const struct plane *frames, const struct scene_truth *t)
{
	long events = 0, n = 0;
	int64_t t0 = mw_mono_ns();
	int rc = MW_OK;

	while (!rc && mw_mono_ns() - t0 < RUN_NS)
		rc = one_pass(frames, t, &n, &events);
	if (rc)
		return rc;
	printf("bench vision.count.1080p %.1f fps\n", n * 1e9 / (double)(mw_mono_ns() - t0));
	fprintf(stderr, "bench_count: %ld frames, %ld counts\n", n, events);
	return MW_OK;
}

/* The box with the counter's margin (count.c: 15% + 4 px), clipped. */
static struct plane region_of(const struct plane *f, const struct bbox *b)
{
	int mx = b->w * 15 / 100 + 4, my = b->h * 15 / 100 + 4;
	int x0 = b->x - mx < 0 ? 0 : b->x - mx, y0 = b->y - my < 0 ? 0 : b->y - my;
	int x1 = b->x + b->w + mx > W ? W : b->x + b->w + mx;
	int y1 = b->y + b->h + my > H ? H : b->y + b->h + my;

	return plane_view(f, x0, y0, x1 - x0, y1 - y0);
}

static int bench_decode(const struct plane *frames)
{
	struct motion_options mo = {.scale = 4, .threshold = 25, .min_area = 400};
	static struct blob blobs[MOTION_BLOBS_MAX];
	struct code_reader *r = NULL;
	struct motion *m = NULL;
	double ms = 0;
	long scans = 0, reads = 0;
	char err[256] = "";
	int rc;

	rc = motion_new(&mo, W, H, &m, err, sizeof(err));
	if (!rc)
		rc = code_reader_new(CODE_DATAMATRIX, COUNT_CODE_TIMEOUT_MS, &r);
	for (int pass = 0; !rc && pass < 2; pass++) { /* the first pass only trains motion */
		for (int i = 0; !rc && i < FRAMES; i += pass ? 3 : 1) {
			int nb = motion_process(m, &frames[i], blobs, MOTION_BLOBS_MAX);

			for (int k = 0; pass && k < nb; k++) {
				const struct bbox *b = &blobs[k].box;
				struct code_result res;
				struct plane reg;
				int64_t t0;

				if (b->x <= 0 || b->x + b->w >= W || b->w < 100)
					continue; /* not a part wholly in view */
				reg = region_of(&frames[i], b);
				t0 = mw_mono_ns();
				reads += code_reader_scan(r, &reg, &res, 1) > 0;
				ms += (double)(mw_mono_ns() - t0) / 1e6;
				scans++;
			}
			rc = nb < 0 ? nb : MW_OK;
		}
	}
	if (!rc && scans) {
		printf("bench vision.codes.decode_ms %.2f ms\n", ms / (double)scans);
		fprintf(stderr, "bench_count: %ld searches, %ld read\n", scans, reads);
	}
	code_reader_free(r);
	motion_free(m);
	return rc;
}

int main(void)
{
	struct plane *frames = calloc(FRAMES, sizeof(*frames));
	struct scene_truth truth;
	int rc = frames ? render(frames, &truth) : MW_ERR_NOMEM;

	if (!rc)
		rc = bench_fps(frames, &truth);
	if (!rc)
		rc = bench_decode(frames);
	for (int i = 0; frames && i < FRAMES; i++)
		plane_free(&frames[i]);
	free(frames);
	return rc ? 1 : 0;
}
