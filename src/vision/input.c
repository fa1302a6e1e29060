/* input.c -- one video input decoded with FFmpeg into a luma plane.
 *
 * libavformat opens whatever the URL names (file, RTSP, HTTP, UDP, TCP or
 * a V4L2 device) and libavcodec decodes it. Detectors only look at luma,
 * so for the usual planar YUV formats (and NV12) the frame handed out is
 * a view of the decoder's own Y plane: no copy, no conversion, chroma
 * never touched. Only formats whose luma is not a plain 8-bit plane (RGB,
 * packed YUYV from webcams, high bit depth) go through swscale, to GRAY8.
 * (AV_CODEC_FLAG_GRAY would skip chroma decoding too, but Debian's FFmpeg is
 * built without --enable-gray: there the flag only logs a warning per open.)
 * Luma keeps the stream's own range (16..235 for most video, 0..255 for
 * MJPEG and JPEG-range formats); detectors compare frames of one camera.
 *
 * Every blocking FFmpeg call runs under a deadline checked by an
 * AVIOInterruptCB, so a dead network stream turns into an error instead
 * of a thread blocked forever, and a caller-owned flag can interrupt it.
 *
 * FFmpeg's own log lines go through our logger, at warn level at most and
 * rate-limited: a corrupt stream can make a decoder print hundreds of lines
 * a second, which would drown everything else. */
#include "vision/input.h"

#include "core/log.h"

#include <libavdevice/avdevice.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#define MAX_BAD_READS 200	       /* consecutive demuxer errors before giving up */
#define PACE_MAX_SLEEP_NS 1000000000LL /* a pts jump beyond this resyncs pacing */

struct input {
	char camera[VISION_ID_MAX + 1];
	char *url;
	bool live, realtime, draining;
	const atomic_bool *interrupt;
	int64_t timeout_ns, deadline_ns;
	bool timed_out;

	AVFormatContext *fmt;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *frm;
	int stream;
	AVRational tb;
	double fps;

	struct SwsContext *sws;
	struct plane gray; /* swscale's output, only for non-YUV formats */

	int64_t first_pts, pace_start_ns, pace_first_ns;
	bool have_first;
	uint64_t index;
	struct input_stats stats;
	char err[256];
};

/* ---- FFmpeg's log ------------------------------------------------------ */

#define AVLOG_WINDOW_NS 10000000000LL
#define AVLOG_PER_WINDOW 20

static pthread_mutex_t avlog_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t avlog_window;
static unsigned avlog_count, avlog_suppressed;

/* Finds our camera id behind an FFmpeg context, if the line came from one of ours. */
static const char *avlog_camera(void *avcl)
{
	const AVClass *cls = avcl ? *(const AVClass **)avcl : NULL;
	const struct input *in = NULL;

	if (cls == avcodec_get_class())
		in = ((AVCodecContext *)avcl)->opaque;
	else if (cls == avformat_get_class())
		in = ((AVFormatContext *)avcl)->opaque;
	return in ? in->camera : "-";
}

static bool avlog_admit(unsigned *suppressed)
{
	int64_t now = mw_mono_ns();
	bool ok;

	pthread_mutex_lock(&avlog_lock);
	*suppressed = 0;
	if (now - avlog_window > AVLOG_WINDOW_NS) {
		*suppressed = avlog_suppressed;
		avlog_window = now;
		avlog_count = 0;
		avlog_suppressed = 0;
	}
	ok = avlog_count++ < AVLOG_PER_WINDOW;
	if (!ok)
		avlog_suppressed++;
	pthread_mutex_unlock(&avlog_lock);
	return ok;
}

static void avlog_callback(void *avcl, int level, const char *fmt, va_list vl)
{
	enum log_level lvl = level <= AV_LOG_ERROR     ? LOG_WARN
			     : level <= AV_LOG_WARNING ? LOG_INFO
						       : LOG_DEBUG;
	unsigned suppressed;
	char line[512];
	int prefix = 1;
	size_t n;

	if (level > AV_LOG_VERBOSE || lvl < log__level || !avlog_admit(&suppressed))
		return;
	if (suppressed)
		log_warn("ffmpeg suppressed=%u reason=\"rate limit\"", suppressed);
	av_log_format_line2(avcl, level, fmt, vl, line, (int)sizeof(line), &prefix);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n > 0)
		log_at(lvl, "ffmpeg camera=%s msg=\"%s\"", avlog_camera(avcl), line);
}

