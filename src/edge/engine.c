/* engine.c -- the Engine API client; see engine.h.
 *
 * Each call is one or two plain HTTP/1.1 requests on the engine's socket,
 * kept open between calls by the HTTP client. An answer of any status is
 * the engine speaking: 2xx/304 is what we asked for, 404 "no such
 * container/image", anything else a refusal whose JSON body carries a
 * "message" we hand on. Only a failed connect or read is MW_ERR_IO "cannot
 * reach the engine", with a hint at what should be running there.
 *
 * Two answers do not fit one JSON value. A pull (POST /images/create)
 * answers 200 at once and then streams progress objects; a failure is an
 * object with "error" in that stream, so the whole stream is read (capped)
 * and scanned. Logs come multiplexed: each frame says whether it is stdout
 * or stderr, and a long line may span frames, so lines are joined per
 * stream before the last `tail` of them are kept (two passes: count, keep).
 *
 * Removal is stop then DELETE ?force=true: the stop gives the app its
 * grace period to exit cleanly; the forced delete kills whatever did not,
 * so a stop the engine refuses (odd states) does not stop a removal. */
#include "edge/engine.h"

#include "core/buf.h"
#include "core/http.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BASE "http://d" ENGINE_API
#define TIMEOUT_MS (30 * 1000L)
#define PULL_TIMEOUT_MS (10 * 60 * 1000L)
#define PULL_MAX (8u << 20) /* the pull's progress stream */
#define LOGS_MAX (8u << 20)
#define IMAGE_MAX 255
#define URL_MAX (3 * IMAGE_MAX + 128)
#define GRACE_DEFAULT_S 10
#define GRACE_MAX_S 3600
#define NS 1000000000LL
#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

struct engine {
	char *socket;
	struct http_client *http;
};

MW_PRINTF(3, 4) static void say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int engine_new(const char *socket_path, struct engine **out)
{
	struct engine *e = calloc(1, sizeof(*e));

	*out = NULL;
	if (!socket_path || !*socket_path) {
		free(e);
		return MW_ERR_INVALID;
	}
	if (!e || !(e->socket = strdup(socket_path)) || http_client_new(&e->http) != MW_OK) {
		engine_free(e);
		return MW_ERR_NOMEM;
	}
	*out = e;
	return MW_OK;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	http_client_free(e->http);
	free(e->socket);
	free(e);
}

/* ---- names ---- */

/* How much of s an error message may quote: printable ASCII, 64 at most. */
static int quotable(const char *s)
{
	int n = 0;

	while (s && n < 64 && s[n] >= 0x20 && s[n] < 0x7f)
		n++;
	return n;
}

static bool chars_ok(const char *s, const char *more, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	char set[128];

	snprintf(set, sizeof(set), ALNUM "%s", more);
	return n > 0 && n <= max && strspn(s, ALNUM) > 0 && strspn(s, set) == n;
}

static int check_name(const char *s, char *err, size_t errlen)
{
	if (chars_ok(s, "_.-", ENGINE_NAME_MAX))
		return MW_OK;
	say(err, errlen, "container name \"%.*s\": [a-zA-Z0-9][a-zA-Z0-9_.-]* expected, at most %d",
	    quotable(s), s ? s : "", ENGINE_NAME_MAX);
	return MW_ERR_INVALID;
}

static int check_image(const char *s, char *err, size_t errlen)
{
	if (chars_ok(s, "._-/:@", IMAGE_MAX))
		return MW_OK;
	say(err, errlen, "image \"%.*s\": letters, digits and . _ - / : @ expected, at most %d",
	    quotable(s), s ? s : "", IMAGE_MAX);
	return MW_ERR_INVALID;
}

/* Percent-encodes s for a query (out holds 3 * strlen(s) + 1). */
static void encode(char *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (strchr(ALNUM "-._~", c)) {
			*out++ = (char)c;
		} else {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		}
	}
	*out = '\0';
}

/* ---- requests ---- */

/* Sends one request. MW_OK means an answer came, of any status, in resp,
 * which the caller frees whatever the result. */
