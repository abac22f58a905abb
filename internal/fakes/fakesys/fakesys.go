// Package fakesys is what the fake system tools (nh, nixos-rebuild, sudo,
// systemctl, switch-to-configuration) share: the test root, the call log
// every fake appends to, and the real work they delegate to real tools: the
// toplevel is evaluated and built by the real nix into the real /nix/store,
// the profile generation is made by the real nix-env. Only activation is
// simulated, by moving <root>/run/current-system.
//
// A fake refuses to run without NIXDOTS_SYSTEM_ROOT or with it set to "/",
// so a fake on the wrong PATH can never touch a real machine.
package fakesys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CallsFile is the call log under the root: one JSON object per line.
const CallsFile = "fake-calls.jsonl"

// FailedUnitsFile holds the units the last activation left failed, one per
// line; the fake systemctl reports them.
const FailedUnitsFile = "run/fake-failed-units"

// Call is one recorded invocation.
type Call struct {
	Tool string    `json:"tool"`
	Argv []string  `json:"argv"`
	Dir  string    `json:"dir,omitempty"`
	UID  int       `json:"uid"`
	Time time.Time `json:"time"`
}

// Root returns the test system root or exits 2 with a message.
func Root(tool string) string {
	r := os.Getenv("NIXDOTS_SYSTEM_ROOT")
	if r == "" || filepath.Clean(r) == "/" {
		Die(tool, 2, "NIXDOTS_SYSTEM_ROOT must name a test directory (this is a test fake)")
	}
	return r
}

// Start is every fake's first line: the test root (or exit 2), the
// arguments, and the call recorded.
func Start(tool string) (root string, args []string) {
	root = Root(tool)
	args = os.Args[1:]
	Record(root, tool, args)
	return root, args
}

// RunAndExit runs cmd with the fake's stdin, stdout and stderr and exits
// with its exit code, as a wrapper (sudo, ssh) does; a command that cannot
// start is failCode with failMsg.
func RunAndExit(tool string, cmd *exec.Cmd, failCode int, failMsg string) {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	}
	Die(tool, failCode, "%s", failMsg)
}

// Record appends the call to <root>/fake-calls.jsonl.
func Record(root, tool string, argv []string) {
	wd, _ := os.Getwd()
	line, _ := json.Marshal(Call{Tool: tool, Argv: argv, Dir: wd, UID: os.Geteuid(), Time: time.Now().UTC()})
	f, err := os.OpenFile(filepath.Join(root, CallsFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		Die(tool, 1, "record call: %v", err)
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n'))
}

// Die prints "tool: message" on stderr and exits with code.
func Die(tool string, code int, format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", tool, fmt.Sprintf(format, a...))
	os.Exit(code)
}

// FailAt reports whether env var (FAKE_NH_FAIL, FAKE_NIXOS_REBUILD_FAIL)
// asks the fake to fail at stage (build, switch).
func FailAt(env, stage string) bool {
	for _, s := range strings.Split(os.Getenv(env), ",") {
		if strings.TrimSpace(s) == stage {
			return true
		}
	}
	return false
}

// SplitFlake splits "path#host" into its parts; host may be "".
func SplitFlake(ref string) (string, string) {
	flake, host, _ := strings.Cut(ref, "#")
	return flake, host
}

// Hostname is the host a tool builds when none is named: NIXDOTS_HOSTNAME in
// tests (each simulated host has its own), else the machine's.
func Hostname() string {
	if h := os.Getenv("NIXDOTS_HOSTNAME"); h != "" {
		return h
	}
	h, _ := os.Hostname()
	return h
}

// Attr is the toplevel attribute path of host.
func Attr(host string) string {
	return "nixosConfigurations." + host + ".config.system.build.toplevel"
}

// Build evaluates and builds flake#...toplevel with the real nix and returns
// the store path. Build output goes to stderr the way nh shows it.
func Build(tool, flake, host string) (string, error) {
	ref := flake + "#" + Attr(host)
	fmt.Fprintf(os.Stderr, "%s: building %s\n", tool, ref)
	cmd := exec.Command("nix", "build", "--no-link", "--json", ref)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		os.Stderr.Write(errb.Bytes())
		return "", fmt.Errorf("nix build %s: %v", ref, err)
	}
	var res []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res) == 0 || res[0].Outputs["out"] == "" {
		return "", fmt.Errorf("nix build %s: unexpected output %q", ref, out.String())
	}
	return res[0].Outputs["out"], nil
}

// ProfilePath is the system profile under root.
func ProfilePath(root string) string {
	return filepath.Join(root, "nix", "var", "nix", "profiles", "system")
}

// SetProfile makes toplevel the newest generation of the system profile,
// with the real nix-env (as nixos-rebuild does).
func SetProfile(root, toplevel string) error {
	p := ProfilePath(root)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return run(os.Stderr, "nix-env", "--profile", p, "--set", toplevel)
}

// BuildProfile makes toplevel the system profile's newest generation with
// `nix build --no-link --profile` (how nh sets it).
func BuildProfile(root, toplevel string) error {
	p := ProfilePath(root)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return run(os.Stderr, "nix", "build", "--no-link", "--profile", p, toplevel)
}

