/* scene_draw.c -- the pixels of the synthetic factory scene.
 *
 * Everything that does not move (floor texture, the danger zone's marking,
 * one period of the belt's texture, a table of gaussian noise) is drawn
 * once by scene__static_init(). A frame is then mostly row copies: the
 * floor, the belt rows from the texture shifted by the belt's travel, the
 * parts and people on top, then blur, lighting gain and noise in one or two
 * passes of plain integer loops.
 *
 * A part is drawn upright once into a sprite (value premultiplied by alpha)
 * and pasted with a rotation and a sub-pixel position by bilinear sampling
 * in 16.16 fixed point: edges come out anti-aliased, the part glides
 * smoothly, and the printed code stays decodable at a tilt. The defect is
 * drawn into the sprite too, and its box measured from the pixels it
 * changed, so the truth is exactly what was drawn.
 *
 * Codes come from libdmtx's and libqrencode's encoders (module matrices
 * only); we draw the modules ourselves at an integer module size. */
#include "vision/scene_internal.h"

#include <dmtx.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#define PLATE_V 200
#define CHAMFER_V 168
#define RING_V 150
#define LABEL_V 236
#define INK_V 38
#define FLOOR_V 118
#define MARK_V 172
#define BELT_V 66
#define RAIL_V 140

static inline int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static inline int imax(int a, int b)
{
	return a > b ? a : b;
}

/* ---- static layers ------------------------------------------------------ */

/* Smooth low-frequency variation (a coarse random grid, bilinearly
 * interpolated) plus fine grain: a floor that is not flat, so a detector
 * cannot get away with a global threshold. */
static void floor_draw(struct scene *s)
{
	const struct scene_layout *L = &s->L;
	struct rng r = rng_for(s->p.seed, RNG_FLOOR, 0);
	int cell = imax(8, (int)lround(40 * L->s));
	int gx = L->w / cell + 2, gy = L->h / cell + 2;
	int8_t grid[(VISION_DIM_MAX / 8 + 2) * 2];

	/* Two grid rows at a time keep this allocation-free. */
	int8_t *g0 = grid, *g1 = grid + gx;
	struct rng rows = r;

	for (int i = 0; i < gx; i++)
		g1[i] = (int8_t)(rng_next(&rows) % 15) - 7;
	for (int cy = 0; cy < gy - 1; cy++) {
		memcpy(g0, g1, (size_t)gx);
		for (int i = 0; i < gx; i++)
			g1[i] = (int8_t)(rng_next(&rows) % 15) - 7;
		for (int y = cy * cell; y < (cy + 1) * cell && y < L->h; y++) {
			int fy = (y - cy * cell) * 256 / cell;
			uint8_t *row = s->floor + (size_t)y * (size_t)L->w;

			for (int x = 0; x < L->w; x++) {
				int cx = x / cell, fx = (x - cx * cell) * 256 / cell;
				int top = g0[cx] * (256 - fx) + g0[cx + 1] * fx;
				int bot = g1[cx] * (256 - fx) + g1[cx + 1] * fx;
				int v = FLOOR_V + (top * (256 - fy) + bot * fy) / 65536 +
					(int)(rng_next(&r) % 7) - 3;

				row[x] = (uint8_t)clampi(v, 0, 255);
			}
		}
	}
}

static double seg_dist2(double px, double py, struct point a, struct point b)
{
	double dx = b.x - a.x, dy = b.y - a.y, t;

	t = ((px - a.x) * dx + (py - a.y) * dy) / (dx * dx + dy * dy);
	t = t < 0 ? 0 : t > 1 ? 1 : t;
	dx = a.x + t * dx - px;
	dy = a.y + t * dy - py;
	return dx * dx + dy * dy;
}

/* Inside the convex quadrilateral (corners clockwise on screen). */
static bool in_zone(const struct point *z, double px, double py)
{
	for (int i = 0; i < 4; i++) {
		struct point a = z[i], b = z[(i + 1) % 4];

		if ((b.x - a.x) * (py - a.y) - (b.y - a.y) * (px - a.x) < 0)
			return false;
	}
	return true;
}

