# The two commands a newcomer needs are `go run ./examples/quickstart` and
# `make test`. `make test` installs and starts whatever the integration tests
# need, runs every test with the race detector, and stops what it started.

GO       ?= go
PKGS     ?= ./...

.PHONY: test vet bench bench-large fuzz quickstart fixtures

# scripts/testenv.sh installs Azurite and builds etcd and kube-apiserver once
# into ~/.cache/tideline, starts them for the run and stops them afterwards,
# pass or fail.
test: vet
	scripts/testenv.sh env TIDELINE_INTEGRATION=required $(GO) test -race -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

# The figures of BENCHMARKS.md, each command as it is given there: a few
# minutes. bench-large adds the 1 GiB dataset, the 1M-node journal (about
# three minutes more and 3 GiB of memory) and 1 GiB through the Azure
# provider on Azurite (about eight minutes more, a few GiB of disk in a
# temporary folder, removed afterwards).
bench:
	$(GO) test -run '^$$' -bench 'DatasetRoundTrip' -benchtime 10x ./mlops
	$(GO) test -run '^$$' -bench 'Decide' -benchtime 100000x -count 3 ./mlops
	$(GO) test -run '^$$' -bench 'SubmitJobInputs' -benchtime 20x -count 3 ./mlops
	$(GO) test -run '^$$' -bench 'BenchmarkList' -benchtime 3x -timeout 30m ./mlops
	$(GO) test -run '^$$' -bench 'NextVersion' -benchtime 200x -count 2 ./mlops
	$(GO) test -run '^$$' -bench 'OriginsGatherEncode' -count 2 ./mlops
	$(GO) test -run '^$$' -bench . -benchmem -count 2 ./residency
	$(GO) test -run '^$$' -bench 'VsBaseline' -benchtime 10x -count 2 ./audit
	$(GO) test -run '^$$' -bench 'AppendMemory$$' -benchtime 1000000x -count 2 ./audit
	$(GO) test -run '^$$' -bench 'AppendFile8' -benchtime 10x -count 2 ./audit
	$(GO) test -run '^$$' -bench 'BenchmarkVerify$$' -benchtime 2s -count 2 ./audit
	$(GO) test -run '^$$' -bench 'Upstream' -benchtime 200x -count 2 ./lineage
	$(GO) test -run '^$$' -bench 'JournalWrite' -benchtime 3x -count 2 ./lineage
	$(GO) test -run '^$$' -bench 'BenchmarkConformance' -benchtime 2000x -benchmem ./provider/memprovider

bench-large:
	TIDELINE_BENCH_GIB=1 $(GO) test -run '^$$' -bench 'DatasetRoundTrip/1GiB' -benchtime 10x -timeout 30m ./mlops
	$(GO) test -run '^$$' -bench 'OpenJournal' -benchtime 3x -count 2 -timeout 60m ./lineage
	TIDELINE_BENCH_GIB=1 scripts/testenv.sh $(GO) test -run 'TestAzuriteLargeRoundTrip' -count=1 -v -timeout 30m ./provider/azure

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
