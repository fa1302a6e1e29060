/* mw-scene -- renders a synthetic factory scene to a video plus its truth.
 *
 * The frames come from the scene generator (vision/scene.h) as raw 8-bit
 * grey and go either to ffmpeg's stdin (which encodes H.264, so tests and
 * benchmarks exercise the same decoder path as a real camera) or, with
 * --raw, to our stdout for piping into something else. ffmpeg is started
 * with posix_spawnp and an argument vector, never through a shell, so any
 * file name works; its exit status decides ours. */
#include "core/mw.h"
#include "vision/scene.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char usage[] =
	"usage: mw-scene [OPTIONS] --out FILE.mp4 [--truth FILE.json]\n"
	"       mw-scene [OPTIONS] --raw > frames.gray\n"
	"\n"
	"Renders a synthetic conveyor scene (parts with and without defects,\n"
	"people walking into a danger zone) and encodes it with ffmpeg (H.264),\n"
	"or writes raw 8-bit grey frames to stdout with --raw. The same options\n"
	"and seed always give the same frames.\n"
	"\n"
	"  --width W, --height H   frame size (default 1280 x 720)\n"
	"  --fps F                 frames per second (default 30)\n"
	"  --seconds S             clip length (default 10)\n"
	"  --seed N                random seed (default 1)\n"
	"  --design N              the part's design: holes and their places (default 1);\n"
	"                          clips of one design share one inspection model\n"
	"  --parts-per-min X       parts entering per minute (default 40; 0 = none)\n"
	"  --defect-rate R         fraction of defective parts, 0..1 (default 0.1)\n"
	"  --people-per-min P      people walking into the zone per minute (default 2)\n"
	"  --drift D               lighting drift amplitude, 0..1 of full scale (default 0)\n"
	"  --noise N               sensor noise, std dev in grey levels (default 0)\n"
	"  --blur B                box blur radius in pixels (default 0)\n"
	"  --code KIND             none, datamatrix or qr (default datamatrix)\n"
	"  --belt-stops            the belt halts 1 s with each part under inspection\n"
	"  --out FILE              encode to FILE (mp4, mkv...) with ffmpeg\n"
	"  --truth FILE            write the ground truth as JSON to FILE\n"
	"  --raw                   write raw grey frames (W*H bytes each) to stdout\n"
	"  --help                  this text\n"
	"\n"
	"example: mw-scene --seconds 20 --noise 3 --people-per-min 4 \\\n"
	"             --out scene.mp4 --truth scene.json\n";

struct opts {
	struct scene_params p;
	double seconds;
	const char *out, *truth;
	bool raw;
};

