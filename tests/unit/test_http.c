/* test_http.c -- our HTTP/1.1 client against real servers, and its parser alone.
 *
 * The client replaced libcurl, so it must hold what curl held for us: bodies
 * both ways, chunked answers, a cap on the answer, a timeout that bounds the
 * whole request, one kept connection reused across requests, a reconnect
 * when the server closed an idle connection (but never a resend once part
 * of an answer came), clear errors for refused ports and bad URLs, and unix
 * sockets. Each of those is checked against a libmicrohttpd daemon started
 * here on 127.0.0.1:0 (or on a unix socket), or, where a server must
 * misbehave on purpose, against a small raw-socket server in a thread.
 *
 * The parser is a pure function fed in pieces, so every case in the table
 * is run whole, split at every byte boundary and byte by byte, and must
 * give the same answer each way. */
#include "core/buf.h"
#include "core/http.h"
#include "core/mw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#define UPLOAD_CAP (8u << 20)

/* ------------------------------------------------------------ MHD server */

struct server {
	struct MHD_Daemon *d;
	int port;
	int connections; /* accepted so far (atomic) */
	int requests;	 /* answered so far (atomic) */
	char sock_path[108];
};

static char pattern(uint64_t i) { return (char)('a' + i % 26); }

static long arg_long(struct MHD_Connection *c, const char *name, long dflt)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
	int64_t n;
	return v && mw_parse_i64(v, 0, INT32_MAX, &n) == MW_OK ? (long)n : dflt;
}

static const char *hdr(struct MHD_Connection *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
	return v ? v : "-";
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const void *data,
			      size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

struct chunk_state {
	uint64_t total;
};

/* Feeds the pattern in uneven pieces; MHD frames it as chunked. */
static ssize_t chunk_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct chunk_state *st = cls;
	size_t n = 1 + (size_t)(pos * 7919 % 1500);

	if (pos >= st->total)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n > max)
		n = max;
	if (n > st->total - pos)
		n = (size_t)(st->total - pos);
	for (size_t i = 0; i < n; i++)
		out[i] = pattern(pos + i);
	return (ssize_t)n;
}

static enum MHD_Result route(struct server *s, struct MHD_Connection *c, const char *url,
			     const char *method, struct buf *upload)
{
	char text[1024];

	__atomic_add_fetch(&s->requests, 1, __ATOMIC_SEQ_CST);
	if (strcmp(url, "/echo") == 0)
		return answer(c, 200, upload->data ? upload->data : "", upload->len);
	if (strcmp(url, "/inspect") == 0) {
		int n = snprintf(text, sizeof(text), "%s|%s|%s|%s|%s|%s|%s", method, hdr(c, "Host"),
				 hdr(c, "User-Agent"), hdr(c, "Authorization"),
				 hdr(c, "Content-Length"), hdr(c, "X-Test"), hdr(c, "Connection"));
		return answer(c, 200, text, (size_t)n);
	}
	if (strcmp(url, "/bytes") == 0) {
		size_t n = (size_t)arg_long(c, "n", 0);
		char *b = malloc(n + 1);
		enum MHD_Result ret;
		for (size_t i = 0; i < n; i++)
			b[i] = pattern(i);
		ret = answer(c, 200, b, n);
		free(b);
		return ret;
	}
	if (strcmp(url, "/chunked") == 0) {
		struct chunk_state *st = malloc(sizeof(*st));
		struct MHD_Response *r;
		enum MHD_Result ret;
		st->total = (uint64_t)arg_long(c, "n", 0);
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, chunk_reader, st,
						      free);
		ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (strcmp(url, "/slow") == 0) {
		usleep((useconds_t)arg_long(c, "ms", 0) * 1000);
		return answer(c, 200, "late", 4);
	}
	if (strcmp(url, "/status") == 0)
		return answer(c, (unsigned)arg_long(c, "code", 200), "", 0);
	return answer(c, 404, "no such path", 12);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct buf *upload = *con_cls;

	if (!upload) {
		upload = calloc(1, sizeof(*upload));
		buf_init(upload, UPLOAD_CAP);
		*con_cls = upload;
		return MHD_YES;
	}
	if (*size) {
		if (buf_add(upload, data, *size))
			return MHD_NO;
		*size = 0;
		return MHD_YES;
	}
	return route(cls, c, url, method, upload);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct buf *upload = *con_cls;
	if (upload) {
		buf_free(upload);
		free(upload);
		*con_cls = NULL;
	}
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct server *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_add_fetch(&s->connections, 1, __ATOMIC_SEQ_CST);
}