static int send_req(struct engine *e, const char *method, const char *url, json_t *body,
		    long timeout_ms, size_t max, struct http_response *resp, char *err,
		    size_t errlen)
{
	static const char *const json_hdr[] = {"Content-Type: application/json", NULL};
	struct http_request req = {.method = method,
				   .url = url,
				   .timeout_ms = timeout_ms,
				   .max_response = max,
				   .unix_socket = e->socket};
	char *text = NULL;
	int rc;

	if (body) {
		if (!(text = json_dumps(body, JSON_COMPACT))) {
			memset(resp, 0, sizeof(*resp));
			say(err, errlen, "no memory for a request to the container engine");
			return MW_ERR_NOMEM;
		}
		req.body = text;
		req.body_len = strlen(text);
		req.headers = json_hdr;
	}
	rc = http_do(e->http, &req, resp);
	free(text);
	if (rc == MW_ERR_TOOBIG)
		say(err, errlen, "container engine at %s: answer over %zu bytes", e->socket,
		    resp->body.cap);
	else if (rc)
		say(err, errlen,
		    "container engine at %s: %s (is Docker running, or Podman's API service: "
		    "`podman system service --time=0 unix://%s`?)",
		    e->socket, resp->error, e->socket);
	return rc;
}

/* The engine refused: err = "VERB OBJECT: its message". */
static int refused(const struct http_response *r, const char *verb, const char *obj, char *err,
		   size_t errlen)
{
	json_t *j = json_loadb(r->body.data, r->body.len, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "message"));
	int rc = r->status == 404   ? MW_ERR_NOTFOUND
		 : r->status == 409 ? MW_ERR_EXISTS
		 : r->status == 400 ? MW_ERR_INVALID
				    : MW_ERR_IO;

	if (msg && *msg)
		say(err, errlen, "%s %s: %s", verb, obj, msg);
	else
		say(err, errlen, "%s %s: the engine answered HTTP %ld: %.*s", verb, obj, r->status,
		    quotable(r->body.data), r->body.data);
	json_decref(j);
	return rc;
}

/* ---- the create body ---- */

static int bad(char *err, size_t errlen, const char *what, size_t i, const char *why)
{
	say(err, errlen, "%s[%zu]: %s", what, i, why);
	return MW_ERR_INVALID;
}

static int add_strv(json_t *o, const char *key, const char *const *v, const char *what, bool kv,
		    char *err, size_t errlen)
{
	json_t *a = json_array();

	if (!a || json_object_set_new(o, key, a))
		return MW_ERR_NOMEM;
	for (size_t i = 0; v[i]; i++) {
		if (kv && (v[i][0] == '=' || !strchr(v[i], '=')))
			return bad(err, errlen, what, i, "NAME=value expected");
		if (json_array_append_new(a, json_string(v[i])))
			return bad(err, errlen, what, i, "not UTF-8");
	}
	return MW_OK;
}

/* a is NULL or an array of non-empty strings. */
static int strings_ok(json_t *a, const char *what, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	if (a && !json_is_array(a)) {
		say(err, errlen, "%s: a list of strings expected", what);
		return MW_ERR_INVALID;
	}
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) || !json_string_length(v))
			return bad(err, errlen, what, i, "a non-empty string expected");
	}
	return MW_OK;
}

static const char *port_num(const char *p, unsigned *out)
{
	const char *start = p;
	unsigned n = 0;

	while (*p >= '0' && *p <= '9' && n <= 65535)
		n = n * 10 + (unsigned)(*p++ - '0');
	if (p == start || n < 1 || n > 65535)
		return NULL;
	*out = n;
	return p;
}

/* 8080, "8080", "8080:80", "5000/udp", "8080:80/udp" -> "CTR/PROTO" and the host port. */
static bool port_parse(json_t *v, char *key, size_t cap, unsigned *host)
{
	const char *p = json_string_value(v), *proto = "tcp";
	json_int_t n = json_integer_value(v);
	unsigned ctr;

	if (json_is_integer(v) && n >= 1 && n <= 65535) {
		*host = (unsigned)n;
		snprintf(key, cap, "%u/tcp", *host);
		return true;
	}
	if (!p || !(p = port_num(p, host)))
		return false;
	ctr = *host;
	if (*p == ':' && !(p = port_num(p + 1, &ctr)))
		return false;
	if (*p == '/')
		proto = ++p;
	if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
		return false;
	snprintf(key, cap, "%u/%s", ctr, proto);
	return true;
}

