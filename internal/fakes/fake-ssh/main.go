// Command fake-ssh is a test fake of OpenSSH's ssh client for remote
// targets: `ssh [-o OPT]... [-t|-T] [-p PORT] [-i KEY] [-l USER] [--]
// [USER@]HOST COMMAND...`. Like ssh it joins the command words with spaces
// and hands that string to the remote user's shell (`sh -c`), passing
// stdin, stdout, stderr and the exit code through; "remote" is the
// target's simulated root, <root>/targets/<host> (fakesys.TargetRoot),
// given to the command as NIXDOTS_SYSTEM_ROOT. It is built as fake-ssh so
// it never shadows the real ssh: a test that wants it links it as `ssh`.
//
// The network: when <target root>/run/fake-network-down exists (written by
// fake-switch-to-configuration when it activates a system whose config
// holds the line "cut-network", removed when it activates one without), or
// FAKE_SSH_DOWN names the host, it fails the way ssh does when nothing
// answers: "ssh: connect to host H port 22: Connection timed out", exit
// 255, and the command does not run. The call is recorded either way.
// FAKE_SSH_HOLD=DURATION waits that long after the connection is made
// before the command runs (a connection that outlives a network change).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixdots/nixdots/internal/fakes/fakesys"
)

const tool = "ssh"

// NetworkDownFile is the target-root file that cuts the fake network.
const NetworkDownFile = "run/fake-network-down"

func main() {
	root, args := fakesys.Start(tool)
	dest, command := parse(args)
	host := dest
	if _, h, ok := strings.Cut(dest, "@"); ok {
		host = h
	}
	troot := fakesys.TargetRoot(root, dest)
	if down(troot, host) {
		fmt.Fprintf(os.Stderr, "ssh: connect to host %s port 22: Connection timed out\n", host)
		os.Exit(255)
	}
	if err := os.MkdirAll(filepath.Join(troot, "run"), 0o755); err != nil {
		fakesys.Die(tool, 255, "%v", err)
	}
	if command == "" {
		fakesys.Die(tool, 255, "fake: no remote command (an interactive login is not simulated)")
	}
	if d, err := time.ParseDuration(os.Getenv("FAKE_SSH_HOLD")); err == nil {
		// The connection is made; the command runs later. A real TCP
		// connection made before a network change can outlive it.
		time.Sleep(d)
	}
	cmd := exec.Command("sh", "-c", command)
	cmd.Env = append(os.Environ(), "NIXDOTS_SYSTEM_ROOT="+troot, "NIXDOTS_SUDO=never")
	fakesys.RunAndExit(tool, cmd, 255, "sh: cannot run the remote command")
}

// parse skips ssh's options and returns the destination and the remote
// command as ssh sends it (the words joined by spaces).
func parse(args []string) (dest, command string) {
	withValue := map[string]bool{"-o": true, "-p": true, "-i": true, "-l": true, "-F": true, "-J": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			i++
			if i < len(args) {
				return args[i], strings.Join(args[i+1:], " ")
			}
			fakesys.Die(tool, 255, "usage: ssh [options] destination [command]")
		case withValue[a]:
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return a, strings.Join(args[i+1:], " ")
		}
	}
	fakesys.Die(tool, 255, "usage: ssh [options] destination [command]")
	return "", ""
}

func down(troot, host string) bool {
	if _, err := os.Stat(filepath.Join(troot, NetworkDownFile)); err == nil {
		return true
	}
	for _, h := range strings.Split(os.Getenv("FAKE_SSH_DOWN"), ",") {
		if strings.TrimSpace(h) == host {
			return true
		}
	}
	return false
}
