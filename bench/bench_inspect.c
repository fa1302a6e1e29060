/* bench_inspect.c -- how many frames a second one core inspects.
 *
 * Figures (one a line, as `make bench` expects):
 *   bench vision.inspect.1080p   inspect_process() on 1920x1080 luma frames
 *   bench vision.inspect.4k      the same on 3840x2160
 * The part (a bright plate with holes on a darker belt, noise sigma 3) is a
 * fifth of the frame wide and the ROI scales with it, as a camera framed
 * for the part would give; parts slide through the ROI so the trigger,
 * the alignment search every frame and one full inspection per part are
 * all in the figure. Frames are rendered before the clock starts; each
 * size runs ~3 s on one thread. Only figures go to stdout. */
#include "core/log.h"
#include "core/mw.h"
#include "vision/inspect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAMES 24 /* rendered frames, replayed in a loop: one part passes */
#define SECONDS 3.0

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double noise(void)
{
	double s = 0;

	for (int i = 0; i < 4; i++) { /* sum of uniforms: near Gaussian, sigma 3 */
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		s += (double)(rng >> 11) / 9007199254740992.0 - 0.5;
	}
	return s * 3 * sqrt(3.0);
}

/* A plate of half-size (pw, ph) with two holes, centre (cx, cy), turned a. */
static void draw(struct plane *p, int x0, int y0, int w, int h, double cx, double cy,
		 double pw, double ph, double a)
{
	for (int y = y0; y < y0 + h; y++)
		for (int x = x0; x < x0 + w; x++) {
			double u = cos(a) * (x - cx) + sin(a) * (y - cy);
			double v = -sin(a) * (x - cx) + cos(a) * (y - cy);
			double hole = pw * 0.15;
			int in = fabs(u) < pw && fabs(v) < ph &&
				 hypot(fabs(u) - pw * 0.6, v) > hole;

			plane_row(p, y)[x] = (uint8_t)lrint(fmax(0, fmin(255, (in ? 190 : 60) +
									 noise())));
		}
}

static int drop(void *arg, struct event *e, const struct plane *snapshot)
{
	return MW_OK;
}

static double run(int fw, int fh)
{
	int pw = fw / 5, ph = pw * 2 / 3, rw = pw + pw / 2, rh = ph + ph / 2;
	struct inspect_options o = {.camera = "bench", .roi = {(fw - rw) / 2, (fh - rh) / 2, rw, rh}};
	struct inspect_trainer *t = NULL;
	struct inspect_model *m = NULL;
	struct inspector *ins = NULL;
	struct plane img = {0}, frames[FRAMES] = {{0}};
	struct vision_sink sink = {drop, NULL};
	char err[256] = "setup failed";
	double fps = 0;
	int64_t start, n = 0;

	if (plane_alloc(&img, rw, rh) || inspect_train_new(&o, fw, fh, &t, err, sizeof(err)))
		goto fail;
	for (int i = 0; i < 12; i++) {
		draw(&img, 0, 0, rw, rh, rw / 2.0 + i % 5 - 2, rh / 2.0 + i % 3 - 1, pw / 2.0,
		     ph / 2.0, (i % 5 - 2) * 0.01);
		if (inspect_train_add(t, &img))
			goto fail;
	}
	if (inspect_train_finish(t, &m, err, sizeof(err)) || inspect_new(&o, m, &ins, err,
									   sizeof(err)))
		goto fail;
	for (int i = 0; i < FRAMES; i++) {
		if (plane_alloc(&frames[i], fw, fh))
			goto fail;
		draw(&frames[i], 0, o.roi.y, fw, rh, -pw + (fw + 2.0 * pw) * i / FRAMES, fh / 2.0,
		     pw / 2.0, ph / 2.0, 0.02);
	}
	start = mw_mono_ns();
	while (mw_mono_ns() - start < (int64_t)(SECONDS * 1e9)) {
		struct frame f = {.y = frames[n % FRAMES], .index = (uint64_t)n};

		if (inspect_process(ins, &f, &sink) < 0)
			goto fail;
		n++;
	}
	fps = n / ((mw_mono_ns() - start) / 1e9);
	goto out;
fail:
	fprintf(stderr, "bench_inspect: %dx%d: %s\n", fw, fh, err);
out:
	for (int i = 0; i < FRAMES; i++)
		plane_free(&frames[i]);
	plane_free(&img);
	inspect_train_free(t);
	inspect_free(ins);
	return fps;
}

int main(void)
{
	log_set_level(LOG_WARN);
	printf("bench vision.inspect.1080p %.1f fps\n", run(1920, 1080));
	printf("bench vision.inspect.4k %.1f fps\n", run(3840, 2160));
	return 0;
}