static void zone_draw(struct scene *s)
{
	const struct scene_layout *L = &s->L;
	const struct point *z = s->t.zone;
	double half = imax(2, (int)lround(3 * L->s));
	int x0 = L->w, x1 = 0, y0 = L->h, y1 = 0;

	for (int i = 0; i < 4; i++) {
		x0 = z[i].x < x0 ? z[i].x : x0;
		x1 = z[i].x > x1 ? z[i].x : x1;
		y0 = z[i].y < y0 ? z[i].y : y0;
		y1 = z[i].y > y1 ? z[i].y : y1;
	}
	x0 = clampi(x0 - (int)half - 1, 0, L->w - 1);
	x1 = clampi(x1 + (int)half + 1, 0, L->w - 1);
	y0 = clampi(y0 - (int)half - 1, 0, L->h - 1);
	y1 = clampi(y1 + (int)half + 1, 0, L->h - 1);
	for (int y = y0; y <= y1; y++) {
		for (int x = x0; x <= x1; x++) {
			double px = x + 0.5, py = y + 0.5, d2 = 1e30;
			size_t i = (size_t)y * (size_t)L->w + (size_t)x;

			s->zone_mask[i] = in_zone(z, px, py);
			for (int k = 0; k < 4; k++) {
				double d = seg_dist2(px, py, z[k], z[(k + 1) % 4]);
				d2 = d < d2 ? d : d2;
			}
			if (d2 <= half * half)
				s->floor[i] = (uint8_t)(MARK_V + (s->floor[i] - FLOOR_V));
		}
	}
}

/* One texture period of the belt (faint stripes across it, grain, steel
 * rails along both edges), tiled so any shift is a single row copy. */
static void belt_draw(struct scene *s)
{
	const struct scene_layout *L = &s->L;
	struct rng r = rng_for(s->p.seed, RNG_FLOOR, 1);
	int bh = s->t.belt.h, tw = L->w + L->tex_period;
	int rail = imax(2, (int)lround(4 * L->s)), stripe = imax(2, (int)lround(4 * L->s));

	for (int y = 0; y < bh; y++) {
		uint8_t *row = s->belt_tex + (size_t)y * (size_t)tw;
		bool is_rail = y < rail || y >= bh - rail;

		for (int x = 0; x < L->tex_period; x++) {
			int v = BELT_V + (int)(rng_next(&r) % 7) - 3;

			if (x % L->stripe_period < stripe)
				v += 9;
			row[x] = (uint8_t)(is_rail ? RAIL_V + (v - BELT_V) : v);
		}
		for (int x = L->tex_period; x < tw; x++)
			row[x] = row[x - L->tex_period];
	}
}

int scene__static_init(struct scene *s)
{
	const struct scene_layout *L = &s->L;
	size_t n = (size_t)L->w * (size_t)L->h;
	struct rng r = rng_for(s->p.seed, RNG_FLOOR, 2);

	s->floor = malloc(n);
	s->zone_mask = calloc(n, 1);
	s->belt_tex = malloc((size_t)s->t.belt.h * (size_t)(L->w + L->tex_period));
	s->noise_tab = malloc((65536 + (size_t)L->w) * sizeof(*s->noise_tab));
	if (!s->floor || !s->zone_mask || !s->belt_tex || !s->noise_tab ||
	    scene__scratch_alloc(&s->scratch, L->w, L->h))
		return MW_ERR_NOMEM;
	floor_draw(s);
	zone_draw(s);
	belt_draw(s);
	/* Box-Muller; the table is sampled at a random offset per row. */
	for (int i = 0; i < 65536; i += 2) {
		double u1 = rng_unit(&r) + 1e-12, u2 = rng_unit(&r);
		double m = sqrt(-2 * log(u1)) * s->p.noise;

		s->noise_tab[i] = (int16_t)clampi((int)lround(m * cos(2 * M_PI * u2)), -255, 255);
		s->noise_tab[i + 1] = (int16_t)clampi((int)lround(m * sin(2 * M_PI * u2)), -255, 255);
	}
	memcpy(s->noise_tab + 65536, s->noise_tab, (size_t)L->w * sizeof(*s->noise_tab));
	return MW_OK;
}

