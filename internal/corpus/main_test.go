package corpus

import (
	"testing"

	"github.com/nixdots/nixdots/internal/testharness"
)

func TestMain(m *testing.M) { testharness.Main(m) }
