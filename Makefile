# libiotlb: convenience front end to CMake (GNU make).
#
#   make deps      check (and as root, install) the Debian packages needed
#   make build     configure once in $(BUILD) and build
#   make run       build the library and the study only, then run $(RUN_CMD)
#   make test      ctest of $(BUILD), then ASan+UBSan and ThreadSanitizer builds,
#                  then a brief libFuzzer run
#   make fuzz      libFuzzer on the API target for $(FUZZ_SECONDS) s
#   make torture   the torture test for $(SECONDS) s (SEED=, THREADS= to replay)
#   make coverage  line and branch coverage of src/ (gcovr)
#   make abi-baseline  rewrite abi/libiotlb.abi from $(BUILD) after a deliberate API
#                  addition (the abi_check ctest compares against it)
#   make install   cmake --install $(BUILD) --prefix $(PREFIX)
#   make clean     remove the build directories
#   make format    clang-format the C sources in place
#
# Build directories and tools can be overridden: make test BUILD=/tmp/b ...

BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
BUILD_FUZZ ?= build-fuzz
BUILD_COV ?= build-cov
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
# The brief fuzzing run inside `make test`.
TEST_FUZZ_SECONDS ?= 20
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE ?= cmake
CTEST ?= ctest
TSAN_CC ?= clang
CLANG_FORMAT ?= clang-format

DEPS := cmake make gcc g++ clang pkg-config liburcu-dev libcmocka-dev libbenchmark-dev \
	gnuplot-nox gcovr abigail-tools

# The main job of `make run` (one line; replace to change what `make run` does)
# and the CMake targets it needs: only these are built, so that the first
# study line comes within a minute of a fresh clone's `make run`.
RUN_TARGETS ?= iotlb-study
RUN_CMD = if [ -x "$(BUILD)/bench/iotlb-study" ]; then "$(BUILD)/bench/iotlb-study" --out "$(BUILD)/study"; else echo "make run: $(BUILD)/bench/iotlb-study is not built: bench/ needs Google Benchmark (Debian: libbenchmark-dev; make deps installs it)"; exit 1; fi

ASAN_ENV := IOTLB_TEST_SCALE=asan ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TSAN_ENV := IOTLB_TEST_SCALE=tsan TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

.PHONY: all deps configure build run test test-main test-asan test-tsan test-fuzz fuzz fuzz-build \
	coverage install clean format abi-baseline torture

all: build

deps:
	@if ! command -v dpkg-query >/dev/null 2>&1; then \
		echo "make deps: dpkg-query not found (not Debian?); not checking: $(DEPS)"; \
		exit 0; \
	fi; \
	missing=""; \
	for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "make deps: missing Debian packages:$$missing"; \
	if [ "$$(id -u)" -eq 0 ]; then \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else \
		echo "make deps: install them with:"; \
		echo "  sudo apt-get install -y --no-install-recommends$$missing"; \
		exit 1; \
	fi

# CMake's generated makefiles run make recursively; --no-print-directory in
# their MAKEFLAGS keeps the "Entering directory" lines out of the output.
QUIET_MAKE := MAKEFLAGS=--no-print-directory

configure: deps
	@test -f "$(BUILD)/CMakeCache.txt" || \
		$(CMAKE) -S . -B "$(BUILD)" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOTLB_WERROR=ON

build: configure
	@$(QUIET_MAKE) $(CMAKE) --build "$(BUILD)" -j$(JOBS)

run: configure
	@if grep -q '^IOTLB_BUILD_BENCH:BOOL=ON' "$(BUILD)/CMakeCache.txt"; then \
		$(QUIET_MAKE) $(CMAKE) --build "$(BUILD)" -j$(JOBS) --target $(RUN_TARGETS); \
	fi
	@$(RUN_CMD)

# `make bench`: the Google Benchmark suite; pick with BENCH_ARGS, e.g.
# make bench BENCH_ARGS='--benchmark_filter=^lock/ --benchmark_repetitions=5'
.PHONY: bench
BENCH_ARGS ?=
bench: build
	"$(BUILD)/bench/iotlb-gbench" $(BENCH_ARGS)

test: test-main test-asan test-tsan test-fuzz
	@echo "== make test: all phases passed =="

test-main: build
	@echo "== make test: ctest ($(BUILD)) =="
	$(CTEST) --test-dir "$(BUILD)" --output-on-failure -j2

# Each phase depends on the previous one so that `make -j test` keeps the order
# and stops at the first failure.
test-asan: test-main
	@echo "== make test: asan+ubsan build ($(BUILD_ASAN)) =="
	@test -f "$(BUILD_ASAN)/CMakeCache.txt" || \
		$(CMAKE) -S . -B "$(BUILD_ASAN)" -DCMAKE_BUILD_TYPE=Debug \
			-DIOTLB_SANITIZE=address,undefined
	$(CMAKE) --build "$(BUILD_ASAN)" -j$(JOBS)
	@echo "== make test: asan+ubsan ctest ($(BUILD_ASAN)) =="
	$(ASAN_ENV) $(CTEST) --test-dir "$(BUILD_ASAN)" --output-on-failure -j2

