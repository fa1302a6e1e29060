/* sim.c -- a simulated machine tool, for demos, tests and benchmarks.
 *
 * Each machine has three signals:
 *   temp       slow mean-reverting drift around 60 C plus noise; now and then
 *              an overheating episode ramps it past the alarm limit;
 *   vibration  noise around 2 mm/s with injected anomaly bursts (a few
 *              steps at 5 to 10 standard deviations);
 *   spindle    a setpoint that steps between speeds, plus noise.
 * Every step emits one sensor.reading per machine carrying all three values
 * (one event instead of three keeps the volume sane), and the detectors add
 * sensor.anomaly (rolling z-score, on entering an anomaly) and
 * sensor.threshold (temperature over the limit, with hysteresis) events.
 *
 * Randomness comes from our own splitmix64 generator, one stream per
 * machine derived from the seed, so a seed always yields the same events
 * and adding machines does not change the first ones. */
#include "sensors/sensors.h"

#include "core/log.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENTS_PER_MACHINE 5 /* reading + 3 anomalies + threshold */
#define ZWINDOW 120
#define ZTHRESHOLD 4.0
#define TEMP_BASE 60.0
#define TEMP_HYSTERESIS 2.0
#define VIB_BASE 2.0
#define VIB_NOISE 0.1
#define SPINDLE_NOISE 15.0
#define BURST_STEPS 3

enum signal { SIG_TEMP, SIG_VIB, SIG_SPINDLE, SIG_N };
static const char *const signal_names[SIG_N] = {"temp", "vibration", "spindle"};

struct machine {
	uint64_t rng;
	double drift;	/* temperature offset from TEMP_BASE */
	int heat_left;	/* steps of overheating left */
	int burst_left; /* steps of vibration burst left */
	double burst_size;
	double setpoint; /* spindle rpm */
	bool over_limit;
	bool in_anomaly[SIG_N];
	struct zscore det[SIG_N];
};

struct sim {
	struct sim_options opt;
	sim_emit_fn emit;
	void *arg;
	struct machine *m;
	struct event *ev; /* scratch for one step */
	uint64_t injected;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running, stopping;
};

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *state) /* [0, 1) */
{
	return (double)(splitmix64(state) >> 11) * 0x1.0p-53;
}

