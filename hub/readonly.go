package hub

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// OpenStoreReadOnly opens the store at path for reading only, under bbolt's shared lock,
// for tools that look without touching (vakt doctor): its cursors, secrets' presence and
// driver data. It fails with ErrStoreLocked while a running vakt holds the store, and
// with a *DamageError for a damaged one; writes to the returned Store fail. Close it.
func OpenStoreReadOnly(path string) (*Store, error) {
	c, err := lockStore(path)
	if err != nil {
		return nil, err
	}
	db, ok := c.(*bolt.DB)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("open store %s read-only: unexpected lock %T", path, c)
	}
	return &Store{db: db, cap: DefaultLogCap}, nil
}
