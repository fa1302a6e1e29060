/* opencv_zone.cpp -- the OpenCV peer of the safety-zone analytics, for the
 * side-by-side figure of bench_vision_opencv.c. Never part of Millwright:
 * it is built only when libopencv-dev is installed, and nothing links it.
 *
 * usage: opencv_zone_peer RAWFILE W H N FPS X1,Y1,X2,Y2,X3,Y3,X4,Y4 [SCALE [PASSES]]
 *
 * RAWFILE holds N gray W x H frames back to back (no stride, no header);
 * "-" reads them from stdin, which is how bench_vision_opencv hands them
 * over (a pipe: no multi-gigabyte file, and the bench frees each frame as
 * it is sent, so the clip is in memory once). All of them are loaded into
 * memory first, full size, because the downscale is part of the timed
 * analytics on both sides; only the analytics are timed.
 * Prints `intrusion FRAME` per zone.intrusion it would raise and, at the
 * end, `fps X` (frames per second of analytics, one thread): the best of
 * PASSES (default 1) passes over the clip, each with a fresh model, so a
 * burst of other load on the machine does not decide the figure.
 *
 * What is compared, and why this is the fair setup: only the background /
 * foreground part differs from ours (src/vision/motion.c). Both sides
 * analyse the frame at 1/SCALE resolution (default 4, what our model does
 * by default): here cv::resize with INTER_AREA, which is the same box
 * average as ours, inside the timed region as ours is. Then
 * BackgroundSubtractorMOG2 (default history 500 and varThreshold 16,
 * detectShadows off), a 3x3 morphological opening, findContours on the
 * outer contours, bounding boxes, and the rest exactly as src/vision/zone.c
 * does it: a contour counts when its contour area is at least 400
 * full-frame pixels, and when at least 0.2 of its box lies in the zone,
 * with the zone rasterised at analysis resolution by pixel centres; then
 * the same state machine on stream time (enter 200 ms, leave 1000 ms at
 * FPS). The first 25 frames raise nothing, like our learning phase.
 * OpenCV runs on one thread (cv::setNumThreads(1)) because ours does and
 * the bench figure is one core's. Running MOG2 at full resolution instead
 * would make OpenCV some 16x slower and is not how anyone would deploy it
 * for people-sized objects, so it would flatter us. */
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/background_segm.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kLearnFrames = 25;
constexpr double kMinOverlap = 0.2;
constexpr int kMinArea = 400; /* full-frame pixels */
constexpr double kEnterMs = 200, kLeaveMs = 1000;

struct Args {
	const char *file;
	long w, h, n;
	double fps;
	std::vector<cv::Point> zone;
	int scale = 4;
	int passes = 1;
};

bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = std::strtol(s, &end, 10);

	if (end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

bool parse_zone(const char *s, std::vector<cv::Point> *zone)
{
	std::vector<long> v;
	std::string str(s);
	size_t pos = 0;

	while (pos <= str.size()) {
		size_t comma = str.find(',', pos);
		std::string tok = str.substr(pos, comma == std::string::npos ? std::string::npos
								      : comma - pos);
		long x;
		if (!parse_long(tok.c_str(), 0, 100000, &x))
			return false;
		v.push_back(x);
		if (comma == std::string::npos)
			break;
		pos = comma + 1;
	}
	if (v.size() < 6 || v.size() % 2)
		return false;
	for (size_t i = 0; i < v.size(); i += 2)
		zone->emplace_back((int)v[i], (int)v[i + 1]);
	return true;
}

bool parse_args(int argc, char **argv, Args *a)
{
	long scale = 4, passes = 1;
	char *end;

	if (argc < 7 || argc > 9)
		return false;
	a->file = argv[1];
	a->fps = std::strtod(argv[5], &end);
	if (!parse_long(argv[2], 8, 8192, &a->w) || !parse_long(argv[3], 8, 8192, &a->h) ||
	    !parse_long(argv[4], 1, 1000000, &a->n) || end == argv[5] || *end ||
	    !(a->fps > 0 && a->fps <= 1000) || !parse_zone(argv[6], &a->zone))
		return false;
	if (argc >= 8 && (!parse_long(argv[7], 1, 8, &scale) || (scale & (scale - 1))))
		return false;
	if (argc == 9 && !parse_long(argv[8], 1, 100, &passes))
		return false;
	a->scale = (int)scale;
	a->passes = (int)passes;
	return true;
}

bool load(const Args &a, std::vector<cv::Mat> *frames)
{
	bool from_stdin = std::strcmp(a.file, "-") == 0;
	FILE *f = from_stdin ? stdin : std::fopen(a.file, "rb");
	bool ok = f != nullptr;

	for (long i = 0; ok && i < a.n; i++) {
		cv::Mat m((int)a.h, (int)a.w, CV_8UC1);
		ok = std::fread(m.data, (size_t)(a.w * a.h), 1, f) == 1;
		frames->push_back(m);
	}
	if (f && !from_stdin)
		std::fclose(f);
	return ok;
}

/* Integral image of the zone at analysis resolution, a pixel inside when
 * its centre is (what zone.c's rasterise() does). */
cv::Mat zone_integral(const Args &a, int sw, int sh)
{
	std::vector<cv::Point2f> poly;
	cv::Mat in(sh, sw, CV_8UC1), sat;

	for (const cv::Point &p : a.zone)
		poly.emplace_back((float)p.x, (float)p.y);
	for (int y = 0; y < sh; y++)
		for (int x = 0; x < sw; x++) {
			cv::Point2f c((float)((x + 0.5) * a.scale), (float)((y + 0.5) * a.scale));
			in.at<uint8_t>(y, x) = cv::pointPolygonTest(poly, c, false) > 0;
		}
	cv::integral(in, sat, CV_32S);
	return sat;
}

double overlap(const cv::Mat &sat, const cv::Rect &r)
{
	int in = sat.at<int>(r.y + r.height, r.x + r.width) - sat.at<int>(r.y, r.x + r.width) -
		 sat.at<int>(r.y + r.height, r.x) + sat.at<int>(r.y, r.x);

	return (double)in / ((double)r.width * r.height);
}

/* zone.c's state machine, on the frame's stream time. */
struct Zone {
	enum { EMPTY, PENDING, OCCUPIED, CLEARING } state = EMPTY;
	double enter_ms = 0, clear_ms = 0;

	bool step(bool inside, double now) /* true: raise an intrusion */
	{
		switch (state) {
		case EMPTY:
			if (inside) {
				state = PENDING;
				enter_ms = now;
			}
			break;
		case PENDING:
			if (!inside) {
				state = EMPTY;
			} else if (now - enter_ms >= kEnterMs) {
				state = OCCUPIED;
				return true;
			}
			break;
		case OCCUPIED:
			if (!inside) {
				state = CLEARING;
				clear_ms = now;
			}
			break;
		case CLEARING:
			if (inside)
				state = OCCUPIED;
			else if (now - clear_ms >= kLeaveMs)
				state = EMPTY;
			break;
		}
		return false;
	}
};

/* One timed pass with a fresh model; returns frames per second and fills
 * events with the frames that raise an intrusion. */
double pass(const Args &a, const std::vector<cv::Mat> &frames, const cv::Mat &sat,
	    std::vector<long> *events)
{
	int s = a.scale, sw = (int)a.w / s, sh = (int)a.h / s;
	cv::Ptr<cv::BackgroundSubtractorMOG2> mog = cv::createBackgroundSubtractorMOG2(500, 16, false);
	cv::Mat kernel = cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3));
	cv::Mat small, fg, open;
	std::vector<std::vector<cv::Point>> contours;
	Zone zone;
	auto t0 = std::chrono::steady_clock::now();

	events->clear();
	for (long i = 0; i < a.n; i++) {
		const cv::Mat &src = frames[(size_t)i];
		if (s > 1)
			cv::resize(src(cv::Rect(0, 0, sw * s, sh * s)), small, cv::Size(sw, sh), 0, 0,
				   cv::INTER_AREA);
		else
			small = src;
		mog->apply(small, fg);
		cv::morphologyEx(fg, open, cv::MORPH_OPEN, kernel);
		cv::findContours(open, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
		bool inside = false;
		for (const auto &c : contours) {
			if (cv::contourArea(c) * s * s < kMinArea)
				continue;
			if (overlap(sat, cv::boundingRect(c)) >= kMinOverlap) {
				inside = true;
				break;
			}
		}
		if (i >= kLearnFrames && zone.step(inside, (double)i * 1000.0 / a.fps))
			events->push_back(i);
	}
	double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	return (double)a.n / secs;
}

} // namespace

int main(int argc, char **argv)
{
	Args a;
	std::vector<cv::Mat> frames;
	std::vector<long> events;
	double best = 0;

	if (!parse_args(argc, argv, &a)) {
		std::fprintf(stderr, "usage: opencv_zone_peer RAWFILE W H N FPS "
				     "X1,Y1,X2,Y2,X3,Y3,X4,Y4 [SCALE [PASSES]]\n");
		return 2;
	}
	if (!load(a, &frames)) {
		std::fprintf(stderr, "opencv_zone_peer: %s: cannot read %ld frames\n", a.file, a.n);
		return 1;
	}
	cv::setNumThreads(1);

	cv::Mat sat = zone_integral(a, (int)a.w / a.scale, (int)a.h / a.scale);
	for (int k = 0; k < a.passes; k++) {
		double fps = pass(a, frames, sat, &events);
		best = fps > best ? fps : best;
	}
	for (long e : events)
		std::printf("intrusion %ld\n", e);
	std::printf("fps %.2f\n", best);
	return 0;
}
