/* camera.c -- one camera: a reading thread, an analysis thread, and a
 * one-frame mailbox between them.
 *
 * Decoding must keep pace with the camera whatever the detectors cost, or
 * a network stream backs up, its buffers overflow and it breaks. So the
 * reading thread ("cam-ID") never waits for analysis: it puts each frame
 * into a spare slot and swaps it into the mailbox. If the analysis
 * thread ("ana-ID") has not taken the previous frame yet, that frame is
 * replaced and counted as dropped: analysis always sees the latest frame,
 * late rather than never, and memory stays at three frames (spare,
 * mailbox, being analysed), swapped by pointer. A source that can lend its
 * frame (struct frame's hold: FFmpeg's decoder buffers are reference
 * counted) puts it in the slot as it is; any other is copied into the
 * slot's own buffer, allocated again only when the frame size changes. The
 * copy of a 1080p luma plane cost about a fifth of all the analytics.
 *
 * A source that fails to open, errors or (unless looping) ends is retried
 * forever with exponential backoff and jitter, so a camera that comes back
 * is picked up again and a dozen cameras behind one dead switch do not
 * retry in lockstep. Waits are condition-variable waits that camera_stop()
 * cuts short; a blocked open or read is cut short by the source's
 * interrupt hook. Nothing here is shared between cameras, so one camera's
 * failure cannot stall another. */
#include "vision/camera.h"

#include "core/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define FPS_WINDOW_NS 2000000000LL
#define FPS_STALE_NS 5000000000LL

struct rate {
	int64_t start_ns;
	uint64_t start_count;
	double fps;
};

struct camera {
	char id[VISION_ID_MAX + 1];
	struct camera_options opt;
	pthread_t reader, analyser;
	bool have_reader, have_analyser, joined;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;  /* a new frame in the mailbox, or stop */
	bool stop;
	struct slot {
		struct frame f;
		struct plane copy; /* f.y when the source did not lend the frame */
	} slots[3];
	struct slot *spare, *mail, *work; /* spare belongs to the reader, work to the analyser */
	bool mail_full;
	struct camera_status st;
	struct rate rate_in, rate_ana;
	uint64_t rng;
};

const char *camera_state_name(enum camera_state s)
{
	static const char *const names[] = {"connecting", "running", "reconnecting", "ended",
					    "stopped"};
	return (unsigned)s < MW_ARRAY_LEN(names) ? names[s] : "unknown";
}

/* ---- status ------------------------------------------------------------ */

static void rate_tick(struct rate *r, uint64_t count, int64_t now)
{
	if (!r->start_ns) {
		r->start_ns = now;
		r->start_count = count;
	} else if (now - r->start_ns >= FPS_WINDOW_NS) {
		r->fps = (double)(count - r->start_count) * 1e9 / (double)(now - r->start_ns);
		r->start_ns = now;
		r->start_count = count;
	}
}

static double rate_now(const struct rate *r, int64_t now)
{
	return r->start_ns && now - r->start_ns < FPS_STALE_NS ? r->fps : 0.0;
}

static void snapshot(struct camera *cam, struct camera_status *out)
{
	int64_t now = mw_mono_ns();

	*out = cam->st;
	out->fps_in = rate_now(&cam->rate_in, now);
	out->fps_analysed = rate_now(&cam->rate_ana, now);
}

void camera_status(struct camera *cam, struct camera_status *out)
{
	pthread_mutex_lock(&cam->lock);
	snapshot(cam, out);
	pthread_mutex_unlock(&cam->lock);
}

/* Changes state (and the error, if given) and tells the status callback. */
static void set_state(struct camera *cam, enum camera_state s, const char *err, bool retry)
{
	struct camera_status st;
	bool changed;

	pthread_mutex_lock(&cam->lock);
	changed = cam->st.state != s;
	cam->st.state = s;
	if (err)
		mw_strlcpy(cam->st.last_error, err, sizeof(cam->st.last_error));
	if (retry)
		cam->st.reconnects++;
	snapshot(cam, &st);
	pthread_mutex_unlock(&cam->lock);
	if (changed && cam->opt.status)
		cam->opt.status(cam->opt.status_arg, &st);
}

/* ---- the reading thread ------------------------------------------------ */

