/* vision_analyze.c -- `mw-edge analyze`: a camera's analytics on recorded
 * footage, as fast as it decodes.
 *
 * The pipeline is the live one (vision/pipeline.h) with the camera's
 * config, so what this prints is what the line would raise; time inside
 * the footage drives the detectors' debounce and dwell times, so analysing
 * faster than real time changes nothing. Decoding and analysis run on two
 * threads, as live, and no frame is dropped. Each input starts a fresh
 * pipeline: files are separate recordings. Events go out as JSON lines;
 * a progress bar goes to stderr when it is a terminal, and a summary at
 * the end either way. */
#include "edge/vision_worker.h"

#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct analyze_args {
	const char *camera, *out, *snapshots;
	const char **inputs;
	int ninputs;
};

static const char analyze_usage[] =
	"Usage: mw-edge analyze --config FILE [--camera ID] [--out FILE] [--snapshots DIR] INPUT...\n"
	"\n"
	"Runs a camera's analytics (its zones, counting and inspection from the config)\n"
	"on video files or images as fast as they decode, and writes the events as\n"
	"JSON lines to stdout or --out FILE. --camera is needed when the config has\n"
	"several cameras. --snapshots DIR saves each event's snapshot there as JPEG.\n";

static int parse(int argc, char **argv, struct analyze_args *a)
{
	memset(a, 0, sizeof(*a));
	a->inputs = calloc((size_t)argc, sizeof(*a->inputs));
	if (!a->inputs)
		return MW_ERR_NOMEM;
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i], **slot = NULL;
		if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
			fputs(analyze_usage, stdout);
			return MW_ERR_STATE;
		}
		if (!strcmp(s, "--camera"))
			slot = &a->camera;
		else if (!strcmp(s, "--out"))
			slot = &a->out;
		else if (!strcmp(s, "--snapshots"))
			slot = &a->snapshots;
		else if (s[0] == '-' && s[1]) {
			fprintf(stderr, "mw-edge analyze: %s: unknown option\n%s", s, analyze_usage);
			return MW_ERR_INVALID;
		} else {
			a->inputs[a->ninputs++] = s;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "mw-edge analyze: %s: needs a value\n", s);
			return MW_ERR_INVALID;
		}
		*slot = argv[++i];
	}
	if (a->ninputs == 0) {
		fprintf(stderr, "mw-edge analyze: no input files\n%s", analyze_usage);
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

/* "[#####-----]  45%  1234/2700 frames  310 fps  NAME" on one line. */
static void progress(const char *name, int64_t done, int64_t total, double fps)
{
	char bar[31];
	int fill = total > 0 ? (int)(30 * done / total) : 0;

	if (fill > 30)
		fill = 30;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '-', (size_t)(30 - fill));
	bar[30] = '\0';
	if (total > 0)
		fprintf(stderr, "\r[%s] %3d%%  %lld/%lld frames  %.0f fps  %s ", bar,
			(int)(100 * done / (total > done ? total : done)), (long long)done,
			(long long)total, fps, name);
	else
		fprintf(stderr, "\r%lld frames  %.0f fps  %s ", (long long)done, fps, name);
	fflush(stderr);
}

struct totals {
	int64_t frames, ns;
	int failed;
};

/* One input's run: the camera runner (vision/camera.h) decodes on its
 * thread while the pipeline analyses on another, losslessly, so decoding
 * and analysis overlap as they do live. */
struct run {
	const char *path;
	struct pipeline *p;
	struct vw_jsonl_sink *js;
	bool tty;
	int64_t t0, last, total;
	uint64_t n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool ended, failed; /* the source ended, or the run failed */
	char err[512];
};

