/* loop.c -- a thread that runs a step again and again (loop.h). */
#include "core/loop.h"

#include <time.h>

#define NS_PER_MS 1000000LL

static void *run(void *arg)
{
	struct mw_loop *l = arg;
	int64_t began = mw_mono_ns(), ms = l->first_ms;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		int64_t due = began + ms * NS_PER_MS, soon = began + l->min_gap_ms * NS_PER_MS;
		while (!l->stop) {
			int64_t until = l->woken && soon < due ? soon : due;
			struct timespec ts = mw_mono_timespec(until);
			if (mw_mono_ns() >= until)
				break;
			pthread_cond_timedwait(&l->cond, &l->mu, &ts);
		}
		if (l->stop)
			break;
		l->woken = false;
		pthread_mutex_unlock(&l->mu);
		began = mw_mono_ns();
		ms = l->step(l->arg);
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int mw_loop_start(struct mw_loop *l, const char *name)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	l->stop = l->woken = false;
	if (pthread_create(&l->thread, NULL, run, l)) {
		pthread_cond_destroy(&l->cond);
		pthread_mutex_destroy(&l->mu);
		return MW_ERR_NOMEM;
	}
	pthread_setname_np(l->thread, name);
	l->started = true;
	return MW_OK;
}

void mw_loop_wake(struct mw_loop *l)
{
	pthread_mutex_lock(&l->mu);
	l->woken = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mu);
}

void mw_loop_stop(struct mw_loop *l)
{
	if (!l->started)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	l->started = false;
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
}
