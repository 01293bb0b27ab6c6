package hub

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoosePermission is a store file or data directory that users other than vakt's may
// read or write.
type LoosePermission struct {
	Path string
	Mode fs.FileMode
}

// Want is the mode vakt creates the path with.
func (p LoosePermission) Want() fs.FileMode {
	if p.Mode.IsDir() {
		return fs.ModeDir | 0o700
	}
	return 0o600
}

func (p LoosePermission) String() string {
	return fmt.Sprintf("%s is %s, want %s", p.Path, p.Mode, p.Want())
}

// LoosePermissions lists the store file and its directory where their mode lets anyone
// but the owner in: the store holds the key the codes are hashed with and the generated
// credentials, so only vakt's user should read it. vakt creates them 0600 and 0700; a
// wider mode is something to fix, not a reason to stay down, so it is a warning.
func LoosePermissions(storePath string) []LoosePermission {
	var out []LoosePermission
	for _, p := range []string{filepath.Dir(storePath), storePath} {
		info, err := os.Stat(p)
		if err != nil {
			continue
		}
		if info.Mode().Perm()&0o077 != 0 {
			out = append(out, LoosePermission{Path: p, Mode: info.Mode()})
		}
	}
	return out
}