static void fail_run(struct run *r, const char *why)
{
	pthread_mutex_lock(&r->mu);
	if (!r->failed)
		mw_strlcpy(r->err, why, sizeof(r->err));
	r->failed = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void run_analyse(void *arg, const struct frame *f)
{
	struct run *r = arg;
	struct vision_sink sink = {vw__jsonl_emit, r->js};
	int rc;

	if (r->failed)
		return;
	r->js->frame = f;
	if ((rc = pipeline_process(r->p, f, &sink))) {
		fail_run(r, pipeline_error(r->p)[0] ? pipeline_error(r->p) : mw_strerror(rc));
		return;
	}
	r->n++;
	if (r->tty && mw_mono_ns() - r->last > 200000000LL) {
		r->last = mw_mono_ns();
		progress(r->path, (int64_t)r->n, r->total,
			 (double)r->n / ((double)(r->last - r->t0) / 1e9));
	}
}

static void run_status(void *arg, const struct camera_status *st)
{
	struct run *r = arg;

	if (st->state == CAMERA_RECONNECTING) { /* a file does not come back */
		fail_run(r, st->last_error);
	} else if (st->state == CAMERA_ENDED) {
		pthread_mutex_lock(&r->mu);
		r->ended = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
}

/* Waits until the source ended and every frame read was analysed, or the run failed. */
static void wait_run(struct run *r, struct camera *cam)
{
	struct camera_status st;

	pthread_mutex_lock(&r->mu);
	while (!r->ended && !r->failed)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	for (;;) {
		camera_status(cam, &st);
		if (r->failed || st.frames_analysed >= st.frames_in)
			return;
		nanosleep(&(struct timespec){0, 5000000L}, NULL);
	}
}

/* Runs one input through a fresh pipeline. */
static int analyze_one(const struct pipeline_options *po, const char *path,
		       struct vw_jsonl_sink *js, bool tty, struct totals *t)
{
	struct input_options io = {.camera = po->camera, .url = path};
	struct run r = {.path = path, .js = js, .tty = tty, .t0 = mw_mono_ns(),
			.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct camera_options co = {.id = po->camera, .lossless = true,
				    .backoff_min_ms = 3600000, .backoff_max_ms = 3600000,
				    .analyse = run_analyse, .analyse_arg = &r,
				    .status = run_status, .status_arg = &r};
	struct vision_sink sink = {vw__jsonl_emit, js};
	struct camera *cam = NULL;
	struct input *in = NULL;
	char err[512];
	int rc;

	/* Open once here, so a bad file is reported at once, with its frame count. */
	if ((rc = input_open(&io, &in, err, sizeof(err)))) {
		fprintf(stderr, "mw-edge analyze: %s\n", err);
		return rc;
	}
	r.total = input_frames_hint(in);
	input_close(in);
	js->input = path;
	if ((rc = pipeline_new(po, &r.p)) || (rc = camera_input_source(&io, &co.src)) ||
	    (rc = camera_start(&co, &cam)))
		goto out;
	wait_run(&r, cam);
	camera_stop(cam);
	if (r.failed) {
		fprintf(stderr, "%smw-edge analyze: %s: %s\n", tty ? "\n" : "", path, r.err);
		rc = MW_ERR_INVALID;
		goto out;
	}
	pipeline_flush(r.p, &sink);
	if (tty)
		progress(path, (int64_t)r.n, (int64_t)r.n,
			 (double)r.n / ((double)(mw_mono_ns() - r.t0) / 1e9)),
			fputc('\n', stderr);
out:
	t->frames += (int64_t)r.n;
	t->ns += mw_mono_ns() - r.t0;
	js->frame = NULL;
	camera_free(cam);
	pipeline_free(r.p);
	return rc;
}

static FILE *open_out(const char *path)
{
	FILE *f;

	if (!path || !strcmp(path, "-"))
		return stdout;
	if (!(f = fopen(path, "w")))
		fprintf(stderr, "mw-edge analyze: --out %s: %s\n", path, strerror(errno));
	return f;
}

static int check_snapshots(const char *dir)
{
	struct stat st;

	if (!dir || (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)))
		return MW_OK;
	if (mkdir(dir, 0755) == 0)
		return MW_OK;
	fprintf(stderr, "mw-edge analyze: --snapshots %s: %s\n", dir, strerror(errno));
	return MW_ERR_IO;
}

int vw__analyze(const struct edge_config *c, int argc, char **argv)
{
	const struct edge_camera_config *cam;
	struct pipeline_options po;
	struct vw_jsonl_sink js;
	struct analyze_args a;
	struct totals t = {0};
	FILE *out = NULL;
	char err[512];
	int rc, status = 1;

	if ((rc = parse(argc, argv, &a)))
		goto out;
	if (!(cam = vw__find_camera(c, a.camera, err, sizeof(err)))) {
		fprintf(stderr, "mw-edge analyze: --camera: %s\n", err);
		goto out;
	}
	if (vw__pipeline_options(c, cam, &po, err, sizeof(err))) {
		fprintf(stderr, "mw-edge analyze: %s\n", err);
		goto out;
	}
	if (!pipeline_has_detectors(&po))
		fprintf(stderr, "mw-edge analyze: camera %s has no detectors configured "
			"(zones, count.line or inspection.roi): no events will come\n", cam->id);
	if (check_snapshots(a.snapshots) || !(out = open_out(a.out)))
		goto out;
	if (vw__jsonl_sink_init(&js, out, a.snapshots))
		goto out;
	js.max_width = (int)cam->snapshot_max_width;
	js.quality = (int)cam->snapshot_quality;
	for (int i = 0; i < a.ninputs; i++)
		if (analyze_one(&po, a.inputs[i], &js, isatty(2), &t))
			t.failed++;
	fprintf(stderr,
		"mw-edge analyze: %d input(s), %lld frames in %.1f s (%.0f fps), %llu events: "
		"%llu intrusions, %llu parts counted, %llu defects, %llu passes%s\n",
		a.ninputs, (long long)t.frames, (double)t.ns / 1e9,
		t.ns ? (double)t.frames / ((double)t.ns / 1e9) : 0.0, (unsigned long long)js.events,
		(unsigned long long)js.by_kind_zone, (unsigned long long)js.by_kind_count,
		(unsigned long long)js.by_kind_defect, (unsigned long long)js.by_kind_pass,
		t.failed ? "; some inputs failed (above)" : "");
	vw__jsonl_sink_free(&js);
	status = t.failed ? 1 : 0;
out:
	if (out && out != stdout && fclose(out))
		status = 1;
	else if (out == stdout && fflush(stdout))
		status = 1;
	free(a.inputs);
	return rc == MW_ERR_STATE ? 0 : status;
}
