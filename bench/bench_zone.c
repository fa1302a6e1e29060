/* bench_zone.c -- how many frames a second the safety-zone analytics take.
 *
 * Figures (one a line, as `make bench` expects):
 *   bench vision.zone.1080p  frames/s, 1920x1080
 *   bench vision.zone.4k     frames/s, 3840x2160
 * Analytics alone (motion model, blobs, two zones), one thread, on frames
 * already decoded: 60 frames of a textured, noisy floor with three dark
 * objects moving across it are drawn in memory first, then looped over for
 * about three seconds with stream time running on, so the model sees an
 * endless clip. Decoding is measured elsewhere (vision.overhead_pct).
 *
 *   bench vision.zone.scalar.1080p  the same, vision library built without
 *                                   the vectoriser and the AVX2 clones
 *   ratio vision.zone.vectorised    vision.zone.1080p over that
 * The scalar figure comes from zone_scalar, this file built against that
 * library (CMakeLists.txt), which bench_zone runs right after its own
 * 1080p run and before its 4K one. */
#include "core/mw.h"
#include "vision/zone.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FRAMES 60
#define RUN_NS 3000000000LL
#define FRAME_NS 33333333LL

static uint32_t rnd(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void ellipse(struct plane *p, int cx, int cy, int rx, int ry, uint32_t *rng)
{
	for (int y = cy - ry; y <= cy + ry; y++) {
		uint8_t *row;
		if (y < 0 || y >= p->height)
			continue;
		row = plane_row(p, y);
		for (int x = cx - rx; x <= cx + rx; x++) {
			int64_t dx = x - cx, dy = y - cy;
			if (x >= 0 && x < p->width &&
			    dx * dx * ry * ry + dy * dy * rx * rx <= (int64_t)rx * rx * ry * ry)
				row[x] = (uint8_t)(40 + rnd(rng) % 16);
		}
	}
}

static int draw_clip(struct plane *frames, int w, int h)
{
	uint32_t rng = 12345;
	int rx = w / 50, ry = h / 11;

	for (int i = 0; i < FRAMES; i++) {
		struct plane *p = &frames[i];
		if (plane_alloc(p, w, h))
			return MW_ERR_NOMEM;
		for (int y = 0; y < h; y++) {
			uint8_t *row = plane_row(p, y);
			for (int x = 0; x < w; x++)
				row[x] = (uint8_t)(100 + 30 * (((x * 16 / w) + (y * 9 / h)) % 3) +
						   rnd(&rng) % 24);
		}
		ellipse(p, w / 10 + i * w / 80, h / 2, rx, ry, &rng);
		ellipse(p, w - i * w / 70, h / 3, rx, ry, &rng);
		ellipse(p, w / 2, h / 8 + i * h / 80, rx, ry, &rng);
	}
	return MW_OK;
}

static int discard(void *arg, struct event *e, const struct plane *snapshot)
{
	(*(long *)arg)++;
	return MW_OK;
}

#ifdef VISION_SCALAR
#define FIGURE "scalar."
#else
#define FIGURE ""
#endif

static int run(const char *name, int w, int h, double *fps)
{
	struct zone_def zones[2] = {
		{"left",
		 {{w / 20, h / 4}, {w * 2 / 5, h / 4}, {w * 2 / 5, h * 3 / 4}, {w / 20, h * 3 / 4}},
		 4,
		 SEV_ALARM},
		{"right",
		 {{w * 3 / 5, h / 5},
		  {w * 9 / 10, h / 4},
		  {w * 9 / 10, h * 4 / 5},
		  {w * 3 / 5, h * 3 / 4}},
		 4,
		 SEV_WARNING},
	};
	struct zone_options o = {.camera = "bench", .zones = zones, .nzones = 2};
	struct plane *frames = calloc(FRAMES, sizeof(*frames));
	struct zone_detector *d = NULL;
	long events = 0, n = 0;
	struct vision_sink sink = {discard, &events};
	char err[256] = "";
	int64_t t0;
	int rc = MW_ERR_NOMEM;

	if (!frames || draw_clip(frames, w, h))
		goto out;
	rc = zone_detector_new(&o, w, h, &d, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "bench_zone: %s\n", err);
		goto out;
	}
	t0 = mw_mono_ns();
	while (mw_mono_ns() - t0 < RUN_NS) {
		struct frame f = {
			.y = frames[n % FRAMES], .pts_ns = n * FRAME_NS, .index = (uint64_t)n};
		rc = zone_detector_process(d, &f, &sink);
		if (rc)
			goto out;
		n++;
	}
	*fps = n * 1e9 / (double)(mw_mono_ns() - t0);
	printf("bench vision.zone." FIGURE "%s %.1f fps\n", name, *fps);
	fflush(stdout);
	fprintf(stderr, "bench_zone: %s: %ld frames, %ld events\n", name, n, events);
out:
	zone_detector_free(d);
	for (int i = 0; frames && i < FRAMES; i++)
		plane_free(&frames[i]);
	free(frames);
	return rc;
}

#ifdef VISION_SCALAR
int main(void)
{
	double fps;

	return run("1080p", 1920, 1080, &fps) ? 1 : 0;
}
#else
/* Runs zone_scalar from bench_zone's own directory; its 1080p fps, or 0. */
static double scalar_fps(void)
{
	char exe[4096], cmd[4200], line[256];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	double fps = 0;
	FILE *p;

	if (n <= 0)
		return 0;
	exe[n] = '\0';
	snprintf(cmd, sizeof(cmd), "'%s/zone_scalar'", dirname(exe));
	p = popen(cmd, "r");
	if (!p)
		return 0;
	while (fgets(line, sizeof(line), p)) {
		double v;
		fputs(line, stdout);
		if (sscanf(line, "bench vision.zone.scalar.1080p %lf", &v) == 1)
			fps = v;
	}
	if (pclose(p) != 0)
		fps = 0;
	return fps;
}

int main(void)
{
	double fps, scalar, fps4k;

	if (run("1080p", 1920, 1080, &fps))
		return 1;
	scalar = scalar_fps();
	if (scalar > 0)
		printf("ratio vision.zone.vectorised %.2f\n", fps / scalar);
	else
		fprintf(stderr, "bench_zone: zone_scalar did not run (build it: make bench)\n");
	return run("4k", 3840, 2160, &fps4k) || scalar <= 0 ? 1 : 0;
}
#endif
