/* test_engine.c -- the container engine client (edge/engine.c).
 *
 * The pure part: the inspect answer (times, never-started containers, the
 * field a bad answer lacks), the multiplexed log stream (stdout and stderr,
 * tail, lines split over frames, broken frames) and the create body built
 * from a spec (published ports, devices, limits, refusals naming the field).
 *
 * The live part runs a real Podman API service, started here in a temp dir
 * with its own storage (vfs) and a busybox image made from /bin/busybox,
 * and checks what an app's owner would see: the container runs with its
 * env, bind mount, device and limits; its logs come back; exit codes; a
 * missing image fails fast and says which; a second run replaces the first;
 * removal honours the grace period. Without podman the live part fails and
 * says what to install. Everything started is stopped and removed at the
 * end (the service also gets SIGTERM should this process die). */
#include "edge/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define IMAGE "localhost/mw-bb:1"
#define MS 1000000LL

/* ---- the inspect answer ---- */

/* A real Podman 4.3 answer, trimmed to what the parser reads and a little more. */
#define RUNNING                                                                                    \
	"{\"Id\":\"da21b6e93b90ffd7e518d451bddaeb24fdd5c5bb30efc0f19c92e79053214a3f\","            \
	"\"Created\":\"2026-11-30T20:14:25.018778534Z\",\"Path\":\"sh\","                          \
	"\"State\":{\"Status\":\"running\",\"Running\":true,\"Paused\":false,\"Pid\":27443,"       \
	"\"ExitCode\":0,\"Error\":\"\",\"StartedAt\":\"2026-11-30T20:14:25.159717153Z\","          \
	"\"FinishedAt\":\"0001-01-01T00:00:00Z\",\"Health\":{\"Status\":\"\"}},"                   \
	"\"Name\":\"/t1\",\"Config\":{\"Hostname\":\"da21b6e93b90\",\"Image\":\"localhost/bb:1\"," \
	"\"Labels\":{\"a\":\"b\"}},\"HostConfig\":{\"NetworkMode\":\"host\"}}"

static int64_t utc_ns(int y, int mo, int d, int h, int mi, int s, long ns)
{
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mo - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = mi,
			.tm_sec = s};
	return (int64_t)timegm(&tm) * 1000000000LL + ns;
}

static void running_state_is_read(void **state)
{
	struct engine_state st;
	char err[256] = "";

	assert_int_equal(engine_parse_state(RUNNING, strlen(RUNNING), &st, err, sizeof(err)),
			 MW_OK);
	assert_true(st.exists);
	assert_true(st.running);
	assert_string_equal(st.status, "running");
	assert_int_equal(st.exit_code, 0);
	assert_string_equal(st.error, "");
	assert_string_equal(st.image, "localhost/bb:1");
	assert_int_equal(strlen(st.id), 64);
	assert_true(st.started_at_ns == utc_ns(2026, 11, 30, 20, 14, 25, 159717153));
	assert_true(st.finished_at_ns == 0); /* Go's zero time: never */
}

static void exited_state_and_time_zones_are_read(void **state)
{
	const char *body =
		"{\"Id\":\"x\",\"State\":{\"Status\":\"exited\",\"Running\":false,\"ExitCode\":3,"
		"\"Error\":\"OOM\",\"StartedAt\":\"2024-02-29T23:59:59.5+02:00\","
		"\"FinishedAt\":\"2024-03-01T00:00:01-01:30\"},\"Config\":{\"Image\":\"i\"}}";
	struct engine_state st;
	char err[256] = "";

	assert_int_equal(engine_parse_state(body, strlen(body), &st, err, sizeof(err)), MW_OK);
	assert_false(st.running);
	assert_string_equal(st.status, "exited");
	assert_int_equal(st.exit_code, 3);
	assert_string_equal(st.error, "OOM");
	assert_true(st.started_at_ns == utc_ns(2024, 2, 29, 21, 59, 59, 500000000));
	assert_true(st.finished_at_ns == utc_ns(2024, 3, 1, 1, 30, 1, 0));
}

static void never_started_container_has_no_times(void **state)
{
	const char *body = "{\"Id\":\"x\",\"State\":{\"Status\":\"created\",\"Running\":false,"
			   "\"ExitCode\":0,\"StartedAt\":\"0001-01-01T00:00:00Z\","
			   "\"FinishedAt\":\"0001-01-01T00:00:00Z\"},\"Config\":{\"Image\":\"i\"}}";
	struct engine_state st;
	char err[256] = "";

	assert_int_equal(engine_parse_state(body, strlen(body), &st, err, sizeof(err)), MW_OK);
	assert_string_equal(st.status, "created");
	assert_true(st.started_at_ns == 0 && st.finished_at_ns == 0);
	assert_string_equal(st.error, ""); /* no Error field at all is fine */
}

