package hub

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// Cursors returns every receiver cursor in the store, by name: what holds back pruning, so
// that receivers no longer configured can be found and deleted.
func (s *Store) Cursors() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCursors).ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				out[string(k)] = binary.BigEndian.Uint64(v)
			}
			return nil
		})
	})
	return out, err
}
