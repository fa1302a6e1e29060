/* vision.h -- what every part of the vision module shares: 8-bit planes,
 * frames, geometry, and the sink detectors emit their findings into.
 *
 * The vision module turns frames into events and knows nothing of the
 * store or the uplink (ARCHITECTURE.md): a detector fills a struct event
 * (core/event.h: source = camera id, kind, severity, attrs) and hands it to
 * a struct vision_sink, with an optional snapshot plane as evidence. In
 * mw-edge the sink encodes the snapshot, stores it and appends the event;
 * in `mw-edge analyze` it writes JSON lines; in tests it collects.
 *
 * Planes are 8-bit, row-major, with a stride (bytes from one row to the
 * next, >= width). Detectors work on luma; chroma is not decoded unless a
 * detector asks for it. Loops over rows are written so the compiler can
 * vectorise them: plain indexes, restrict pointers, no calls inside. */
#ifndef MW_VISION_H
#define MW_VISION_H

#include "core/event.h"
#include "core/mw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* On a detector's per-frame entry point: the function and everything it
 * inlines is compiled twice, for AVX2 and for the baseline, and the loader
 * picks one for the CPU (an ifunc). The row loops then run on 32-byte
 * vectors where the CPU has them, while the binary still runs on any
 * x86-64. Elsewhere it is a plain function, also under clang 14 (the
 * fuzz build's compiler), whose clones of an extern function do not link.
 * VISION_SCALAR turns it off for bench_zone's scalar twin, which measures
 * what vectorising is worth. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(VISION_SCALAR)
#define VISION_HOT __attribute__((target_clones("avx2", "default"), flatten))
#else
#define VISION_HOT
#endif

#define VISION_ID_MAX EVENT_ID_MAX /* camera, zone and detector names */
#define VISION_DIM_MAX 8192	   /* widest or tallest frame we accept */

struct plane {
	uint8_t *data;
	int width, height;
	ptrdiff_t stride;
};

/* Allocates a width x height plane (stride rounded up to 64 bytes, rows
 * 64-byte aligned, contents zero). Free with plane_free(). */
int plane_alloc(struct plane *p, int width, int height) MW_MUST_CHECK;
void plane_free(struct plane *p);
/* Copies src into dst, which must have the same size. */
void plane_copy(struct plane *dst, const struct plane *src);
/* A view of the rectangle (x, y, w, h) of p, which must lie inside it; shares p's memory. */
struct plane plane_view(const struct plane *p, int x, int y, int w, int h);
static inline uint8_t *plane_row(const struct plane *p, int y)
{
	return p->data + (ptrdiff_t)y * p->stride;
}

/* A decoded frame as detectors see it. */
struct frame {
	struct plane y;	    /* luma, always */
	int64_t pts_ns;	    /* presentation time within the stream (0 = first frame) */
	int64_t arrival_ns; /* mw_mono_ns() when the frame left the decoder */
	int64_t wall_ns;    /* mw_now_ns() then: the ts of events found in it */
	uint64_t index;	    /* 0, 1, 2... frames delivered by this input */
	/* Set by a source that can lend its frame instead of having it copied:
	 * the reference that keeps y's pixels alive past the next read, until
	 * drop(hold). NULL: y is valid until the next read only. */
	void *hold;
	void (*drop)(void *hold);
};

struct point {
	int x, y;
};

struct bbox {
	int x, y, w, h;
};

/* ---- the sink ---------------------------------------------------------- */

/* Where detectors put what they find. emit() takes the event (node, seq,
 * prev and hash are left to the store) and a snapshot, or NULL. It must
 * copy what it keeps: the event's attrs and the plane belong to the
 * caller and change after the call. It returns MW_OK, or an error that the
 * detector logs and otherwise ignores (a full disk must not stop the
 * analysis). */
struct vision_sink {
	int (*emit)(void *arg, struct event *e, const struct plane *snapshot);
	void *arg;
};

/* Fills e with source = camera, kind, severity and ts = frame->wall_ns, and
 * attrs from the jansson object (which it takes: json_decref'd here). */
int vision_event(struct event *e, const char *camera, const char *kind, enum severity severity,
		 const struct frame *frame, json_t *attrs) MW_MUST_CHECK;

#endif