static void bad_state_names_the_field(void **state)
{
	static const struct {
		const char *body, *names;
	} cases[] = {
		{"{\"State\":{}}", "Id:"},
		{"{\"Id\":\"x\"}", "State:"},
		{"{\"Id\":\"x\",\"State\":{\"Running\":true}}", "State.Status:"},
		{"{\"Id\":\"x\",\"State\":{\"Status\":\"running\",\"Running\":1}}",
		 "State.Running:"},
		{"{\"Id\":\"x\",\"State\":{\"Status\":\"exited\",\"Running\":false}}",
		 "State.ExitCode:"},
		{"{\"Id\":\"x\",\"State\":{\"Status\":\"exited\",\"Running\":false,"
		 "\"ExitCode\":99999999999}}",
		 "State.ExitCode:"},
		{"{\"Id\":\"x\",\"State\":{\"Status\":\"exited\",\"Running\":false,\"ExitCode\":1,"
		 "\"Error\":5}}",
		 "State.Error:"},
		{"{\"Id\":\"x\",\"State\":{\"Status\":\"exited\",\"Running\":false,\"ExitCode\":1,"
		 "\"StartedAt\":\"yesterday\",\"FinishedAt\":\"0001-01-01T00:00:00Z\"}}",
		 "State.StartedAt:"},
		{"{\"Id\":\"x\",\"State\":{\"Status\":\"exited\",\"Running\":false,\"ExitCode\":1,"
		 "\"StartedAt\":\"0001-01-01T00:00:00Z\",\"FinishedAt\":\"2024-13-01T00:00:00Z\"}}",
		 "State.FinishedAt:"},
		{"{\"Id\":\"x\",\"State\":{\"Status\":\"exited\",\"Running\":false,\"ExitCode\":1,"
		 "\"StartedAt\":\"0001-01-01T00:00:00Z\",\"FinishedAt\":\"9999-01-01T00:00:00Z\"}}",
		 "State.FinishedAt:"}, /* past what int64 nanoseconds hold */
		{"{\"Id\":\"x\",\"State\":{\"Status\":\"exited\",\"Running\":false,\"ExitCode\":1,"
		 "\"StartedAt\":\"0001-01-01T00:00:00Z\",\"FinishedAt\":\"0001-01-01T00:00:00Z\"}}",
		 "Config.Image:"},
		{"{\"Id\":", "not JSON"},
	};

	for (size_t i = 0; i < MW_ARRAY_LEN(cases); i++) {
		struct engine_state st;
		char err[256] = "";
		assert_int_equal(engine_parse_state(cases[i].body, strlen(cases[i].body), &st, err,
						    sizeof(err)),
				 MW_ERR_INVALID);
		assert_false(st.exists);
		if (strncmp(err, cases[i].names, strlen(cases[i].names)) != 0)
			fail_msg("case %zu: error '%s' does not start with '%s'", i, err,
				 cases[i].names);
	}
}

/* ---- the log stream ---- */

/* Appends one frame (stream, 3 zero bytes, big-endian length, payload). */
static size_t frame(char *out, size_t at, int stream, const char *payload)
{
	size_t n = strlen(payload);
	unsigned char h[8] = {(unsigned char)stream,
			      0,
			      0,
			      0,
			      (unsigned char)(n >> 24),
			      (unsigned char)(n >> 16),
			      (unsigned char)(n >> 8),
			      (unsigned char)n};
	memcpy(out + at, h, 8);
	memcpy(out + at + 8, payload, n);
	return at + 8 + n;
}

/* The lines as one string, "|" between them. */
static const char *joined(json_t *lines)
{
	static char out[1024];
	size_t i, len = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(lines, i, v)
	{
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "|" : "",
					json_string_value(v));
		assert_true(len < sizeof(out));
	}
	return out;
}

static const char *demux(const char *data, size_t len, int tail, int want_rc)
{
	json_t *lines = json_array();
	const char *s;

	assert_int_equal(engine_demux_logs(data, len, tail, lines), want_rc);
	s = joined(lines);
	json_decref(lines);
	return s;
}

static void log_frames_are_split_into_lines(void **state)
{
	char buf[512];
	size_t n = frame(buf, 0, 1, "one\ntwo\n");
	n = frame(buf, n, 2, "oops\n");
	n = frame(buf, n, 1, "three\r\n");

	assert_string_equal(demux(buf, n, -1, MW_OK), "one|two|oops|three");
	assert_string_equal(demux(buf, n, 2, MW_OK), "oops|three");
	assert_string_equal(demux(buf, n, 10, MW_OK), "one|two|oops|three");
	assert_string_equal(demux(buf, n, 0, MW_OK), "");
	assert_string_equal(demux(buf, 0, -1, MW_OK), ""); /* no output yet */
}