static int opt_double(const char *name, const char *s, double lo, double hi, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*v) || *v < lo || *v > hi) {
		fprintf(stderr, "mw-scene: --%s: '%s' is not a number in %g..%g\n", name, s, lo,
			hi);
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

static int opt_int(const char *name, const char *s, int64_t lo, int64_t hi, int64_t *v)
{
	if (mw_parse_i64(s, lo, hi, v)) {
		fprintf(stderr, "mw-scene: --%s: '%s' is not a whole number in %lld..%lld\n", name,
			s, (long long)lo, (long long)hi);
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

static int opt_code(const char *s, enum scene_code *code)
{
	if (!strcmp(s, "none"))
		*code = SCENE_CODE_NONE;
	else if (!strcmp(s, "datamatrix"))
		*code = SCENE_CODE_DATAMATRIX;
	else if (!strcmp(s, "qr"))
		*code = SCENE_CODE_QR;
	else {
		fprintf(stderr, "mw-scene: --code: '%s' is not none, datamatrix or qr\n", s);
		return MW_ERR_INVALID;
	}
	return MW_OK;
}

enum { O_WIDTH = 256, O_HEIGHT, O_FPS, O_SEED, O_SECONDS, O_PPM, O_DEFECT, O_PEOPLE,
       O_DRIFT, O_NOISE, O_BLUR, O_CODE, O_STOPS, O_OUT, O_TRUTH, O_RAW, O_HELP, O_DESIGN };

static const struct option longopts[] = {
	{"width", 1, NULL, O_WIDTH},    {"height", 1, NULL, O_HEIGHT},
	{"fps", 1, NULL, O_FPS},        {"seed", 1, NULL, O_SEED},
	{"seconds", 1, NULL, O_SECONDS}, {"parts-per-min", 1, NULL, O_PPM},
	{"defect-rate", 1, NULL, O_DEFECT}, {"people-per-min", 1, NULL, O_PEOPLE},
	{"drift", 1, NULL, O_DRIFT},    {"noise", 1, NULL, O_NOISE},
	{"blur", 1, NULL, O_BLUR},      {"code", 1, NULL, O_CODE},
	{"belt-stops", 0, NULL, O_STOPS}, {"out", 1, NULL, O_OUT},
	{"truth", 1, NULL, O_TRUTH},    {"raw", 0, NULL, O_RAW},
	{"help", 0, NULL, O_HELP},      {"design", 1, NULL, O_DESIGN},
	{NULL, 0, NULL, 0},
};

static int opt_one(struct opts *o, int c, const char *arg)
{
	struct scene_params *p = &o->p;
	int64_t i = 0;
	int rc = MW_OK;

	switch (c) {
	case O_WIDTH:
		rc = opt_int("width", arg, 320, 8192, &i);
		p->width = (int)i;
		break;
	case O_HEIGHT:
		rc = opt_int("height", arg, 180, 8192, &i);
		p->height = (int)i;
		break;
	case O_FPS:
		rc = opt_double("fps", arg, 1, 240, &p->fps);
		break;
	case O_SEED:
		rc = opt_int("seed", arg, 0, INT64_MAX, &i);
		p->seed = (uint64_t)i;
		break;
	case O_DESIGN:
		rc = opt_int("design", arg, 1, INT64_MAX, &i);
		p->design = (uint64_t)i;
		break;
	case O_SECONDS:
		rc = opt_double("seconds", arg, 0.01, 86400, &o->seconds);
		break;
	case O_PPM:
		rc = opt_double("parts-per-min", arg, 0, 600, &p->parts_per_min);
		if (!rc && p->parts_per_min == 0)
			p->parts_per_min = -1;
		break;
	case O_DEFECT:
		rc = opt_double("defect-rate", arg, 0, 1, &p->defect_rate);
		break;
	case O_PEOPLE:
		rc = opt_double("people-per-min", arg, 0, 60, &p->people_per_min);
		break;
	case O_DRIFT:
		rc = opt_double("drift", arg, 0, 1, &p->lighting_drift);
		break;
	case O_NOISE:
		rc = opt_double("noise", arg, 0, 64, &p->noise);
		break;
	case O_BLUR:
		rc = opt_double("blur", arg, 0, 32, &p->blur);
		break;
	case O_CODE:
		rc = opt_code(arg, &p->code);
		break;
	case O_STOPS:
		p->belt_stops = true;
		break;
	case O_OUT:
		o->out = arg;
		break;
	case O_TRUTH:
		o->truth = arg;
		break;
	case O_RAW:
		o->raw = true;
		break;
	default:
		rc = MW_ERR_INVALID;
	}
	return rc;
}

/* 0 = go on, 1 = done (help), negative = error. */
static int opts_parse(struct opts *o, int argc, char **argv)
{
	int c;

	*o = (struct opts){.seconds = 10};
	o->p = (struct scene_params){.seed = 1, .defect_rate = 0.1, .people_per_min = 2,
				     .code = SCENE_CODE_DATAMATRIX};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h' || c == O_HELP) {
			fputs(usage, stdout);
			return 1;
		}
		if (c == '?' || opt_one(o, c, optarg))
			goto bad;
	}
	if (optind < argc) {
		fprintf(stderr, "mw-scene: unexpected argument '%s'\n", argv[optind]);
		goto bad;
	}
	if (!o->out == !o->raw) {
		fprintf(stderr, "mw-scene: give exactly one of --out FILE or --raw\n");
		goto bad;
	}
	if (o->raw && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "mw-scene: --raw writes binary frames; redirect stdout\n");
		goto bad;
	}
	if ((o->p.width == 0) != (o->p.height == 0)) {
		fprintf(stderr, "mw-scene: give both --width and --height\n");
		goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "Try 'mw-scene --help'.\n");
	return MW_ERR_INVALID;
}

