/* fuzz_edge_config.c -- libFuzzer harness for mw-edge's own config table,
 * cameras included, as the daemon and the vision worker read it.
 *
 * fuzz_config covers the reader with a table of every shape; this one
 * covers what the edge adds on top: its real table, edge_config_check()
 * (required and unique camera ids, zone names, polygons), the sim:// URL
 * parser of simulated cameras, and the polygon checks the zone detector
 * runs once a camera's frame size is known (here 1920x1080). Any bytes
 * must give settings or an error message naming the cause; nothing may
 * crash or leak. */
#include "edge/config.h"
#include "vision/simsrc.h"
#include "vision/zone.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_camera(const struct edge_camera_config *cam)
{
	const struct edge_zone_config *z = cam->zones.items;
	struct scene_params sp;
	char err[512] = "";

	if (strncmp(cam->url, "sim://", 6) == 0 &&
	    simsrc_parse(cam->id, cam->url, &sp, err, sizeof(err)) != MW_OK && !err[0])
		abort();
	for (size_t i = 0; i < cam->zones.n; i++) {
		struct zone_def d = {.npts = z[i].polygon.n, .severity = (enum severity)z[i].severity};
		mw_strlcpy(d.name, z[i].name, sizeof(d.name));
		if (d.npts > ZONE_POINTS_MAX)
			abort(); /* the table caps polygons at 16 points */
		for (int k = 0; k < d.npts; k++)
			d.pts[k] = (struct point){z[i].polygon.xy[2 * k], z[i].polygon.xy[2 * k + 1]};
		err[0] = '\0';
		if (zone_check(cam->id, &d, 1920, 1080, err, sizeof(err)) != MW_OK && !err[0])
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_config c;
	char err[512] = "";

	if (edge_config_defaults(&c))
		abort();
	if (config_load_string(edge_config_keys, &c, "edge.yaml", (const char *)data, size, err,
			       sizeof(err)) != MW_OK) {
		if (!err[0])
			abort();
		goto out;
	}
	if (!c.node_id[0])
		mw_strlcpy(c.node_id, "edge", sizeof(c.node_id));
	err[0] = '\0';
	if (edge_config_check(&c, err, sizeof(err)) != MW_OK) {
		if (!err[0])
			abort();
		goto out;
	}
	for (size_t i = 0; i < c.cameras.n; i++)
		check_camera(edge_camera(&c, i));
out:
	edge_config_free(&c);
	return 0;
}