static void partial_lines_are_joined_and_kept(void **state)
{
	char buf[512];
	/* A long line split over two stdout frames, a stderr line between them,
	 * and a last line without its newline. */
	size_t n = frame(buf, 0, 1, "hel");
	n = frame(buf, n, 2, "warn\n");
	n = frame(buf, n, 1, "lo\nlast");

	assert_string_equal(demux(buf, n, -1, MW_OK), "warn|hello|last");
	assert_string_equal(demux(buf, n, 1, MW_OK), "last");
}

static void plain_text_logs_are_read(void **state)
{
	const char *t = "a tty line\r\nsecond\nthird";

	assert_string_equal(demux(t, strlen(t), -1, MW_OK), "a tty line|second|third");
	assert_string_equal(demux(t, strlen(t), 2, MW_OK), "second|third");
}

static void non_utf8_bytes_become_question_marks(void **state)
{
	char buf[64];
	size_t n = frame(buf, 0, 1, "caf\xe9 ok\nna\xc3\xafve\n");

	assert_string_equal(demux(buf, n, -1, MW_OK), "caf? ok|na\xc3\xafve");
}

static void broken_frames_are_refused(void **state)
{
	char buf[256];
	size_t n = frame(buf, 0, 1, "fine\n");
	char bogus[16];

	/* A header cut short, then a payload shorter than its length says. */
	assert_string_equal(demux(buf, 5, -1, MW_ERR_INVALID), "");
	assert_string_equal(demux(buf, n - 1, -1, MW_ERR_INVALID), "");
	n = frame(buf, n, 1, "next\n");
	assert_string_equal(demux(buf, n - 3, -1, MW_ERR_INVALID), "");
	/* A length past the end, as a header alone at the very end of the data. */
	memcpy(bogus, "\x01\0\0\0\xff\xff\xff\xff", 8);
	assert_string_equal(demux(bogus, 8, -1, MW_ERR_INVALID), "");
	/* Not zero where the header must be. */
	memcpy(bogus, "\x02\0\x07\0\0\0\0\x01x", 9);
	assert_string_equal(demux(bogus, 9, -1, MW_ERR_INVALID), "");
	/* A stream byte that is none of stdin, stdout, stderr after a good frame. */
	n = frame(buf, 0, 1, "fine\n");
	n = frame(buf, n, 3, "what\n");
	assert_string_equal(demux(buf, n, -1, MW_ERR_INVALID), "");
}

/* ---- the create body ---- */

static json_t *body_of(const struct engine_spec *s)
{
	json_t *b = NULL;
	char err[256] = "";

	if (engine_spec_body(s, &b, err, sizeof(err)) != MW_OK)
		fail_msg("spec refused: %s", err);
	return b;
}

static void spec_becomes_the_create_body(void **state)
{
	const char *cmd[] = {"sh", "-c", "echo hi", NULL}, *env[] = {"A=1", "B=x=y", NULL};
	json_t *ports = json_pack("[i,s,s,s]", 8080, "9090:90", "5000/udp", "9091:90");
	json_t *vols = json_pack("[s]", "/srv/a:/a:ro"),
	       *devs = json_pack("[s,s]", "/dev/video0", "/dev/ttyUSB0:/dev/tty0:rw");
	json_t *labels = json_pack("{s:s}", "mw.app", "qa");
	struct engine_spec s = {.name = "mw-qa",
				.image = "localhost/qa:1.0",
				.cmd = cmd,
				.env = env,
				.ports = ports,
				.volumes = vols,
				.devices = devs,
				.labels = labels,
				.memory_bytes = 64 << 20,
				.cpus = 0.5};
	json_t *b = body_of(&s), *hc = json_object_get(b, "HostConfig");
	json_t *want = json_pack("{s:[{s:s},{s:s}],s:[{s:s}],s:[{s:s}]}", "90/tcp", "HostPort",
				 "9090", "HostPort", "9091", "8080/tcp", "HostPort", "8080",
				 "5000/udp", "HostPort", "5000");
	json_t *dev1 = json_pack("{s:s,s:s,s:s}", "PathOnHost", "/dev/ttyUSB0", "PathInContainer",
				 "/dev/tty0", "CgroupPermissions", "rw");

	assert_string_equal(json_string_value(json_object_get(b, "Image")), "localhost/qa:1.0");
	assert_string_equal(json_string_value(json_array_get(json_object_get(b, "Cmd"), 2)),
			    "echo hi");
	assert_string_equal(json_string_value(json_array_get(json_object_get(b, "Env"), 1)),
			    "B=x=y");
	assert_true(json_equal(json_object_get(b, "Labels"), labels));
	assert_true(json_equal(json_object_get(hc, "PortBindings"), want));
	assert_int_equal(json_object_size(json_object_get(b, "ExposedPorts")), 3);
	assert_true(json_equal(json_object_get(hc, "Binds"), vols));
	assert_true(json_equal(json_array_get(json_object_get(hc, "Devices"), 1), dev1));
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(json_object_get(hc, "Devices"), 0),
						  "PathInContainer")),
		"/dev/video0");
	assert_int_equal(json_integer_value(json_object_get(hc, "Memory")), 64 << 20);
	assert_int_equal(json_integer_value(json_object_get(hc, "NanoCpus")), 500000000);
	assert_null(json_object_get(hc, "NetworkMode"));
	json_decref(b);

	/* Host networking: the ports are the host's already, none are mapped. */
	s.host_network = true;
	b = body_of(&s);
	hc = json_object_get(b, "HostConfig");
	assert_string_equal(json_string_value(json_object_get(hc, "NetworkMode")), "host");
	assert_null(json_object_get(hc, "PortBindings"));
	assert_null(json_object_get(b, "ExposedPorts"));
	json_decref(b);

	/* Nothing optional given: the image's own command, no limits. */
	b = body_of(&(struct engine_spec){.name = "x", .image = "busybox"});
	assert_int_equal(json_object_size(b), 2);
	assert_int_equal(json_object_size(json_object_get(b, "HostConfig")), 0);
	json_decref(b);
	json_decref(want);
	json_decref(dev1);
	json_decref(ports);
	json_decref(vols);
	json_decref(devs);
	json_decref(labels);
}