static void avlog_install(void)
{
	av_log_set_callback(avlog_callback);
	avdevice_register_all(); /* V4L2 cameras */
}

/* ---- errors and interruption ------------------------------------------- */

static int interrupt_cb(void *arg)
{
	struct input *in = arg;

	if (in->interrupt && atomic_load(in->interrupt))
		return 1;
	if (in->deadline_ns && mw_mono_ns() > in->deadline_ns) {
		in->timed_out = true;
		return 1;
	}
	return 0;
}

static void arm(struct input *in)
{
	in->timed_out = false;
	in->deadline_ns = mw_mono_ns() + in->timeout_ns;
}

/* Words a user understands for the errors a camera meets most. */
static void describe(const struct input *in, int averr, char *buf, size_t len)
{
	if (averr == AVERROR_EXIT && in->timed_out)
		snprintf(buf, len, "no answer within %lld ms",
			 (long long)(in->timeout_ns / 1000000));
	else if (averr == AVERROR_EXIT)
		snprintf(buf, len, "interrupted");
	else if (averr == AVERROR(ENOENT))
		snprintf(buf, len, "no such file");
	else if (averr == AVERROR(ECONNREFUSED))
		snprintf(buf, len, "connection refused");
	else if (averr == AVERROR(ETIMEDOUT))
		snprintf(buf, len, "timed out");
	else if (averr == AVERROR(EACCES) || averr == AVERROR(EPERM))
		snprintf(buf, len, "permission denied");
	else if (averr == AVERROR(EHOSTUNREACH) || averr == AVERROR(ENETUNREACH))
		snprintf(buf, len, "host unreachable");
	else if (averr == AVERROR_INVALIDDATA)
		snprintf(buf, len, "invalid data (corrupt or not a video)");
	else if (averr == AVERROR_PROTOCOL_NOT_FOUND)
		snprintf(buf, len, "unsupported protocol");
	else if (averr == AVERROR_HTTP_NOT_FOUND)
		snprintf(buf, len, "not found (HTTP 404)");
	else if (averr == AVERROR_HTTP_UNAUTHORIZED || averr == AVERROR_HTTP_FORBIDDEN)
		snprintf(buf, len, "access refused (HTTP 401/403)");
	else if (averr == AVERROR_STREAM_NOT_FOUND)
		snprintf(buf, len, "no video stream");
	else if (av_strerror(averr, buf, len) < 0)
		snprintf(buf, len, "error %d", averr);
}

static void fail(struct input *in, char *err, size_t errlen, int averr, const char *what)
{
	char cause[128];

	if (what)
		snprintf(cause, sizeof(cause), "%s", what);
	else
		describe(in, averr, cause, sizeof(cause));
	snprintf(err, errlen, "camera %s: %s: %s", in->camera, in->url, cause);
}

/* ---- opening ----------------------------------------------------------- */

static bool url_is_live(const char *url)
{
	const char *sep = strstr(url, "://");

	if (strncmp(url, "/dev/", 5) == 0)
		return true;
	return sep && !(sep - url == 4 && strncmp(url, "file", 4) == 0);
}

