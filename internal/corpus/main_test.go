package corpus

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	testharness.CleanupBinaries()
	// A whole-package run must have started every scenario knownFailures names.
	if f := flag.Lookup("test.run"); code == 0 && f != nil && f.Value.String() == "" {
		if stale := staleKnownFailures(); len(stale) > 0 {
			fmt.Fprintf(os.Stderr, "internal/corpus/knownfailures.go names scenarios that do not exist: %v\n", stale)
			code = 1
		}
	}
	os.Exit(code)
}
