package nixsys

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nixdots/nixdots/pkg/runner"
)

// DeleteGenerationsCmd deletes exactly the generations nums of the system
// profile, the way nix itself does: `nix-env --profile <profile>
// --delete-generations N...` (sudo when not root). nix 2.8 removes the
// system-N-link of each (printing "removing profile version N"), silently
// skips numbers that do not exist, and refuses the whole call — deleting
// nothing — when the profile's current generation is among them ("cannot
// delete current version of profile"). The store paths stay until a
// garbage collection. Numbers are given explicitly (never "old", "+N" or
// "Nd"), so the retention policy decides, not nix-env's rules.
func (s *System) DeleteGenerationsCmd(nums []int) runner.Cmd {
	sorted := append([]int(nil), nums...)
	sort.Ints(sorted)
	args := []string{"--profile", s.ProfilePath(), "--delete-generations"}
	for _, n := range sorted {
		args = append(args, strconv.Itoa(n))
	}
	return s.cmd("nix-env", args...)
}

// DeleteGenerations runs DeleteGenerationsCmd and then checks the result:
// every link asked for must be gone. A call nix refused, or that left a
// link, is an error naming what is still there.
func (s *System) DeleteGenerations(ctx context.Context, nums []int) (runner.Result, error) {
	if len(nums) == 0 {
		return runner.Result{}, nil
	}
	res, err := s.Runner.Run(ctx, s.DeleteGenerationsCmd(nums))
	if err != nil {
		return res, fmt.Errorf("nix-env --delete-generations: %w", err)
	}
	var left []string
	sorted := append([]int(nil), nums...)
	sort.Ints(sorted)
	for _, n := range sorted {
		if _, gerr := s.generationAt(n); gerr == nil {
			left = append(left, strconv.Itoa(n))
		}
	}
	if len(left) > 0 {
		return res, fmt.Errorf("nix-env --delete-generations exited 0 but generation(s) %s are still there", strings.Join(left, ", "))
	}
	return res, nil
}

// GarbageCollectCmd collects the store paths nothing refers to any more:
// `nix-collect-garbage` without -d, which never deletes a generation
// itself (the retention policy did that) and runs through the nix daemon,
// so it needs no sudo.
func GarbageCollectCmd() runner.Cmd {
	return runner.Cmd{Name: "nix-collect-garbage", Mutates: true}
}