static int open_format(struct input *in, char *err, size_t errlen)
{
	const AVInputFormat *ifmt = NULL;
	AVDictionary *opts = NULL;
	int rc;

	if (strncmp(in->url, "/dev/video", 10) == 0) {
		ifmt = av_find_input_format("video4linux2");
		if (!ifmt) {
			fail(in, err, errlen, 0, "this FFmpeg build has no V4L2 support");
			return MW_ERR_INVALID;
		}
	}
	in->fmt = avformat_alloc_context();
	if (!in->fmt)
		return MW_ERR_NOMEM;
	in->fmt->interrupt_callback.callback = interrupt_cb;
	in->fmt->interrupt_callback.opaque = in;
	in->fmt->opaque = in;
	if (strncmp(in->url, "rtsp://", 7) == 0)
		av_dict_set(&opts, "rtsp_transport", "tcp", 0); /* UDP loses packets behind NAT */
	arm(in);
	rc = avformat_open_input(&in->fmt, in->url, ifmt, &opts);
	av_dict_free(&opts);
	if (rc < 0) {
		fail(in, err, errlen, rc, NULL);
		return rc == AVERROR(ENOENT)	   ? MW_ERR_NOTFOUND
		       : rc == AVERROR_INVALIDDATA ? MW_ERR_INVALID
						   : MW_ERR_IO;
	}
	arm(in);
	rc = avformat_find_stream_info(in->fmt, NULL);
	if (rc < 0) {
		fail(in, err, errlen, rc, NULL);
		return rc == AVERROR_INVALIDDATA ? MW_ERR_INVALID : MW_ERR_IO;
	}
	return MW_OK;
}

/* Names the codec FFmpeg cannot decode: by name if it knows the codec,
 * else by the container's fourcc, which is what a user can look up. */
