package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/nixdots/nixdots/pkg/brief"
	"github.com/nixdots/nixdots/pkg/exitcode"
)

// stopSignals cancel a run's context: it kills its children's process
// groups (pkg/runner), releases its lock, records the run as interrupted and
// exits 130. SIGHUP (the terminal or the ssh session went away) and SIGQUIT
// (Ctrl-\) are handled like SIGINT and SIGTERM: left to Go's defaults they
// would end the process at once (exit 129, or 2 with a goroutine dump)
// while jj, git, ssh or nh, each in a process group of its own, ran on
// behind a released lock.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// notifyStop returns ctx cancelled by the first stop signal, and stop to
// call when the run is over. SIGPIPE is caught too, so a write to a pipe
// whose reader went away returns EPIPE (outWatch) instead of killing the
// process halfway through a sync or a switch. Signals caught here are
// reset to their defaults in the children (exec does that; ignoring them
// would not be).
func notifyStop(ctx context.Context) (context.Context, func()) {
	ctx, stop := signal.NotifyContext(ctx, stopSignals...)
	pipe := make(chan os.Signal, 1) // never read: only the catching matters
	signal.Notify(pipe, syscall.SIGPIPE)
	return ctx, func() {
		stop()
		signal.Stop(pipe)
	}
}

// outWatch is standard output as the run sees it: it remembers the first
// write that failed, so a run whose result could not be delivered (a full
// disk, a closed pipe) never ends with exit 0 as if it had been.
type outWatch struct {
	w   io.Writer
	mu  sync.Mutex
	err error
}

func (o *outWatch) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil {
		o.mu.Lock()
		if o.err == nil {
			o.err = err
		}
		o.mu.Unlock()
	}
	return n, err
}

// caused reports whether err is (or wraps) the failed write to stdout.
func (o *outWatch) caused(err error) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return err != nil && o.err != nil && errors.Is(err, o.err)
}

// Fd is the descriptor behind the writer, so ui still sees a terminal.
func (o *outWatch) Fd() uintptr {
	if f, ok := o.w.(interface{ Fd() uintptr }); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}

// settle is the exit code once the run's output is accounted for. A run
// whose output all arrived keeps code. A reader that closed the pipe early
// (`| head`) turns success into 141, the code a shell shows for a filter
// ended by SIGPIPE (the run itself went to its end); any other write error
// is one line on stderr and turns success into failure. A run that already
// failed keeps its own code and its own message.
func (o *outWatch) settle(code, ok, failure int, stderr io.Writer, name string) int {
	o.mu.Lock()
	err := o.err
	o.mu.Unlock()
	switch {
	case err == nil:
		return code
	case errors.Is(err, syscall.EPIPE):
		if code == ok {
			return exitcode.BrokenPipe
		}
		return code
	}
	if code != ok {
		return code
	}
	fmt.Fprintf(stderr, "%s: writing standard output: %s\n", name, brief.Safe(brief.Line(err.Error())))
	return failure
}