static double gauss(uint64_t *state) /* Box-Muller, one value per call */
{
	double u1 = uniform(state), u2 = uniform(state);
	return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

static int machine_init(struct machine *m, uint64_t seed, int idx)
{
	uint64_t s = seed ^ ((uint64_t)(idx + 1) * 0xd1b54a32d192ed03ULL);
	memset(m, 0, sizeof(*m));
	m->rng = splitmix64(&s);
	m->setpoint = 12000;
	for (int i = 0; i < SIG_N; i++)
		if (zscore_init(&m->det[i], ZWINDOW, ZTHRESHOLD))
			return MW_ERR_NOMEM;
	return MW_OK;
}

static void options_fill(struct sim_options *o)
{
	if (o->temp_limit == 0)
		o->temp_limit = 80.0;
	if (o->anomaly_rate == 0)
		o->anomaly_rate = 0.002;
	if (o->heat_rate == 0)
		o->heat_rate = 0.0005;
	if (o->interval_ns <= 0)
		o->interval_ns = 1000000000LL;
}

int sim_new(const struct sim_options *opt, sim_emit_fn emit, void *arg, struct sim **out)
{
	pthread_condattr_t ca;
	struct sim *s;

	if (opt->machines < 1 || opt->machines > SIM_MACHINES_MAX)
		return MW_ERR_INVALID;
	if (!(s = calloc(1, sizeof(*s))))
		return MW_ERR_NOMEM;
	s->opt = *opt;
	options_fill(&s->opt);
	s->emit = emit;
	s->arg = arg;
	s->m = calloc((size_t)opt->machines, sizeof(*s->m));
	s->ev = calloc((size_t)opt->machines * EVENTS_PER_MACHINE, sizeof(*s->ev));
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!s->m || !s->ev)
		goto fail;
	for (int i = 0; i < opt->machines; i++)
		if (machine_init(&s->m[i], opt->seed, i))
			goto fail;
	*out = s;
	return MW_OK;
fail:
	sim_free(s);
	return MW_ERR_NOMEM;
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	sim_stop(s);
	for (int i = 0; s->m && i < s->opt.machines; i++)
		for (int j = 0; j < SIG_N; j++)
			zscore_free(&s->m[i].det[j]);
	free(s->m);
	free(s->ev);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

uint64_t sim_injected(const struct sim *s) { return s->injected; }

/* Advances the machine's physics one step; fills v[] with the readings. */
static void machine_advance(struct sim *s, struct machine *m, double v[SIG_N])
{
	static const double speeds[] = {6000, 9000, 12000, 15000};

	if (m->heat_left == 0 && s->opt.heat_rate > 0 && uniform(&m->rng) < s->opt.heat_rate)
		m->heat_left = 150 + (int)(uniform(&m->rng) * 100);
	if (m->heat_left > 0) {
		m->drift += 0.3; /* toward +30 C against the pull back */
		m->heat_left--;
	}
	m->drift += -0.01 * m->drift + 0.05 * gauss(&m->rng);
	v[SIG_TEMP] = TEMP_BASE + m->drift + 0.2 * gauss(&m->rng);

	if (m->burst_left == 0 && s->opt.anomaly_rate > 0 &&
	    uniform(&m->rng) < s->opt.anomaly_rate) {
		m->burst_left = BURST_STEPS;
		m->burst_size = VIB_NOISE * (5.0 + 5.0 * uniform(&m->rng));
		s->injected++;
	}
	v[SIG_VIB] = VIB_BASE + VIB_NOISE * gauss(&m->rng);
	if (m->burst_left > 0) {
		v[SIG_VIB] += m->burst_size;
		m->burst_left--;
	}

	if (uniform(&m->rng) < 0.002)
		m->setpoint = speeds[splitmix64(&m->rng) % MW_ARRAY_LEN(speeds)];
	v[SIG_SPINDLE] = m->setpoint + SPINDLE_NOISE * gauss(&m->rng);
}

static int make_event(struct event *e, int64_t ts, const char *source, const char *kind,
		      enum severity sev, json_t *attrs)
{
	char err[128];
	int rc;

	event_init(e);
	e->ts = ts;
	e->severity = sev;
	mw_strlcpy(e->source, source, sizeof(e->source));
	mw_strlcpy(e->kind, kind, sizeof(e->kind));
	rc = attrs ? event_set_attrs(e, attrs, err, sizeof(err)) : MW_ERR_NOMEM;
	json_decref(attrs);
	return rc;
}

static json_t *reading_attrs(const struct machine *m, const double v[SIG_N])
{
	return json_pack("{s:{s:f,s:s},s:{s:f,s:s},s:{s:f,s:f,s:s}}", "temp", "value", v[SIG_TEMP],
			 "unit", "C", "vibration", "value", v[SIG_VIB], "unit", "mm/s", "spindle",
			 "value", v[SIG_SPINDLE], "setpoint", m->setpoint, "unit", "rpm");
}

/* Runs the detectors over one machine's readings; appends events at *n. */
static int machine_detect(struct sim *s, int idx, const double v[SIG_N], int64_t ts, size_t *n)
{
	struct machine *m = &s->m[idx];
	char src[EVENT_ID_MAX + 1];
	int rc;

	for (int i = 0; i < SIG_N; i++) {
		struct zscore_result r;
		/* The spindle is scored on its error from the setpoint, so a
		 * commanded speed change is not an anomaly. */
		double x = i == SIG_SPINDLE ? v[i] - m->setpoint : v[i];
		bool out = zscore_push(&m->det[i], x, &r);
		if (out && !m->in_anomaly[i]) {
			snprintf(src, sizeof(src), "sim/m%d/%s", idx + 1, signal_names[i]);
			rc = make_event(&s->ev[(*n)++], ts, src, "sensor.anomaly", SEV_WARNING,
					json_pack("{s:s,s:f,s:f,s:f,s:f}", "signal",
						  signal_names[i], "value", v[i], "mean", r.mean,
						  "std", r.std, "z", r.z));
			if (rc)
				return rc;
		}
		m->in_anomaly[i] = out;
	}
	if (!m->over_limit && v[SIG_TEMP] > s->opt.temp_limit) {
		m->over_limit = true;
		snprintf(src, sizeof(src), "sim/m%d/temp", idx + 1);
		return make_event(&s->ev[(*n)++], ts, src, "sensor.threshold", SEV_ALARM,
				  json_pack("{s:s,s:f,s:f}", "signal", "temp", "value", v[SIG_TEMP],
					    "limit", s->opt.temp_limit));
	}
	if (m->over_limit && v[SIG_TEMP] < s->opt.temp_limit - TEMP_HYSTERESIS)
		m->over_limit = false;
	return MW_OK;
}

int sim_step(struct sim *s, int64_t now_ns)
{
	char src[EVENT_ID_MAX + 1];
	size_t n = 0;
	int rc = MW_OK;

	for (int i = 0; i < s->opt.machines && rc == MW_OK; i++) {
		double v[SIG_N];
		machine_advance(s, &s->m[i], v);
		snprintf(src, sizeof(src), "sim/m%d", i + 1);
		rc = make_event(&s->ev[n++], now_ns, src, "sensor.reading", SEV_INFO,
				reading_attrs(&s->m[i], v));
		if (rc == MW_OK)
			rc = machine_detect(s, i, v, now_ns, &n);
	}
	if (rc == MW_OK)
		rc = s->emit(s->ev, n, s->arg);
	for (size_t i = 0; i < n; i++)
		event_clear(&s->ev[i]);
	return rc;
}

static void *run(void *arg)
{
	struct sim *s = arg;
	int64_t next = mw_mono_ns();
	struct timespec ts;

	pthread_setname_np(pthread_self(), "sim");
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		pthread_mutex_unlock(&s->lock);
		int rc = sim_step(s, mw_now_ns());
		if (rc)
			log_warn("sim step failed err=%s", mw_strerror(rc));
		next += s->opt.interval_ns;
		if (next < mw_mono_ns() - s->opt.interval_ns)
			next = mw_mono_ns(); /* fell behind: do not burst to catch up */
		ts = mw_mono_timespec(next);
		pthread_mutex_lock(&s->lock);
		while (!s->stopping && pthread_cond_timedwait(&s->cond, &s->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int sim_start(struct sim *s)
{
	if (s->running)
		return MW_ERR_STATE;
	s->stopping = false;
	if (pthread_create(&s->thread, NULL, run, s))
		return MW_ERR_NOMEM;
	s->running = true;
	log_info("sim started machines=%d interval_ms=%lld seed=%llu", s->opt.machines,
		 (long long)(s->opt.interval_ns / 1000000), (unsigned long long)s->opt.seed);
	return MW_OK;
}

void sim_stop(struct sim *s)
{
	if (!s->running)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	s->running = false;
}