void scene__belt_put(const struct scene *s, struct plane *out, int x0, int y0, double disp)
{
	int tp = s->L.tex_period, tw = s->L.w + tp;
	int off = (int)((int64_t)floor(disp) % tp);

	for (int y = 0; y < out->height; y++) {
		const uint8_t *src = s->belt_tex + (size_t)(y0 + y) * (size_t)tw;

		memcpy(plane_row(out, y), src + (tp - off) + x0, (size_t)out->width);
	}
}

/* ---- codes -------------------------------------------------------------- */

static int dm_modules(const char *serial, uint8_t *mods, int cap)
{
	DmtxEncode *enc = dmtxEncodeCreate();
	int n = MW_ERR_INVALID;

	if (!enc)
		return MW_ERR_NOMEM;
	dmtxEncodeSetProp(enc, DmtxPropPixelPacking, DmtxPack8bppK);
	dmtxEncodeSetProp(enc, DmtxPropModuleSize, 1);
	dmtxEncodeSetProp(enc, DmtxPropMarginSize, 0);
	dmtxEncodeSetProp(enc, DmtxPropSizeRequest, DmtxSymbolSquareAuto);
	if (dmtxEncodeDataMatrix(enc, (int)strlen(serial), (unsigned char *)serial) == DmtxPass) {
		DmtxImage *img = enc->image;
		int w = dmtxImageGetProp(img, DmtxPropWidth);
		int rs = dmtxImageGetProp(img, DmtxPropRowSizeBytes);
		bool top_solid = true;

		if (w > cap || w != dmtxImageGetProp(img, DmtxPropHeight))
			goto out;
		/* libdmtx keeps images bottom-up; the solid L of the finder
		 * belongs at the left and the bottom. */
		for (int x = 0; x < w; x++)
			top_solid = top_solid && img->pxl[x] < 128;
		for (int y = 0; y < w; y++) {
			int sy = top_solid ? w - 1 - y : y;

			for (int x = 0; x < w; x++)
				mods[y * w + x] = img->pxl[sy * rs + x] < 128;
		}
		n = w;
	}
out:
	dmtxEncodeDestroy(&enc);
	return n;
}

static int qr_modules(const char *serial, uint8_t *mods, int cap)
{
	QRcode *q = QRcode_encodeString(serial, 1, QR_ECLEVEL_M, QR_MODE_8, 1);
	int n = MW_ERR_INVALID;

	if (!q)
		return MW_ERR_INVALID;
	if (q->width <= cap) {
		n = q->width;
		for (int i = 0; i < n * n; i++)
			mods[i] = q->data[i] & 1;
	}
	QRcode_free(q);
	return n;
}

int scene__code_modules(enum scene_code code, const char *serial, uint8_t *mods, int cap)
{
	if (code == SCENE_CODE_DATAMATRIX)
		return dm_modules(serial, mods, cap);
	if (code == SCENE_CODE_QR)
		return qr_modules(serial, mods, cap);
	return MW_ERR_INVALID;
}

/* ---- parts -------------------------------------------------------------- */

/* The sprite being drawn, in plate coordinates, before the part's
 * brightness and premultiplication are applied. */
struct canvas {
	const struct scene_layout *L;
	int16_t *v;
	uint8_t *a;
	int box[4];
	bool marked;
};

static inline size_t cidx(const struct canvas *c, int x, int y)
{
	return (size_t)(y + SCENE_SPRITE_PAD) * (size_t)c->L->sw + (size_t)(x + SCENE_SPRITE_PAD);
}

