package testharness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// suiteBinaries are the five commands whose promises every run is checked
// against (checkContract).
var suiteBinaries = map[string]bool{
	"chezmoi-sync": true, "chezmoi-status": true, "chezmoi-show-conflicts": true,
	"rebuild-smart": true, "rebuild-rollback": true,
}

var (
	declaredMu sync.Mutex
	declared   = map[string]map[int]bool{} // binary path -> codes its --help lists
)

var exitLine = regexp.MustCompile(`^\s+(\d+)  \S`)

// checkContract holds every run of a suite binary in every test to two
// promises the docs make: the exit code is one its --help lists (a code it
// can return but does not declare, or a child's code leaking through, is a
// bug), and with --json stdout is exactly one JSON document, whatever
// happened. Runs killed by a signal are not judged.
func checkContract(t testing.TB, path string, env, args []string, res Result) {
	t.Helper()
	dir, _ := built.Load().(string)
	real, err := filepath.EvalSymlinks(path)
	if err != nil || dir == "" || filepath.Dir(real) != dir || !suiteBinaries[filepath.Base(real)] || res.Code < 0 {
		return
	}
	name := filepath.Base(real)
	if len(args) > 0 && args[0] == "__complete" {
		return
	}
	codes := declaredCodes(t, real, env)
	if !codes[res.Code] {
		t.Errorf("%s %s exited %d, which its --help does not list (declared: %v)\n%s", name, strings.Join(args, " "), res.Code, keys(codes), res)
	}
	if wantsJSON(args) {
		dec := json.NewDecoder(strings.NewReader(res.Stdout))
		var doc json.RawMessage
		if err := dec.Decode(&doc); err != nil {
			t.Errorf("%s %s --json: stdout is not a JSON document (%v)\n%s", name, strings.Join(args, " "), err, res)
		} else if dec.More() {
			t.Errorf("%s %s --json: stdout holds more than one JSON document\n%s", name, strings.Join(args, " "), res)
		}
	}
}

func wantsJSON(args []string) bool {
	on := false
	for _, a := range args {
		switch {
		case a == "--":
			return on
		case a == "-h", a == "--help", a == "--version":
			return false
		case a == "--json":
			on = true
		case strings.HasPrefix(a, "--json="):
			on, _ = strconv.ParseBool(strings.TrimPrefix(a, "--json="))
		}
	}
	return on
}

// declaredCodes reads the exit codes the binary's --help lists, once.
func declaredCodes(t testing.TB, path string, env []string) map[int]bool {
	t.Helper()
	declaredMu.Lock()
	defer declaredMu.Unlock()
	if c, ok := declared[path]; ok {
		return c
	}
	cmd := exec.Command(path, "--help")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s --help: %v", path, err)
	}
	codes := map[int]bool{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Exit codes") {
			in = true
			continue
		}
		if m := exitLine.FindStringSubmatch(line); in && m != nil {
			n, _ := strconv.Atoi(m[1])
			codes[n] = true
		}
	}
	if len(codes) == 0 {
		t.Fatalf("%s --help lists no exit codes:\n%s", path, out)
	}
	declared[path] = codes
	return codes
}

func keys(m map[int]bool) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
