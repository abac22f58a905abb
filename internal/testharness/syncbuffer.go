package testharness

import (
	"bytes"
	"sync"
)

// SyncBuffer is a bytes.Buffer a running command writes while the test
// reads it (a plain Buffer there is a data race).
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Drop discards what was written up to and including the first n bytes.
func (b *SyncBuffer) Drop(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Next(n)
}
