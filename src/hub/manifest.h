/* manifest.h -- what an app in the catalog is, and the checks a manifest
 * passes before the catalog takes it.
 *
 *   name: camera-qa                     # [a-z0-9][a-z0-9._-]*, at most 64
 *   version: "1.2.0"                    # starts with a digit; 0-9 A-Z a-z . + -
 *   vendor: Acme Vision                 # required
 *   description: ...                    # optional
 *   runtime:                            # exactly one of:
 *     container: {image, command: [...] (else the image's), ports: [8080 or
 *                 "8080:80"], volumes: ["/h:/c[:ro]"], devices: ["/dev/video0"],
 *                 env: {K: V}}
 *     native: {command: ["/usr/bin/prog", "--flag"], env: {K: V}}
 *   parameters:                         # typed, each with its own checks
 *     threshold: {type: number, default: 0.8, min: 0, max: 1, description}
 *     mode: {type: enum, choices: [fast, exact], default: fast}
 *     api_key: {type: string, secret: true}
 *   peripherals: [camera, serial, usb, gpu]
 *   resources: {cpu: 0.5, memory: 256M}
 *
 * Unknown fields are refused (a typo must not pass silently), and every
 * refusal names the field by its path: "parameters.threshold.default: 1.5
 * is over max 1". */
#ifndef MW_HUB_MANIFEST_H
#define MW_HUB_MANIFEST_H

#include "core/mw.h"

#include <jansson.h>

#define MANIFEST_NAME_MAX 64
#define MANIFEST_VERSION_MAX 32

/* MW_OK, or MW_ERR_INVALID with err naming the field and the rule. */
int manifest_check(json_t *m, char *err, size_t errlen) MW_MUST_CHECK;

/* The parameters a deployment of the (checked) manifest m runs with: those
 * given, read as their declared type (a string such as "0.8" or "true"
 * from the command line becomes a number or boolean), checked against min,
 * max and choices, with each default filled in. *out is a new object.
 * MW_ERR_INVALID with err naming "params.NAME" for an unknown name, a
 * wrong type, a value out of range, or a parameter without a default that
 * was not given. */
int manifest_params(json_t *m, json_t *given, json_t **out, char *err,
		    size_t errlen) MW_MUST_CHECK;

#endif
