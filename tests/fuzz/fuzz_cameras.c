/* fuzz_cameras.c -- libFuzzer harness for the body of PUT /v1/cameras.
 *
 * The vision worker reports its cameras' health to the edge's local API,
 * and so can anything else that holds the API token: api_cameras_parse()
 * sees hostile JSON. Each input is parsed; a refusal must name what it
 * refuses, and an accepted report must hold what the API promises to show
 * (at most API_CAMERAS_MAX cameras, valid distinct ids, a known state,
 * finite non-negative rates, a last_error within its cap). */
#include "edge/api.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_camera(const struct api_camera *cam)
{
	if (!event_id_valid(cam->id) || cam->state >= API_CAM_UNKNOWN)
		abort();
	if (!isfinite(cam->fps_in) || cam->fps_in < 0 || !isfinite(cam->fps_analysed) ||
	    cam->fps_analysed < 0)
		abort();
	if (cam->width < 0 || cam->height < 0 || strlen(cam->last_error) > API_CAMERA_ERROR_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_camera *cams = calloc(API_CAMERAS_MAX, sizeof(*cams));
	char err[512] = "";
	size_t n = 99;
	int rc;

	if (!cams)
		return 0;
	rc = api_cameras_parse((const char *)data, size, cams, &n, err, sizeof(err));
	if (rc != MW_OK) {
		if (rc != MW_ERR_INVALID || err[0] == '\0' || n != 0)
			abort();
	} else {
		if (n > API_CAMERAS_MAX)
			abort();
		for (size_t i = 0; i < n; i++) {
			check_camera(&cams[i]);
			for (size_t k = 0; k < i; k++)
				if (strcmp(cams[i].id, cams[k].id) == 0)
					abort();
		}
	}
	free(cams);
	return 0;
}
