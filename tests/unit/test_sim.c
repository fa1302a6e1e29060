/* test_sim.c -- the simulated machine and the rolling z-score detector.
 *
 * What a user of the simulator notices: injected vibration bursts come out
 * as sensor.anomaly events (recall), plain noise rarely does (false
 * positives bounded), an overheating machine raises one sensor.threshold
 * alarm per episode rather than one per reading, the same seed replays the
 * same events, and the events are well-formed for the store. The detector
 * is also checked alone, on noise from this file's own generator. */
#include "core/buf.h"
#include "core/event.h"
#include "sensors/sensors.h"

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define STEP_NS 100000000LL

/* ---- a recorder for emitted events ---- */

struct rec {
	size_t steps;
	size_t readings, anomalies, thresholds;
	size_t vib_anomalies;
	int64_t last_vib_anomaly_ts;
	struct buf log; /* canonical text of every event, for replay checks */
	bool bad;	/* a malformed event was seen */
};

static bool reading_ok(const struct event *e)
{
	static const char *const sig[] = {"temp", "vibration", "spindle"};
	json_t *a = json_loads(e->attrs, 0, NULL);
	bool ok = a != NULL;
	for (size_t i = 0; ok && i < 3; i++) {
		json_t *s = json_object_get(a, sig[i]);
		ok = json_is_number(json_object_get(s, "value")) &&
		     json_is_string(json_object_get(s, "unit"));
	}
	json_decref(a);
	return ok;
}

static int record(struct event *ev, size_t n, void *arg)
{
	struct rec *r = arg;
	r->steps++;
	for (size_t i = 0; i < n; i++) {
		struct event *e = &ev[i];
		if (!event_id_valid(e->source) || !event_id_valid(e->kind) || !e->attrs ||
		    e->ts == 0)
			r->bad = true;
		if (strcmp(e->kind, "sensor.reading") == 0) {
			r->readings++;
			if (e->severity != SEV_INFO || !reading_ok(e))
				r->bad = true;
		} else if (strcmp(e->kind, "sensor.anomaly") == 0) {
			r->anomalies++;
			if (e->severity != SEV_WARNING || !strstr(e->attrs, "\"z\":"))
				r->bad = true;
			if (strstr(e->source, "/vibration")) {
				r->vib_anomalies++;
				r->last_vib_anomaly_ts = e->ts;
			}
		} else if (strcmp(e->kind, "sensor.threshold") == 0) {
			r->thresholds++;
			if (e->severity != SEV_ALARM || !strstr(e->attrs, "\"limit\":"))
				r->bad = true;
		} else {
			r->bad = true;
		}
		if (r->log.cap && event_canon(e, &r->log))
			r->bad = true;
	}
	return MW_OK;
}

static struct sim *make(const struct sim_options *o, struct rec *r)
{
	struct sim *s = NULL;
	assert_int_equal(sim_new(o, record, r, &s), MW_OK);
	return s;
}

/* ---- the detector alone ---- */