static bool stopping(struct camera *cam)
{
	bool s;

	pthread_mutex_lock(&cam->lock);
	s = cam->stop;
	pthread_mutex_unlock(&cam->lock);
	return s;
}

/* Waits ms, or less if the camera is stopped meanwhile. */
static void wait_ms(struct camera *cam, int64_t ms)
{
	struct timespec ts = mw_mono_timespec(mw_mono_ns() + ms * 1000000);

	pthread_mutex_lock(&cam->lock);
	while (!cam->stop && pthread_cond_timedwait(&cam->cond, &cam->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&cam->lock);
}

/* A delay within +-20% of the backoff (xorshift: this is jitter, not a secret). */
static int64_t jitter(struct camera *cam, int64_t ms)
{
	uint64_t x = cam->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	cam->rng = x;
	return ms * 8 / 10 + (int64_t)(x % (uint64_t)(ms * 4 / 10 + 1));
}

static void fail_and_wait(struct camera *cam, const char *err, int64_t *backoff)
{
	int64_t max = cam->opt.backoff_max_ms;
	int64_t delay = jitter(cam, *backoff);

	if (delay > max)
		delay = max;
	log_warn("camera failed camera=%s err=\"%s\" retry_ms=%lld", cam->id, err,
		 (long long)delay);
	set_state(cam, CAMERA_RECONNECTING, err, true);
	wait_ms(cam, delay);
	*backoff = *backoff * 2 > max ? max : *backoff * 2;
}

/* Lets go of what the slot's frame holds of its source. */
static void slot_clear(struct slot *s)
{
	if (s->f.hold)
		s->f.drop(s->f.hold);
	s->f.hold = NULL;
}

/* Takes f (its hold, if any) into the slot, or a copy of its luma. */
static int slot_fill(struct slot *s, const struct frame *f)
{
	slot_clear(s);
	s->f = *f;
	if (f->hold)
		return MW_OK;
	if (s->copy.width != f->y.width || s->copy.height != f->y.height) {
		plane_free(&s->copy);
		if (plane_alloc(&s->copy, f->y.width, f->y.height))
			return MW_ERR_NOMEM;
	}
	plane_copy(&s->copy, &f->y);
	s->f.y = s->copy;
	return MW_OK;
}

/* Puts f into the spare slot and swaps that into the mailbox. */
static int deliver(struct camera *cam, const struct frame *f)
{
	struct slot *t;
	int64_t now;

	if (slot_fill(cam->spare, f))
		return MW_ERR_NOMEM;

	now = mw_mono_ns();
	pthread_mutex_lock(&cam->lock);
	while (cam->opt.lossless && cam->mail_full && !cam->stop) /* wait, don't drop */
		pthread_cond_wait(&cam->cond, &cam->lock);
	t = cam->mail;
	cam->mail = cam->spare;
	cam->spare = t;
	if (cam->mail_full)
		cam->st.frames_dropped++;
	cam->mail_full = true;
	cam->st.frames_in++;
	cam->st.width = f->y.width;
	cam->st.height = f->y.height;
	rate_tick(&cam->rate_in, cam->st.frames_in, now);
	pthread_cond_broadcast(&cam->cond);
	pthread_mutex_unlock(&cam->lock);
	return MW_OK;
}

enum run_end { RUN_FAILED, RUN_REOPEN, RUN_ENDED };

/* Reads an opened source until it fails or ends. */
static enum run_end run_source(struct camera *cam, char *err, size_t errlen, int64_t *backoff)
{
	const struct frame_source *src = &cam->opt.src;
	uint64_t since_open = 0;
	struct frame f;
	int rc;

	while (!stopping(cam)) {
		memset(&f, 0, sizeof(f));
		rc = src->read(src->arg, &f);
		if (rc == MW_OK) {
			if (deliver(cam, &f)) {
				snprintf(err, errlen, "camera %s: out of memory for frames",
					 cam->id);
				return RUN_FAILED;
			}
			if (since_open++ == 0) {
				set_state(cam, CAMERA_RUNNING, NULL, false);
				*backoff = cam->opt.backoff_min_ms;
			}
			continue;
		}
		if (rc == MW_ERR_NOTFOUND && since_open == 0) {
			snprintf(err, errlen, "camera %s: the source has no frames", cam->id);
			return RUN_FAILED;
		}
		if (rc == MW_ERR_NOTFOUND && !cam->opt.loop)
			return RUN_ENDED;
		if (rc == MW_ERR_NOTFOUND) {
			if (src->rewind && src->rewind(src->arg) == MW_OK)
				continue;
			return RUN_REOPEN;
		}
		snprintf(err, errlen, "%s",
			 src->error && src->error(src->arg)[0] ? src->error(src->arg)
							       : mw_strerror(rc));
		return RUN_FAILED;
	}
	return RUN_ENDED;
}

static void *reader_main(void *arg)
{
	struct camera *cam = arg;
	const struct frame_source *src = &cam->opt.src;
	int64_t backoff = cam->opt.backoff_min_ms;
	char err[256];
	enum run_end end;

	while (!stopping(cam)) {
		err[0] = '\0';
		if (src->open(src->arg, err, sizeof(err))) {
			if (stopping(cam))
				break;
			if (!err[0])
				snprintf(err, sizeof(err), "camera %s: cannot open the source",
					 cam->id);
			fail_and_wait(cam, err, &backoff);
			continue;
		}
		end = run_source(cam, err, sizeof(err), &backoff);
		src->close(src->arg);
		if (stopping(cam))
			break;
		if (end == RUN_FAILED)
			fail_and_wait(cam, err, &backoff);
		if (end == RUN_ENDED) {
			set_state(cam, CAMERA_ENDED, NULL, false);
			log_info("camera ended camera=%s", cam->id);
			break;
		}
	}
	return NULL;
}

/* ---- the analysis thread ----------------------------------------------- */

static void *analyser_main(void *arg)
{
	struct camera *cam = arg;
	struct slot *t;

	pthread_mutex_lock(&cam->lock);
	for (;;) {
		while (!cam->mail_full && !cam->stop)
			pthread_cond_wait(&cam->cond, &cam->lock);
		if (cam->stop)
			break;
		t = cam->work;
		cam->work = cam->mail;
		cam->mail = t;
		cam->mail_full = false;
		pthread_cond_broadcast(&cam->cond); /* a lossless reader waits for this */
		pthread_mutex_unlock(&cam->lock);

		if (cam->opt.analyse)
			cam->opt.analyse(cam->opt.analyse_arg, &cam->work->f);

		pthread_mutex_lock(&cam->lock);
		cam->st.frames_analysed++;
		rate_tick(&cam->rate_ana, cam->st.frames_analysed, mw_mono_ns());
	}
	pthread_mutex_unlock(&cam->lock);
	return NULL;
}

/* ---- lifecycle --------------------------------------------------------- */

static int start_thread(struct camera *cam, pthread_t *t, const char *prefix, void *(*fn)(void *))
{
	char name[16]; /* the kernel's limit, NUL included */

	if (pthread_create(t, NULL, fn, cam))
		return MW_ERR_NOMEM;
	snprintf(name, sizeof(name), "%s%.11s", prefix, cam->id);
	pthread_setname_np(*t, name);
	return MW_OK;
}

static int camera_init(struct camera *cam, const struct camera_options *opt)
{
	pthread_condattr_t ca;
	int rc;

	cam->opt = *opt;
	if (!opt->id || mw_strlcpy(cam->id, opt->id, sizeof(cam->id)))
		return MW_ERR_INVALID;
	if (cam->opt.backoff_min_ms <= 0)
		cam->opt.backoff_min_ms = BACKOFF_MIN_MS;
	if (cam->opt.backoff_max_ms <= 0)
		cam->opt.backoff_max_ms = BACKOFF_MAX_MS;
	if (cam->opt.backoff_max_ms < cam->opt.backoff_min_ms)
		cam->opt.backoff_max_ms = cam->opt.backoff_min_ms;
	cam->spare = &cam->slots[0];
	cam->mail = &cam->slots[1];
	cam->work = &cam->slots[2];
	cam->st.state = CAMERA_CONNECTING;
	if (mw_random(&cam->rng, sizeof(cam->rng)) || !cam->rng)
		cam->rng = (uint64_t)mw_mono_ns() | 1;
	pthread_mutex_init(&cam->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&cam->cond, &ca) ? MW_ERR_NOMEM : MW_OK;
	pthread_condattr_destroy(&ca);
	return rc;
}

int camera_start(const struct camera_options *opt, struct camera **out)
{
	struct camera *cam;
	int rc = MW_ERR_NOMEM;

	*out = NULL;
	if (!opt->src.open || !opt->src.read || !opt->src.close) {
		rc = MW_ERR_INVALID;
		goto fail_src;
	}
	cam = calloc(1, sizeof(*cam));
	if (!cam)
		goto fail_src;
	rc = camera_init(cam, opt);
	if (rc) {
		free(cam);
		goto fail_src;
	}
	rc = start_thread(cam, &cam->analyser, "ana-", analyser_main);
	cam->have_analyser = rc == MW_OK;
	if (rc == MW_OK) {
		rc = start_thread(cam, &cam->reader, "cam-", reader_main);
		cam->have_reader = rc == MW_OK;
	}
	if (rc) {
		camera_free(cam);
		return rc;
	}
	*out = cam;
	return MW_OK;
fail_src:
	if (opt->src.release)
		opt->src.release(opt->src.arg);
	return rc;
}

void camera_stop(struct camera *cam)
{
	pthread_mutex_lock(&cam->lock);
	cam->stop = true;
	pthread_cond_broadcast(&cam->cond);
	pthread_mutex_unlock(&cam->lock);
	if (cam->joined)
		return;
	if (cam->opt.src.interrupt)
		cam->opt.src.interrupt(cam->opt.src.arg);
	if (cam->have_reader)
		pthread_join(cam->reader, NULL);
	if (cam->have_analyser)
		pthread_join(cam->analyser, NULL);
	cam->joined = true;
	set_state(cam, CAMERA_STOPPED, NULL, false);
}

void camera_free(struct camera *cam)
{
	if (!cam)
		return;
	camera_stop(cam);
	for (size_t i = 0; i < MW_ARRAY_LEN(cam->slots); i++) {
		slot_clear(&cam->slots[i]);
		plane_free(&cam->slots[i].copy);
	}
	if (cam->opt.src.release)
		cam->opt.src.release(cam->opt.src.arg);
	pthread_cond_destroy(&cam->cond);
	pthread_mutex_destroy(&cam->lock);
	free(cam);
}

/* ---- a source reading through input.c ---------------------------------- */

struct input_source {
	struct input_options opt;
	char *camera, *url;
	atomic_bool interrupt;
	struct input *in;
};

static int isrc_open(void *arg, char *err, size_t errlen)
{
	struct input_source *s = arg;

	return input_open(&s->opt, &s->in, err, errlen);
}

static int isrc_read(void *arg, struct frame *out)
{
	struct input_source *s = arg;
	int rc = input_read(s->in, out);

	if (rc == MW_OK) {
		out->hold = input_lend(s->in);
		out->drop = input_drop;
	}
	return rc;
}

static int isrc_rewind(void *arg)
{
	struct input_source *s = arg;

	return input_rewind(s->in);
}

static const char *isrc_error(void *arg)
{
	struct input_source *s = arg;

	return s->in ? input_error(s->in) : "";
}

static void isrc_close(void *arg)
{
	struct input_source *s = arg;

	input_close(s->in);
	s->in = NULL;
}

static void isrc_interrupt(void *arg)
{
	struct input_source *s = arg;

	atomic_store(&s->interrupt, true);
}

static void isrc_release(void *arg)
{
	struct input_source *s = arg;

	input_close(s->in);
	free(s->camera);
	free(s->url);
	free(s);
}

int camera_input_source(const struct input_options *opt, struct frame_source *out)
{
	struct input_source *s = calloc(1, sizeof(*s));

	memset(out, 0, sizeof(*out));
	if (!s)
		return MW_ERR_NOMEM;
	s->opt = *opt;
	s->camera = strdup(opt->camera ? opt->camera : "-");
	s->url = strdup(opt->url ? opt->url : "");
	if (!s->camera || !s->url) {
		isrc_release(s);
		return MW_ERR_NOMEM;
	}
	s->opt.camera = s->camera;
	s->opt.url = s->url;
	atomic_init(&s->interrupt, false);
	s->opt.interrupt = &s->interrupt;
	*out = (struct frame_source){isrc_open,	  isrc_read,  isrc_close,     s,
				     isrc_rewind, isrc_error, isrc_interrupt, isrc_release};
	return MW_OK;
}