/* Starts MHD on 127.0.0.1:0, or on a fresh unix socket when on_unix.
 * idle_timeout_s: MHD closes connections idle that long (0 = never). */
static void server_start(struct server *s, bool on_unix, unsigned idle_timeout_s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = -1;

	memset(s, 0, sizeof(*s));
	if (on_unix) {
		struct sockaddr_un su = {.sun_family = AF_UNIX};
		snprintf(s->sock_path, sizeof(s->sock_path), "/tmp/mw-test-http-%d.sock",
			 (int)getpid());
		unlink(s->sock_path);
		mw_strlcpy(su.sun_path, s->sock_path, sizeof(su.sun_path));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		assert_int_equal(bind(fd, (struct sockaddr *)&su, sizeof(su)), 0);
		assert_int_equal(listen(fd, 16), 0);
	}
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				on_request, s,
				on_unix ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
				on_unix ? (intptr_t)fd : (intptr_t)&sa, MHD_OPTION_NOTIFY_COMPLETED,
				on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				MHD_OPTION_CONNECTION_TIMEOUT, idle_timeout_s, MHD_OPTION_END);
	assert_non_null(s->d);
	if (!on_unix)
		s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void server_stop(struct server *s)
{
	MHD_stop_daemon(s->d);
	if (s->sock_path[0])
		unlink(s->sock_path);
}

static int count(int *v) { return __atomic_load_n(v, __ATOMIC_SEQ_CST); }

/* ------------------------------------------------- a server that misbehaves */

enum raw_mode {
	RAW_CLOSE_SECOND,   /* answers the first request of a connection, drops at the second */
	RAW_PARTIAL_SECOND, /* answers the first, half-answers the second and closes */
	RAW_GARBAGE,	    /* answers with a broken status line */
};

struct raw {
	int lfd, port, stop, conns, reqs;
	enum raw_mode mode;
	pthread_t th;
};

static const char ok_answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* Reads one request head (our tests send no body here); false at EOF. */
static bool read_request(int fd)
{
	char buf[8192];
	size_t len = 0;

	while (len < sizeof(buf) - 1) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return true;
	}
	return false;
}

static void raw_serve(struct raw *r, int fd)
{
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int i = 0; read_request(fd); i++) {
		const char *ans = ok_answer;
		__atomic_add_fetch(&r->reqs, 1, __ATOMIC_SEQ_CST);
		if (r->mode == RAW_GARBAGE)
			ans = "HTTP/9 nope\r\n\r\n";
		else if (i == 1 && r->mode == RAW_CLOSE_SECOND)
			break;
		else if (i == 1)
			ans = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
		if (send(fd, ans, strlen(ans), MSG_NOSIGNAL) <= 0 || r->mode == RAW_GARBAGE ||
		    i == 1)
			break;
	}
	close(fd);
}

static void *raw_run(void *arg)
{
	struct raw *r = arg;
	while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST)) {
		struct pollfd p = {.fd = r->lfd, .events = POLLIN};
		int fd;
		if (poll(&p, 1, 50) <= 0 || (fd = accept(r->lfd, NULL, NULL)) < 0)
			continue;
		__atomic_add_fetch(&r->conns, 1, __ATOMIC_SEQ_CST);
		raw_serve(r, fd);
	}
	return NULL;
}

/* A listening socket on 127.0.0.1:0; its port in *port. */
static int listen_any(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void raw_start(struct raw *r, enum raw_mode mode)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->lfd = listen_any(&r->port);
	assert_int_equal(pthread_create(&r->th, NULL, raw_run, r), 0);
}

