package chezmoisync

import "github.com/nixdots/nixdots/pkg/hostkey"

// BookmarkHost is the sanitised host name (see hostkey.Sanitize).
func BookmarkHost(name string) string { return hostkey.Sanitize(name) }

// ParkBookmark is the bookmark that holds this host's parked commits.
func ParkBookmark(host string) string { return "sync/" + BookmarkHost(host) }
