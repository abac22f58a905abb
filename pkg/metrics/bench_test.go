package metrics

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The price of atomicity: WriteFile (temp file, fsync, rename, fsync dir)
// against a plain os.WriteFile of the same bytes. Report the ratio of the
// two ns/op; the absolute numbers depend on the disk.
func benchFamilies() []Family {
	return RebuildFamilies(RebuildRun{Host: "alpha", Start: time.Now(), Duration: time.Minute, Outcome: "success", Generation: 42})
}

func BenchmarkWriteFileAtomic(b *testing.B) {
	path := filepath.Join(b.TempDir(), "rebuild-smart.prom")
	fams := benchFamilies()
	for b.Loop() {
		if err := WriteFile(path, fams); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteFilePlain(b *testing.B) {
	path := filepath.Join(b.TempDir(), "rebuild-smart.prom")
	fams := benchFamilies()
	for b.Loop() {
		data, err := Render(fams)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