static void raw_stop(struct raw *r)
{
	__atomic_store_n(&r->stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(r->th, NULL);
	close(r->lfd);
}

/* ------------------------------------------------------------ client tests */

static char *url_of(int port, const char *path)
{
	static char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	return url;
}

static void posts_a_body_and_reads_it_back(void **state)
{
	struct server s;
	struct http_client *c;
	struct http_response r;
	size_t n = 300 * 1024;
	char *body = malloc(n);

	for (size_t i = 0; i < n; i++)
		body[i] = pattern(i * 3);
	server_start(&s, false, 0);
	assert_int_equal(http_client_new(&c), MW_OK);
	struct http_request req = {.url = url_of(s.port, "/echo"), .body = body, .body_len = n};
	assert_int_equal(http_do(c, &req, &r), MW_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, n);
	assert_memory_equal(r.body.data, body, n);
	http_response_free(&r);
	http_client_free(c);
	server_stop(&s);
	free(body);
}

static void sends_the_documented_headers(void **state)
{
	static const char *const extra[] = {"X-Test: 42", NULL};
	struct server s;
	struct http_response r;
	char want[512];

	server_start(&s, false, 0);
	struct http_request req = {
		.url = url_of(s.port, "/inspect?x=1"), .headers = extra, .bearer = "sekrit-token"};
	assert_int_equal(http_request(&req, &r), MW_OK);
	assert_int_equal(r.status, 200);
	snprintf(want, sizeof(want),
		 "GET|127.0.0.1:%d|millwright/%s|Bearer sekrit-token|-|42|keep-alive", s.port,
		 MW_VERSION);
	assert_string_equal(r.body.data, want);
	http_response_free(&r);

	struct http_request put = {
		.method = "PUT", .url = url_of(s.port, "/inspect"), .body = "abc", .body_len = 3};
	assert_int_equal(http_request(&put, &r), MW_OK);
	assert_true(strncmp(r.body.data, "PUT|", 4) == 0);
	assert_non_null(strstr(r.body.data, "|-|3|-|"));
	http_response_free(&r);
	server_stop(&s);
}

static void reads_a_chunked_answer(void **state)
{
	struct server s;
	struct http_response r;
	size_t n = 250000;

	server_start(&s, false, 0);
	struct http_request req = {.url = url_of(s.port, "/chunked?n=250000")};
	assert_int_equal(http_request(&req, &r), MW_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, n);
	for (size_t i = 0; i < n; i++)
		if (r.body.data[i] != pattern(i))
			fail_msg("byte %zu is '%c', want '%c'", i, r.body.data[i], pattern(i));
	assert_int_equal(r.body.data[n], '\0');
	http_response_free(&r);
	server_stop(&s);
}

static void refuses_an_answer_over_the_cap(void **state)
{
	const char *paths[] = {"/bytes?n=100001", "/chunked?n=100001"};
	struct server s;
	struct http_response r;

	server_start(&s, false, 0);
	for (size_t i = 0; i < MW_ARRAY_LEN(paths); i++) {
		struct http_request req = {.url = url_of(s.port, paths[i]), .max_response = 100000};
		assert_int_equal(http_request(&req, &r), MW_ERR_TOOBIG);
		assert_non_null(strstr(r.error, "over the 100000-byte cap"));
		assert_true(r.body.len <= 100000);
		http_response_free(&r);
	}
	struct http_request exact = {.url = url_of(s.port, "/chunked?n=100000"),
				     .max_response = 100000};
	assert_int_equal(http_request(&exact, &r), MW_OK);
	assert_int_equal(r.body.len, 100000);
	http_response_free(&r);
	server_stop(&s);
}

static void times_out_on_a_slow_server(void **state)
{
	struct server s;
	struct http_response r;
	char want[128];
	int64_t t0;

	server_start(&s, false, 0);
	struct http_request req = {.url = url_of(s.port, "/slow?ms=1500"), .timeout_ms = 300};
	t0 = mw_mono_ns();
	assert_int_equal(http_request(&req, &r), MW_ERR_IO);
	assert_true(mw_mono_ns() - t0 < 1000000000LL);
	assert_int_equal(r.status, 0);
	snprintf(want, sizeof(want), "timed out after 300 ms waiting for 127.0.0.1:%d", s.port);
	assert_string_equal(r.error, want);
	http_response_free(&r);
	server_stop(&s);
}

static void keeps_one_connection_alive(void **state)
{
	struct server s;
	struct http_client *c;
	struct http_response r;

	server_start(&s, false, 0);
	assert_int_equal(http_client_new(&c), MW_OK);
	for (int i = 0; i < 5; i++) {
		struct http_request req = {
			.url = url_of(s.port, i % 2 ? "/echo" : "/chunked?n=5000"),
			.body = i % 2 ? "x" : NULL,
			.body_len = 1};
		assert_int_equal(http_do(c, &req, &r), MW_OK);
		assert_int_equal(r.status, 200);
		http_response_free(&r);
	}
	struct http_request e404 = {.url = url_of(s.port, "/nothing")};
	assert_int_equal(http_do(c, &e404, &r), MW_OK);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body.data, "no such path");
	http_response_free(&r);
	assert_int_equal(count(&s.requests), 6);
	assert_int_equal(count(&s.connections), 1);

	/* A fresh client is a fresh connection. */
	struct http_request one = {.url = url_of(s.port, "/echo")};
	assert_int_equal(http_request(&one, &r), MW_OK);
	http_response_free(&r);
	assert_int_equal(count(&s.connections), 2);
	http_client_free(c);
	server_stop(&s);
}

