// Package secretscan tells whether a file looks like it holds a secret, so
// that rebuild-smart never makes such a file visible to nix (which would
// copy it into the world-readable store), commits it or pushes it.
//
// The content rules are gitleaks' (github.com/zricethezav/gitleaks/v8,
// its detect package used as a library): a maintained set of a few hundred
// provider token formats, private keys and generic "key = value" secrets
// with entropy checks and allowlists. Three small rules of our own cover
// what gitleaks leaves to its users and the issue asks for: .env-style and
// key-file names, password-like assignments of low entropy, and long
// high-entropy strings without a keyword.
//
// Only files a person has not yet tracked are scanned; a false positive
// costs a file left untracked with a message saying how to add it by hand.
package secretscan

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
)

// MaxBytes is how much of a file is read; secrets sit in small files and a
// large file is read no further (its name rules still apply).
const MaxBytes = 1 << 20

// Finding says why a file looks like a secret.
type Finding struct {
	Path string `json:"path"` // relative to the scanned root
	Rule string `json:"rule"` // gitleaks rule id, or env-file, key-file, password-assignment, high-entropy
	Line int    `json:"line,omitempty"`
}

func (f Finding) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s (%s, line %d)", f.Path, f.Rule, f.Line)
	}
	return fmt.Sprintf("%s (%s)", f.Path, f.Rule)
}

// Scanner scans files; the zero value is ready. The gitleaks detector is
// built on first use (about 40 ms): runs without new files never pay it.
type Scanner struct {
	once sync.Once
	det  *detect.Detector
	err  error
}

// Warm builds the detector now (in a goroutine next to other work), so the
// first scan does not wait for it.
func (s *Scanner) Warm() { _, _ = s.detector() }

func (s *Scanner) detector() (*detect.Detector, error) {
	s.once.Do(func() {
		// gitleaks logs to stderr by default; findings are ours to report.
		logging.Logger = zerolog.Nop()
		s.det, s.err = detect.NewDetectorDefaultConfig()
	})
	return s.det, s.err
}

// ScanFile reports whether root/rel looks like a secret. A file that cannot
// be read is reported as a finding too: what cannot be checked is not
// published.
func (s *Scanner) ScanFile(root, rel string) (Finding, bool) {
	if rule := nameRule(rel); rule != "" {
		return Finding{Path: rel, Rule: rule}, true
	}
	p := filepath.Join(root, rel)
	st, err := os.Lstat(p)
	if err != nil {
		return Finding{Path: rel, Rule: "unreadable: " + err.Error()}, true
	}
	if !st.Mode().IsRegular() {
		return Finding{}, false // a symlink or special file carries no content of its own
	}
	f, err := os.Open(p)
	if err != nil {
		return Finding{Path: rel, Rule: "unreadable: " + err.Error()}, true
	}
	defer f.Close()
	buf := make([]byte, MaxBytes)
	n, _ := f.Read(buf)
	return s.ScanBytes(rel, buf[:n])
}

// ScanBytes checks content that would be published as path.
func (s *Scanner) ScanBytes(path string, data []byte) (Finding, bool) {
	if rule := nameRule(path); rule != "" {
		return Finding{Path: path, Rule: rule}, true
	}
	if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
		return Finding{}, false // binary: gitleaks skips those too
	}
	det, err := s.detector()
	if err != nil {
		return Finding{Path: path, Rule: "scanner unavailable: " + err.Error()}, true
	}
	if fs := det.DetectBytes(data); len(fs) > 0 { // name rules are ours (nameRule)
		return Finding{Path: path, Rule: fs[0].RuleID, Line: fs[0].StartLine + 1}, true
	}
	if filepath.Base(path) == "flake.lock" {
		return Finding{}, false // written by nix: hashes and URLs, gitleaks' rules suffice
	}
	if rule, line := contentRule(string(data)); rule != "" {
		return Finding{Path: path, Rule: rule, Line: line}, true
	}
	return Finding{}, false
}

var (
	envName = regexp.MustCompile(`(^|/)(\.env(\..+)?|[^/]+\.env)$`)
	// Example files exist to be committed.
	envExample = regexp.MustCompile(`\.(example|sample|template|dist)$`)
	keyName    = regexp.MustCompile(`(^|/)(id_(rsa|dsa|ecdsa|ed25519)(_sk)?|[^/]+\.(pem|key|p12|pfx|jks|keystore|kdbx|gpg-key|asc)|\.netrc|\.pgpass|\.git-credentials|credentials(\.json)?|secrets?\.(json|ya?ml|toml|txt))$`)
)

// nameRule flags files whose name says what they hold.
func nameRule(rel string) string {
	rel = filepath.ToSlash(rel)
	switch {
	case envName.MatchString(rel) && !envExample.MatchString(rel):
		return "env-file"
	case keyName.MatchString(rel):
		return "key-file"
	}
	return ""
}

var (
	// A keyword naming a secret, assigned a literal value: password = "x",
	// export API_TOKEN=x, secret: x.
	assignment = regexp.MustCompile(`(?i)\b[\w.-]*(passw(or)?d|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?key|credential)s?[\w.-]*["']?\s*[:=]\s*["']?([^\s"';,#]{6,})`)
	// Values that are references, not secrets: a path (sops-nix and agenix
	// put secrets in files), a variable, an interpolation, a nix
	// expression, a placeholder.
	reference = regexp.MustCompile(`^(/|\./|~|\$|\{|<|config\.|pkgs\.|lib\.|builtins\.|null$|true$|false$|none$|changeme$|example|xxx|\*{3})`)
	word      = regexp.MustCompile(`[A-Za-z0-9_+=-]{32,}`)
	// Nix's own hashes are long and random but public: SRI hashes, base32
	// store hashes, git revisions.
	sri    = regexp.MustCompile(`(^|[^A-Za-z0-9])(sha1|sha256|sha512|md5)-`)
	nix32  = regexp.MustCompile(`^[0-9abcdfghijklmnpqrsvwxyz]+$`)
	hexStr = regexp.MustCompile(`^[0-9a-fA-F]+$`)
)

// contentRule is what gitleaks leaves to its users: password-like
// assignments whatever their entropy, and long random-looking strings
// with no keyword next to them.
func contentRule(text string) (string, int) {
	for i, line := range strings.Split(text, "\n") {
		if m := assignment.FindStringSubmatch(line); m != nil && !reference.MatchString(strings.ToLower(m[3])) {
			return "password-assignment", i + 1
		}
		for _, loc := range word.FindAllStringIndex(line, -1) {
			w := line[loc[0]:loc[1]]
			if sri.MatchString(line[max(0, loc[0]-7):loc[0]+min(7, len(w))]) || nix32.MatchString(w) || hexStr.MatchString(w) {
				continue
			}
			if randomLooking(w) {
				return "high-entropy", i + 1
			}
		}
	}
	return "", 0
}

// randomLooking: mixed case and digits, and a Shannon entropy a long
// identifier does not reach.
func randomLooking(w string) bool {
	var lower, upper, digit bool
	counts := map[rune]int{}
	for _, r := range w {
		counts[r]++
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		}
	}
	if !(lower && upper && digit) {
		return false
	}
	h := 0.0
	for _, c := range counts {
		p := float64(c) / float64(len(w))
		h -= p * math.Log2(p)
	}
	// A random base62 string of 32 characters has about 4.7 bits per
	// character; long CamelCase names with digits stay below 4.5.
	return h >= 4.5
}
