package lineage

// Fixtures for the external tests in package lineage_test.
var (
	NewTestEmitter = testEmitter
	TrainRun       = trainRun
)