static double noise(uint64_t *st)
{
	/* A 64-bit LCG and Box-Muller, independent of sim.c's generator. */
	*st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
	double u1 = ((double)(*st >> 11) + 1.0) / 9007199254740993.0;
	*st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
	double u2 = (double)(*st >> 11) / 9007199254740992.0;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void zscore_finds_spikes_not_noise(void **state)
{
	struct zscore z;
	uint64_t st = 42;
	size_t spikes = 0, found = 0, normal = 0, false_pos = 0;

	assert_int_equal(zscore_init(&z, 120, 4.0), MW_OK);
	for (size_t i = 0; i < 200000; i++) {
		bool spike = i > 500 && i % 997 == 0;
		double x = 10.0 + noise(&st) + (spike ? 6.0 + 4.0 * (double)(i % 3) / 2.0 : 0.0);
		struct zscore_result r;
		bool out = zscore_push(&z, x, &r);
		if (i < 20) {
			assert_false(out); /* no verdict before min_samples */
			continue;
		}
		if (spike) {
			spikes++;
			found += out;
			if (out)
				assert_true(r.z > 4.0 && r.std > 0.5 && r.std < 2.0);
		} else {
			normal++;
			false_pos += out;
		}
	}
	zscore_free(&z);
	printf("zscore: recall %zu/%zu, false positives %zu/%zu\n", found, spikes, false_pos,
	       normal);
	assert_true(found * 100 >= spikes * 95);
	assert_true(false_pos * 1000 <= normal); /* at most 1e-3 of normal samples */
}

static void zscore_flat_signal_is_quiet(void **state)
{
	struct zscore z;
	assert_int_equal(zscore_init(&z, 30, 4.0), MW_OK);
	for (int i = 0; i < 1000; i++)
		assert_false(zscore_push(&z, 1234.5, NULL));
	assert_true(zscore_push(&z, 1300.0, NULL)); /* a real change still shows */
	zscore_free(&z);
	assert_int_equal(zscore_init(&z, 1, 4.0), MW_ERR_INVALID);
}

/* ---- the simulator ---- */

static void injected_bursts_are_detected(void **state)
{
	struct sim_options o = {.machines = 1, .seed = 7, .anomaly_rate = 0.005, .heat_rate = -1};
	struct rec r = {0};
	struct sim *s = make(&o, &r);
	size_t bursts = 0, caught = 0, quiet_steps = 0, stray = 0;
	int64_t burst_ts = -1;
	bool tracked = false, counted = false;

	for (int64_t i = 1; i <= 50000; i++) {
		uint64_t before = sim_injected(s);
		size_t vib_before = r.vib_anomalies;
		int64_t ts = i * STEP_NS;
		assert_int_equal(sim_step(s, ts), MW_OK);
		if (sim_injected(s) > before) {
			burst_ts = ts;
			tracked = i > 150; /* once the detector's window has filled */
			counted = false;
			bursts += tracked;
		}
		bool in_burst = burst_ts >= 0 && ts < burst_ts + 3 * STEP_NS;
		if (r.vib_anomalies > vib_before) {
			if (!in_burst)
				stray++;
			else if (tracked && !counted)
				caught++, counted = true;
		}
		if (!in_burst && i > 150)
			quiet_steps++;
	}
	printf("sim: %zu bursts, %zu detected; %zu stray in %zu quiet steps\n", bursts, caught,
	       stray, quiet_steps);
	assert_true(bursts > 100);
	assert_true(caught * 100 >= bursts * 90);
	assert_true(stray * 1000 <= quiet_steps);
	assert_false(r.bad);
	sim_free(s);
}

static void normal_noise_rarely_alarms(void **state)
{
	struct sim_options o = {.machines = 3, .seed = 99, .anomaly_rate = -1, .heat_rate = -1};
	struct rec r = {0};
	struct sim *s = make(&o, &r);
	const size_t steps = 20000;

	for (size_t i = 1; i <= steps; i++)
		assert_int_equal(sim_step(s, (int64_t)i * STEP_NS), MW_OK);
	size_t samples = steps * 3 * 3; /* machines x signals */
	printf("sim: %zu anomalies in %zu quiet samples\n", r.anomalies, samples);
	assert_int_equal(r.readings, steps * 3);
	assert_int_equal(r.thresholds, 0);
	assert_true(r.anomalies * 2000 <= samples); /* at most 5e-4 */
	assert_false(r.bad);
	sim_free(s);
}

static void overheating_raises_one_alarm_per_episode(void **state)
{
	struct sim_options o = {.machines = 1,
				.seed = 3,
				.anomaly_rate = -1,
				.heat_rate = 0.004,
				.temp_limit = 75.0};
	struct rec r = {0};
	struct sim *s = make(&o, &r);

	for (int64_t i = 1; i <= 20000; i++)
		assert_int_equal(sim_step(s, i * STEP_NS), MW_OK);
	printf("sim: %zu threshold alarms in 20000 steps\n", r.thresholds);
	assert_true(r.thresholds >= 5);
	assert_true(r.thresholds < 200); /* hysteresis: not one per reading over the limit */
	assert_false(r.bad);
	sim_free(s);
}

static void run_seeded(uint64_t seed, int machines, struct buf *out)
{
	struct sim_options o = {
		.machines = machines, .seed = seed, .anomaly_rate = 0.02, .heat_rate = 0.002};
	struct rec r = {0};
	struct sim *s;

	buf_init(&r.log, 64 << 20);
	s = make(&o, &r);
	for (int64_t i = 1; i <= 3000; i++)
		assert_int_equal(sim_step(s, i * STEP_NS), MW_OK);
	assert_false(r.bad);
	sim_free(s);
	*out = r.log;
}

static void seed_reproduces_events(void **state)
{
	struct buf a, b, c;

	run_seeded(12345, 2, &a);
	run_seeded(12345, 2, &b);
	run_seeded(54321, 2, &c);
	assert_true(a.len > 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_true(a.len != c.len || memcmp(a.data, c.data, a.len) != 0);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
}

static void rejects_bad_options(void **state)
{
	struct sim_options o = {.machines = 0};
	struct rec r = {0};
	struct sim *s = NULL;
	assert_int_equal(sim_new(&o, record, &r, &s), MW_ERR_INVALID);
	o.machines = SIM_MACHINES_MAX + 1;
	assert_int_equal(sim_new(&o, record, &r, &s), MW_ERR_INVALID);
	assert_null(s);
}

static void thread_steps_on_its_interval(void **state)
{
	struct sim_options o = {.machines = 2, .seed = 1, .interval_ns = 20000000LL};
	struct rec r = {0};
	struct sim *s = make(&o, &r);
	struct timespec nap = {0, 300000000L};

	assert_int_equal(sim_start(s), MW_OK);
	nanosleep(&nap, NULL);
	sim_stop(s);
	size_t steps = r.steps;
	printf("sim thread: %zu steps in 300 ms at 20 ms\n", steps);
	assert_true(steps >= 5 && steps <= 30);
	nanosleep(&(struct timespec){0, 50000000L}, NULL);
	assert_int_equal(r.steps, steps); /* stopped means stopped */
	assert_int_equal(r.readings, steps * 2);
	sim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(zscore_finds_spikes_not_noise),
		cmocka_unit_test(zscore_flat_signal_is_quiet),
		cmocka_unit_test(injected_bursts_are_detected),
		cmocka_unit_test(normal_noise_rarely_alarms),
		cmocka_unit_test(overheating_raises_one_alarm_per_episode),
		cmocka_unit_test(seed_reproduces_events),
		cmocka_unit_test(rejects_bad_options),
		cmocka_unit_test(thread_steps_on_its_interval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