static void mark(struct canvas *c, int x, int y)
{
	if (!c->marked) {
		c->box[0] = c->box[2] = x;
		c->box[1] = c->box[3] = y;
		c->marked = true;
		return;
	}
	c->box[0] = x < c->box[0] ? x : c->box[0];
	c->box[1] = y < c->box[1] ? y : c->box[1];
	c->box[2] = x > c->box[2] ? x : c->box[2];
	c->box[3] = y > c->box[3] ? y : c->box[3];
}

static bool in_label(const struct scene_layout *L, int x, int y, int grow)
{
	return x >= L->code_x - grow && x < L->code_x + L->code_side + grow &&
	       y >= L->code_y - grow && y < L->code_y + L->code_side + grow;
}

static void plate_draw(struct canvas *c, struct rng *r, int skip_hole)
{
	const struct scene_layout *L = c->L;
	int ch = imax(1, (int)lround(2 * L->s)), ring = imax(1, (int)lround(1.5 * L->s));

	for (int y = 0; y < L->ph; y++) {
		int brush = (int)(rng_next(r) % 7) - 3;

		for (int x = 0; x < L->pw; x++) {
			bool edge = x < ch || y < ch || x >= L->pw - ch || y >= L->ph - ch;

			c->v[cidx(c, x, y)] = (int16_t)(edge ? CHAMFER_V : PLATE_V + brush);
			c->a[cidx(c, x, y)] = 255;
		}
	}
	for (int k = 0; k < L->holes; k++) {
		int hx = L->hole[k].x, hy = L->hole[k].y, R = L->hole_r + ring;

		if (k == skip_hole)
			continue;
		for (int y = hy - R; y <= hy + R; y++) {
			for (int x = hx - R; x <= hx + R; x++) {
				int d2 = (x - hx) * (x - hx) + (y - hy) * (y - hy);

				if (d2 <= L->hole_r * L->hole_r)
					c->a[cidx(c, x, y)] = 0;
				else if (d2 <= R * R)
					c->v[cidx(c, x, y)] = RING_V;
			}
		}
	}
}

/* Scrapes the finder corner and flips about a third of the modules: no
 * decoder's error correction gets the serial back. */
static void code_damage(const struct scene *s, uint8_t *mods, int n, struct rng *r)
{
	bool dm = s->p.code == SCENE_CODE_DATAMATRIX;

	for (int y = 0; y < n; y++) {
		for (int x = 0; x < n; x++) {
			bool corner = dm ? (x < n / 2 && y >= n / 2) : (x < 9 && y < 9);

			if (corner)
				mods[y * n + x] = 0;
			else if (rng_unit(r) < 0.33)
				mods[y * n + x] ^= 1;
		}
	}
}

static int label_draw(struct canvas *c, const struct scene *s, const struct scene_part *tp,
		      struct rng *r)
{
	const struct scene_layout *L = c->L;
	uint8_t mods[SCENE_CODE_MAX * SCENE_CODE_MAX];
	int m = L->module, n, ox, oy;

	for (int y = L->code_y; y < L->code_y + L->code_side; y++)
		for (int x = L->code_x; x < L->code_x + L->code_side; x++)
			c->v[cidx(c, x, y)] = LABEL_V;
	ox = L->code_x + L->quiet * m;
	oy = L->code_y + L->quiet * m;
	if (s->p.code == SCENE_CODE_NONE) {
		/* A printed label, the same on every part (lines of "text"). */
		struct rng d = {s->code_design};

		memset(mods, 0, sizeof(mods));
		n = L->code_n;
		for (int y = 1; y < n - 1; y += 3)
			for (int x = 0, len = 0; x < n; x++, len--) {
				if (len <= 0)
					len = 2 + (int)(rng_next(&d) % 4);
				mods[y * n + x] = len > 1;
			}
	} else {
		n = scene__code_modules(s->p.code, tp->serial, mods, SCENE_CODE_MAX);
		if (n < 0)
			return n;
		if (n != L->code_n)
			return MW_ERR_INVALID;
		if (tp->defect == SCENE_DEFECT_CODE)
			code_damage(s, mods, n, r);
	}
	for (int my = 0; my < n; my++)
		for (int mx = 0; mx < n; mx++) {
			if (!mods[my * n + mx])
				continue;
			for (int y = oy + my * m; y < oy + (my + 1) * m; y++)
				for (int x = ox + mx * m; x < ox + (mx + 1) * m; x++)
					c->v[cidx(c, x, y)] = INK_V;
		}
	if (tp->defect == SCENE_DEFECT_CODE) {
		mark(c, ox, oy);
		mark(c, ox + n * m - 1, oy + n * m - 1);
	}
	return MW_OK;
}

