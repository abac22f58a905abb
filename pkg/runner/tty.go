package runner

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// foregroundTTY is the terminal an Interactive command gets as its
// foreground: its Stdin, when that is a terminal whose foreground process
// group is this process's own. In a pipe, under systemd or in a background
// job (`rebuild-smart &`) there is nothing to hand over and the child runs
// in its own group like any other.
func (c Cmd) foregroundTTY() *os.File {
	if !c.Interactive {
		return nil
	}
	f, ok := c.Stdin.(*os.File)
	if !ok || f == nil {
		return nil
	}
	fg, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	if err != nil || fg != syscall.Getpgrp() {
		return nil
	}
	return f
}

// reclaimTerminal makes this process's group the terminal's foreground
// group again. This process is in the background while it asks, and a
// background tcsetpgrp raises SIGTTOU, whose default action stops the
// process: it is ignored for the call.
func reclaimTerminal(f *os.File) {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	_ = unix.IoctlSetPointerInt(int(f.Fd()), unix.TIOCSPGRP, syscall.Getpgrp())
}
