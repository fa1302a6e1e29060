/* log.c -- writes one line per call with a UTC timestamp and the level. A
 * single write(2) per line keeps lines from threads whole. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log__level = LOG_INFO;
static const char *program = "mw";

void log_set_level(enum log_level level) { log__level = level; }
void log_set_program(const char *name) { program = name; }

int log_parse_level(const char *name, enum log_level *out)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	for (size_t i = 0; i < MW_ARRAY_LEN(names); i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum log_level)i;
			return MW_OK;
		}
	}
	return MW_ERR_INVALID;
}

void log__write(enum log_level level, const char *fmt, ...)
{
	static const char *tags[] = {"debug", "info", "warn", "error"};
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s ",
			      ts.tv_nsec / 1000000, program, tags[level]);
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += (size_t)m;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return; /* nowhere left to report it */
}
