/* drawn_floor.h -- frames the motion and zone tests draw for themselves.
 *
 * A floor of bright and dark tiles with a fixed per-pixel texture, fresh
 * sensor noise in every frame, optionally shifted by a global brightness
 * offset, and a "person": a filled ellipse (RX x RY) darker than the floor.
 * Everything comes from a fixed-seed xorshift generator, so a failure
 * replays exactly. Include after cmocka.h, with W and H defined. */
#ifndef MW_TESTS_DRAWN_FLOOR_H
#define MW_TESTS_DRAWN_FLOOR_H

#include "vision/vision.h"

#include <stdint.h>
#include <stdlib.h>

#define RX 18
#define RY 40
#define NOISE_LEN 65536

struct scene {
	struct plane frame;
	uint8_t *floor;		 /* W * H, the textured background */
	int8_t noise[NOISE_LEN]; /* -8..8, read from a random offset each frame */
	uint32_t rng;
};

static inline uint32_t rnd(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static inline void scene_init(struct scene *sc, uint32_t seed)
{
	sc->rng = seed;
	assert_int_equal(plane_alloc(&sc->frame, W, H), MW_OK);
	sc->floor = malloc((size_t)W * H);
	assert_non_null(sc->floor);
	for (int y = 0; y < H; y++) {
		for (int x = 0; x < W; x++) {
			int tile = ((x / 40) + (y / 40)) % 3; /* 0, 1, 2: three floor shades */
			sc->floor[y * W + x] = (uint8_t)(100 + 30 * tile + rnd(&sc->rng) % 24);
		}
	}
	for (int i = 0; i < NOISE_LEN; i++)
		sc->noise[i] = (int8_t)(rnd(&sc->rng) % 17 - 8);
}

static inline void scene_done(struct scene *sc)
{
	plane_free(&sc->frame);
	free(sc->floor);
}

static inline uint8_t clamp(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/* Draws the floor shifted by offset grey levels, with noise, and a person
 * centred on (cx, cy) unless cx < 0. */
static inline void draw(struct scene *sc, int offset, int cx, int cy)
{
	uint32_t off = rnd(&sc->rng) % NOISE_LEN;

	for (int y = 0; y < H; y++) {
		uint8_t *row = plane_row(&sc->frame, y);
		const uint8_t *fl = sc->floor + y * W;
		const int8_t *nz = sc->noise + (off + (uint32_t)y * 97) % (NOISE_LEN - W);
		int dy = y - cy;
		for (int x = 0; x < W; x++)
			row[x] = clamp(fl[x] + nz[x] + offset);
		if (cx < 0 || dy < -RY || dy > RY)
			continue;
		for (int x = cx - RX; x <= cx + RX; x++) {
			int dx = x - cx;
			if (x >= 0 && x < W &&
			    dx * dx * RY * RY + dy * dy * RX * RX <= RX * RX * RY * RY)
				row[x] = clamp(48 + nz[x] + nz[W - 1 - x] + offset);
		}
	}
}

#endif
