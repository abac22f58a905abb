package chezmoisync

// program is the run, step by step (engine.go runs it). The order is the
// design: capture before anything comes in from the remote (a re-add after
// the rebase would copy stale home files over incoming changes); the
// refusals (inspect, analyse) before the steps that could do harm; apply
// after every clean rebase, whatever stops the push. Resolving, aborting
// and undoing are the same steps in other programs: each step's plan skips
// what its mode does not do.
func program(c *Command) []step {
	head := []step{
		recoverStep{}, // repair after a killed run (one stat when there was none)
		locateStep{},  // the source directory and its repository
		prepareStep{}, // clone or colocate when needed
		inspectStep{}, // refuse states the sync does not understand; the stat index
		scanStep{},    // chezmoi status, only when the stat index says so
	}
	remote := []step{
		fetchStep{},   // <- push retries come back here
		analyseStep{}, // refuse a deleted, unrelated or rewound remote branch
		retrackStep{}, // sync/<host>@<remote> left untracked by a killed push
		rewindStep{},  // --accept-rewind
		authorStep{},  // commits made without an identity
	}
	tail := []step{
		pushStep{},   // publish; a race goes back to fetch
		unparkStep{}, // delete sync/<host> once published
		applyStep{},  // write what came in to HOME (undo, abort: what the source now holds)
		indexStep{},  // remember the stat of the managed files
	}
	var prog []step
	switch c.mode() {
	case modeAbort:
		// Nothing is captured: home edits stay in HOME, kept from the apply.
		// Before the fetch: an abort needs no network.
		// The rebase after the fetch: what came in since the last fetch
		// (the working copy is an empty commit on the old head) is taken
		// too, so HOME gets the remote branch as it is now.
		prog = join(head, []step{abortStep{}}, remote, []step{rebaseStep{}}, tail)
	case modeUndo:
		prog = join(head, []step{undoStep{}})
		if c.Publish {
			prog = join(prog, remote, []step{rebaseStep{}}, tail)
		} else {
			// Offline and local: nothing is fetched or pushed.
			prog = join(prog, []step{applyStep{}, indexStep{}})
		}
	default:
		// The fetch comes first so that the remote's refusals happen before
		// anything is captured or committed; a fetch changes no file of the
		// working copy, so the capture still sees nothing incoming.
		prog = join(head, []step{
			fetchStep{},    // jj git fetch
			precheckStep{}, // refuse a deleted, unrelated or rewound remote branch
			resolveStep{},  // fold a conflict resolved by hand into one commit
			captureStep{},  // re-add home edits (merging with source changes)
			trackStep{},    // track new files chezmoi manages, report the others
			commitStep{},   // commit the working copy
			refetchStep{},  // <- push retries come back here
			analyseStep{},  // the local commits against the remote branch
			retrackStep{},  // sync/<host>@<remote> left untracked by a killed push
			rewindStep{},   // --accept-rewind
			authorStep{},   // commits made without an identity
		}, []step{
			replayStep{}, // resolving a parked conflict: the local commits onto the remote branch
			settleStep{}, // --keep-local, --take-remote, trivial resolutions, --continue
			rebaseStep{}, // onto the remote branch; park on conflict
		}, tail)
	}
	return prog
}

func join(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// programNames lists the steps, for the run marker.
func programNames(prog []step) []string {
	names := make([]string, len(prog))
	for i, st := range prog {
		names[i] = st.name()
	}
	return names
}
