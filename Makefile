# influencer_profiler — plain Makefile.  `make demo` and `make check` install
# what is missing (as root on Debian 12), build, and run.
.SUFFIXES:
.DELETE_ON_ERROR:
SHELL := /bin/bash

HDR := include/influencer_profiler.h
VMAJOR := $(shell sed -n 's/^\#define IPF_VERSION_MAJOR \([0-9]*\)$$/\1/p' $(HDR))
VMINOR := $(shell sed -n 's/^\#define IPF_VERSION_MINOR \([0-9]*\)$$/\1/p' $(HDR))
VPATCH := $(shell sed -n 's/^\#define IPF_VERSION_PATCH \([0-9]*\)$$/\1/p' $(HDR))
VERSION := $(VMAJOR).$(VMINOR).$(VPATCH)
SONAME := libinfluencer_profiler.so.$(VMAJOR)

PREFIX ?= /usr/local
B ?= build
PY := /usr/bin/python3
OPENBLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
# Debian's PyTorch links the reference BLAS; point it at OpenBLAS (60x faster).
PYENV := LD_LIBRARY_PATH=$(OPENBLAS_DIR) PYTHONPATH=tests/gen

# Every Debian package the build, tests, bindings and demo need.
DEBIAN_PKGS := build-essential pkg-config libdnnl-dev libopenblas-openmp-dev libstb-dev \
  libsentencepiece-dev libicu-dev zlib1g-dev libjansson-dev python3 python3-numpy python3-torch \
  python3-torchvision python3-pil python3-sentencepiece golang-go clang libclang-rt-14-dev

CC ?= cc
CXX ?= c++
WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter
OPT ?= -O2
SAN ?=
CPPFLAGS_ALL := -Iinclude -Ilib -Ikernels -I/usr/include/x86_64-linux-gnu/openblas-openmp -I/usr/include/stb \
  -DIPF_BUILDING_LIBRARY $(shell pkg-config --cflags icu-uc icu-i18n jansson 2>/dev/null)
CFLAGS_ALL := -std=gnu11 $(OPT) -g -fPIC -fvisibility=hidden -fopenmp $(WARN) $(SAN) $(CFLAGS)
CXXFLAGS_ALL := -std=gnu++17 $(OPT) -g -fPIC -fvisibility=hidden -fopenmp $(WARN) $(SAN) $(CXXFLAGS)
LIBS := -ldnnl -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas -lsentencepiece \
  -licui18n -licuuc -licudata -ljansson -lz -lgomp -lstdc++ -lm -lpthread

LIB_C := $(sort $(wildcard lib/*.c kernels/*.c))
LIB_CXX := $(sort $(wildcard lib/*.cc))
LIB_OBJ := $(LIB_C:%.c=$(B)/obj/%.o) $(LIB_CXX:%.cc=$(B)/obj/%.o)
TOOL_C := $(sort $(wildcard tools/*.c))
TEST_C := $(sort $(wildcard tests/*.c))
GEN_PY := $(filter-out tests/gen/stio.py tests/gen/_%,$(sort $(wildcard tests/gen/*.py)))
GEN_STAMPS := $(GEN_PY:tests/gen/%.py=$(B)/goldens/.%.stamp)
MAP := lib/libinfluencer_profiler.map

SO := $(B)/libinfluencer_profiler.so.$(VERSION)
AR_LIB := $(B)/libinfluencer_profiler.a

.PHONY: all lib deps check demo test gen asan clean install version-check bench
all: version-check $(SO) $(AR_LIB) $(B)/ipf $(B)/test_runner $(B)/influencer_profiler.pc

# The header's minor version must have a node in the version script.
version-check:
	@grep -q "^IPF_$(VMAJOR).$(VMINOR) *{" $(MAP) || { echo "error: $(MAP) has no node IPF_$(VMAJOR).$(VMINOR) for header version $(VERSION)"; exit 1; }

deps:
	@missing=""; for p in $(DEBIAN_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi

$(B)/obj/%.o: %.c $(wildcard include/*.h lib/*.h kernels/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c $< -o $@

$(B)/obj/%.o: %.cc $(wildcard include/*.h lib/*.h kernels/*.h)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS_ALL) $(CXXFLAGS_ALL) -c $< -o $@

$(SO): $(LIB_OBJ) $(MAP)
	$(CC) -shared -fopenmp $(SAN) -Wl,-soname,$(SONAME) -Wl,--version-script=$(MAP) -Wl,--no-undefined \
	  -o $@ $(LIB_OBJ) $(LIBS)
	ln -sf libinfluencer_profiler.so.$(VERSION) $(B)/$(SONAME)
	ln -sf $(SONAME) $(B)/libinfluencer_profiler.so

$(AR_LIB): $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/ipf: $(TOOL_C) $(SO) $(wildcard tools/*.h)
	$(CC) -Iinclude -Itools -std=gnu11 $(OPT) -g $(WARN) $(SAN) -o $@ $(TOOL_C) -L$(B) -linfluencer_profiler \
	  -Wl,-rpath,'$$ORIGIN' -ljansson -lm

# Tests link the static library so they can reach internal functions.
$(B)/test_runner: $(TEST_C) $(AR_LIB) $(wildcard tests/*.h)
	$(CC) $(CPPFLAGS_ALL) -Itests -std=gnu11 $(OPT) -g -fopenmp $(WARN) $(SAN) -o $@ $(TEST_C) $(AR_LIB) $(LIBS)

$(B)/influencer_profiler.pc: pkgconfig/influencer_profiler.pc.in $(HDR)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# Goldens: each tests/gen/NAME.py writes into build/goldens/NAME/.
gen: $(GEN_STAMPS)
$(B)/goldens/.%.stamp: tests/gen/%.py tests/gen/stio.py
	@mkdir -p $(B)/goldens/$*
	$(PYENV) $(PY) $< $(B)/goldens/$*
	@touch $@

test: all gen
	IPF_GOLDEN_DIR=$(B)/goldens ./$(B)/test_runner

# Address + undefined-behaviour sanitizers over the same runner; IPF_TEST_LIGHT
# asks heavy tests to shrink their sizes (full-size models run in the plain pass).
asan:
	$(MAKE) B=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" build-asan/test_runner
	IPF_TEST_LIGHT=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 IPF_GOLDEN_DIR=$(B)/goldens ./build-asan/test_runner

# Everything: unit tests, sanitizers, then each tests/check_*.sh (bindings,
# examples, ABI, CLI, ...) in name order.
check: deps
	$(MAKE) all gen
	IPF_GOLDEN_DIR=$(B)/goldens ./$(B)/test_runner
	$(MAKE) asan
	@set -e; for s in $(sort $(wildcard tests/check_*.sh)); do echo "== $$s"; B=$(B) bash $$s; done
	@echo "check: all passed"

demo: deps
	$(MAKE) all
	bash examples/demo.sh

bench: all
	bash bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(HDR) $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(SO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libinfluencer_profiler.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libinfluencer_profiler.so
	install -m 644 $(AR_LIB) $(DESTDIR)$(PREFIX)/lib/
	# generated here, not copied from build/, so the .pc names this PREFIX
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' pkgconfig/influencer_profiler.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/influencer_profiler.pc
	install -m 755 $(B)/ipf $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-asan