static int add_ports(json_t *b, json_t *hc, json_t *ports, char *err, size_t errlen)
{
	json_t *exposed = json_object(), *bind = json_object(), *v, *list;
	char key[32], host[8];
	unsigned hp;
	size_t i;

	if (json_object_set_new(b, "ExposedPorts", exposed) ||
	    json_object_set_new(hc, "PortBindings", bind))
		return MW_ERR_NOMEM;
	if (!json_is_array(ports)) {
		say(err, errlen, "ports: a list expected");
		return MW_ERR_INVALID;
	}
	json_array_foreach(ports, i, v)
	{
		if (!port_parse(v, key, sizeof(key), &hp))
			return bad(err, errlen, "ports", i,
				   "a port (1-65535) or \"host:container\", then /tcp, /udp "
				   "or /sctp, expected");
		snprintf(host, sizeof(host), "%u", hp);
		if (!(list = json_object_get(bind, key)) &&
		    json_object_set_new(bind, key, list = json_array()))
			return MW_ERR_NOMEM;
		if (json_object_set_new(exposed, key, json_object()) ||
		    json_array_append_new(list, json_pack("{ss}", "HostPort", host)))
			return MW_ERR_NOMEM;
	}
	return MW_OK;
}

/* "/dev/a" or "/dev/a:/dev/b" or "/dev/a:/dev/b:rw" -> a Devices entry. */
static int add_devices(json_t *hc, json_t *devs, char *err, size_t errlen)
{
	json_t *a = json_array(), *v;
	size_t i;
	int rc;

	if (json_object_set_new(hc, "Devices", a))
		return MW_ERR_NOMEM;
	if ((rc = strings_ok(devs, "devices", err, errlen)))
		return rc;
	json_array_foreach(devs, i, v)
	{
		const char *s = json_string_value(v), *c1 = strchr(s, ':');
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		size_t hl = c1 ? (size_t)(c1 - s) : strlen(s);
		size_t cl = c2 ? (size_t)(c2 - c1 - 1) : c1 ? strlen(c1 + 1) : hl;

		if (s[0] != '/' || (c1 && c1[1] != '/') || (c2 && !c2[1]))
			return bad(err, errlen, "devices", i,
				   "/dev/HOST[:/dev/CONTAINER[:PERMISSIONS]] expected");
		if (json_array_append_new(a, json_pack("{s:s%,s:s%,s:s}", "PathOnHost", s, hl,
						       "PathInContainer", c1 ? c1 + 1 : s, cl,
						       "CgroupPermissions", c2 ? c2 + 1 : "rwm")))
			return MW_ERR_NOMEM;
	}
	return MW_OK;
}

static int add_labels(json_t *b, json_t *labels, char *err, size_t errlen)
{
	const char *k;
	json_t *v;

	if (!json_is_object(labels)) {
		say(err, errlen, "labels: an object of strings expected");
		return MW_ERR_INVALID;
	}
	json_object_foreach(labels, k, v)
	{
		if (!json_is_string(v)) {
			say(err, errlen, "labels.%.64s: a string expected", k);
			return MW_ERR_INVALID;
		}
	}
	return json_object_set(b, "Labels", labels) ? MW_ERR_NOMEM : MW_OK;
}

static int add_limits(json_t *hc, const struct engine_spec *s, char *err, size_t errlen)
{
	if (s->memory_bytes < 0) {
		say(err, errlen, "memory_bytes: 0 (no limit) or more expected");
		return MW_ERR_INVALID;
	}
	if (!(s->cpus >= 0 && s->cpus <= 1024)) { /* NaN too */
		say(err, errlen, "cpus: 0 (no limit) to 1024 expected");
		return MW_ERR_INVALID;
	}
	if ((s->memory_bytes &&
	     json_object_set_new(hc, "Memory", json_integer((json_int_t)s->memory_bytes))) ||
	    (s->cpus > 0 &&
	     json_object_set_new(hc, "NanoCpus", json_integer((json_int_t)(s->cpus * 1e9 + 0.5)))))
		return MW_ERR_NOMEM;
	return MW_OK;
}