static void bad_specs_name_the_field(void **state)
{
	const char *env_bad[] = {"A=1", "NOEQUALS", NULL};
	json_t *p1 = json_pack("[i,s]", 80, "80:0"), *p2 = json_pack("[s]", "80/http"),
	       *p3 = json_pack("[i]", 70000), *d1 = json_pack("[s]", "video0"),
	       *v1 = json_pack("[s,i]", "/a:/b", 3), *l1 = json_pack("{s:i}", "n", 1);
	const struct {
		struct engine_spec s;
		const char *names;
	} cases[] = {
		{{.image = "qa", .ports = p1}, "ports[1]:"},
		{{.image = "qa", .ports = p2}, "ports[0]:"},
		{{.image = "qa", .ports = p3}, "ports[0]:"},
		{{.image = "qa", .devices = d1}, "devices[0]:"},
		{{.image = "qa", .volumes = v1}, "volumes[1]:"},
		{{.image = "qa", .labels = l1}, "labels.n:"},
		{{.image = "qa", .env = env_bad}, "env[1]:"},
		{{.image = "qa", .memory_bytes = -1}, "memory_bytes:"},
		{{.image = "qa", .cpus = -0.5}, "cpus:"},
		{{.image = "qa", .cpus = 1e9}, "cpus:"},
		{{.image = "bad image"}, "image \"bad image\":"},
		{{.image = "qa?x=1"}, "image \"qa?x=1\":"},
		{{.image = ""}, "image \"\":"},
	};

	for (size_t i = 0; i < MW_ARRAY_LEN(cases); i++) {
		json_t *b = (json_t *)1;
		char err[256] = "";
		assert_int_equal(engine_spec_body(&cases[i].s, &b, err, sizeof(err)),
				 MW_ERR_INVALID);
		assert_null(b);
		if (strncmp(err, cases[i].names, strlen(cases[i].names)) != 0)
			fail_msg("case %zu: error '%s' does not start with '%s'", i, err,
				 cases[i].names);
	}
	json_decref(p1);
	json_decref(p2);
	json_decref(p3);
	json_decref(d1);
	json_decref(v1);
	json_decref(l1);
}

/* ---- without an engine ---- */

static void missing_engine_names_the_socket(void **state)
{
	struct engine *e = NULL;
	struct engine_state st;
	char err[512] = "";
	int64_t t0 = mw_mono_ns();

	assert_int_equal(engine_new("/nonexistent/mw-test/engine.sock", &e), MW_OK);
	assert_int_equal(engine_inspect(e, "app", &st, err, sizeof(err)), MW_ERR_IO);
	assert_non_null(strstr(err, "container engine at /nonexistent/mw-test/engine.sock: "));
	assert_non_null(strstr(err, "podman system service"));
	assert_non_null(strstr(err, "Docker"));
	assert_true(mw_mono_ns() - t0 < 1000 * MS);
	engine_free(e);
}

static void bad_names_never_reach_the_engine(void **state)
{
	static const char *const names[] = {"",	      "-x",    "a/b",  "a b",
					    "../etc", "a?b=c", "x%2f", "\x01z"};
	struct engine *e = NULL;
	struct engine_state st;
	json_t *lines = NULL;
	char err[512];

	/* Refused before any connection: with no engine there, the error is
	 * about the name, not the socket. */
	assert_int_equal(engine_new("/nonexistent/engine.sock", &e), MW_OK);
	for (size_t i = 0; i < MW_ARRAY_LEN(names); i++) {
		struct engine_spec s = {.name = names[i], .image = IMAGE};
		err[0] = '\0';
		assert_int_equal(engine_run(e, &s, err, sizeof(err)), MW_ERR_INVALID);
		assert_non_null(strstr(err, "container name \""));
		assert_int_equal(engine_inspect(e, names[i], &st, err, sizeof(err)),
				 MW_ERR_INVALID);
		assert_int_equal(engine_remove(e, names[i], 1, err, sizeof(err)), MW_ERR_INVALID);
		assert_int_equal(engine_start(e, names[i], err, sizeof(err)), MW_ERR_INVALID);
		assert_int_equal(engine_logs(e, names[i], 5, &lines, err, sizeof(err)),
				 MW_ERR_INVALID);
		assert_null(lines);
	}
	assert_int_equal(engine_inspect(e, "a_b.c-1", &st, err, sizeof(err)), MW_ERR_IO);
	engine_free(e);
}

