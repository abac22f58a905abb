package corpus

import (
	"os"
	"sort"
	"sync"
	"testing"
)

// chezmoiroot is what every scenario of a repository with a .chezmoiroot
// hits first; the rest of each reason is what the same scenario shows when
// chezmoi-sync is pointed at the work tree by hand (--source-dir).
const chezmoiroot = "exit 2 \"chezmoi source directory <work tree>/home is not a git repository\" (chezmoi source-path names the .chezmoiroot directory inside the work tree); "

// knownFailures are the scenarios today's chezmoi-sync fails (issue 12),
// each with what goes wrong. By default they run and fail; with
// NIXDOTS_CORPUS_KNOWN_FAILURES=skip they are skipped so CI passes until the
// sync engine is rebuilt. Delete an entry when its scenario passes.
var knownFailures = map[string]string{
	"TestLiblaf/PlainEditsArrive":    chezmoiroot + "no edit is ever captured or synced (with the work tree given, this scenario passes).",
	"TestLiblaf/DataChangeRerenders": chezmoiroot + "the .chezmoidata change is never published (with the work tree given, this scenario passes).",
	"TestLiblaf/ExactDirNewFileKept": chezmoiroot + "then: the new ~/.config/environment.d/corpus.conf is deleted by the apply " +
		"that brings beta's edit, unnamed, status success (LOST EDIT, SILENT DELETION).",
	"TestLiblaf/ModifyTargetEditNotReverted": chezmoiroot + "then: the edit of the modify_ target pot.conf is recorded as captured, " +
		"never committed, and reverted by the next apply (LOST EDIT, DISHONEST RECORD).",
	"TestLiblaf/SymlinkRepointedPublished": chezmoiroot + "then: the re-pointed link is reported \"1 captured\" but chezmoi re-add " +
		"ignores symlinks: never committed or published, beta keeps the old link (HIDDEN EDIT, DISHONEST RECORD).",
	"TestLiblaf/ExecutableBitCaptured": chezmoiroot + "(with the work tree given, this scenario passes).",
	"TestLiblaf/PrivateLoosenedWarns": chezmoiroot + "then: chmod 644 of the private_ ~/.gnupg/gpg.conf is captured silently " +
		"(no warning) and beta's copy becomes 0644 too.",
	"TestLiblaf/TemplateEditsNeverOverwritten": chezmoiroot + "then: the template edits are kept and named, but the run " +
		"says plain success (\"1 incoming, 2 skipped\") although two edits wait for the user.",
	"TestLiblaf/RemoveTargetReappears": chezmoiroot + "then: the apply removes the re-created remove_ target " +
		"~/.config/autostart/org.flameshot.Flameshot.desktop without naming it.",
	"TestLiblaf/RunOnchangeChangedRunsOnEveryHost": chezmoiroot + "then: alpha commits and pushes its changed run_onchange_ " +
		"script and .chezmoitemplates file but skips apply (\"nothing came in\"): the scripts never run on alpha (beta runs them).",
	"TestLiblaf/FailingRunScriptFailsTheRun": chezmoiroot + "(with the work tree given, this scenario passes: exit 1 naming " +
		".chezmoiscripts/after/30-systemd/reload.sh and sudo's error line).",
	"TestLiblaf/FailingRunScriptWithSkippedFile": chezmoiroot + "then: with one template edit skipped, the failing " +
		"run_after_reload.sh is hidden: exit 0, \"success: 1 incoming, 1 skipped\", the script and its error never shown.",
	"TestLiblaf/ExternalsAndRemoteOffline": chezmoiroot + "then: exit 1 \"chezmoi status: ... Get <external URL>: EOF\" " +
		"before anything is committed (not fetch-failed, the edit stays uncommitted).",
	"TestLiblaf/ExternalsOfflineRemoteUp": chezmoiroot + "then: exit 1 \"chezmoi status: ... Get <external URL>: EOF\" " +
		"before anything is committed; the edit is only published by a later online run.",
	"TestLiblaf/ConfigTemplateChangeSurfaced": chezmoiroot + "then: neither host says \"run chezmoi init\" (chezmoi's own " +
		"warning is swallowed), status success.",
	"TestLiblaf/ConcurrentEditsParked": chezmoiroot + "(with the work tree given, this scenario passes: parked on sync/beta, exit 5).",

	"TestAllaman/EncryptedEditsNeverOverwritten": "both edits are safe (alpha's published, beta's parked on sync/beta, exit 5), " +
		"but the printed recipe says \"fix the conflict markers in encrypted_dot_pypirc.age\": markers inside age ciphertext.",
	"TestAllaman/ChezmoiremoveListedFileReappears": "the apply that brings alpha's edit removes beta's ~/.fzf.bash " +
		"(listed in .chezmoiremove) without naming it; status success.",
	"TestAllaman/PrivateLoosenedWarns": "chmod 644 of the private_ ~/.config/k9s/aliases.yaml is captured silently " +
		"(\"success: 1 captured\", no warning) and beta's copy becomes 0644.",
	"TestAllaman/PasswordManagerTemplateEditKept": "the edit of the gopass template target is kept and named, but the " +
		"run says plain success (\"1 incoming, 1 skipped\").",

	"TestLeomeinel/PlainEditsArrive": chezmoiroot + "(with the work tree given, this scenario passes).",
	"TestLeomeinel/RunOnchangeAndFilesOutsideRoot": chezmoiroot + "then: alpha publishes pkgs-go.txt and the changed " +
		"run_onchange_ script but skips apply (\"nothing came in\"): the script never runs on alpha.",
	"TestLeomeinel/ConfigTemplateChangeSurfaced": chezmoiroot + "then: neither host says \"run chezmoi init\", status success.",
	"TestLeomeinel/TemplateEditKept": chezmoiroot + "then: the template edit is kept and named, but the run says plain " +
		"success (\"1 incoming, 1 skipped\").",

	"TestHelderberto/DeletedManagedFile": "the deleted ~/.editorconfig is kept deleted and named (\"left 1 home file(s) " +
		"alone\") but the run says plain success (\"1 incoming, 1 skipped\").",
}

// Scenario marks the start of a corpus scenario: it runs in parallel with
// the others, and is skipped when it is a known failure and
// NIXDOTS_CORPUS_KNOWN_FAILURES=skip.
// A known failure that passes fails, so its entry is deleted and CI runs it.
func Scenario(t *testing.T) {
	t.Helper()
	scenarios.Store(t.Name(), true)
	reason, known := knownFailures[t.Name()]
	if known && os.Getenv("NIXDOTS_CORPUS_KNOWN_FAILURES") == "skip" {
		t.Skipf("known failure (issue 12): %s", reason)
	}
	if known {
		t.Cleanup(func() {
			if !t.Failed() && !t.Skipped() {
				t.Errorf("listed as a known failure but passes now: delete its entry in internal/corpus/knownfailures.go")
			}
		})
	}
	t.Parallel()
}

var scenarios sync.Map // names of the scenarios that started

// staleKnownFailures lists entries of knownFailures that name no scenario
// that ran (meaningful after a run of the whole package).
func staleKnownFailures() []string {
	var out []string
	for name := range knownFailures {
		if _, ok := scenarios.Load(name); !ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