static void unsupported(struct input *in, char *err, size_t errlen)
{
	int i = av_find_best_stream(in->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	const AVCodecParameters *par = i >= 0 ? in->fmt->streams[i]->codecpar : NULL;
	char tag[AV_FOURCC_MAX_STRING_SIZE] = "?";

	if (par && par->codec_id == AV_CODEC_ID_NONE && par->codec_tag)
		av_fourcc_make_string(tag, par->codec_tag);
	else if (par)
		snprintf(tag, sizeof(tag), "%s", avcodec_get_name(par->codec_id));
	snprintf(err, errlen, "camera %s: %s: codec %s is not supported by this FFmpeg build",
		 in->camera, in->url, tag);
}

static int open_decoder(struct input *in, int threads, char *err, size_t errlen)
{
	const AVCodec *codec = NULL;
	AVStream *st;
	char msg[128];
	int rc;

	rc = av_find_best_stream(in->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	if (rc == AVERROR_DECODER_NOT_FOUND || (rc >= 0 && !codec)) {
		unsupported(in, err, errlen);
		return MW_ERR_INVALID;
	}
	if (rc < 0) {
		fail(in, err, errlen, rc,
		     rc == AVERROR_STREAM_NOT_FOUND ? "no video stream" : NULL);
		return MW_ERR_INVALID;
	}
	in->stream = rc;
	st = in->fmt->streams[rc];
	if (st->codecpar->width <= 0 || st->codecpar->height <= 0) {
		/* Probing finds a "video" in noise now and then; one whose
		 * frames it could not size is not one we can use. */
		fail(in, err, errlen, AVERROR_INVALIDDATA, NULL);
		return MW_ERR_INVALID;
	}
	in->tb = st->time_base;
	in->fps = av_q2d(av_guess_frame_rate(in->fmt, st, NULL));
	in->dec = avcodec_alloc_context3(codec);
	if (!in->dec)
		return MW_ERR_NOMEM;
	rc = avcodec_parameters_to_context(in->dec, st->codecpar);
	if (rc < 0)
		goto fail;
	in->dec->opaque = in;
	in->dec->pkt_timebase = st->time_base;
	in->dec->thread_count = threads > 0 ? threads : 2;
	in->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
	rc = avcodec_open2(in->dec, codec, NULL);
	if (rc < 0)
		goto fail;
	return MW_OK;
fail:
	describe(in, rc, msg, sizeof(msg));
	snprintf(err, errlen, "camera %s: %s: cannot open the %s decoder: %s", in->camera, in->url,
		 codec->name, msg);
	return MW_ERR_INVALID;
}

int input_open(const struct input_options *opt, struct input **out, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct input *in;
	int rc = MW_ERR_NOMEM;

	*out = NULL;
	pthread_once(&once, avlog_install);
	in = calloc(1, sizeof(*in));
	if (!in || !(in->url = strdup(opt->url)))
		goto fail;
	mw_strlcpy(in->camera, opt->camera ? opt->camera : "-", sizeof(in->camera));
	in->live = url_is_live(opt->url);
	in->realtime = opt->realtime && !in->live;
	in->interrupt = opt->interrupt;
	in->timeout_ns =
		(opt->open_timeout_ms > 0 ? opt->open_timeout_ms : INPUT_TIMEOUT_MS_DEFAULT) *
		1000000LL;
	in->pkt = av_packet_alloc();
	in->frm = av_frame_alloc();
	if (!in->pkt || !in->frm)
		goto fail;
	rc = open_format(in, err, errlen);
	if (rc)
		goto fail;
	rc = open_decoder(in, opt->threads, err, errlen);
	if (rc)
		goto fail;
	*out = in;
	return MW_OK;
fail:
	if (rc == MW_ERR_NOMEM)
		snprintf(err, errlen, "camera %s: %s: out of memory",
			 opt->camera ? opt->camera : "-", opt->url);
	input_close(in);
	return rc;
}

void input_close(struct input *in)
{
	if (!in)
		return;
	avcodec_free_context(&in->dec);
	avformat_close_input(&in->fmt);
	av_packet_free(&in->pkt);
	av_frame_free(&in->frm);
	sws_freeContext(in->sws);
	plane_free(&in->gray);
	free(in->url);
	free(in);
}

/* ---- reading ----------------------------------------------------------- */

static int read_fail(struct input *in, int averr, const char *what)
{
	char cause[128];

	if (what)
		snprintf(cause, sizeof(cause), "%s", what);
	else
		describe(in, averr, cause, sizeof(cause));
	snprintf(in->err, sizeof(in->err), "camera %s: %s: %s", in->camera, in->url, cause);
	return MW_ERR_IO;
}

/* Feeds packets to the decoder until it has a frame for us. */
static int decode_next(struct input *in)
{
	unsigned bad_reads = 0;
	int rc;

	for (;;) {
		rc = avcodec_receive_frame(in->dec, in->frm);
		if (rc == 0)
			return MW_OK;
		if (rc == AVERROR_EOF)
			return in->live ? read_fail(in, 0, "stream ended") : MW_ERR_NOTFOUND;
		if (rc != AVERROR(EAGAIN)) {
			in->stats.corrupt_packets++; /* a frame the decoder gave up on */
			continue;
		}
		arm(in);
		rc = av_read_frame(in->fmt, in->pkt);
		if (rc == AVERROR_EOF ||
		    (rc < 0 && !in->live && in->fmt->pb && avio_feof(in->fmt->pb))) {
			/* Truncated files end here too: flush what the decoder holds. */
			in->draining = true;
			if (avcodec_send_packet(in->dec, NULL) < 0)
				return MW_ERR_NOTFOUND;
			continue;
		}
		if (rc == AVERROR_EXIT || (rc < 0 && (in->live || ++bad_reads > MAX_BAD_READS)))
			return read_fail(in, rc, NULL);
		if (rc < 0) {
			in->stats.corrupt_packets++;
			continue;
		}
		bad_reads = 0;
		if (in->pkt->stream_index == in->stream) {
			in->stats.packets++;
			if (avcodec_send_packet(in->dec, in->pkt) < 0)
				in->stats.corrupt_packets++;
		}
		av_packet_unref(in->pkt);
	}
}

static bool luma_is_plane(enum AVPixelFormat f)
{
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);

	return d &&
	       !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM |
			     AV_PIX_FMT_FLAG_HWACCEL)) &&
	       d->comp[0].plane == 0 && d->comp[0].step == 1 && d->comp[0].offset == 0 &&
	       d->comp[0].shift == 0 && d->comp[0].depth == 8;
}

static int to_gray(struct input *in, struct plane *y)
{
	const AVFrame *f = in->frm;
	uint8_t *dst[4];
	int stride[4];

	if (f->width < 1 || f->height < 1 || f->width > VISION_DIM_MAX ||
	    f->height > VISION_DIM_MAX)
		return read_fail(in, 0, "frame size out of range");
	if (luma_is_plane(f->format)) {
		*y = (struct plane){f->data[0], f->width, f->height, f->linesize[0]};
		return MW_OK;
	}
	if (in->gray.width != f->width || in->gray.height != f->height) {
		plane_free(&in->gray);
		if (plane_alloc(&in->gray, f->width, f->height))
			return read_fail(in, 0, "out of memory");
	}
	in->sws = sws_getCachedContext(in->sws, f->width, f->height, f->format, f->width, f->height,
				       AV_PIX_FMT_GRAY8, SWS_POINT, NULL, NULL, NULL);
	if (!in->sws)
		return read_fail(in, 0, "cannot convert this pixel format to gray");
	dst[0] = in->gray.data;
	stride[0] = (int)in->gray.stride;
	sws_scale(in->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, stride);
	*y = in->gray;
	return MW_OK;
}