static void reconnects_after_the_server_closed_an_idle_connection(void **state)
{
	struct server s;
	struct http_client *c;
	struct http_response r;
	struct http_request req;

	server_start(&s, false, 1); /* MHD closes connections idle for 1 s */
	assert_int_equal(http_client_new(&c), MW_OK);
	req = (struct http_request){.url = url_of(s.port, "/echo")};
	assert_int_equal(http_do(c, &req, &r), MW_OK);
	http_response_free(&r);
	usleep(2200 * 1000);
	assert_int_equal(http_do(c, &req, &r), MW_OK);
	assert_int_equal(r.status, 200);
	http_response_free(&r);
	assert_int_equal(count(&s.connections), 2);
	http_client_free(c);
	server_stop(&s);
}

static void resends_once_when_a_kept_connection_drops_the_request(void **state)
{
	struct raw srv;
	struct http_client *c;
	struct http_response r;

	raw_start(&srv, RAW_CLOSE_SECOND);
	assert_int_equal(http_client_new(&c), MW_OK);
	struct http_request req = {.url = url_of(srv.port, "/x")};
	assert_int_equal(http_do(c, &req, &r), MW_OK);
	assert_string_equal(r.body.data, "ok");
	http_response_free(&r);
	/* The server reads this one and closes without a byte: we send it again. */
	assert_int_equal(http_do(c, &req, &r), MW_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "ok");
	http_response_free(&r);
	http_client_free(c);
	raw_stop(&srv);
	assert_int_equal(srv.conns, 2);
	assert_int_equal(srv.reqs, 3);
}

static void never_resends_after_part_of_an_answer(void **state)
{
	struct raw srv;
	struct http_client *c;
	struct http_response r;
	char want[160];

	raw_start(&srv, RAW_PARTIAL_SECOND);
	assert_int_equal(http_client_new(&c), MW_OK);
	struct http_request req = {.method = "POST", .url = url_of(srv.port, "/x")};
	assert_int_equal(http_do(c, &req, &r), MW_OK);
	http_response_free(&r);
	assert_int_equal(http_do(c, &req, &r), MW_ERR_IO);
	snprintf(want, sizeof(want),
		 "127.0.0.1:%d: connection closed 7 bytes before the end of the body", srv.port);
	assert_string_equal(r.error, want);
	http_response_free(&r);
	http_client_free(c);
	raw_stop(&srv);
	assert_int_equal(srv.conns, 1);
	assert_int_equal(srv.reqs, 2);
}

