package showconflicts_test

import (
	"strings"
	"testing"

	"github.com/nixdots/nixdots/pkg/chezmoisync"
	"github.com/nixdots/nixdots/pkg/showconflicts"
	"github.com/stretchr/testify/require"
)

// The read-only commands find sync/<host> under exactly the name the sync
// parks it under.
func TestHostKeyMatchesChezmoiSync(t *testing.T) {
	for _, name := range []string{"beta", "my laptop", "a/b@c", "..x..", "host.lock", "", "ünï", "-lead-", "UPPER_case-1.2", strings.Repeat("x", 80)} {
		require.Equal(t, chezmoisync.BookmarkHost(name), showconflicts.HostKey(name), "%q", name)
	}
}