int engine_spec_body(const struct engine_spec *s, json_t **out, char *err, size_t errlen)
{
	json_t *b = NULL, *hc;
	int rc;

	*out = NULL;
	if ((rc = check_image(s->image, err, errlen)))
		return rc;
	if (!(b = json_pack("{s:s,s:{}}", "Image", s->image, "HostConfig")))
		return MW_ERR_NOMEM;
	hc = json_object_get(b, "HostConfig");
	if ((s->cmd && (rc = add_strv(b, "Cmd", s->cmd, "cmd", false, err, errlen))) ||
	    (s->env && (rc = add_strv(b, "Env", s->env, "env", true, err, errlen))) ||
	    (s->labels && (rc = add_labels(b, s->labels, err, errlen))) ||
	    (rc = add_limits(hc, s, err, errlen)) ||
	    (rc = strings_ok(s->volumes, "volumes", err, errlen)) ||
	    (s->devices && (rc = add_devices(hc, s->devices, err, errlen))) ||
	    (s->ports && !s->host_network && (rc = add_ports(b, hc, s->ports, err, errlen))))
		goto out;
	if ((s->volumes && json_object_set(hc, "Binds", s->volumes)) ||
	    (s->host_network && json_object_set_new(hc, "NetworkMode", json_string("host")))) {
		rc = MW_ERR_NOMEM;
		goto out;
	}
	*out = b;
	b = NULL;
out:
	if (rc == MW_ERR_NOMEM)
		say(err, errlen, "no memory for a container spec");
	json_decref(b);
	return rc;
}

/* ---- the inspect answer ---- */

static bool digits(const char **p, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return false;
		*out = *out * 10 + (**p - '0');
	}
	return true;
}

/* RFC 3339 to Unix ns; Go's zero time ("0001-01-01T00:00:00Z"), and any
 * other time before 1970, is 0: never. */
static bool rfc3339_ns(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, scale = 100000000;
	int64_t secs;
	char sign = 0;

	/* Each test stops the chain at its first miss: nothing is read past a NUL. */
	if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
	    !digits(&s, 2, &d) || !strchr("Tt ", *s) || !*s++ || !digits(&s, 2, &h) ||
	    *s++ != ':' || !digits(&s, 2, &mi) || *s++ != ':' || !digits(&s, 2, &sec))
		return false;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return false;
		for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++;
		if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23 || om > 59)
			return false;
	} else {
		return false;
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	secs = (int64_t)timegm(&(struct tm){.tm_year = y - 1900,
					    .tm_mon = mo - 1,
					    .tm_mday = d,
					    .tm_hour = h,
					    .tm_min = mi,
					    .tm_sec = sec}) -
	       (sign == '-' ? -1 : 1) * (oh * 3600 + om * 60);
	if (secs > INT64_MAX / NS - 1)
		return false;
	*out = secs <= 0 ? 0 : secs * NS + frac;
	return true;
}

/* Copies o[key] (a string) into out; NULL when it is missing or not one. */
static const char *field(json_t *o, const char *key, char *out, size_t cap)
{
	const char *v = json_string_value(json_object_get(o, key));

	if (v && out)
		mw_strlcpy(out, v, cap);
	return v;
}