static int64_t frame_pts_ns(struct input *in)
{
	int64_t ts = in->frm->best_effort_timestamp;

	if (ts == AV_NOPTS_VALUE)
		return in->fps > 0 ? (int64_t)((double)in->stats.frames * 1e9 / in->fps) : 0;
	if (!in->have_first) {
		in->first_pts = ts;
		in->have_first = true;
	}
	return av_rescale_q(ts - in->first_pts, in->tb, (AVRational){1, 1000000000});
}

/* Sleeps until the frame is due, as a camera would deliver it. In slices,
 * so that an interrupt still gets through quickly. */
static void pace(struct input *in, int64_t pts_ns)
{
	int64_t now = mw_mono_ns(), due;

	if (!in->pace_start_ns || pts_ns < in->pace_first_ns ||
	    in->pace_start_ns + (pts_ns - in->pace_first_ns) - now > PACE_MAX_SLEEP_NS) {
		in->pace_start_ns = now;
		in->pace_first_ns = pts_ns;
	}
	due = in->pace_start_ns + (pts_ns - in->pace_first_ns);
	while ((now = mw_mono_ns()) < due && !(in->interrupt && atomic_load(in->interrupt))) {
		int64_t d = due - now < 50000000 ? due - now : 50000000;
		struct timespec ts = {0, (long)d};
		nanosleep(&ts, NULL);
	}
}

int input_read(struct input *in, struct frame *out)
{
	int rc;

	av_frame_unref(in->frm);
	rc = decode_next(in);
	if (rc)
		return rc;
	rc = to_gray(in, &out->y);
	if (rc)
		return rc;
	out->pts_ns = frame_pts_ns(in);
	if (in->realtime)
		pace(in, out->pts_ns);
	out->arrival_ns = mw_mono_ns();
	out->wall_ns = mw_now_ns();
	out->index = in->index++;
	in->stats.frames++;
	return MW_OK;
}

void *input_lend(struct input *in)
{
	if (!in->frm->buf[0] || !luma_is_plane(in->frm->format))
		return NULL;
	return av_frame_clone(in->frm);
}

void input_drop(void *hold)
{
	AVFrame *f = hold;

	av_frame_free(&f);
}

int input_rewind(struct input *in)
{
	int rc;

	if (in->live)
		return MW_ERR_STATE;
	arm(in);
	rc = avformat_seek_file(in->fmt, in->stream, INT64_MIN, 0, 0, AVSEEK_FLAG_BACKWARD);
	if (rc < 0)
		rc = av_seek_frame(in->fmt, in->stream, 0, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_BYTE);
	if (rc < 0)
		return read_fail(in, rc, NULL);
	avcodec_flush_buffers(in->dec);
	av_frame_unref(in->frm);
	in->draining = false;
	in->have_first = false;
	in->pace_start_ns = 0;
	return MW_OK;
}

const char *input_error(const struct input *in) { return in->err; }
int input_width(const struct input *in) { return in->dec->width; }
int input_height(const struct input *in) { return in->dec->height; }
double input_fps(const struct input *in) { return in->fps; }
bool input_is_live(const struct input *in) { return in->live; }

int64_t input_frames_hint(const struct input *in)
{
	const AVStream *st = in->fmt->streams[in->stream];

	if (st->nb_frames > 0)
		return st->nb_frames;
	if (in->fmt->duration > 0 && in->fps > 0)
		return (int64_t)((double)in->fmt->duration / AV_TIME_BASE * in->fps + 0.5);
	return 0;
}
void input_stats(const struct input *in, struct input_stats *out) { *out = in->stats; }
