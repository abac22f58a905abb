package chezmoisync

// program is the sync, step by step (engine.go runs it). The order is the
// design: capture before anything comes in from the remote (a re-add after
// the rebase would copy stale home files over incoming changes); the
// refusals (inspect, analyse) before the steps that could do harm; apply
// after every clean rebase, whatever stops the push.
func program() []step {
	return []step{
		recoverStep{}, // repair after a killed run (one stat when there was none)
		locateStep{},  // the source directory and its repository
		prepareStep{}, // clone or colocate when needed
		inspectStep{}, // refuse states the sync does not understand; the stat index
		scanStep{},    // chezmoi status, only when the stat index says so
		resolveStep{}, // fold a resolved parked conflict into one commit
		captureStep{}, // re-add home edits (merging with source changes)
		trackStep{},   // track new files chezmoi manages, report the others
		commitStep{},  // commit the working copy
		fetchStep{},   // <- push retries come back here
		analyseStep{}, // refuse a deleted, unrelated or rewound remote branch
		rewindStep{},  // --accept-rewind
		authorStep{},  // commits made without an identity
		rebaseStep{},  // onto the remote branch; park on conflict
		pushStep{},    // publish; a race goes back to fetch
		unparkStep{},  // delete sync/<host> once published
		applyStep{},   // write what came in to HOME
		indexStep{},   // remember the stat of the managed files
	}
}

// programNames lists the steps, for the run marker.
func programNames() []string {
	prog := program()
	names := make([]string, len(prog))
	for i, st := range prog {
		names[i] = st.name()
	}
	return names
}