int engine_parse_state(const char *json, size_t len, struct engine_state *out, char *err,
		       size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(json, len, 0, &je), *st = json_object_get(j, "State");
	json_t *code = json_object_get(st, "ExitCode"), *e = json_object_get(st, "Error");
	json_int_t c = json_integer_value(code);
	const char *t1, *t2, *what = NULL;

	memset(out, 0, sizeof(*out));
	if (!j) {
		say(err, errlen, "not JSON: %s", je.text);
		return MW_ERR_INVALID;
	}
	t1 = json_string_value(json_object_get(st, "StartedAt"));
	t2 = json_string_value(json_object_get(st, "FinishedAt"));
	if (!field(j, "Id", out->id, sizeof(out->id)))
		what = "Id: a string expected";
	else if (!json_is_object(st))
		what = "State: an object expected";
	else if (!field(st, "Status", out->status, sizeof(out->status)))
		what = "State.Status: a string expected";
	else if (!json_is_boolean(json_object_get(st, "Running")))
		what = "State.Running: true or false expected";
	else if (!json_is_integer(code) || c < INT_MIN || c > INT_MAX)
		what = "State.ExitCode: an integer expected";
	else if (e && !json_is_null(e) && !field(st, "Error", out->error, sizeof(out->error)))
		what = "State.Error: a string expected";
	else if (!t1 || !rfc3339_ns(t1, &out->started_at_ns))
		what = "State.StartedAt: an RFC 3339 time expected";
	else if (!t2 || !rfc3339_ns(t2, &out->finished_at_ns))
		what = "State.FinishedAt: an RFC 3339 time expected";
	else if (!field(json_object_get(j, "Config"), "Image", out->image, sizeof(out->image)))
		what = "Config.Image: a string expected";
	if (what) {
		memset(out, 0, sizeof(*out));
		say(err, errlen, "%s", what);
	} else {
		out->exists = true;
		out->running = json_is_true(json_object_get(st, "Running"));
		field(json_object_get(json_object_get(j, "Config"), "Labels"), ENGINE_SPEC_LABEL,
		      out->spec, sizeof(out->spec));
		out->exit_code = (int)c;
	}
	json_decref(j);
	return what ? MW_ERR_INVALID : MW_OK;
}

/* ---- the log stream ---- */

struct demux {
	json_t *lines;	    /* NULL while counting */
	size_t n, skip;	    /* lines seen; the first skip of them are not kept */
	struct buf part[3]; /* a line begun in an earlier frame, per stream */
};

static int emit(struct demux *d, const char *s, size_t n)
{
	json_t *v;
	char *copy;

	if (n && s[n - 1] == '\r')
		n--;
	if (d->lines && d->n >= d->skip) {
		if (!(v = json_stringn(s, n))) { /* not UTF-8: keep the ASCII */
			if (!(copy = malloc(n + 1)))
				return MW_ERR_NOMEM;
			for (size_t i = 0; i < n; i++)
				copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
			v = json_stringn(copy, n);
			free(copy);
		}
		if (json_array_append_new(d->lines, v))
			return MW_ERR_NOMEM;
	}
	d->n++;
	return MW_OK;
}

/* n bytes of stream: whole lines out, the rest kept for the next frame. */
static int feed(struct demux *d, int stream, const char *p, size_t n)
{
	struct buf *part = &d->part[stream];
	int rc = MW_OK;

	while (n && !rc) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) : n;

		if (!nl)
			return buf_add(part, p, k);
		if (!part->len) {
			rc = emit(d, p, k);
		} else if (!(rc = buf_add(part, p, k))) {
			rc = emit(d, part->data, part->len);
			buf_reset(part);
		}
		p += k + 1;
		n -= k + 1;
	}
	return rc;
}

/* The last lines, those without a newline. */
static int flush(struct demux *d)
{
	int rc = MW_OK;

	for (int s = 0; s < 3 && !rc; s++)
		if (d->part[s].len)
			rc = emit(d, d->part[s].data, d->part[s].len);
	return rc;
}

static int walk(struct demux *d, const unsigned char *p, size_t len)
{
	int rc = MW_OK;

	if (len && p[0] > 2) { /* plain text */
		rc = feed(d, 0, (const char *)p, len);
		return rc ? rc : flush(d);
	}
	while (!rc && len) {
		uint32_t n;

		if (len < 8 || p[0] > 2 || p[1] || p[2] || p[3])
			return MW_ERR_INVALID;
		n = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
		if (n > len - 8)
			return MW_ERR_INVALID;
		rc = feed(d, p[0], (const char *)p + 8, n);
		p += 8 + (size_t)n;
		len -= 8 + (size_t)n;
	}
	return rc ? rc : flush(d);
}

/* One pass over the stream; lines NULL only counts. */
static int demux_pass(const char *data, size_t len, json_t *lines, size_t skip, size_t *count)
{
	struct demux d = {.lines = lines, .skip = skip};
	int rc;

	for (int s = 0; s < 3; s++)
		buf_init(&d.part[s], len);
	rc = walk(&d, (const unsigned char *)data, len);
	for (int s = 0; s < 3; s++)
		buf_free(&d.part[s]);
	*count = d.n;
	return rc;
}