/* Paints (x, y) with value v if it is on metal and off the label. */
static void paint(struct canvas *c, int x, int y, int v)
{
	const struct scene_layout *L = c->L;

	if (x < 0 || y < 0 || x >= L->pw || y >= L->ph || in_label(L, x, y, 1))
		return;
	if (!c->a[cidx(c, x, y)])
		return;
	c->v[cidx(c, x, y)] = (int16_t)v;
	mark(c, x, y);
}

static void scratch_draw(struct canvas *c, struct rng *r)
{
	const struct scene_layout *L = c->L;
	/* Steep enough to stay between the holes and the label. */
	double len = rng_range(r, 25, 45) * L->s, ang = M_PI / 2 + rng_range(r, -0.9, 0.9);
	double x0 = rng_range(r, L->gap, L->code_x - L->gap), y0 = rng_range(r, L->gap, L->ph - L->gap);
	int wdt = imax(1, (int)lround(1.5 * L->s));

	for (double t = -len / 2; t <= len / 2; t += 0.5) {
		int x = (int)floor(x0 + t * cos(ang)), y = (int)floor(y0 + t * sin(ang));

		for (int dy = 0; dy < wdt; dy++)
			for (int dx = 0; dx < wdt; dx++)
				paint(c, x + dx, y + dy, 105);
	}
}

static void spot_draw(struct canvas *c, struct rng *r)
{
	const struct scene_layout *L = c->L;
	double rad = fmax(2.0, rng_range(r, 3, 6) * L->s);
	int v = rng_unit(r) < 0.5 ? 80 : 255, R = (int)ceil(rad);
	int cx = L->pw / 2, cy = L->ph / 2;

	for (int tries = 0; tries < 64; tries++) {
		cx = (int)rng_range(r, L->gap + R, L->pw - L->gap - R);
		cy = (int)rng_range(r, L->gap + R, L->ph - L->gap - R);
		if (!in_label(L, cx, cy, R + 2))
			break;
	}
	for (int y = cy - R; y <= cy + R; y++)
		for (int x = cx - R; x <= cx + R; x++)
			if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= rad * rad)
				paint(c, x, y, v);
}

static void missing_draw(struct canvas *c, struct rng *r, int hole)
{
	const struct scene_layout *L = c->L;
	int ring = imax(1, (int)lround(1.5 * L->s)), R = L->hole_r + ring;

	if (hole >= 0) {
		mark(c, L->hole[hole].x - R, L->hole[hole].y - R);
		mark(c, L->hole[hole].x + R, L->hole[hole].y + R);
		return;
	}
	/* A left corner cut off (the label sits near the right ones). */
	int leg = (int)lround(rng_range(r, 0.16, 0.24) * L->ph);
	bool top = rng_unit(r) < 0.5;

	for (int y = 0; y < leg; y++)
		for (int x = 0; x + y < leg; x++) {
			int py = top ? y : L->ph - 1 - y;

			c->a[cidx(c, x, py)] = 0;
			c->v[cidx(c, x, py)] = 0;
			mark(c, x, py);
		}
}

/* The top or bottom edge pushed in along a stretch, like a plate bent by
 * a knock: a kink of a few pixels, with the chamfer following it. */
