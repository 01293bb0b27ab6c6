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

// DriverData returns what the named driver saved or staged under key, nil when nothing is.
func (s *Store) DriverData(driver, key string) ([]byte, error) {
	s.stageMu.Lock()
	v, ok := s.staged[driverKey{driver, key}]
	s.stageMu.Unlock()
	if ok {
		return bytes.Clone(v), nil
	}
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

// driverKey names one value of one driver.
type driverKey struct{ driver, key string }

// StageDriverData keeps v for the named driver's key in memory and writes it with the
// hub's next commit, or when the store closes: what a driver learns with every message
// (Zigbee2MQTT's newest last_seen per device) then costs an SD card no write of its own.
// A crash loses what is staged, so stage only what is safe to lose.
func (s *Store) StageDriverData(driver, key string, v []byte) {
	s.stageMu.Lock()
	defer s.stageMu.Unlock()
	if s.staged == nil {
		s.staged = map[driverKey][]byte{}
	}
	s.staged[driverKey{driver, key}] = bytes.Clone(v)
}

// takeStaged hands over what is staged, for a commit.
func (s *Store) takeStaged() map[driverKey][]byte {
	s.stageMu.Lock()
	defer s.stageMu.Unlock()
	st := s.staged
	s.staged = nil
	return st
}

// restage puts back what a failed commit did not write, unless newer values were staged
// meanwhile.
func (s *Store) restage(st map[driverKey][]byte) {
	if len(st) == 0 {
		return
	}
	s.stageMu.Lock()
	defer s.stageMu.Unlock()
	if s.staged == nil {
		s.staged = map[driverKey][]byte{}
	}
	for k, v := range st {
		if _, newer := s.staged[k]; !newer {
			s.staged[k] = v
		}
	}
}

// flushStaged writes what is staged in a transaction of its own (at close).
func (s *Store) flushStaged() error {
	st := s.takeStaged()
	if len(st) == 0 {
		return nil
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return putDriverData(tx, st) }); err != nil {
		s.restage(st)
		return fmt.Errorf("save staged driver data: %w", err)
	}
	return nil
}

// putDriverData writes staged driver data in tx.
func putDriverData(tx *bolt.Tx, st map[driverKey][]byte) error {
	if len(st) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketDrivers)
	if err != nil {
		return err
	}
	for k, v := range st {
		d, err := b.CreateBucketIfNotExists([]byte(k.driver))
		if err != nil {
			return err
		}
		if err := d.Put([]byte(k.key), v); err != nil {
			return err
		}
	}
	return nil
}
