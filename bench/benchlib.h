/* benchlib.h -- what the C benches that drive a real mw-hub share. */
#ifndef MW_BENCHLIB_H
#define MW_BENCHLIB_H

#include <stddef.h>
#include <sys/types.h>

/* Starts the mw-hub built next to this executable on a free loopback port
 * (tls.mode off, log level warn) with data in dir, config_tail appended to
 * its config (YAML: nodes, api, ...), and waits up to 10 s for its address
 * ("127.0.0.1:PORT") in addr. Exits the bench, saying why, when it cannot. */
pid_t bench_hub_start(const char *prog, const char *dir, const char *config_tail, char *addr,
		      size_t cap);
/* VmRSS of pid in KiB, or -1. */
long bench_rss_kib(pid_t pid);

#endif
