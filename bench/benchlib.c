/* benchlib.c -- helpers of the C benches (benchlib.h). */
#include "benchlib.h"

#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pid_t bench_hub_start(const char *prog, const char *dir, const char *config_tail, char *addr,
		      size_t cap)
{
	char self[PATH_MAX], bin[PATH_MAX + 16], conf[PATH_MAX], path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	FILE *f;
	pid_t pid;

	if (n < 0) {
		fprintf(stderr, "%s: cannot find myself\n", prog);
		exit(1);
	}
	self[n] = '\0';
	snprintf(bin, sizeof(bin), "%s/mw-hub", dirname(self));
	snprintf(conf, sizeof(conf), "%s/hub.yaml", dir);
	if (!(f = fopen(conf, "w"))) {
		fprintf(stderr, "%s: cannot write %s\n", prog, conf);
		exit(1);
	}
	fprintf(f, "listen: 127.0.0.1:0\ndata_dir: %s\nlog:\n  level: warn\ntls:\n  mode: off\n%s",
		dir, config_tail);
	fclose(f);
	if ((pid = fork()) == 0) {
		execl(bin, bin, "--config", conf, (char *)NULL);
		_exit(127);
	}
	snprintf(path, sizeof(path), "%s/hub.addr", dir);
	for (int i = 0; i < 200; i++) { /* up to 10 s */
		if ((f = fopen(path, "r"))) {
			char *ok = fgets(addr, (int)cap, f);
			fclose(f);
			if (ok) {
				addr[strcspn(addr, "\n")] = '\0';
				return pid;
			}
		}
		usleep(50000);
	}
	kill(pid, SIGKILL);
	fprintf(stderr, "%s: mw-hub did not start (is it built next to this bench?)\n", prog);
	exit(1);
}

long bench_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}
