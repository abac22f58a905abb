package testharness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	// built is buildDir once the binaries exist, for readers that must not
	// wait for (or race with) a build another test started.
	built atomic.Value
)

// ModuleRoot is the repository root (where go.mod is).
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binaries builds every cmd/<binary> (and the test fakes under
// internal/fakes/<name> when present) once per test process and returns the
// directory holding them. The directory is removed when the process exits
// via CleanupBinaries in TestMain, or left in the temp dir otherwise.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "nixdots-bin-")
		if buildErr != nil {
			return
		}
		pkgs := []string{"./cmd/..."}
		if _, err := os.Stat(filepath.Join(ModuleRoot(), "internal", "fakes")); err == nil {
			pkgs = append(pkgs, "./internal/fakes/...")
		}
		args := append([]string{"build", "-o", buildDir + string(os.PathSeparator)}, pkgs...)
		cmd := exec.Command("go", args...)
		cmd.Dir = ModuleRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built.Store(buildDir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

// CleanupBinaries removes the build directory; call it from TestMain.
func CleanupBinaries() {
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
}

// Main is a test package's TestMain: it runs the tests, removes the built
// binaries and exits with the tests' code.
//
//	func TestMain(m *testing.M) { testharness.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	CleanupBinaries()
	os.Exit(code)
}