static void says_what_was_wrong_with_a_garbled_answer(void **state)
{
	struct raw srv;
	struct http_response r;
	char want[160];

	raw_start(&srv, RAW_GARBAGE);
	struct http_request req = {.url = url_of(srv.port, "/x")};
	assert_int_equal(http_request(&req, &r), MW_ERR_INVALID);
	snprintf(want, sizeof(want),
		 "bad answer from 127.0.0.1:%d: invalid status line \"HTTP/9 nope\"", srv.port);
	assert_string_equal(r.error, want);
	assert_int_equal(r.status, 0);
	http_response_free(&r);
	raw_stop(&srv);
}

static void reports_a_refused_connection(void **state)
{
	struct http_response r;
	char want[128];
	int port, fd = listen_any(&port);

	close(fd); /* nobody listens there now */
	struct http_request req = {.url = url_of(port, "/")};
	assert_int_equal(http_request(&req, &r), MW_ERR_IO);
	snprintf(want, sizeof(want), "cannot connect to 127.0.0.1:%d: Connection refused", port);
	assert_string_equal(r.error, want);
	assert_int_equal(r.status, 0);
	http_response_free(&r);
}

static void resolves_names_and_tries_each_address(void **state)
{
	struct server s;
	struct http_response r;
	char url[128];

	server_start(&s, false, 0);
	/* localhost may resolve to ::1 first, where nobody listens. */
	snprintf(url, sizeof(url), "http://localhost:%d/echo", s.port);
	struct http_request req = {.url = url, .body = "hi", .body_len = 2};
	assert_int_equal(http_request(&req, &r), MW_OK);
	assert_string_equal(r.body.data, "hi");
	http_response_free(&r);
	server_stop(&s);

	struct http_request bad = {.url = "http://no-such-host.invalid:7800/", .timeout_ms = 5000};
	assert_int_equal(http_request(&bad, &r), MW_ERR_IO);
	assert_true(strncmp(r.error, "cannot resolve no-such-host.invalid: ", 37) == 0);
	http_response_free(&r);
}

static void talks_over_a_unix_socket(void **state)
{
	struct server s;
	struct http_response r;

	server_start(&s, true, 0);
	struct http_request req = {.url = "http://localhost/inspect", .unix_socket = s.sock_path};
	assert_int_equal(http_request(&req, &r), MW_OK);
	assert_int_equal(r.status, 200);
	assert_true(strncmp(r.body.data, "GET|localhost|millwright/", 25) == 0);
	http_response_free(&r);

	struct http_request gone = {.url = "http://localhost/",
				    .unix_socket = "/tmp/mw-no-such.sock"};
	assert_int_equal(http_request(&gone, &r), MW_ERR_IO);
	assert_string_equal(r.error,
			    "cannot connect to /tmp/mw-no-such.sock: No such file or directory");
	http_response_free(&r);
	server_stop(&s);
}

