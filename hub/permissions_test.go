package hub

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpenStore_Permissions: a store vakt creates is 0600 in a directory of its own; a
// wider file or directory is named with its mode.
func TestOpenStore_Permissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "vakt.db")
	mustOpenStore(t, path, 0).Close()
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("new store is %s, want 0600", info.Mode())
	}
	if loose := LoosePermissions(path); len(loose) != 0 {
		t.Errorf("loose %v", loose)
	}
	os.Chmod(path, 0o644)
	os.Chmod(dir, 0o755)
	loose := LoosePermissions(path)
	if len(loose) != 2 || loose[0].Path != dir || loose[1].Path != path ||
		loose[0].String() != dir+" is drwxr-xr-x, want drwx------" || loose[1].String() != path+" is -rw-r--r--, want -rw-------" {
		t.Errorf("loose %v", loose)
	}
}
