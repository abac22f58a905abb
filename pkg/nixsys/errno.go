package nixsys

import "syscall"

// errNotLink is what readlink returns for a path that is not a symlink.
func errNotLink() error { return syscall.EINVAL }
