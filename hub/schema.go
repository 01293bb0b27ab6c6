package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout of the store this vakt writes. Version 1 is every store
// written before the store carried a version (no "schema" key); version 2 is the layout
// below with the key. Raise it with a migration at the end of migrations.
//
// Version 2's layout: bucket meta (installation, state, schema, secret/NAME), events
// (big-endian sequence → event JSON, user events with the user's number in user_number),
// cursors (name → big-endian sequence), and, created on first use, sessions, nonces and
// drivers/DRIVER.
const SchemaVersion = 2

// keySchema holds the store's schema version in the meta bucket, as decimal text.
var keySchema = []byte("schema")

// ErrSchemaNewer means the store was written by a newer vakt: this one neither reads nor
// changes it.
var ErrSchemaNewer = errors.New("store schema is newer than this vakt")

// SchemaError is a store whose schema this vakt does not know: newer than it, or a version
// key that does not read.
type SchemaError struct {
	Path    string
	Version int    // the store's version, 0 when it does not read
	Raw     []byte // the stored value when it does not read
}

func (e *SchemaError) Error() string {
	if e.Version == 0 {
		return fmt.Sprintf("store %s: schema version %q does not read: the store was not written by vakt, or is damaged; restore a backup", e.Path, e.Raw)
	}
	return fmt.Sprintf("store %s: store schema %d is newer than this vakt (%d): upgrade vakt or restore a backup", e.Path, e.Version, SchemaVersion)
}

// Is makes errors.Is(err, ErrSchemaNewer) true for a newer store.
func (e *SchemaError) Is(target error) bool { return target == ErrSchemaNewer && e.Version != 0 }

// migration turns a store of one version into the next, inside the transaction that opens
// it: every migration of one open commits together or not at all.
type migration struct {
	// to is the version the store has after it.
	to   int
	what string
	run  func(tx *bolt.Tx) error
}

// migrations are run in order from the store's version up to SchemaVersion.
var migrations = []migration{
	{to: 2, what: "user numbers of user events move from zone to user_number", run: migrateUserNumbers},
}

// schemaVersion reads the store's version: 1 without the key (stores from before versions).
func schemaVersion(tx *bolt.Tx) (int, []byte, error) {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return 1, nil, nil
	}
	v := b.Get(keySchema)
	if v == nil {
		return 1, nil, nil
	}
	n, ok := parseSchema(v)
	if !ok {
		return 0, bytes.Clone(v), errors.New("bad schema version")
	}
	return n, nil, nil
}

// parseSchema reads a stored schema version: decimal, 2 or more, nothing else.
func parseSchema(v []byte) (int, bool) {
	n, err := strconv.Atoi(string(v))
	return n, err == nil && n >= 2 && string(v) == strconv.Itoa(n)
}

// checkSchema refuses a store this vakt cannot read, before anything writes to it.
func checkSchema(tx *bolt.Tx, path string) (int, error) {
	v, raw, err := schemaVersion(tx)
	if err != nil {
		return 0, &SchemaError{Path: path, Raw: raw}
	}
	if v > SchemaVersion {
		return v, &SchemaError{Path: path, Version: v}
	}
	return v, nil
}

// migrate brings a store of version from up to SchemaVersion in tx and stamps it. A new
// store (from is 1 and it has no events) only gets the stamp.
func migrate(tx *bolt.Tx, from int) error {
	for _, m := range migrations {
		if m.to <= from {
			continue
		}
		if err := m.run(tx); err != nil {
			return fmt.Errorf("migrate store to schema %d (%s): %w", m.to, m.what, err)
		}
	}
	if from == SchemaVersion {
		return nil
	}
	return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
}

// legacyUserKinds are the kinds whose events the first releases wrote with the acting
// user's number in the zone field (Contact ID sends the user there); newer ones carry it in
// user_number and keep zone for zones.
var legacyUserKinds = map[EventKind]bool{
	KindArm: true, KindStayArm: true, KindDisarm: true, KindArmRefused: true, KindForceArm: true,
	KindExitDelay: true, KindDuress: true, KindSilence: true, KindCancel: true, KindAcknowledge: true,
	KindInstallerAccess: true, KindServiceMode: true, KindWalkTest: true, KindManualTest: true,
}

// migrateUserNumbers moves the user's number of old user events from zone to user_number,
// so that the history, the search and the uplink read one field for one thing. What goes
// to the station does not change (it sends the zone, or else the user number). An event
// whose JSON holds anything this vakt does not know is left as it is, so nothing is lost.
func migrateUserNumbers(tx *bolt.Tx) error {
	b := tx.Bucket(bucketEvents)
	if b == nil {
		return nil
	}
	type change struct{ k, v []byte }
	var changes []change
	err := b.ForEach(func(k, v []byte) error {
		// Most events are ruled out without decoding them.
		if !bytes.Contains(v, []byte(`"user":`)) || !bytes.Contains(v, []byte(`"zone":`)) ||
			bytes.Contains(v, []byte(`"user_number":`)) || bytes.Contains(v, []byte(`"device":`)) {
			return nil
		}
		var ev Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return nil // damage is for store check to report; a migration changes only what it reads
		}
		if !legacyUserKinds[ev.Kind] || ev.User == "" || ev.Zone == 0 || ev.UserNumber != 0 || ev.ZoneName != "" {
			return nil
		}
		ev.UserNumber, ev.Zone = ev.Zone, 0
		nv, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if !sameFields(v, nv) {
			return nil
		}
		changes = append(changes, change{bytes.Clone(k), nv})
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range changes {
		if err := b.Put(c.k, c.v); err != nil {
			return err
		}
	}
	return nil
}

// sameFields reports whether the event JSON after holds every field of before with the
// same value, besides the zone moved to user_number: re-encoding lost nothing.
func sameFields(before, after []byte) bool {
	var a, b map[string]json.RawMessage
	if json.Unmarshal(before, &a) != nil || json.Unmarshal(after, &b) != nil {
		return false
	}
	if !bytes.Equal(a["zone"], b["user_number"]) {
		return false
	}
	delete(a, "zone")
	delete(b, "user_number")
	if !slices.Equal(slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(b))) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// Schema returns the store's schema version: SchemaVersion once OpenStore has opened it.
func (s *Store) Schema() (int, error) {
	var v int
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		v, _, err = schemaVersion(tx)
		return err
	})
	return v, err
}