static int ffmpeg_start(const struct opts *o, const struct scene_truth *t, pid_t *pid, FILE **f)
{
	char size[32], rate[32];
	char *argv[] = {"ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "rawvideo",
			"-pix_fmt", "gray", "-s", size, "-r", rate, "-i", "-", "-c:v", "libx264",
			"-pix_fmt", "yuv420p", "-preset", "veryfast", "-y", (char *)o->out, NULL};
	posix_spawn_file_actions_t fa;
	int fd[2], rc;

	snprintf(size, sizeof(size), "%dx%d", t->width, t->height);
	snprintf(rate, sizeof(rate), "%g", t->fps);
	if (pipe(fd))
		return MW_ERR_IO;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd[0], STDIN_FILENO);
	posix_spawn_file_actions_addclose(&fa, fd[0]);
	posix_spawn_file_actions_addclose(&fa, fd[1]);
	rc = posix_spawnp(pid, "ffmpeg", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fd[0]);
	if (rc) {
		fprintf(stderr, "mw-scene: cannot start ffmpeg: %s\n", strerror(rc));
		close(fd[1]);
		return MW_ERR_IO;
	}
	*f = fdopen(fd[1], "wb");
	if (!*f) {
		close(fd[1]);
		return MW_ERR_IO;
	}
	return MW_OK;
}

static int ffmpeg_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return MW_ERR_IO;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return MW_OK;
	if (WIFEXITED(st))
		fprintf(stderr, "mw-scene: ffmpeg failed (exit status %d)\n", WEXITSTATUS(st));
	else
		fprintf(stderr, "mw-scene: ffmpeg killed by signal %d\n", WTERMSIG(st));
	return MW_ERR_IO;
}

static int frames_write(struct scene *s, FILE *f)
{
	const struct scene_truth *t = scene_truth(s);
	bool tty = isatty(STDERR_FILENO);
	struct plane pl;
	int rc = plane_alloc(&pl, t->width, t->height);

	if (rc)
		return rc;
	for (int i = 0; i < t->frames; i++) {
		rc = scene_next(s, &pl);
		if (rc)
			break;
		for (int y = 0; y < pl.height && !rc; y++)
			if (fwrite(plane_row(&pl, y), 1, (size_t)pl.width, f) != (size_t)pl.width)
				rc = MW_ERR_IO;
		if (rc) {
			fprintf(stderr, "\nmw-scene: writing frame %d: %s\n", i, strerror(errno));
			break;
		}
		if (tty && (i % 10 == 0 || i == t->frames - 1))
			fprintf(stderr, "\rframe %d/%d (%d%%)", i + 1, t->frames,
				(i + 1) * 100 / t->frames);
	}
	if (tty)
		fputc('\n', stderr);
	plane_free(&pl);
	return rc;
}

static int truth_write(const struct scene_truth *t, const char *path)
{
	json_t *j = scene_truth_json(t);
	int rc = j ? json_dump_file(j, path, JSON_INDENT(1)) : -1;

	json_decref(j);
	if (rc) {
		fprintf(stderr, "mw-scene: cannot write truth to %s\n", path);
		return MW_ERR_IO;
	}
	return MW_OK;
}

static void summary(const struct opts *o, const struct scene_truth *t)
{
	int defective = 0;

	for (int k = 0; k < t->nparts; k++)
		defective += t->parts[k].defect != SCENE_DEFECT_NONE;
	fprintf(o->raw ? stderr : stdout,
		"mw-scene: %s: %d frames %dx%d at %g fps, %d parts (%d defective), "
		"%d people%s%s\n",
		o->raw ? "stdout" : o->out, t->frames, t->width, t->height, t->fps, t->nparts,
		defective, t->npeople, o->truth ? ", truth in " : "", o->truth ? o->truth : "");
}

int main(int argc, char **argv)
{
	struct opts o;
	struct scene *s = NULL;
	char err[256];
	FILE *f = NULL;
	pid_t pid = -1;
	int rc;

	rc = opts_parse(&o, argc, argv);
	if (rc)
		return rc > 0 ? 0 : 2;
	o.p.frames = (int)fmax(1, lround(o.seconds * (o.p.fps ? o.p.fps : 30)));
	if (scene_new(&o.p, &s, err, sizeof(err))) {
		fprintf(stderr, "mw-scene: %s\n", err);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	f = o.out ? NULL : stdout;
	rc = o.out ? ffmpeg_start(&o, scene_truth(s), &pid, &f) : MW_OK;
	if (!rc)
		rc = frames_write(s, f);
	/* Closing the pipe is ffmpeg's end of input. */
	if (f && (o.out ? fclose(f) : fflush(f)) && !rc)
		rc = MW_ERR_IO;
	if (pid > 0 && ffmpeg_wait(pid))
		rc = MW_ERR_IO;
	if (!rc && o.truth)
		rc = truth_write(scene_truth(s), o.truth);
	if (!rc)
		summary(&o, scene_truth(s));
	scene_free(s);
	return rc ? 1 : 0;
}
