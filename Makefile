# The two commands: `make demo` and `make test`. Both run scripts/setup first.
GO       ?= go
BIN      := bin/lastmile
PKGS     := ./...

.PHONY: setup build demo test vet unit e2e bench fuzz load clean

setup:
	@scripts/setup

build:
	$(GO) build -o $(BIN) ./cmd/lastmile

## make demo: set up, start the managed PostGIS, load the demo county, serve on :8080
demo: setup build
	./$(BIN) demo

## make test: set up, vet, run every test (Go, with real PostGIS and GDAL; the browser test)
test: setup vet unit e2e

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test -count=1 -timeout 14m $(PKGS)

e2e:
	@if [ -f e2e/run ]; then e2e/run; fi

## make bench: benchmarks (tiles vs nginx, ingest vs ogr2ogr, national-scale stats)
bench: setup build
	@if [ -f bench/run ]; then bench/run; else echo "no benchmarks yet"; fi

## make fuzz: every go test -fuzz target for a bounded time
fuzz:
	@if [ -f scripts/fuzz ]; then scripts/fuzz; else echo "no fuzz targets yet"; fi

## make load: wrk load test on loopback
load: setup build
	@if [ -f bench/load ]; then bench/load; else echo "no load test yet"; fi

clean:
	rm -rf bin
