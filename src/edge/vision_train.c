/* vision_train.c -- `mw-edge train`: learns what a good part looks like.
 *
 * Inputs are images or videos of good parts as the camera sees them. An
 * image (a file with one frame) is either the whole camera frame, whose
 * inspection window is cut out, or already just the window. A video's
 * frames go to inspect_train_frame(), which takes each part once, in the
 * view the live inspector's trigger would pick (inspect_video.c says how
 * it bootstraps that trigger), so the model learns from the views it will
 * score. The model then goes to the camera's model file, which the worker
 * loads when it (re)starts. */
#include "edge/vision_worker.h"

#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char train_usage[] =
	"Usage: mw-edge train --config FILE --camera ID [--out MODEL] INPUT...\n"
	"\n"
	"Learns the camera's inspection model from images or videos of GOOD parts\n"
	"(at least 10 parts; 30 or more is better). The camera needs inspection.roi\n"
	"in the config: the window where parts are seen. The model is written to\n"
	"--out, else to the camera's inspection.model (default DATA_DIR/models/ID.model).\n";

static void crop(const struct plane *frame, struct bbox r, struct plane *out)
{
	struct plane v = plane_view(frame, r.x, r.y, r.w, r.h);
	plane_copy(out, &v);
}

static struct bbox roi_of(const struct edge_camera_config *cam)
{
	const struct config_rect *r = &cam->inspect_roi;
	return (struct bbox){r->x, r->y, r->w, r->h};
}

struct trainer_ctx {
	const struct edge_config *cfg;
	const struct edge_camera_config *cam;
	struct inspect_trainer *t;
	int frame_w, frame_h;
	int parts;
};

static int add_image(struct trainer_ctx *tc, const struct frame *f, const char *path)
{
	struct bbox r = roi_of(tc->cam);
	struct plane c;
	int rc;

	if (f->y.width == r.w && f->y.height == r.h)
		rc = inspect_train_add(tc->t, &f->y);
	else if (f->y.width == tc->frame_w && f->y.height == tc->frame_h) {
		if ((rc = plane_alloc(&c, r.w, r.h)))
			return rc;
		crop(&f->y, r, &c);
		rc = inspect_train_add(tc->t, &c);
		plane_free(&c);
	} else {
		fprintf(stderr, "mw-edge train: %s: %dx%d is neither the camera's frame (%dx%d) "
			"nor its inspection window (%dx%d)\n", path, f->y.width, f->y.height,
			tc->frame_w, tc->frame_h, r.w, r.h);
		return MW_ERR_INVALID;
	}
	tc->parts += rc == MW_OK;
	return rc;
}

/* A video whose first two frames are read already: the trainer picks its parts. */
static int add_video(struct trainer_ctx *tc, struct input *in, const struct frame *first,
		     const struct frame *second)
{
	struct frame f = *second;
	int before = inspect_train_count(tc->t), rc;

	rc = inspect_train_frame(tc->t, first);
	if (rc == MW_ERR_INVALID)
		fprintf(stderr, "mw-edge train: camera %s: video frames of %dx%d, not the %dx%d of "
			"the first input\n", tc->cam->id, first->y.width, first->y.height,
			tc->frame_w, tc->frame_h);
	if (rc)
		return rc;
	do
		rc = inspect_train_frame(tc->t, &f);
	while (rc == MW_OK && (rc = input_read(in, &f)) == MW_OK);
	if (rc == MW_ERR_NOTFOUND)
		rc = MW_OK;
	inspect_train_video_end(tc->t);
	tc->parts += inspect_train_count(tc->t) - before;
	return rc;
}

/* One file: an image (one frame) or a video. */
static int add_file(struct trainer_ctx *tc, const char *path)
{
	struct input_options io = {.camera = tc->cam->id, .url = path};
	struct input *in = NULL;
	struct frame f, second;
	struct plane keep = {0};
	char err[512];
	int rc;

	if ((rc = input_open(&io, &in, err, sizeof(err)))) {
		fprintf(stderr, "mw-edge train: %s\n", err);
		return rc;
	}
	if ((rc = input_read(in, &f)))
		goto out;
	if ((rc = plane_alloc(&keep, f.y.width, f.y.height)))
		goto out;
	plane_copy(&keep, &f.y); /* the next read may reuse the frame's memory */
	f.y = keep;
	if (!tc->t && (rc = inspect_train_new(&(struct inspect_options){
			.camera = tc->cam->id, .roi = roi_of(tc->cam), .motion = {
				.scale = (int)tc->cam->motion_scale,
				.threshold = (int)tc->cam->motion_threshold,
				.min_area = (int)tc->cam->motion_min_area}},
					      tc->frame_w = f.y.width, tc->frame_h = f.y.height,
					      &tc->t, err, sizeof(err)))) {
		fprintf(stderr, "mw-edge train: %s\n", err);
		goto out;
	}
	rc = input_read(in, &second);
	if (rc == MW_ERR_NOTFOUND)
		rc = add_image(tc, &f, path);
	else if (rc == MW_OK)
		rc = add_video(tc, in, &f, &second);
out:
	plane_free(&keep);
	input_close(in);
	return rc;
}

