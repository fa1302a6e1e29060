# Thin wrappers around CMake; see README.md.
# make deps   install the Debian packages Millwright needs (when missing)
# make build  release build in build/            make check  ASan+UBSan build, all tests
# make demo   hub + edge with a simulated line    make bench  benchmarks, one figure a line
# make fuzz   libFuzzer harnesses (clang)         make install PREFIX=/usr/local

PREFIX ?= /usr/local
JOBS   ?= 2
DEPS = build-essential cmake ninja-build pkg-config python3 clang libclang-rt-14-dev \
       libsqlite3-dev sqlite3 libmicrohttpd-dev libjansson-dev libyaml-dev libzstd-dev \
       nettle-dev libgnutls28-dev libargon2-dev libcmocka-dev prometheus zstd \
       libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libavdevice-dev ffmpeg libturbojpeg0-dev \
       libdmtx-dev libqrencode-dev libzbar-dev libopencv-dev \
       podman runc busybox-static
FUZZ_SECONDS ?= 60

.PHONY: all deps build check bench demo fuzz install clean

all: build

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "dependencies: all present"; fi

build/build.ninja:
	cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMW_TESTS=OFF

build: build/build.ninja
	cmake --build build -j$(JOBS)

build-check/build.ninja:
	cmake -S . -B build-check -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMW_SANITIZE=ON

check: deps build-check/build.ninja
	cmake --build build-check -j$(JOBS)
	cd build-check && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS)

# Only the figures go to stdout (`make bench > figures.txt`); installing
# and building report on stderr.
bench:
	@$(MAKE) --no-print-directory deps build >&2
	@sh bench/run.sh build

demo: deps build
	sh scripts/demo.sh build

build-fuzz/build.ninja:
	CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMW_SANITIZE=ON -DMW_FUZZ=ON -DMW_TESTS=OFF

fuzz: deps build-fuzz/build.ninja
	cmake --build build-fuzz -j$(JOBS)
	for f in build-fuzz/bin/fuzz_*; do n=$$(basename $$f); mkdir -p build-fuzz/corpus/$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; done

install: build
	cmake --install build --prefix $(PREFIX)

clean:
	rm -rf build build-check build-fuzz