int engine_demux_logs(const char *data, size_t len, int tail, json_t *lines)
{
	size_t n = 0;
	int rc = demux_pass(data, len, NULL, 0, &n);

	if (rc)
		return rc;
	return demux_pass(data, len, lines, tail >= 0 && n > (size_t)tail ? n - (size_t)tail : 0,
			  &n);
}

/* ---- the calls ---- */

int engine_image_present(struct engine *e, const char *image, bool *present, char *err,
			 size_t errlen)
{
	struct http_response r;
	char url[URL_MAX];
	int rc;

	*present = false;
	if ((rc = check_image(image, err, errlen)))
		return rc;
	snprintf(url, sizeof(url), BASE "/images/%s/json", image);
	if (!(rc = send_req(e, "GET", url, NULL, TIMEOUT_MS, 0, &r, err, errlen))) {
		*present = r.status == 200;
		if (r.status != 200 && r.status != 404)
			rc = refused(&r, "image", image, err, errlen);
	}
	http_response_free(&r);
	return rc;
}

/* Scans the pull's stream of JSON objects for one with "error". */
static bool pull_failed(const struct buf *b, const char *image, char *err, size_t errlen)
{
	bool failed = false;

	for (size_t off = 0; off < b->len && !failed;) {
		json_error_t je;
		json_t *o = json_loadb(b->data + off, b->len - off, JSON_DISABLE_EOF_CHECK, &je);
		const char *msg = json_string_value(json_object_get(o, "error"));
		const char *detail = json_string_value(
			json_object_get(json_object_get(o, "errorDetail"), "message"));

		if ((failed = msg || detail))
			say(err, errlen, "image %s: not here and cannot be pulled: %s", image,
			    detail ? detail : msg);
		json_decref(o);
		if (!o || je.position <= 0)
			break;
		off += (size_t)je.position;
	}
	return failed;
}

static int pull(struct engine *e, const char *image, char *err, size_t errlen)
{
	const char *slash = strrchr(image, '/');
	bool tagged = strchr(image, '@') || strchr(slash ? slash : image, ':');
	char url[URL_MAX], q[3 * IMAGE_MAX + 1];
	struct http_response r;
	int rc;

	/* Without a tag, Docker would pull every tag of the repository. */
	encode(q, image);
	snprintf(url, sizeof(url), BASE "/images/create?fromImage=%s%s", q,
		 tagged ? "" : "&tag=latest");
	if ((rc = send_req(e, "POST", url, NULL, PULL_TIMEOUT_MS, PULL_MAX, &r, err, errlen)))
		goto out;
	if (r.status != 200)
		rc = refused(&r, "image", image, err, errlen);
	else if (pull_failed(&r.body, image, err, errlen))
		rc = MW_ERR_NOTFOUND;
out:
	http_response_free(&r);
	return rc;
}

/* A request about container name that wants one of two statuses. */
static int container_call(struct engine *e, const char *method, const char *url, json_t *body,
			  long ok1, long ok2, const char *verb, const char *name, char *err,
			  size_t errlen)
{
	struct http_response r;
	int rc = send_req(e, method, url, body, TIMEOUT_MS, 0, &r, err, errlen);

	if (!rc && r.status != ok1 && r.status != ok2)
		rc = refused(&r, verb, name, err, errlen);
	http_response_free(&r);
	return rc;
}