/* A directory's files, sorted, each as an input. */
static int add_dir(struct trainer_ctx *tc, const char *dir)
{
	struct dirent **names = NULL;
	char path[PATH_MAX];
	int n = scandir(dir, &names, NULL, alphasort), rc = MW_OK;

	if (n < 0) {
		fprintf(stderr, "mw-edge train: %s: %s\n", dir, strerror(errno));
		return MW_ERR_IO;
	}
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' && rc == MW_OK) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			rc = add_file(tc, path);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

/* Creates the model's directory and any missing parents (mkdir -p). */
static int make_parent(const char *path)
{
	char dir[PATH_MAX], *slash;

	if (mw_strlcpy(dir, path, sizeof(dir)) || !(slash = strrchr(dir, '/')) || slash == dir)
		return MW_OK;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			break;
		*p = '/';
	}
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return MW_OK;
	fprintf(stderr, "mw-edge train: cannot create %s: %s\n", dir, strerror(errno));
	return MW_ERR_IO;
}

static int finish(struct trainer_ctx *tc, const char *path)
{
	struct inspect_model *m = NULL;
	char err[512];
	int rc;

	if (!tc->t || (rc = inspect_train_finish(tc->t, &m, err, sizeof(err)))) {
		fprintf(stderr, "mw-edge train: camera %s: %s (found %d good parts in the inputs)\n",
			tc->cam->id, tc->t ? err : "no usable input", tc->parts);
		return MW_ERR_INVALID;
	}
	if ((rc = make_parent(path)) == MW_OK &&
	    (rc = inspect_model_save(m, path, err, sizeof(err))))
		fprintf(stderr, "mw-edge train: %s\n", err);
	if (rc == MW_OK)
		fprintf(stderr, "mw-edge train: camera %s: learned from %d good parts; default "
			"threshold %.1f; model saved to %s\n", tc->cam->id, tc->parts,
			inspect_model_threshold(m), path);
	inspect_model_free(m);
	return rc;
}

int vw__train(const struct edge_config *c, int argc, char **argv)
{
	struct trainer_ctx tc = {.cfg = c};
	const char *camera = NULL, *out = NULL;
	char path[EDGE_PATH_MAX + 64], err[512];
	struct stat st;
	int rc = MW_OK, ninputs = 0;

	for (int i = 0; i < argc && rc == MW_OK; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return fputs(train_usage, stdout), 0;
		if ((!strcmp(argv[i], "--camera") || !strcmp(argv[i], "--out")) && i + 1 < argc) {
			*(!strcmp(argv[i], "--camera") ? &camera : &out) = argv[i + 1];
			i++;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "mw-edge train: %s: unknown option or missing value\n%s",
				argv[i], train_usage);
			return 1;
		} else {
			ninputs++;
		}
	}
	if (!(tc.cam = vw__find_camera(c, camera, err, sizeof(err)))) {
		fprintf(stderr, "mw-edge train: --camera: %s\n", err);
		return 1;
	}
	if (tc.cam->inspect_roi.w == 0 || ninputs == 0) {
		fprintf(stderr, "mw-edge train: %s\n%s",
			ninputs ? "the camera has no inspection.roi: set its inspection window first"
				: "no inputs", train_usage);
		return 1;
	}
	if (!out && edge_camera_model_path(c, tc.cam, path, sizeof(path)) == MW_OK)
		out = path;
	for (int i = 0; i < argc && rc == MW_OK; i++) {
		if (argv[i][0] == '-') {
			i++;
			continue;
		}
		rc = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? add_dir(&tc, argv[i])
								     : add_file(&tc, argv[i]);
	}
	if (rc == MW_OK)
		rc = finish(&tc, out);
	inspect_train_free(tc.t);
	return rc ? 1 : 0;
}
