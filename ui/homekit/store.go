package homekit

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/brutella/hap"

	"vakt/hub"
)

// driverName is the name under which the bridge keeps its data in the store's driver data.
const driverName = "homekit"

// pairingSuffix ends the keys of hap's pairings, one per paired controller.
const pairingSuffix = ".pairing"

// keysKey lists the keys hap has stored, since the driver data cannot be listed.
const keysKey = "_keys"

// ErrNotStored is what Get returns for a key hap never stored; hap takes any error as
// "not there yet" (its uuid, key pair and pairings are made on first use).
var ErrNotStored = errors.New("homekit: not stored")

// Store keeps hap's pairing data (the bridge's key pair, its uuid, the paired controllers)
// in the bbolt store, so pairings survive a restart.
type Store struct {
	s  *hub.Store
	mu sync.Mutex
}

var _ hap.Store = (*Store)(nil)

// NewStore returns a hap store over the hub's store.
func NewStore(s *hub.Store) *Store { return &Store{s: s} }

// Set stores value under key.
func (st *Store) Set(key string, value []byte) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.s.SaveDriverData(driverName, "hap/"+key, value); err != nil {
		return err
	}
	keys, err := st.keys()
	if err != nil {
		return err
	}
	if slices.Contains(keys, key) {
		return nil
	}
	return st.saveKeys(append(keys, key))
}

// Get returns the value stored under key, or ErrNotStored.
func (st *Store) Get(key string) ([]byte, error) {
	v, err := st.s.DriverData(driverName, "hap/"+key)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("%s: %w", key, ErrNotStored)
	}
	return v, nil
}

// Delete removes key.
func (st *Store) Delete(key string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.s.SaveDriverData(driverName, "hap/"+key, nil); err != nil {
		return err
	}
	keys, err := st.keys()
	if err != nil {
		return err
	}
	return st.saveKeys(slices.DeleteFunc(keys, func(k string) bool { return k == key }))
}

// KeysWithSuffix returns the stored keys that end in suffix (hap's pairings).
func (st *Store) KeysWithSuffix(suffix string) ([]string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	keys, err := st.keys()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(keys, func(k string) bool { return !strings.HasSuffix(k, suffix) }), nil
}

// Reset forgets everything hap stored (the paired controllers, the bridge's key pair and
// device id) and the setup code: the next start is a new accessory with a new code. Only
// while no hap server runs on the store.
func (st *Store) Reset() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	keys, err := st.keys()
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := st.s.SaveDriverData(driverName, "hap/"+k, nil); err != nil {
			return err
		}
	}
	for _, k := range []string{keysKey, "setup_code", "setup_id"} {
		if err := st.s.SaveDriverData(driverName, k, nil); err != nil {
			return err
		}
	}
	return nil
}

func (st *Store) keys() ([]string, error) {
	b, err := st.s.DriverData(driverName, keysKey)
	if err != nil || b == nil {
		return nil, err
	}
	var keys []string
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("homekit keys: %w", err)
	}
	return keys, nil
}

func (st *Store) saveKeys(keys []string) error {
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	return st.s.SaveDriverData(driverName, keysKey, b)
}
