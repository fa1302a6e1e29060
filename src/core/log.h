/* log.h -- the logger: one line per event, key=value fields, to stderr.
 *
 * The macros test the level before formatting anything, so a disabled
 * debug line costs one comparison. The level is the only global mutable
 * state in Millwright. */
#ifndef MW_LOG_H
#define MW_LOG_H

#include "core/mw.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log__level;

void log_set_level(enum log_level level);
/* Parses "debug", "info", "warn", "error"; MW_ERR_INVALID otherwise. */
int log_parse_level(const char *name, enum log_level *out) MW_MUST_CHECK;
/* Names this process in every line ("mw-edge", "mw-hub"). */
void log_set_program(const char *name);
void log__write(enum log_level level, const char *fmt, ...) MW_PRINTF(2, 3);

#define log_at(lvl, ...)                        \
	do {                                    \
		if ((lvl) >= log__level)        \
			log__write((lvl), __VA_ARGS__); \
	} while (0)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

#endif
