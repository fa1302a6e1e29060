/* engine.h -- the edge's client of a container engine: Docker, or Podman's
 * Docker-compatible service, through its REST API on a unix socket.
 *
 * The edge runs apps packaged as containers. Rather than shell out to a CLI
 * (whose output is for people and changes between versions), it speaks the
 * Engine API v1.41, which both Docker and Podman (`podman system service`)
 * answer, with our own HTTP client (core/http.h) and jansson. Only the few
 * calls the edge needs are here: run (pull when missing, replace, create,
 * start), start again, inspect, logs and remove.
 *
 * Names are checked before they go into a URL: a container name is
 * [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most ENGINE_NAME_MAX characters), an image
 * reference letters, digits and . _ - / : @ (at most 255); a bad one is
 * MW_ERR_INVALID and nothing is sent. Every function that talks to the
 * engine returns MW_OK or a negative MW_ERR_* with a one-line message in err
 * (which may be NULL when errlen is 0): MW_ERR_IO "container engine at PATH:
 * ..." when the engine cannot be reached; when it refuses, its own
 * "message" after what was asked ("create mw-qa: ..."), as MW_ERR_NOTFOUND
 * for a 404, MW_ERR_EXISTS for a 409, MW_ERR_INVALID for a 400 and
 * MW_ERR_IO for the rest. Nothing is logged here: the caller reports err
 * where it belongs (log, hub). Calls block: 30 s at most, plus the grace
 * period for a removal, 10 minutes for a pull.
 *
 * The parsers of the two answers that carry data (inspect, logs) are pure
 * functions, public so the unit tests and the fuzzer can drive them alone. */
#ifndef MW_EDGE_ENGINE_H
#define MW_EDGE_ENGINE_H

#include "core/mw.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENGINE_API "/v1.41"
#define ENGINE_NAME_MAX 128 /* characters of a container name */
/* The label a caller may put what the container was made from under (a
 * hash of its spec), to know a container it can keep from one it must
 * replace; engine_inspect reads it back. */
#define ENGINE_SPEC_LABEL "io.millwright.spec"

struct engine; /* one client of one engine socket; used by one thread at a time */

/* Nothing is connected yet: the first call does, so a daemon can start
 * before its engine. */
int engine_new(const char *socket_path, struct engine **out) MW_MUST_CHECK;
void engine_free(struct engine *e); /* NULL is a no-op */

struct engine_spec {
	const char *name;	/* container name, e.g. "mw-camera-qa" */
	const char *image;	/* e.g. "localhost/qa:1.0" */
	const char *const *cmd; /* NULL = the image's default command */
	const char *const *env; /* "K=V" strings, NULL-terminated, or NULL */
	/* Manifest form, published on the host: 8080 (the same port),
	 * "8080:80" (host:container), with "/udp" or "/sctp" after either;
	 * or NULL. Left out with host_network, where the container's ports
	 * are the host's already. */
	json_t *ports;
	json_t *volumes;      /* ["/host:/ctr", "/host:/ctr:ro"] or NULL -> HostConfig.Binds */
	json_t *devices;      /* ["/dev/video0"], or "/dev/a:/dev/b[:rwm]", or NULL */
	json_t *labels;	      /* object of string values or NULL */
	int64_t memory_bytes; /* 0 = no limit -> HostConfig.Memory */
	double cpus;	      /* 0 = no limit -> HostConfig.NanoCpus */
	bool host_network; /* HostConfig.NetworkMode "host" (apps reach the edge's API on 127.0.0.1) */
	int grace_s;	   /* an old container of that name gets this long to stop (0 = 10 s) */
};

struct engine_state {
	bool exists, running;
	int exit_code;
	/* wall clock (Unix ns) from the RFC 3339 StartedAt/FinishedAt; 0 when
	 * never ("0001-01-01T00:00:00Z") */
	int64_t started_at_ns, finished_at_ns;
	char status[32]; /* State.Status: created, running, exited, ... */
	char error[256]; /* State.Error, "" when none */
	char image[256]; /* Config.Image */
	char id[72];	 /* Id: tells a replaced container from the one before */
	char spec[72];	 /* its ENGINE_SPEC_LABEL label, "" when none */
};

/* Pulls the image when it is not there (POST /images/create?fromImage=...,
 * up to 10 minutes), removes any container of that name (stop, then
 * delete), creates and starts the new one. On failure err says what the
 * engine said, e.g. "image localhost/qa:9: not here and cannot be pulled:
 * ...", "create mw-qa: ...". A container that was created but failed to
 * start is left in place, for inspect to show, until the next run or
 * remove. */
int engine_run(struct engine *e, const struct engine_spec *s, char *err,
	       size_t errlen) MW_MUST_CHECK;
/* GET /images/NAME/json: 200 -> true, 404 -> false. */
int engine_image_present(struct engine *e, const char *image, bool *present, char *err,
			 size_t errlen) MW_MUST_CHECK;
/* Starts an existing container again; MW_OK when it already runs. */
int engine_start(struct engine *e, const char *name, char *err, size_t errlen) MW_MUST_CHECK;
/* MW_OK with exists=false on 404. */
int engine_inspect(struct engine *e, const char *name, struct engine_state *out, char *err,
		   size_t errlen) MW_MUST_CHECK;
/* A new JSON array of the last `tail` lines (stdout and stderr; all when
 * tail < 0), without their newlines; MW_ERR_TOOBIG past 8 MiB of log. The
 * order of stdout lines against stderr lines is the engine's (Podman may
 * give a container's stdout lines before its stderr ones). */
int engine_logs(struct engine *e, const char *name, int tail, json_t **lines, char *err,
		size_t errlen) MW_MUST_CHECK;
/* Stops with ?t=grace_s (SIGTERM, SIGKILL after grace_s), then DELETE
 * ?force=true; MW_OK if it does not exist. */
int engine_remove(struct engine *e, const char *name, int grace_s, char *err,
		  size_t errlen) MW_MUST_CHECK;

/* ---- pure functions, public for the tests and the fuzzer ---- */

/* The body of POST /containers/create for s (Image, Cmd, Env, Labels,
 * ExposedPorts, HostConfig): a new object in *out. MW_ERR_INVALID with err
 * naming the field ("ports[1]: ...") on a spec the engine must not see. */
int engine_spec_body(const struct engine_spec *s, json_t **out, char *err,
		     size_t errlen) MW_MUST_CHECK;
/* The GET /containers/NAME/json answer. A missing or mistyped field is
 * MW_ERR_INVALID with err naming it ("State.ExitCode: ..."). */
int engine_parse_state(const char *json, size_t len, struct engine_state *out, char *err,
		       size_t errlen) MW_MUST_CHECK;
/* The log stream: multiplexed (frames of an 8-byte header: stream byte 0, 1
 * or 2, 3 zero bytes, big-endian u32 length, then the payload) or plain
 * text when the first byte is not 0/1/2 (a container with a TTY). A line
 * split over frames of one stream is joined; a last line without newline
 * counts; "\r\n" ends a line too; a line that is not UTF-8 keeps its
 * ASCII and gets '?' for the other bytes.
 * Appends to `lines` only the last `tail` lines (all when tail < 0). A
 * truncated or bogus frame is MW_ERR_INVALID and appends nothing; nothing is
 * ever read past len. */
int engine_demux_logs(const char *data, size_t len, int tail, json_t *lines) MW_MUST_CHECK;

#endif
