/* camera.h -- one camera's worker: reads frames from a source on one
 * thread, analyses the latest of them on another, reconnects with backoff
 * when the source fails, and reports its health. */
#ifndef MW_VISION_CAMERA_H
#define MW_VISION_CAMERA_H

#include "vision/input.h"
#include "vision/vision.h"

#include <stdbool.h>
#include <stdint.h>

/* Where frames come from. open, read and close run on the camera's reading
 * thread; read fills out like input_read() (the plane may belong to the
 * source until the next read) and returns MW_OK, MW_ERR_NOTFOUND at the
 * end of a finite source, or another error when the source failed. */
struct frame_source {
	int (*open)(void *arg, char *err, size_t errlen);
	int (*read)(void *arg, struct frame *out);
	void (*close)(void *arg);
	void *arg;
	/* Optional members, NULL when the source has none: */
	int (*rewind)(void *arg);	 /* back to the start; else close + open */
	const char *(*error)(void *arg); /* why the last read failed */
	void (*interrupt)(void *arg);	 /* any thread: make a blocked open/read return */
	void (*release)(void *arg);	 /* frees arg, from camera_free() */
};

/* A frame_source reading opt->url through input_open() (strings copied).
 * The camera that gets it frees it; otherwise call src->release(src->arg). */
int camera_input_source(const struct input_options *opt, struct frame_source *out) MW_MUST_CHECK;

enum camera_state {
	CAMERA_CONNECTING,
	CAMERA_RUNNING,
	CAMERA_RECONNECTING, /* failed; waiting out the backoff before trying again */
	CAMERA_ENDED,	     /* a finite source ended and loop is off */
	CAMERA_STOPPED,
};

const char *camera_state_name(enum camera_state s);

struct camera_status {
	enum camera_state state;
	uint64_t frames_in, frames_analysed, frames_dropped, reconnects;
	double fps_in, fps_analysed; /* over the last few seconds */
	char last_error[256];
	int width, height;
};

struct camera_options {
	const char *id;
	struct frame_source src;		/* the camera takes it: released by camera_free() */
	bool loop;				/* rewind at the end of a file */
	/* Never drop a frame: the reader waits for the analysis instead (a
	 * file analysed as fast as possible). Not for live streams, whose
	 * frames would pile up in the network's buffers. */
	bool lossless;
	int64_t backoff_min_ms, backoff_max_ms; /* 0 = 500 ms, 30 s; doubles, with jitter */
	void (*analyse)(void *arg, const struct frame *f); /* on the analysis thread */
	void *analyse_arg;
	/* Called on each state change, from the reading thread (or the caller
	 * of camera_stop()); it must not call back into the camera. */
	void (*status)(void *arg, const struct camera_status *st);
	void *status_arg;
};

struct camera;

/* Starts the reading ("cam-ID") and analysis ("ana-ID") threads. Even when
 * it fails, the source is the camera's: released here. */
int camera_start(const struct camera_options *opt, struct camera **out) MW_MUST_CHECK;
void camera_status(struct camera *cam, struct camera_status *out);
/* Stops both threads and joins them; returns within about a second, even
 * while an open is blocked on the network or a backoff is running. */
void camera_stop(struct camera *cam);
/* Stops the camera if needed, then frees it and releases its source. */
void camera_free(struct camera *cam);

#endif