// Elevated prefixes argv with sudo when the tool would (not root, or
// NIXDOTS_SUDO=always in tests).
func Elevated(argv ...string) []string {
	switch os.Getenv("NIXDOTS_SUDO") {
	case "always", "1", "true":
		return append([]string{"sudo"}, argv...)
	case "never", "0", "false":
		return argv
	}
	if os.Geteuid() != 0 {
		return append([]string{"sudo"}, argv...)
	}
	return argv
}

// Activate runs toplevel/bin/switch-to-configuration action and returns its
// exit code (4: switched, units failed).
func Activate(toplevel, action string) int {
	argv := Elevated(filepath.Join(toplevel, "bin", "switch-to-configuration"), action)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintf(os.Stderr, "switch-to-configuration: %v\n", err)
		return 1
	}
	return 0
}

func run(stderr *os.File, name string, args ...string) error {
	argv := Elevated(append([]string{name}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	return cmd.Run()
}

// SwitchGeneration points the profile at generation n (0: the previous one)
// with the real nix-env.
func SwitchGeneration(root string, n int) error {
	if n == 0 {
		return run(os.Stderr, "nix-env", "--profile", ProfilePath(root), "--rollback")
	}
	return run(os.Stderr, "nix-env", "--profile", ProfilePath(root), "--switch-generation", fmt.Sprint(n))
}

// ProfileToplevel is what the profile points at now.
func ProfileToplevel(root string) (string, error) {
	return filepath.EvalSymlinks(ProfilePath(root))
}

// Remote is the --target-host / --build-host part of a fake's command line.
type Remote struct {
	TargetHost string
	BuildHost  string
	Sudo       bool // --use-remote-sudo / --sudo
}

// TargetRoot is the simulated root of a remote target under the test
// root: <root>/targets/<host> (the user@ part dropped). The fakes build
// here, then "copy" and activate there, as the real tools do over ssh.
func TargetRoot(root, targetHost string) string {
	host := targetHost
	if _, h, ok := strings.Cut(targetHost, "@"); ok {
		host = h
	}
	return filepath.Join(root, "targets", host)
}

// EnterTarget makes the rest of the fake act on the target's root: the
// profile and the activation (switch-to-configuration reads
// NIXDOTS_SYSTEM_ROOT) happen "over there", elevated there, not through
// the local sudo. It refuses, as the real activation does, a non-root
// ssh user without remote sudo.
func EnterTarget(tool, root string, r Remote, needSudoFlag bool) string {
	tr := TargetRoot(root, r.TargetHost)
	user, _, hasUser := strings.Cut(r.TargetHost, "@")
	if needSudoFlag && !r.Sudo && (!hasUser || user != "root") {
		Die(tool, 1, "error: opening lock file '/nix/var/nix/profiles/system.lock': Permission denied (on %s; use --use-remote-sudo or ssh as root)", r.TargetHost)
	}
	if err := os.MkdirAll(filepath.Join(tr, "run"), 0o755); err != nil {
		Die(tool, 1, "%v", err)
	}
	os.Setenv("NIXDOTS_SYSTEM_ROOT", tr)
	os.Setenv("NIXDOTS_SUDO", "never")
	fmt.Fprintf(os.Stderr, "%s: copying the closure to %s and activating there\n", tool, r.TargetHost)
	return tr
}

// UnitsDir holds the fake systemd-run's units under a root: NAME.pid and
// NAME.log per unit.
const UnitsDir = "run/fake-units"

// UnitActive reports whether the fake unit's process is still running.
func UnitActive(root, unit string) bool {
	pid := unitPID(root, unit)
	return pid > 0 && syscall.Kill(pid, 0) == nil && !zombie(pid)
}

// StopUnit kills the fake unit's process group, as systemctl stop does
// with a unit's processes.
func StopUnit(root, unit string) {
	if pid := unitPID(root, unit); pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
	}
}

func unitPID(root, unit string) int {
	if !strings.HasSuffix(unit, ".service") {
		unit += ".service"
	}
	b, err := os.ReadFile(filepath.Join(root, UnitsDir, unit+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// zombie reports whether pid has exited and waits for its parent (a
// finished unit nobody reaped is not active).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

// Reboot does to a test root what a reboot does to a machine: the system
// the boot loader's default entry (<root>/boot/default, which switch and
// boot set) names becomes both /run/booted-system and /run/current-system;
// what a running system left behind (failed units, a cut network) is gone.
func Reboot(root string) error {
	top, err := os.Readlink(filepath.Join(root, "boot", "default"))
	if err != nil {
		return fmt.Errorf("no boot entry to boot: %w", err)
	}
	for _, l := range []string{"booted-system", "current-system"} {
		p := filepath.Join(root, "run", l)
		_ = os.Remove(p)
		if err := os.Symlink(top, p); err != nil {
			return err
		}
	}
	_ = os.Remove(filepath.Join(root, FailedUnitsFile))
	_ = os.Remove(filepath.Join(root, "run", "fake-network-down"))
	return nil
}
