# kvs: the newcomer's entry point. `make run` and `make test` are all you need.
#
#   make build   install deps, configure and build (binaries in build/bin/)
#   make test    build, then every test: unit + black-box under ASan/UBSan, concurrency under TSan,
#                clang's thread-safety analysis, the fuzzers for a bounded time
#   make test-partition  only the cluster partition tests (root: network namespaces)
#   make run     build and start kvs-server on 127.0.0.1:4000 with data in ./kvs-data
#   make bench   build and run the benchmark suite
#   make fuzz    build and run the libFuzzer targets (FUZZ_SECONDS each, default 300)

JOBS         ?= $(shell nproc)
# One ctest job per core: with one more, LogStoreTest.GetCachedWouldBlockOn... failed once
# in three fresh-clone runs (a GetCached read succeeding right after a verified eviction;
# not understood yet, see the issue-17 note).
CTEST_JOBS   ?= $(JOBS)
CMAKE_FLAGS  ?=
FUZZ_SECONDS ?= 300
CTEST        := ctest --output-on-failure -j $(CTEST_JOBS) --no-tests=error

.PHONY: all deps build build-asan build-tsan build-fuzz test test-unit test-tsan test-fuzz test-partition check-thread-safety run bench fuzz format clean

all: build

deps:
	@scripts/install-deps

# configure DIR, then build it: $(call cmake_build,dir,flags)
define cmake_build
	@test -f $(1)/build.ninja || cmake -S . -B $(1) -G Ninja $(2) $(CMAKE_FLAGS)
	cmake --build $(1) -j $(JOBS) $(3)
endef

build: deps
	$(call cmake_build,build,-DCMAKE_BUILD_TYPE=RelWithDebInfo)

build-asan: deps
	$(call cmake_build,build-asan,-DCMAKE_BUILD_TYPE=Debug -DKVS_SANITIZE=address -DKVS_BUILD_BENCH=ON)

build-tsan: deps
	$(call cmake_build,build-tsan,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVS_SANITIZE=thread -DKVS_BUILD_BENCH=OFF,--target kvs_tests)

build-fuzz: deps
	$(call cmake_build,build-fuzz,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVS_FUZZ=ON -DKVS_BUILD_BENCH=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++,--target fuzzers)

# The ASan+UBSan tree builds every target (benchmarks included) and runs every test against
# its binaries; the release tree (make build) is not needed for testing.
test: check-thread-safety test-unit test-tsan test-fuzz
	@echo "make test: all suites passed"

# Clang's -Wthread-safety -Werror over src/ and cli/, compile only (src/base/mutex.h).
check-thread-safety: build-asan
	scripts/check-thread-safety build-asan

test-unit: build-asan
	cd build-asan && $(CTEST) -LE fuzz

# Cluster partitions in network namespaces (tests/raft/partition_test.cc): needs root; part
# of test-unit too, where it skips itself without root.
test-partition: build-asan
	cd build-asan && $(CTEST) -L partition

test-tsan: build-tsan
	cd build-tsan && $(CTEST) -L tsan

# Each fuzzer for a short bounded time, so regressions in the parsers are caught.
test-fuzz: build-fuzz
	@if [ -d fuzz ]; then cd build-fuzz && $(CTEST) -L fuzz; fi

run: build
	mkdir -p kvs-data
	build/bin/kvs-server --addr 127.0.0.1:4000 --data-dir ./kvs-data

bench: build
	scripts/bench

fuzz: build-fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')

clean:
	rm -rf build build-asan build-tsan build-fuzz