static void bad_spec_never_reaches_the_engine(void **state)
{
	json_t *ports = json_pack("[s]", "http");
	struct engine_spec s = {.name = "mw-qa", .image = IMAGE, .ports = ports};
	struct engine *e = NULL;
	char err[512] = "";

	/* The error says which container the spec was for, and what is wrong. */
	assert_int_equal(engine_new("/nonexistent/engine.sock", &e), MW_OK);
	assert_int_equal(engine_run(e, &s, err, sizeof(err)), MW_ERR_INVALID);
	if (strncmp(err, "create mw-qa: ports[0]: ", 24) != 0)
		fail_msg("unexpected error: %s", err);
	json_decref(ports);
	engine_free(e);
}

/* ---- the live part: a real Podman service ---- */

struct live {
	char dir[64], sock[128], log[128], root[96], runroot[96], tmp[96];
	pid_t service;
	struct engine *e;
};

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Runs argv with its output appended to log; its exit status, -1 when it
 * could not run. */
static int run(const char *log, const char *const *argv)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* podman with this test's storage, then the given arguments. */
static int podman(struct live *l, const char *a1, const char *a2, const char *a3, const char *a4,
		  const char *a5)
{
	const char *argv[] = {"podman",	  "--root",   l->root, "--runroot",
			      l->runroot, "--tmpdir", l->tmp,  "--storage-driver",
			      "vfs",	  a1,	      a2,      a3,
			      a4,	  a5,	      NULL};
	return run(l->log, argv);
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0) {
		fprintf(stderr, "  cannot write %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

static bool on_path(const char *prog)
{
	const char *argv[] = {"sh", "-c", "command -v \"$0\" >/dev/null", prog, NULL};
	return run("/dev/null", argv) == 0;
}

static void print_log(const struct live *l)
{
	char line[512];
	FILE *f = fopen(l->log, "r");

	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "  podman: %s", line);
	if (f)
		fclose(f);
}

/* The image: /bin/busybox and the applets the tests run, in one layer. */
static int make_image(struct live *l)
{
	static const char *const applets[] = {"sh", "echo", "sleep", "cat", "env", "test"};
	char path[256], tar[128];
	const char *cp[] = {"cp", "/bin/busybox", path, NULL};
	const char *tarv[] = {"tar", "-C", path, "-cf", tar, ".", NULL};

	snprintf(path, sizeof(path), "%s/img", l->dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/img/bin", l->dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/img/bin/busybox", l->dir);
	if (run(l->log, cp) != 0)
		return -1;
	for (size_t i = 0; i < MW_ARRAY_LEN(applets); i++) {
		snprintf(path, sizeof(path), "%s/img/bin/%s", l->dir, applets[i]);
		if (symlink("busybox", path))
			return -1;
	}
	snprintf(path, sizeof(path), "%s/img", l->dir);
	snprintf(tar, sizeof(tar), "%s/img.tar", l->dir);
	if (run(l->log, tarv) != 0)
		return -1;
	return podman(l, "import", tar, IMAGE, NULL, NULL);
}

static int start_service(struct live *l)
{
	char url[160];
	pid_t parent = getpid();
	bool present = false;
	char err[512] = "";

	snprintf(url, sizeof(url), "unix://%s", l->sock);
	l->service = fork();
	if (l->service == 0) {
		const char *argv[] = {"podman",	  "--root",   l->root,	 "--runroot",
				      l->runroot, "--tmpdir", l->tmp,	 "--storage-driver",
				      "vfs",	  "system",   "service", "--time=0",
				      url,	  NULL};
		int fd = open(l->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
			_exit(126);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (l->service < 0 || engine_new(l->sock, &l->e) != MW_OK)
		return -1;
	for (int i = 0; i < 200; i++) { /* 20 s */
		if (engine_image_present(l->e, IMAGE, &present, err, sizeof(err)) == MW_OK)
			return present ? 0 : -1;
		if (waitpid(l->service, NULL, WNOHANG) == l->service) {
			l->service = 0;
			return -1;
		}
		nap_ms(100);
	}
	fprintf(stderr, "  the Podman service did not answer: %s\n", err);
	return -1;
}

/* Unmounts whatever podman left mounted under dir (nothing, normally). */
static void unmount_under(const char *dir)
{
	char line[4096], mnt[4096];
	size_t n = strlen(dir);
	FILE *f = fopen("/proc/self/mountinfo", "r");

	while (f && n > 1 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strncmp(mnt, dir, n) == 0 &&
		    mnt[n] == '/')
			umount2(mnt, MNT_DETACH);
	if (f)
		fclose(f);
}

static int live_teardown(void **state)
{
	struct live *l = *state;
	const char *rm[] = {"rm", "-rf", l ? l->dir : "", NULL};

	if (!l)
		return 0;
	engine_free(l->e);
	if (l->service > 0) {
		kill(l->service, SIGTERM);
		for (int i = 0; i < 50 && waitpid(l->service, NULL, WNOHANG) == 0; i++)
			nap_ms(100);
		kill(l->service, SIGKILL);
		waitpid(l->service, NULL, 0);
	}
	if (l->root[0]) { /* containers outlive the service: conmon keeps them */
		podman(l, "rm", "--all", "--force", "--time=0", NULL);
		unmount_under(l->dir);
		/* conmon's `podman container cleanup` may still be writing there. */
		for (int i = 0; i < 25 && access(l->dir, F_OK) == 0; i++) {
			run("/dev/null", rm);
			if (access(l->dir, F_OK) == 0)
				nap_ms(200);
		}
	}
	free(l);
	return 0;
}

static int live_setup(void **state)
{
	struct live *l = calloc(1, sizeof(*l));
	char conf[128], data[128];

	*state = l;
	if (!l)
		return -1;
	if (!on_path("podman") || !on_path("runc") || access("/bin/busybox", X_OK)) {
		fprintf(stderr, "  the live engine tests need podman, runc and busybox-static "
				"(make deps, or apt-get install podman runc busybox-static)\n");
		return -1;
	}
	snprintf(l->dir, sizeof(l->dir), "/tmp/mw-engine-XXXXXX");
	if (!mkdtemp(l->dir)) {
		fprintf(stderr, "  cannot make %s: %s\n", l->dir, strerror(errno));
		return -1;
	}
	snprintf(l->sock, sizeof(l->sock), "%s/podman.sock", l->dir);
	snprintf(l->log, sizeof(l->log), "%s/podman.log", l->dir);
	snprintf(l->root, sizeof(l->root), "%s/root", l->dir);
	snprintf(l->runroot, sizeof(l->runroot), "%s/run", l->dir);
	snprintf(l->tmp, sizeof(l->tmp), "%s/tmp", l->dir);
	snprintf(conf, sizeof(conf), "%s/containers.conf", l->dir);
	snprintf(data, sizeof(data), "%s/data", l->dir);
	/* crun, Podman's default, fails on hosts with hybrid cgroups ("cgroups
	 * in hybrid mode not supported"), runc works; and Podman fails to set
	 * RLIMIT_NOFILE/NPROC in some sandboxes unless told the limits. */
	if (write_file(conf, "[containers]\n"
			     "default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
			     "[engine]\nruntime = \"runc\"\n"))
		return -1;
	setenv("CONTAINERS_CONF", conf, 1);
	mkdir(data, 0755);
	snprintf(data, sizeof(data), "%s/data/hello.txt", l->dir);
	if (write_file(data, "hello from the host\n"))
		return -1;
	if (make_image(l) != 0 || start_service(l) != 0) {
		fprintf(stderr, "  could not start a Podman API service in %s:\n", l->dir);
		print_log(l);
		return -1;
	}
	return 0;
}

static bool has_line(json_t *lines, const char *want)
{
	size_t i;
	json_t *v;

	json_array_foreach(lines, i, v)
	{
		if (strcmp(json_string_value(v), want) == 0)
			return true;
	}
	return false;
}

/* Polls the logs until want appears (output reaches the log a little later). */
static json_t *logs_with(struct live *l, const char *name, int tail, const char *want)
{
	json_t *lines = NULL;
	char err[512] = "";

	for (int i = 0; i < 100; i++) {
		json_decref(lines);
		if (engine_logs(l->e, name, tail, &lines, err, sizeof(err)) != MW_OK)
			fail_msg("logs %s: %s", name, err);
		if (has_line(lines, want))
			return lines;
		nap_ms(100);
	}
	fail_msg("logs of %s never had '%s': %s", name, want, joined(lines));
	return NULL;
}

static void inspect(struct live *l, const char *name, struct engine_state *st)
{
	char err[512] = "";

	if (engine_inspect(l->e, name, st, err, sizeof(err)) != MW_OK)
		fail_msg("inspect %s: %s", name, err);
}

static void run_ok(struct live *l, const struct engine_spec *s)
{
	char err[512] = "";

	if (engine_run(l->e, s, err, sizeof(err)) != MW_OK)
		fail_msg("run %s: %s", s->name, err);
}

static void app_runs_with_its_env_mounts_devices_and_limits(void **state)
{
	struct live *l = *state;
	char vol[160];
	const char *cmd[] = {
		"sh", "-c",
		"echo var=$MW_VAR; cat /data/hello.txt; test -c /dev/mw-null && echo dev=ok; "
		"echo to-stderr >&2; "
		"echo mem=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || "
		"cat /sys/fs/cgroup/memory/memory.limit_in_bytes); "
		"set -- $(cat /sys/fs/cgroup/cpu.max 2>/dev/null || "
		"cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us); echo cpu=$1; exec sleep 30",
		NULL};
	const char *env[] = {"MW_VAR=hello-42", NULL};
	json_t *vols, *devs = json_pack("[s]", "/dev/null:/dev/mw-null"), *lines;
	struct engine_state st;
	int64_t t0 = mw_now_ns();

	snprintf(vol, sizeof(vol), "%s/data:/data:ro", l->dir);
	vols = json_pack("[s]", vol);
	run_ok(l, &(struct engine_spec){.name = "mw-t-env",
					.image = IMAGE,
					.cmd = cmd,
					.env = env,
					.volumes = vols,
					.devices = devs,
					.memory_bytes = 64 << 20,
					.cpus = 0.5,
					.host_network = true});
	inspect(l, "mw-t-env", &st);
	assert_true(st.exists);
	assert_true(st.running);
	assert_string_equal(st.status, "running");
	assert_string_equal(st.image, IMAGE);
	assert_true(st.started_at_ns > t0 - 5000 * MS &&
		    st.started_at_ns < mw_now_ns() + 5000 * MS);
	assert_true(st.finished_at_ns == 0);

	lines = logs_with(l, "mw-t-env", -1, "cpu=50000");
	assert_true(has_line(lines, "var=hello-42"));
	assert_true(has_line(lines, "hello from the host"));
	assert_true(has_line(lines, "dev=ok"));
	assert_true(has_line(lines, "to-stderr"));
	assert_true(has_line(lines, "mem=67108864"));
	json_decref(lines);
	lines = logs_with(l, "mw-t-env", 1, "cpu=50000");
	assert_int_equal(json_array_size(lines), 1);
	json_decref(lines);
	json_decref(vols);
	json_decref(devs);
}

static struct engine_state wait_exited(struct live *l, const char *name)
{
	struct engine_state st;

	for (int i = 0; i < 100; i++) {
		inspect(l, name, &st);
		if (!st.running && strcmp(st.status, "exited") == 0)
			return st;
		nap_ms(100);
	}
	fail_msg("%s did not exit: status %s", name, st.status);
	return st;
}

static void exit_code_is_seen_and_start_runs_it_again(void **state)
{
	struct live *l = *state;
	const char *cmd[] = {"sh", "-c", "echo run; exit 3", NULL};
	char err[512] = "";
	struct engine_state st;
	json_t *lines = NULL;

	run_ok(l, &(struct engine_spec){
			  .name = "mw-t-exit", .image = IMAGE, .cmd = cmd, .host_network = true});
	st = wait_exited(l, "mw-t-exit");
	assert_int_equal(st.exit_code, 3);
	assert_true(st.started_at_ns > 0);
	/* Podman notes StartedAt after runc returns: a quick exit can come first. */
	assert_true(st.finished_at_ns > 0);
	assert_true(llabs(st.finished_at_ns - st.started_at_ns) < 5000 * MS);

	assert_int_equal(engine_start(l->e, "mw-t-exit", err, sizeof(err)), MW_OK);
	for (int i = 0; i < 100 && json_array_size(lines) < 2; i++) {
		json_decref(lines);
		assert_int_equal(engine_logs(l->e, "mw-t-exit", -1, &lines, err, sizeof(err)),
				 MW_OK);
		nap_ms(100);
	}
	assert_string_equal(joined(lines), "run|run"); /* ran twice */
	json_decref(lines);
	st = wait_exited(l, "mw-t-exit");
	assert_int_equal(st.exit_code, 3);

	assert_int_equal(engine_start(l->e, "mw-t-none", err, sizeof(err)), MW_ERR_NOTFOUND);
	assert_non_null(strstr(err, "start mw-t-none: "));
}

static void missing_image_fails_fast_and_names_it(void **state)
{
	struct live *l = *state;
	struct engine_state st;
	char err[512] = "";
	bool present = true;
	int64_t t0 = mw_mono_ns();

	assert_int_equal(engine_image_present(l->e, "localhost/none:1", &present, err, sizeof(err)),
			 MW_OK);
	assert_false(present);
	assert_int_equal(engine_image_present(l->e, IMAGE, &present, err, sizeof(err)), MW_OK);
	assert_true(present);

	t0 = mw_mono_ns();
	assert_int_not_equal(engine_run(l->e,
					&(struct engine_spec){.name = "mw-t-noimg",
							      .image = "localhost/none:1",
							      .host_network = true},
					err, sizeof(err)),
			     MW_OK);
	/* Podman tries a refusing registry 3 times, a second apart. */
	assert_true(mw_mono_ns() - t0 < 15000 * MS);
	if (strncmp(err, "image localhost/none:1: ", 24) || !strstr(err, "cannot be pulled"))
		fail_msg("error does not say which image and why: %s", err);
	inspect(l, "mw-t-noimg", &st);
	assert_false(st.exists);
}

static void a_program_that_cannot_start_is_reported(void **state)
{
	struct live *l = *state;
	const char *cmd[] = {"/no/such/program", NULL};
	struct engine_state st;
	char err[512] = "";

	assert_int_not_equal(engine_run(l->e,
					&(struct engine_spec){.name = "mw-t-badcmd",
							      .image = IMAGE,
							      .cmd = cmd,
							      .host_network = true},
					err, sizeof(err)),
			     MW_OK);
	if (!strstr(err, "mw-t-badcmd") || !strstr(err, "/no/such/program"))
		fail_msg("error does not say what failed: %s", err);
	inspect(l, "mw-t-badcmd", &st); /* left for inspection */
	assert_true(st.exists);
	assert_false(st.running);
	assert_int_equal(engine_remove(l->e, "mw-t-badcmd", 1, err, sizeof(err)), MW_OK);
}

static void second_run_replaces_the_first(void **state)
{
	struct live *l = *state;
	const char *cmd[] = {"sh", "-c", "echo gen=$GEN; exec sleep 30", NULL};
	const char *env1[] = {"GEN=1", NULL}, *env2[] = {"GEN=2", NULL};
	struct engine_spec s = {.name = "mw-t-twice",
				.image = IMAGE,
				.cmd = cmd,
				.env = env1,
				.host_network = true,
				.grace_s = 1};
	struct engine_state a, b;
	json_t *lines;

	run_ok(l, &s);
	inspect(l, "mw-t-twice", &a);
	json_decref(logs_with(l, "mw-t-twice", -1, "gen=1"));
	s.env = env2;
	run_ok(l, &s);
	inspect(l, "mw-t-twice", &b);
	assert_true(b.running);
	assert_string_not_equal(a.id, b.id);
	lines = logs_with(l, "mw-t-twice", -1, "gen=2");
	assert_false(has_line(lines, "gen=1"));
	json_decref(lines);
}

static void remove_stops_after_the_grace_period(void **state)
{
	struct live *l = *state;
	const char *cmd[] = {"sleep", "30", NULL}; /* as pid 1, it ignores SIGTERM */
	struct engine_state st;
	char err[512] = "";
	int64_t t0, took;

	run_ok(l, &(struct engine_spec){
			  .name = "mw-t-rm", .image = IMAGE, .cmd = cmd, .host_network = true});
	inspect(l, "mw-t-rm", &st);
	assert_true(st.running);
	t0 = mw_mono_ns();
	assert_int_equal(engine_remove(l->e, "mw-t-rm", 1, err, sizeof(err)), MW_OK);
	took = mw_mono_ns() - t0;
	assert_true(took >= 900 * MS);	/* it was given its second */
	assert_true(took < 10000 * MS); /* and then killed */
	inspect(l, "mw-t-rm", &st);
	assert_false(st.exists);
	assert_int_equal(engine_remove(l->e, "mw-t-rm", 1, err, sizeof(err)), MW_OK);
	assert_int_equal(engine_remove(l->e, "mw-t-never-was", 1, err, sizeof(err)), MW_OK);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(running_state_is_read),
		cmocka_unit_test(exited_state_and_time_zones_are_read),
		cmocka_unit_test(never_started_container_has_no_times),
		cmocka_unit_test(bad_state_names_the_field),
		cmocka_unit_test(log_frames_are_split_into_lines),
		cmocka_unit_test(partial_lines_are_joined_and_kept),
		cmocka_unit_test(plain_text_logs_are_read),
		cmocka_unit_test(non_utf8_bytes_become_question_marks),
		cmocka_unit_test(broken_frames_are_refused),
		cmocka_unit_test(spec_becomes_the_create_body),
		cmocka_unit_test(bad_specs_name_the_field),
		cmocka_unit_test(missing_engine_names_the_socket),
		cmocka_unit_test(bad_names_never_reach_the_engine),
		cmocka_unit_test(bad_spec_never_reaches_the_engine),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(app_runs_with_its_env_mounts_devices_and_limits),
		cmocka_unit_test(exit_code_is_seen_and_start_runs_it_again),
		cmocka_unit_test(missing_image_fails_fast_and_names_it),
		cmocka_unit_test(a_program_that_cannot_start_is_reported),
		cmocka_unit_test(second_run_replaces_the_first),
		cmocka_unit_test(remove_stops_after_the_grace_period),
	};
	int failed = cmocka_run_group_tests_name("engine", pure, NULL, NULL);

	failed += cmocka_run_group_tests_name("engine_live", live, live_setup, live_teardown);
	return failed ? 1 : 0;
}
