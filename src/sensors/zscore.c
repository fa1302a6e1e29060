/* zscore.c -- rolling-window z-score outlier detector; see sensors.h.
 *
 * A sample is scored against the mean and standard deviation of the
 * window before it, then joins the window. An outlier joins clipped to
 * mean +- threshold * std (winsorized): a burst then barely inflates the
 * spread, so the next burst soon after is still seen, while a lasting
 * change of level still pulls the window along step by step and becomes
 * the new normal instead of alarming forever. The window is small (tens to
 * a few hundred samples), so the statistics are recomputed each time:
 * exact, no drift from running sums, and cheap enough. */
#include "sensors/sensors.h"

#include <math.h>
#include <stdlib.h>

int zscore_init(struct zscore *z, size_t window, double threshold)
{
	if (window < 2)
		return MW_ERR_INVALID;
	z->vals = calloc(window, sizeof(*z->vals));
	if (!z->vals)
		return MW_ERR_NOMEM;
	z->window = window;
	z->n = 0;
	z->head = 0;
	z->min_samples = window / 2 > 2 ? window / 2 : 2; /* a std from few samples is too loose */
	z->threshold = threshold;
	return MW_OK;
}

void zscore_free(struct zscore *z)
{
	free(z->vals);
	z->vals = NULL;
}

static void stats(const struct zscore *z, double *mean, double *std)
{
	double sum = 0, var = 0;
	for (size_t i = 0; i < z->n; i++)
		sum += z->vals[i];
	*mean = sum / (double)z->n;
	for (size_t i = 0; i < z->n; i++)
		var += (z->vals[i] - *mean) * (z->vals[i] - *mean);
	*std = sqrt(var / (double)(z->n - 1));
}

bool zscore_push(struct zscore *z, double x, struct zscore_result *r)
{
	struct zscore_result res = {0, 0, 0};
	bool outlier = false;

	if (z->n >= z->min_samples && z->n >= 2) {
		stats(z, &res.mean, &res.std);
		/* A flat window has std 0: any change is infinitely surprising.
		 * Floor the std so a constant signal does not alarm on rounding. */
		double floor = 1e-9 + fabs(res.mean) * 1e-6;
		res.z = (x - res.mean) / (res.std > floor ? res.std : floor);
		outlier = fabs(res.z) > z->threshold;
	}
	if (outlier) {
		double lim = z->threshold * (res.std > 0 ? res.std : 0);
		x = x > res.mean ? res.mean + lim : res.mean - lim;
	}
	z->vals[z->head] = x;
	z->head = (z->head + 1) % z->window;
	if (z->n < z->window)
		z->n++;
	if (r)
		*r = res;
	return outlier;
}
