/* input.h -- one video input: a file, a network stream or a V4L2 device,
 * decoded with FFmpeg into the luma plane the detectors work on.
 *
 * An input is used by one thread at a time; only input_options.interrupt
 * may be touched from another thread, to make a blocked open or read give
 * up (camera_stop() uses it). */
#ifndef MW_VISION_INPUT_H
#define MW_VISION_INPUT_H

#include "vision/vision.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INPUT_TIMEOUT_MS_DEFAULT 5000

struct input_options {
	const char *camera; /* id, for messages */
	/* A file path, file://, rtsp://, http(s)://, udp://, tcp://, or a V4L2
	 * device such as /dev/video0. */
	const char *url;
	bool realtime; /* pace a file at its own frame rate, as a camera would deliver it */
	int64_t open_timeout_ms; /* any one network wait; 0 = INPUT_TIMEOUT_MS_DEFAULT */
	int threads;		 /* decoder threads; 0 = 2 */
	/* Optional: when it becomes true, a blocked open or read returns
	 * MW_ERR_IO ("interrupted") soon after. Read from FFmpeg's thread. */
	const atomic_bool *interrupt;
};

struct input_stats {
	uint64_t packets;	  /* video packets read */
	uint64_t corrupt_packets; /* skipped: the demuxer or decoder refused them */
	uint64_t frames;	  /* frames delivered */
};

struct input;

/* Opens and probes opt->url. On failure returns MW_ERR_NOTFOUND (no such
 * file), MW_ERR_INVALID (not a video, no video stream, unsupported codec)
 * or MW_ERR_IO, with a message naming the camera and the cause in err. */
int input_open(const struct input_options *opt, struct input **out, char *err,
	       size_t errlen) MW_MUST_CHECK;
/* Decodes the next frame. out->y is owned by the input and valid until the
 * next read, rewind or close. MW_OK; MW_ERR_NOTFOUND at the end of a file;
 * MW_ERR_IO when the stream fails or a live stream ends (input_error()
 * says why). Corrupt packets are skipped and counted, not fatal. */
int input_read(struct input *in, struct frame *out) MW_MUST_CHECK;
/* A reference to the frame input_read() returned last, so that its luma
 * stays valid after the next read (the decoder's own buffer, counted, not
 * copied), for struct frame's hold; free it with input_drop(). NULL when
 * the luma is a conversion the input keeps (or out of memory): copy it. */
void *input_lend(struct input *in);
void input_drop(void *hold);
/* Back to the first frame, for looping files. MW_ERR_STATE if the input
 * cannot seek (a live stream). Frame indexes continue; pts restart at 0. */
int input_rewind(struct input *in) MW_MUST_CHECK;
void input_close(struct input *in);

const char *input_error(const struct input *in);
int input_width(const struct input *in);
int input_height(const struct input *in);
/* Frames per second as the stream declares or FFmpeg guesses it; 0 if unknown. */
double input_fps(const struct input *in);
/* True for network streams and devices, which cannot be rewound. */
bool input_is_live(const struct input *in);
/* How many frames a file holds, from its header or duration; 0 = unknown
 * (a live stream, or a file that does not say). For progress only. */
int64_t input_frames_hint(const struct input *in);
void input_stats(const struct input *in, struct input_stats *out);

#endif