test-tsan: test-asan
	@echo "== make test: tsan build ($(BUILD_TSAN), CC=$(TSAN_CC)) =="
	@test -f "$(BUILD_TSAN)/CMakeCache.txt" || \
		CC=$(TSAN_CC) $(CMAKE) -S . -B "$(BUILD_TSAN)" -DCMAKE_BUILD_TYPE=Debug \
			-DIOTLB_SANITIZE=thread -DIOTLB_BUILD_BENCH=OFF
	$(CMAKE) --build "$(BUILD_TSAN)" -j$(JOBS)
	@echo "== make test: tsan ctest -L tsan ($(BUILD_TSAN)) =="
	$(TSAN_ENV) $(CTEST) --test-dir "$(BUILD_TSAN)" --output-on-failure -j2 -L tsan \
		--no-tests=ignore

# `make torture SECONDS=600`: one long torture run of the $(BUILD) build; the
# seed is printed (pass SEED= to replay it, THREADS= for another thread count).
SECONDS ?= 60
SEED ?=
THREADS ?= 6
torture: build
	"$(BUILD)/tests/torture/torture" --seconds $(SECONDS) --threads $(THREADS) \
		$(if $(SEED),--seed $(SEED))

# libFuzzer needs clang; the corpus is copied so that a run never rewrites the
# committed seeds (new finds stay in $(BUILD_FUZZ)/corpus).
fuzz-build: deps
	@test -f "$(BUILD_FUZZ)/CMakeCache.txt" || \
		CC=clang CXX=clang++ $(CMAKE) -S . -B "$(BUILD_FUZZ)" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			-DIOTLB_FUZZ=ON -DIOTLB_SANITIZE=address,undefined \
			-DIOTLB_BUILD_BENCH=OFF -DIOTLB_BUILD_EXAMPLES=OFF
	$(CMAKE) --build "$(BUILD_FUZZ)" -j$(JOBS) --target fuzz_api
	@mkdir -p "$(BUILD_FUZZ)/corpus" && cp -n tests/fuzz/corpus/* "$(BUILD_FUZZ)/corpus/"

fuzz: fuzz-build
	@echo "== make fuzz: $(FUZZ_SECONDS) s, $(FUZZ_JOBS) job(s), corpus $(BUILD_FUZZ)/corpus =="
	cd "$(BUILD_FUZZ)" && $(ASAN_ENV) ./tests/fuzz/fuzz_api -max_total_time=$(FUZZ_SECONDS) \
		-max_len=2048 -print_final_stats=1 -jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS) corpus

test-fuzz: test-tsan fuzz-build
	@echo "== make test: libFuzzer, $(TEST_FUZZ_SECONDS) s ($(BUILD_FUZZ)) =="
	@cd "$(BUILD_FUZZ)" && { $(ASAN_ENV) ./tests/fuzz/fuzz_api -max_total_time=$(TEST_FUZZ_SECONDS) \
		-max_len=2048 -print_final_stats=1 corpus > fuzz.log 2>&1; rc=$$?; \
		grep -E 'DONE|stat::number_of_executed_units|ERROR|SUMMARY|fuzz_api:' fuzz.log; \
		echo "libFuzzer exit status $$rc (log: $(BUILD_FUZZ)/fuzz.log)"; exit $$rc; }

coverage: deps
	@test -f "$(BUILD_COV)/CMakeCache.txt" || \
		$(CMAKE) -S . -B "$(BUILD_COV)" -DCMAKE_BUILD_TYPE=Debug -DIOTLB_COVERAGE=ON \
			-DIOTLB_BUILD_BENCH=OFF
	$(CMAKE) --build "$(BUILD_COV)" -j$(JOBS)
	find "$(BUILD_COV)" -name '*.gcda' -delete
	IOTLB_TEST_SCALE=asan $(CTEST) --test-dir "$(BUILD_COV)" -j2 -E install_consumer
	@echo "== make coverage: src/ =="
	gcovr --root . --filter 'src/' --object-directory "$(BUILD_COV)" --print-summary \
		--txt "$(BUILD_COV)/coverage.txt" --exclude-unreachable-branches
	@echo "per-file report: $(BUILD_COV)/coverage.txt"

# The baseline needs debug information: $(BUILD) must be RelWithDebInfo or Debug
# (the default `make build` is RelWithDebInfo) and not instrumented.
abi-baseline: build
	sh abi/abi-check.sh dump "$(BUILD)/libiotlb.so.0" abi/libiotlb.abi \
		include/iotlb "$(BUILD)/include/iotlb"
	sh abi/abi-check.sh check "$(BUILD)/libiotlb.so.0" abi/libiotlb.abi \
		include/iotlb "$(BUILD)/include/iotlb"

install: build
	$(CMAKE) --install "$(BUILD)" --prefix "$(PREFIX)"

clean:
	rm -rf -- "$(BUILD)" "$(BUILD_ASAN)" "$(BUILD_TSAN)" build build-*

format:
	@command -v $(CLANG_FORMAT) >/dev/null 2>&1 || \
		{ echo "make format: $(CLANG_FORMAT) not found (Debian: clang-format)"; exit 1; }
	find src include tests examples tools -name '*.c' -o -name '*.h' 2>/dev/null \
		| xargs -r $(CLANG_FORMAT) -i
