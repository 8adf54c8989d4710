# ciu: thin wrapper around CMake/ctest. See README.md.
#   make run    install what is missing, build, start the stack on SQLite with the simulator
#   make test   install what is missing, build (ASan+UBSan), start PostgreSQL, run every test
SHELL := /bin/bash
BUILD ?= build
BUILD_TEST ?= build-test
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# Debian 12 / Ubuntu 22.04+ package names: one list each in deploy/packages/
# (the Dockerfile installs the same build.txt and runtime.txt; one package a
# line, `#` comments).
pkgs = $(strip $(shell sed -e 's/\#.*//' deploy/packages/$(1).txt))
PKGS_BUILD := $(call pkgs,build)
PKGS_TEST := $(call pkgs,test)

.PHONY: all deps deps-test build run test bench fuzz clean help

all: build

help:
	@echo "make run    build and start the whole stack on SQLite with the simulator"
	@echo "make test   build with sanitizers and run every test (PostgreSQL included)"
	@echo "make bench  load-test a local stack and print figures"
	@echo "make fuzz   build the libFuzzer targets with clang and run each FUZZ_RUNS times"
	@echo "make build  build only;  make clean  remove build folders"

# Install the Debian packages that are missing; does nothing when all are present.
deps:
	@./tools/install-deps $(PKGS_BUILD) $(PKGS_TEST)

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@CIU_SIMULATOR=$${CIU_SIMULATOR:-true} $(BUILD)/tools/ciu-run

# Two builds: ASan+UBSan (every test runs against it) and the plain one
# (valgrind runs its unit tests and a whole stack).
test: deps
	./tools/lint
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)
	cmake -S . -B $(BUILD_TEST) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON \
		-DCIU_PLAIN_BUILD=$(CURDIR)/$(BUILD)
	cmake --build $(BUILD_TEST) -j $(JOBS)
	cd $(BUILD_TEST) && ctest --output-on-failure -j 2 --timeout 900

bench: build
	./bench/run

# libFuzzer targets (tests/fuzz, docs/testing.md): clang, in their own folder
# build-fuzz; FUZZ_RUNS executions per target (FUZZ_TIME=s caps each one).
FUZZ_RUNS ?= 10000000
FUZZ_TIME ?= 0
fuzz: deps
	FUZZ_BUILD=$(CURDIR)/build-fuzz ./tests/fuzz/run.sh --runs $(FUZZ_RUNS) --time $(FUZZ_TIME)

clean:
	rm -rf $(BUILD) $(BUILD_TEST) build-asan build-fuzz
