package hub

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketDrivers holds one nested bucket per driver: what a driver learned from its devices
// that it needs again after a restart (Zigbee2MQTT's device list, the newest message time
// per device). It is created on first write, so stores from before it still open.
var bucketDrivers = []byte("drivers")

// DriverData returns what the named driver saved under key, nil when nothing is saved.
func (s *Store) DriverData(driver, key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDrivers)
		if b == nil {
			return nil
		}
		if d := b.Bucket([]byte(driver)); d != nil {
			out = bytes.Clone(d.Get([]byte(key)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s data %s: %w", driver, key, err)
	}
	return out, nil
}

// SaveDriverData durably stores v under the named driver's key; a nil v deletes the key.
// Each call is one commit (an fsync): drivers save what changes often lazily.
func (s *Store) SaveDriverData(driver, key string, v []byte) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketDrivers)
		if err != nil {
			return err
		}
		d, err := b.CreateBucketIfNotExists([]byte(driver))
		if err != nil {
			return err
		}
		if v == nil {
			return d.Delete([]byte(key))
		}
		return d.Put([]byte(key), v)
	})
	if err != nil {
		return fmt.Errorf("save %s data %s: %w", driver, key, err)
	}
	return nil
}