static void deform_draw(struct canvas *c, struct rng *r)
{
	const struct scene_layout *L = c->L;
	double xc = rng_range(r, 0.2, 0.8) * L->pw, hs = rng_range(r, 0.12, 0.2) * L->pw;
	double dep = fmin(rng_range(r, 4, 6) * L->s, L->gap - 1.0);
	int ch = imax(1, (int)lround(2 * L->s));
	bool top = rng_unit(r) < 0.5;

	dep = fmax(dep, 3.0);
	for (int x = (int)(xc - hs); x <= (int)(xc + hs); x++) {
		double d;

		if (x < 0 || x >= L->pw)
			continue;
		d = dep * (1 - fabs(x + 0.5 - xc) / hs);
		for (int e = 0; e < (int)d + ch; e++) {
			int y = top ? e : L->ph - 1 - e;

			if (e < (int)lround(d))
				c->a[cidx(c, x, y)] = 0, c->v[cidx(c, x, y)] = 0;
			else
				c->v[cidx(c, x, y)] = CHAMFER_V;
			if (e < (int)lround(d))
				mark(c, x, y);
		}
	}
}

void scene__sprite_free(struct part_state *ps)
{
	free(ps->val);
	free(ps->alpha);
	ps->val = ps->alpha = NULL;
}

int scene__sprite_draw(const struct scene *s, const struct scene_part *tp, struct part_state *ps)
{
	const struct scene_layout *L = &s->L;
	size_t n = (size_t)L->sw * (size_t)L->sh;
	struct canvas c = {.L = L};
	struct rng r = {ps->seed};
	int missing_hole = -1, rc;

	scene__sprite_free(ps);
	c.v = calloc(n, sizeof(*c.v));
	ps->val = malloc(n);
	ps->alpha = calloc(n, 1);
	c.a = ps->alpha;
	rc = MW_ERR_NOMEM;
	if (!c.v || !ps->val || !ps->alpha)
		goto out;
	if (tp->defect == SCENE_DEFECT_MISSING && rng_unit(&r) < 0.5)
		missing_hole = (int)(rng_next(&r) % (uint64_t)L->holes);
	plate_draw(&c, &r, missing_hole);
	rc = label_draw(&c, s, tp, &r);
	if (rc)
		goto out;
	switch (tp->defect) {
	case SCENE_DEFECT_SCRATCH:
		scratch_draw(&c, &r);
		break;
	case SCENE_DEFECT_SPOT:
		spot_draw(&c, &r);
		break;
	case SCENE_DEFECT_MISSING:
		missing_draw(&c, &r, missing_hole);
		break;
	case SCENE_DEFECT_DEFORMATION:
		deform_draw(&c, &r);
		break;
	default:
		break;
	}
	for (size_t i = 0; i < n; i++) {
		int v = (int)lround(c.v[i] * ps->gain);

		ps->val[i] = (uint8_t)(clampi(v, 0, 255) * ps->alpha[i] / 255);
	}
	for (int k = 0; k < 4; k++)
		ps->box[k] = c.marked ? c.box[k] + SCENE_SPRITE_PAD : -1;
out:
	free(c.v);
	if (rc)
		scene__sprite_free(ps);
	return rc;
}