int engine_run(struct engine *e, const struct engine_spec *s, char *err, size_t errlen)
{
	json_t *body = NULL;
	char url[URL_MAX], why[200] = "";
	bool present = false;
	int rc;

	if ((rc = check_name(s->name, err, errlen)))
		return rc;
	if ((rc = engine_spec_body(s, &body, why, sizeof(why)))) {
		say(err, errlen, "create %s: %s", s->name, why);
		return rc;
	}
	if ((rc = engine_image_present(e, s->image, &present, err, errlen)))
		goto out;
	if (!present && ((rc = pull(e, s->image, err, errlen)) ||
			 (rc = engine_image_present(e, s->image, &present, err, errlen))))
		goto out;
	if (!present) {
		say(err, errlen, "image %s: pulled, but the engine does not have it", s->image);
		rc = MW_ERR_NOTFOUND;
		goto out;
	}
	if ((rc = engine_remove(e, s->name, s->grace_s > 0 ? s->grace_s : GRACE_DEFAULT_S, err,
				errlen)))
		goto out;
	snprintf(url, sizeof(url), BASE "/containers/create?name=%s", s->name);
	if ((rc = container_call(e, "POST", url, body, 201, 200, "create", s->name, err, errlen)))
		goto out;
	rc = engine_start(e, s->name, err, errlen);
out:
	json_decref(body);
	return rc;
}

int engine_start(struct engine *e, const char *name, char *err, size_t errlen)
{
	char url[URL_MAX];
	int rc = check_name(name, err, errlen);

	if (rc)
		return rc;
	snprintf(url, sizeof(url), BASE "/containers/%s/start", name);
	return container_call(e, "POST", url, NULL, 204, 304, "start", name, err, errlen);
}

int engine_inspect(struct engine *e, const char *name, struct engine_state *out, char *err,
		   size_t errlen)
{
	struct http_response r;
	char url[URL_MAX], why[200] = "";
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_name(name, err, errlen)))
		return rc;
	snprintf(url, sizeof(url), BASE "/containers/%s/json", name);
	if ((rc = send_req(e, "GET", url, NULL, TIMEOUT_MS, 0, &r, err, errlen)) || r.status == 404)
		goto out;
	if (r.status != 200)
		rc = refused(&r, "inspect", name, err, errlen);
	else if ((rc = engine_parse_state(r.body.data, r.body.len, out, why, sizeof(why))))
		say(err, errlen, "inspect %s: unexpected answer: %s", name, why);
out:
	http_response_free(&r);
	return rc;
}

int engine_logs(struct engine *e, const char *name, int tail, json_t **lines, char *err,
		size_t errlen)
{
	struct http_response r;
	char url[URL_MAX], n[16] = "all";
	int rc;

	*lines = NULL;
	if ((rc = check_name(name, err, errlen)))
		return rc;
	if (tail >= 0)
		snprintf(n, sizeof(n), "%d", tail);
	snprintf(url, sizeof(url), BASE "/containers/%s/logs?stdout=1&stderr=1&tail=%s", name, n);
	if ((rc = send_req(e, "GET", url, NULL, TIMEOUT_MS, LOGS_MAX, &r, err, errlen)))
		goto out;
	if (r.status != 200) {
		rc = refused(&r, "logs", name, err, errlen);
	} else if (!(*lines = json_array())) {
		rc = MW_ERR_NOMEM;
		say(err, errlen, "logs %s: no memory", name);
	} else if ((rc = engine_demux_logs(r.body.data, r.body.len, tail, *lines))) {
		say(err, errlen, "logs %s: %s", name,
		    rc == MW_ERR_NOMEM ? "no memory" : "malformed log stream");
		json_decref(*lines);
		*lines = NULL;
	}
out:
	http_response_free(&r);
	return rc;
}

int engine_remove(struct engine *e, const char *name, int grace_s, char *err, size_t errlen)
{
	struct http_response r;
	char url[URL_MAX];
	long status;
	int rc;

	if ((rc = check_name(name, err, errlen)))
		return rc;
	grace_s = grace_s < 0 ? 0 : grace_s > GRACE_MAX_S ? GRACE_MAX_S : grace_s;
	snprintf(url, sizeof(url), BASE "/containers/%s/stop?t=%d", name, grace_s);
	rc = send_req(e, "POST", url, NULL, TIMEOUT_MS + grace_s * 1000L, 0, &r, err, errlen);
	status = r.status;
	http_response_free(&r);
	if (rc || status == 404)
		return rc;
	/* Whatever the stop said: the forced delete kills what still runs. */
	snprintf(url, sizeof(url), BASE "/containers/%s?force=true&v=true", name);
	rc = container_call(e, "DELETE", url, NULL, 204, 200, "remove", name, err, errlen);
	return rc == MW_ERR_NOTFOUND ? MW_OK : rc;
}
