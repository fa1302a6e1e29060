/* sensors.h -- machine inputs and time-series detectors.
 *
 * Inputs turn readings into events (core/event.h) and hand them to an emit
 * callback; they know nothing of the store or the uplink, so the edge, the
 * benchmarks and the tests use them alone.
 *
 * - zscore: a rolling-window z-score outlier detector, reusable by any
 *   numeric signal (simulated, MQTT, Modbus).
 * - sim: a simulated machine tool (temperature, vibration, spindle speed)
 *   that is deterministic for a seed: same seed, same events. */
#ifndef MW_SENSORS_H
#define MW_SENSORS_H

#include "core/event.h"
#include "core/mw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- rolling z-score ---------------------------------------------------- */

struct zscore {
	double *vals; /* ring of the last `window` samples */
	size_t window, n, head;
	size_t min_samples; /* no verdict before this many samples */
	double threshold;   /* |z| above this is an outlier */
};

struct zscore_result {
	double mean, std, z;
};

int zscore_init(struct zscore *z, size_t window, double threshold) MW_MUST_CHECK;
void zscore_free(struct zscore *z);
/* Scores x against the window (before x joins it), then adds x. Returns
 * true when x is an outlier; r (may be NULL) gets the mean, std and z. */
bool zscore_push(struct zscore *z, double x, struct zscore_result *r);

/* ---- simulated machine -------------------------------------------------- */

#define SIM_MACHINES_MAX 64

struct sim_options {
	int machines;	     /* 1..SIM_MACHINES_MAX */
	int64_t interval_ns; /* sim_start(): time between steps */
	uint64_t seed;
	double temp_limit;   /* alarm above this, degrees C; 0 = 80 */
	double anomaly_rate; /* vibration bursts started per step and machine; <0 = none, 0 = 0.002 */
	double heat_rate;    /* overheating episodes per step and machine; <0 = none, 0 = 0.0005 */
};

/* Receives the events of one step (one or more), ts set, seq unset. The
 * events belong to the simulator and are cleared after the call; copy or
 * append them. A non-zero return is logged. */
typedef int (*sim_emit_fn)(struct event *events, size_t n, void *arg);

struct sim;

int sim_new(const struct sim_options *opt, sim_emit_fn emit, void *arg,
	    struct sim **out) MW_MUST_CHECK;
void sim_free(struct sim *s); /* stops it first when running */
/* Runs sim_step() every interval on a thread named "sim". */
int sim_start(struct sim *s) MW_MUST_CHECK;
void sim_stop(struct sim *s);
/* One step of every machine at time now_ns: a sensor.reading per machine,
 * plus sensor.anomaly / sensor.threshold events when detectors fire. Pure
 * with respect to the seed: the same sequence of calls emits the same
 * events. Returns the emit callback's error, if any. */
int sim_step(struct sim *s, int64_t now_ns) MW_MUST_CHECK;
/* Anomaly bursts injected so far (for tests measuring recall). */
uint64_t sim_injected(const struct sim *s);

#endif
