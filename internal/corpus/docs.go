package corpus

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
)

var (
	docsOnce  sync.Once
	docCodes  map[int]bool
	docWords  map[string]bool
	docsError error
)

var (
	codeRow  = regexp.MustCompile(`(?m)^\| (\d+) \|`)
	backtick = regexp.MustCompile("`([a-z-]+)`")
)

// documented reads docs/chezmoi-sync.md: the exit codes of its "Exit codes"
// table and the status words of its "last-sync-status" entry, so the
// scenarios hold the binary to what the documentation promises (and follow
// it when the documentation changes).
func documented(t testing.TB) (codes map[int]bool, words map[string]bool) {
	t.Helper()
	docsOnce.Do(func() { docCodes, docWords, docsError = readDocs() })
	if docsError != nil {
		t.Fatal(docsError)
	}
	return docCodes, docWords
}

func readDocs() (map[int]bool, map[string]bool, error) {
	data, err := os.ReadFile(filepath.Join(testharness.ModuleRoot(), "docs", "chezmoi-sync.md"))
	if err != nil {
		return nil, nil, err
	}
	text := string(data)
	// The "Exit codes" section: "| 5 | conflicts ... |".
	exits, ok := between(text, "\n## Exit codes", "\n## ")
	if !ok {
		return nil, nil, errors.New(`docs/chezmoi-sync.md has no "## Exit codes" section`)
	}
	codes := map[int]bool{}
	for _, m := range codeRow.FindAllStringSubmatch(exits, -1) {
		n, _ := strconv.Atoi(m[1])
		codes[n] = true
	}
	// "- `last-sync-status`: one word, `success`, ... or `interrupted` (the seed's file ...);"
	entry, ok := between(text, "`last-sync-status`: one word,", "(")
	if !ok {
		return nil, nil, errors.New("docs/chezmoi-sync.md no longer lists the status words after \"`last-sync-status`: one word,\"")
	}
	words := map[string]bool{}
	for _, m := range backtick.FindAllStringSubmatch(entry, -1) {
		words[m[1]] = true
	}
	if len(codes) == 0 || len(words) == 0 {
		return nil, nil, errors.New("docs/chezmoi-sync.md: no exit codes or status words found")
	}
	return codes, words, nil
}

// between is the text after start up to end (or to the end of text).
func between(text, start, end string) (string, bool) {
	_, rest, ok := strings.Cut(text, start)
	rest, _, _ = strings.Cut(rest, end)
	return rest, ok
}