static void head_and_no_content_have_no_body(void **state)
{
	struct server s;
	struct http_client *c;
	struct http_response r;

	server_start(&s, false, 0);
	assert_int_equal(http_client_new(&c), MW_OK);
	struct http_request head = {.method = "HEAD", .url = url_of(s.port, "/bytes?n=1000")};
	assert_int_equal(http_do(c, &head, &r), MW_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	assert_string_equal(r.body.data, "");
	http_response_free(&r);
	struct http_request nc = {.url = url_of(s.port, "/status?code=204")};
	assert_int_equal(http_do(c, &nc, &r), MW_OK);
	assert_int_equal(r.status, 204);
	http_response_free(&r);
	struct http_request after = {.url = url_of(s.port, "/bytes?n=10")};
	assert_int_equal(http_do(c, &after, &r), MW_OK);
	assert_string_equal(r.body.data, "abcdefghij");
	http_response_free(&r);
	assert_int_equal(count(&s.connections), 1);
	http_client_free(c);
	server_stop(&s);
}

static void refuses_bad_urls_with_a_reason(void **state)
{
	static const struct {
		const char *url, *why;
	} cases[] = {
		{"ftp://hub/", "URL \"ftp://hub/\": only http:// and https:// URLs are supported"},
		{"https://hub:99999/", "URL \"https://hub:99999/\": invalid port (1-65535)"},
		{"http:///path", "URL \"http:///path\": no host"},
		{"http://hub:70000/", "URL \"http://hub:70000/\": invalid port (1-65535)"},
		{"http://hub:7x/", "URL \"http://hub:7x/\": invalid port (1-65535)"},
		{"http://user@hub/",
		 "URL \"http://user@hub/\": user names in URLs are not supported"},
		{"http://[::1/", "URL \"http://[::1/\": no ']' after the IPv6 address"},
		{"http://hub/a b",
		 "URL \"http://hub/a b\": space or control character in the path"},
		{"", "URL \"\": no URL"},
	};
	struct http_response r;

	for (size_t i = 0; i < MW_ARRAY_LEN(cases); i++) {
		struct http_request req = {.url = cases[i].url};
		assert_int_equal(http_request(&req, &r), MW_ERR_INVALID);
		assert_string_equal(r.error, cases[i].why);
		http_response_free(&r);
	}
	static const char *const crlf[] = {"X-Evil: a\r\nX-More: b", NULL};
	struct http_request inj = {.url = "http://127.0.0.1:1/", .headers = crlf};
	assert_int_equal(http_request(&inj, &r), MW_ERR_INVALID);
	assert_non_null(strstr(r.error, "invalid request header"));
	http_response_free(&r);
}

/* ------------------------------------------------------------ parser tests */

struct pcase {
	const char *name;
	const char *in;
	bool head, eof; /* request was HEAD; the connection closes after in */
	int rc;
	int status;
	const char *body; /* or the error's substring when rc != 0 */
	bool keep_alive;
	size_t cap;
};

static const struct pcase pcases[] = {
	{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, 0, MW_OK, 200, "hello",
	 1, 0},
	{"chunked, extensions, trailers",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=\"v\"\r\nhello\r\n6 ; x\r\n"
	 " world\r\n0\r\nX-Trailer: 1\r\n\r\n",
	 0, 0, MW_OK, 200, "hello world", 1, 0},
	{"interim 100 skipped",
	 "HTTP/1.1 100 Continue\r\nX: y\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
	 0, 0, MW_OK, 201, "ok", 1, 0},
	{"1.0 to the end", "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nto the end", 0, 1, MW_OK, 200,
	 "to the end", 0, 0},
	{"1.1 to the end", "HTTP/1.1 200 OK\r\n\r\nabc", 0, 1, MW_OK, 200, "abc", 0, 0},
	{"connection close", "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\nx",
	 0, 0, MW_OK, 200, "x", 0, 0},
	{"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
	 0, 0, MW_OK, 200, "", 1, 0},
	{"204", "HTTP/1.1 204 No Content\r\n\r\n", 0, 0, MW_OK, 204, "", 1, 0},
	{"304 with a length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 0, 0, MW_OK,
	 304, "", 1, 0},
	{"head", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 1, 0, MW_OK, 200, "", 1, 0},
	{"names any case, chunked beats length",
	 "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nTRANSFER-ENCODING: Chunked\r\n\r\n3\r\nabc\r\n"
	 "0\r\n\r\n",
	 0, 0, MW_OK, 200, "abc", 0, 0},
	{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 0, 0, MW_OK, 200, "ok", 1, 0},
	{"no reason", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", 0, 0, MW_OK, 404, "", 1, 0},
	{"body at the cap",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 0,
	 0, MW_OK, 200, "abcde", 1, 5},
	/* refusals */
	{"http/2", "HTTP/2 200\r\n\r\n", 0, 0, MW_ERR_INVALID, 0,
	 "invalid status line \"HTTP/2 200\"", 0, 0},
	{"short status", "HTTP/1.1 20 OK\r\n\r\n", 0, 0, MW_ERR_INVALID, 0, "invalid status line",
	 0, 0},
	{"status range", "HTTP/1.1 999 What\r\n\r\n", 0, 0, MW_ERR_INVALID, 0,
	 "status 999 out of range", 0, 0},
	{"not http", "SSH-2.0-OpenSSH_9.2\r\n", 0, 0, MW_ERR_INVALID, 0, "invalid status line", 0,
	 0},
	{"empty line first", "\r\nHTTP/1.1 200 OK\r\n\r\n", 0, 0, MW_ERR_INVALID, 0,
	 "invalid status line \"\"", 0, 0},
	{"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, 0, MW_ERR_INVALID,
	 0, "bad Content-Length \"-1\"", 0, 0},
	{"length overflow", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0,
	 0, MW_ERR_INVALID, 0, "Content-Length overflows", 0, 0},
	{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0, 0,
	 MW_ERR_INVALID, 0, "two different Content-Length headers", 0, 0},
	{"length list", "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\na", 0, 0, MW_ERR_INVALID, 0,
	 "bad Content-Length", 0, 0},
	{"chunk size junk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 0,
	 MW_ERR_INVALID, 0, "invalid chunk size line \"zz\"", 0, 0},
	{"chunk size negative", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", 0, 0,
	 MW_ERR_INVALID, 0, "invalid chunk size line", 0, 0},
	{"chunk size huge",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", 0, 0,
	 MW_ERR_INVALID, 0, "chunk size too large", 0, 0},
	{"chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
	 0, 0, MW_ERR_INVALID, 0, "no CRLF after the chunk data", 0, 0},
	{"header without colon", "HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", 0, 0, MW_ERR_INVALID, 0,
	 "header line without a name", 0, 0},
	{"bad header name", "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", 0, 0, MW_ERR_INVALID, 0,
	 "invalid header name \"Bad Name\"", 0, 0},
	{"folded header", "HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\r\n", 0, 0, MW_ERR_INVALID, 0,
	 "folded header line", 0, 0},
	{"gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 0,
	 MW_ERR_INVALID, 0, "unsupported Transfer-Encoding \"gzip\"", 0, 0},
	{"NUL in a header", "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 0, 0, MW_ERR_INVALID, 0,
	 "a NUL or CR byte inside a line", 0, 0},
	{"101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", 0, 0, MW_ERR_INVALID, 0, "101", 0, 0},
	{"length over the cap", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", 0, 0,
	 MW_ERR_TOOBIG, 0, "body of 10 bytes, over the 5-byte cap", 0, 5},
	{"chunks over the cap",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
	 0, 0, MW_ERR_TOOBIG, 0, "body over the 5-byte cap", 0, 5},
	{"to the end over the cap", "HTTP/1.0 200 OK\r\n\r\n0123456789", 0, 1, MW_ERR_TOOBIG, 0,
	 "body over the 5-byte cap", 0, 5},
	{"cut in the body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, 1, MW_ERR_IO, 0,
	 "connection closed 7 bytes before the end of the body", 0, 0},
	{"cut in the headers", "HTTP/1.1 200 OK\r\nContent-Le", 0, 1, MW_ERR_IO, 0,
	 "connection closed in the middle of the answer", 0, 0},
	{"cut in the chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", 0, 1,
	 MW_ERR_IO, 0, "connection closed in the middle of the answer", 0, 0},
	{"nothing", "", 0, 1, MW_ERR_IO, 0, "connection closed before any answer", 0, 0},
};

/* The NUL case holds a NUL, so lengths come from here, not strlen. */
static size_t case_len(const struct pcase *c)
{
	if (strcmp(c->name, "NUL in a header") == 0)
		return sizeof("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n") - 1;
	return strlen(c->in);
}

/* Feeds c->in in pieces (cuts[] ends each piece) and checks the outcome. */
static void run_case(const struct pcase *c, const size_t *cuts, size_t ncuts, const char *how)
{
	struct http_parser *p = malloc(sizeof(*p));
	struct buf body;
	size_t len = case_len(c), off = 0, used;
	int rc = MW_OK;

	buf_init(&body, 1 << 20);
	http_parser_init(p, &body, c->cap ? c->cap : 1 << 20, c->head);
	for (size_t i = 0; i <= ncuts && rc == MW_OK && !p->done; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		rc = http_parse(p, c->in + off, end - off, &used);
		if (rc == MW_OK && !p->done && used != end - off)
			fail_msg("%s (%s): took %zu of %zu bytes", c->name, how, used, end - off);
		off = end;
	}
	if (rc == MW_OK && !p->done && c->eof)
		rc = http_parse_eof(p);
	if (rc != c->rc)
		fail_msg("%s (%s): rc %d, want %d (%s)", c->name, how, rc, c->rc, p->error);
	if (rc != MW_OK) {
		if (!strstr(p->error, c->body))
			fail_msg("%s (%s): error \"%s\", want \"%s\"", c->name, how, p->error,
				 c->body);
	} else {
		if (!p->done)
			fail_msg("%s (%s): not done", c->name, how);
		assert_int_equal(p->status, c->status);
		assert_int_equal(body.len, strlen(c->body));
		if (body.len)
			assert_memory_equal(body.data, c->body, body.len);
		if (p->keep_alive != c->keep_alive)
			fail_msg("%s (%s): keep_alive %d", c->name, how, p->keep_alive);
	}
	buf_free(&body);
	free(p);
}

static void parser_cases_whole_and_split_everywhere(void **state)
{
	for (size_t k = 0; k < MW_ARRAY_LEN(pcases); k++) {
		const struct pcase *c = &pcases[k];
		size_t len = case_len(c), cut;
		size_t *every = malloc((len + 1) * sizeof(*every));

		run_case(c, NULL, 0, "whole");
		for (cut = 1; cut < len; cut++)
			run_case(c, &cut, 1, "split");
		for (size_t i = 0; i < len; i++)
			every[i] = i + 1;
		run_case(c, every, len ? len - 1 : 0, "byte by byte");
		free(every);
	}
}

static void parser_stops_at_the_end_of_the_answer(void **state)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200";
	struct http_parser p;
	struct buf body;
	size_t used;

	buf_init(&body, 100);
	http_parser_init(&p, &body, 100, false);
	assert_int_equal(http_parse(&p, in, sizeof(in) - 1, &used), MW_OK);
	assert_true(p.done);
	assert_int_equal(used, sizeof(in) - 1 - strlen("HTTP/1.1 200"));
	assert_string_equal(body.data, "ok");
	buf_free(&body);
}

static void parser_caps_the_header_block(void **state)
{
	struct http_parser *p = malloc(sizeof(*p));
	struct buf body, in;
	size_t used;
	int rc = MW_OK;

	buf_init(&body, 100);
	buf_init(&in, 1 << 20);
	assert_int_equal(buf_adds(&in, "HTTP/1.1 200 OK\r\n"), MW_OK);
	for (int i = 0; i < 400; i++)
		assert_int_equal(buf_printf(&in, "X-Header-%03d: %040d\r\n", i, i), MW_OK);
	http_parser_init(p, &body, 100, false);
	for (size_t off = 0; off < in.len && rc == MW_OK; off += 1000)
		rc = http_parse(p, in.data + off, in.len - off < 1000 ? in.len - off : 1000, &used);
	assert_int_equal(rc, MW_ERR_TOOBIG);
	assert_string_equal(p->error, "headers larger than 16384 bytes");
	assert_true(p->received <= HTTP_HEADER_MAX + 1000);
	buf_free(&in);
	buf_free(&body);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parser_cases_whole_and_split_everywhere),
		cmocka_unit_test(parser_stops_at_the_end_of_the_answer),
		cmocka_unit_test(parser_caps_the_header_block),
		cmocka_unit_test(posts_a_body_and_reads_it_back),
		cmocka_unit_test(sends_the_documented_headers),
		cmocka_unit_test(reads_a_chunked_answer),
		cmocka_unit_test(refuses_an_answer_over_the_cap),
		cmocka_unit_test(times_out_on_a_slow_server),
		cmocka_unit_test(keeps_one_connection_alive),
		cmocka_unit_test(reconnects_after_the_server_closed_an_idle_connection),
		cmocka_unit_test(resends_once_when_a_kept_connection_drops_the_request),
		cmocka_unit_test(never_resends_after_part_of_an_answer),
		cmocka_unit_test(says_what_was_wrong_with_a_garbled_answer),
		cmocka_unit_test(reports_a_refused_connection),
		cmocka_unit_test(resolves_names_and_tries_each_address),
		cmocka_unit_test(talks_over_a_unix_socket),
		cmocka_unit_test(head_and_no_content_have_no_body),
		cmocka_unit_test(refuses_bad_urls_with_a_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
