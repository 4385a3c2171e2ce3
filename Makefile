# The two commands a newcomer needs are `go run ./examples/quickstart` and
# `make test`. `make test` installs and starts whatever the integration tests
# need, runs every test with the race detector, and stops what it started.

GO       ?= go
PKGS     ?= ./...
# Benchmarks that compare against a baseline in the same run; see BENCHMARKS.md.
BENCH    ?= .

.PHONY: test vet bench fuzz quickstart fixtures

test: vet
	TIDELINE_INTEGRATION=required $(GO) test -race -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem $(PKGS)

# A short fuzzing pass over every fuzz target (FUZZTIME each).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

quickstart:
	$(GO) run ./examples/quickstart

# Regenerate internal/fixtures from the project's shared test data, which
# must sit beside the repository root (see internal/fixtures). The tests
# themselves never need it.
fixtures:
	$(GO) run ./internal/fixturegen