/* Pastes the sprite centred at (cx, cy) with the part's tilt. */
void scene__sprite_put(const struct scene *s, const struct part_state *ps, struct plane *out,
		       double cx, double cy)
{
	const struct scene_layout *L = &s->L;
	double co = cos(ps->angle), si = sin(ps->angle);
	double hw = (L->sw * fabs(co) + L->sh * fabs(si)) / 2 + 1;
	double hh = (L->sw * fabs(si) + L->sh * fabs(co)) / 2 + 1;
	int x0 = imax(0, (int)floor(cx - hw)), x1 = (int)ceil(cx + hw);
	int y0 = imax(0, (int)floor(cy - hh)), y1 = (int)ceil(cy + hh);
	int32_t du = (int32_t)lround(co * 65536), dv = (int32_t)lround(-si * 65536);
	int sw = L->sw, sh = L->sh;

	x1 = x1 < out->width - 1 ? x1 : out->width - 1;
	y1 = y1 < out->height - 1 ? y1 : out->height - 1;
	for (int y = y0; y <= y1; y++) {
		double dx = x0 + 0.5 - cx, dy = y + 0.5 - cy;
		int32_t u = (int32_t)lround((co * dx + si * dy + sw / 2.0 - 0.5) * 65536);
		int32_t v = (int32_t)lround((-si * dx + co * dy + sh / 2.0 - 0.5) * 65536);
		uint8_t *restrict dst = plane_row(out, y);

		for (int x = x0; x <= x1; x++, u += du, v += dv) {
			int iu = u >> 16, iv = v >> 16, fu = (u >> 8) & 255, fv = (v >> 8) & 255;
			const uint8_t *pa, *pv;
			int a, p;

			if ((unsigned)iu >= (unsigned)(sw - 1) || (unsigned)iv >= (unsigned)(sh - 1))
				continue;
			pa = ps->alpha + (size_t)iv * (size_t)sw + (size_t)iu;
			a = ((pa[0] * (256 - fu) + pa[1] * fu) * (256 - fv) +
			     (pa[sw] * (256 - fu) + pa[sw + 1] * fu) * fv) >> 16;
			if (!a)
				continue;
			pv = ps->val + (size_t)iv * (size_t)sw + (size_t)iu;
			p = ((pv[0] * (256 - fu) + pv[1] * fu) * (256 - fv) +
			     (pv[sw] * (256 - fu) + pv[sw + 1] * fu) * fv) >> 16;
			p += dst[x] * (255 - a) / 255;
			dst[x] = (uint8_t)(p > 255 ? 255 : p);
		}
	}
}

/* ---- people ------------------------------------------------------------- */

bool scene__person_put(const struct scene *s, const struct person_state *pp,
		       const struct person_pose *pose, struct plane *out, const uint8_t *mask)
{
	double sc = s->L.s, a = 30 * sc, b = 15 * sc, hr = 10 * sc, hf = 2 * sc;
	double co = cos(pose->angle), si = sin(pose->angle);
	int R = (int)ceil(a) + 1, w = s->L.w, h = s->L.h;
	int x0 = imax(0, (int)floor(pose->x) - R), x1 = (int)floor(pose->x) + R;
	int y0 = imax(0, (int)floor(pose->y) - R), y1 = (int)floor(pose->y) + R;
	bool inside = false;

	x1 = x1 < w - 1 ? x1 : w - 1;
	y1 = y1 < h - 1 ? y1 : h - 1;
	for (int y = y0; y <= y1; y++) {
		uint8_t *row = out ? plane_row(out, y) : NULL;
		const uint8_t *mrow = mask ? mask + (size_t)y * (size_t)w : NULL;

		for (int x = x0; x <= x1; x++) {
			double dx = x + 0.5 - pose->x, dy = y + 0.5 - pose->y;
			double f = dx * co + dy * si, l = -dx * si + dy * co;
			bool head = (f - hf) * (f - hf) + l * l <= hr * hr;
			bool body = (l * l) / (a * a) + (f * f) / (b * b) <= 1;

			if (!head && !body)
				continue;
			if (row)
				row[x] = head ? pp->head : pp->cloth;
			if (mrow && mrow[x]) {
				if (!row)
					return true; /* the truth only asks whether */
				inside = true;
			}
		}
	}
	return inside;
}

/* ---- camera ------------------------------------------------------------- */

/* Sums stay in 16 bits (65 * 255 fits) and the division is a multiply
 * by 65536 / (2r + 1) keeping the high half, so both passes vectorise in
 * 16-bit lanes. Rows are a sum of 2r+1 shifted copies of an edge-padded
 * row rather than a running sum, which could not vectorise. */
static void blur_rows(const struct plane *in, uint8_t *restrict tmp, int r,
		      struct scene_scratch *sc)
{
	int w = in->width;
	uint16_t inv = (uint16_t)(65536u / (uint32_t)(2 * r + 1)), half = (uint16_t)r;
	uint8_t *restrict pad = sc->pad;
	uint16_t *restrict sum = sc->rowsum;

