/* vision_main.c -- mw-edge-vision: the cameras' worker, and the offline
 * tools `mw-edge analyze` and `mw-edge train`, which mw-edge hands over to
 * it (the daemon itself does not link FFmpeg; see vision_worker.h).
 *
 *   mw-edge-vision run     [options]            every camera, live (mw-edge starts this)
 *   mw-edge-vision analyze [options] INPUT...   a camera's analytics on footage
 *   mw-edge-vision train   [options] INPUT...   a camera's inspection model
 *
 * Options are mw-edge's (--config, --data-dir, --set ...), so the worker
 * sees exactly the daemon's settings. */
#include "edge/vision_worker.h"

#include "core/log.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: mw-edge-vision run|analyze|train --config FILE [options] [INPUT...]\n"
	"\n"
	"The camera analytics of a Millwright edge, in a process of their own.\n"
	"  run       analyse every configured camera and post events to mw-edge's\n"
	"            local API (mw-edge starts and supervises this)\n"
	"  analyze   run a camera's analytics on recorded files: mw-edge analyze --help\n"
	"  train     learn a camera's inspection model: mw-edge train --help\n"
	"Options as mw-edge's: --config FILE, --data-dir DIR, --log-level L, --set K=V.\n";

int main(int argc, char **argv)
{
	struct edge_config c;
	const char *mode = argc > 1 ? argv[1] : "";
	char **rest_argv = NULL;
	int *rest = NULL, nrest = 0, status = 2;

	if (!strcmp(mode, "--help") || !strcmp(mode, "-h") || !mode[0])
		return fputs(usage, mode[0] ? stdout : stderr), mode[0] ? 0 : 2;
	if (strcmp(mode, "run") && strcmp(mode, "analyze") && strcmp(mode, "train")) {
		fprintf(stderr, "mw-edge-vision: '%s': unknown mode\n%s", mode, usage);
		return 2;
	}
	if (edge_config_defaults(&c))
		return 2;
	/* Without a config, analyze and train still answer --help. */
	if (strcmp(mode, "run") && argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))
		mw_strlcpy(c.node_id, "help", sizeof(c.node_id));
	rest = calloc((size_t)argc, sizeof(*rest));
	rest_argv = calloc((size_t)argc + 1, sizeof(*rest_argv));
	if (!rest || !rest_argv ||
	    edge_config_args(&c, argc - 1, argv + 1, strcmp(mode, "run") ? "mw-edge" : "mw-edge-vision",
			     rest, &nrest))
		goto out;
	log_set_level((enum log_level)c.log_level);
	for (int i = 0; i < nrest; i++)
		rest_argv[i] = argv[1 + rest[i]];
	if (!strcmp(mode, "run")) {
		if (c.cameras.n == 0 || nrest) {
			fprintf(stderr, "mw-edge-vision: %s\n",
				nrest ? "run takes no inputs" : "the config has no cameras");
			goto out;
		}
		if (edge_config_token(&c))
			goto out;
		status = vw__run(&c) ? 1 : 0;
	} else if (!strcmp(mode, "analyze")) {
		status = vw__analyze(&c, nrest, rest_argv);
	} else {
		status = vw__train(&c, nrest, rest_argv);
	}
out:
	free(rest);
	free(rest_argv);
	edge_config_free(&c);
	return status;
}
