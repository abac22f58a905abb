package rebuildsmart_test

import "github.com/nixdots/nixdots/internal/testharness"

func findTool(tool string) (string, error) { return testharness.Look(tool) }