	for (int y = 0; y < in->height; y++) {
		const uint8_t *row = plane_row(in, y);
		uint8_t *restrict o = tmp + (size_t)y * (size_t)w;

		memset(pad, row[0], (size_t)r);
		memcpy(pad + r, row, (size_t)w);
		memset(pad + r + w, row[w - 1], (size_t)r);
		for (int x = 0; x < w; x++)
			sum[x] = half;
		for (int k = 0; k <= 2 * r; k++)
			for (int x = 0; x < w; x++)
				sum[x] = (uint16_t)(sum[x] + pad[x + k]);
		for (int x = 0; x < w; x++)
			o[x] = (uint8_t)(((uint32_t)sum[x] * inv) >> 16);
	}
}

static void blur_cols(const uint8_t *tmp, struct plane *out, int r, uint16_t *restrict cs)
{
	int w = out->width, h = out->height;
	uint16_t inv = (uint16_t)(65536u / (uint32_t)(2 * r + 1)), half = (uint16_t)r;

	for (int x = 0; x < w; x++)
		cs[x] = half;
	for (int k = -r; k <= r; k++) {
		const uint8_t *src = tmp + (size_t)clampi(k, 0, h - 1) * (size_t)w;

		for (int x = 0; x < w; x++)
			cs[x] = (uint16_t)(cs[x] + src[x]);
	}
	for (int y = 0; y < h; y++) {
		uint8_t *restrict o = plane_row(out, y);
		const uint8_t *add = tmp + (size_t)(y + r + 1 < h ? y + r + 1 : h - 1) * (size_t)w;
		const uint8_t *sub = tmp + (size_t)(y - r > 0 ? y - r : 0) * (size_t)w;

		for (int x = 0; x < w; x++) {
			o[x] = (uint8_t)(((uint32_t)cs[x] * inv) >> 16);
			cs[x] = (uint16_t)(cs[x] + add[x] - sub[x]);
		}
	}
}

int scene__scratch_alloc(struct scene_scratch *sc, int w, int h)
{
	sc->tmp = malloc((size_t)w * (size_t)h);
	sc->colsum = malloc((size_t)w * sizeof(*sc->colsum));
	sc->rowsum = malloc((size_t)w * sizeof(*sc->rowsum));
	sc->pad = malloc((size_t)w + 2 * 33);
	if (!sc->tmp || !sc->colsum || !sc->rowsum || !sc->pad) {
		scene__scratch_free(sc);
		return MW_ERR_NOMEM;
	}
	return MW_OK;
}

void scene__scratch_free(struct scene_scratch *sc)
{
	free(sc->tmp);
	free(sc->colsum);
	free(sc->rowsum);
	free(sc->pad);
	memset(sc, 0, sizeof(*sc));
}

/* Gain in 1/128 steps keeps the arithmetic in 16-bit lanes (255 * 256
 * still fits), twice as many pixels per vector as with ints. */
void scene__finish(const struct scene *s, struct plane *out, int gain256, struct rng *rng,
		   struct scene_scratch *sc)
{
	uint16_t g = (uint16_t)clampi((gain256 + 1) / 2, 0, 256);
	int r = (int)lround(s->p.blur);
	bool noisy = s->p.noise > 0;

	if (r > 0) {
		blur_rows(out, sc->tmp, r, sc);
		blur_cols(sc->tmp, out, r, sc->colsum);
	}
	if (gain256 == 256 && !noisy)
		return;
	for (int y = 0; y < out->height; y++) {
		uint8_t *restrict row = plane_row(out, y);
		const int16_t *restrict nz = s->noise_tab + (noisy ? rng_next(rng) & 0xffff : 0);
		int w = out->width;

		if (noisy) {
			for (int x = 0; x < w; x++) {
				int16_t v = (int16_t)((uint16_t)(row[x] * g + 64) >> 7);

				v = (int16_t)(v + nz[x]);
				row[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
		} else {
			for (int x = 0; x < w; x++) {
				uint16_t v = (uint16_t)(row[x] * g + 64) >> 7;

				row[x] = (uint8_t)(v > 255 ? 255 : v);
			}
		}
	}
}
