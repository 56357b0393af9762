# The two commands: `make demo` and `make test`. Both run scripts/setup first.
GO       ?= go
BIN      := bin/lastmile
PKGS     := ./...

.PHONY: setup embed build release demo test vet unit e2e bench fuzz load clean

# Stamped into the binary (lastmile version, /healthz, lastmile_build_info).
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE     ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS  := -s -w -X github.com/lastmile/lastmile/version.version=$(VERSION) \
            -X github.com/lastmile/lastmile/version.commit=$(COMMIT) \
            -X github.com/lastmile/lastmile/version.date=$(DATE)
PLATFORMS := linux/amd64 linux/arm64

setup:
	@scripts/setup

## make embed: copy the page's browser libraries (static/vendor.txt) into static/vendor/ for go:embed
embed:
	@scripts/embed-vendor

## make build: bin/lastmile, one self-contained file (page and libraries embedded, version stamped)
build: embed
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/lastmile

## make release: static binaries for $(PLATFORMS) in dist/, with SHA256SUMS.
## CGO_ENABLED=0: the OSM PBF reader then decompresses with Go's compress/zlib
## instead of cgo zlib (see docs/operate.md), and the binaries need no libc.
release: embed
	@rm -rf dist && mkdir -p dist
	@for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; out=dist/lastmile-$(VERSION)-$$os-$$arch; \
	  echo "building $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$out ./cmd/lastmile || exit 1; \
	done
	@cd dist && sha256sum lastmile-* > SHA256SUMS && cat SHA256SUMS

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
	rm -rf bin dist
