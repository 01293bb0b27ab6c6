package hub

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// DefaultLogCap is how many events the log keeps at least (EN 50131-1 asks a few hundred).
const DefaultLogCap = 100_000

// pruneBatch bounds how many old events one commit deletes, so a commit stays short.
const pruneBatch = 1000

var (
	bucketMeta    = []byte("meta")
	bucketEvents  = []byte("events")
	bucketCursors = []byte("cursors")

	keyInstallation = []byte("installation")
	keyState        = []byte("state")
)

// ErrStoreLocked means another process has the store open.
var ErrStoreLocked = errors.New("store is in use by another process")

// Store keeps the installation, the engine state and the append-only event log in one bbolt
// file. The log is the outbox: uplink receivers read it behind durable cursors.
type Store struct {
	db  *bolt.DB
	cap uint64
	// migratedFrom is the schema version the store had when it was opened.
	migratedFrom int

	// staged is driver data waiting to go with the next commit (StageDriverData).
	stageMu sync.Mutex
	staged  map[driverKey][]byte
}

// OpenStore opens or creates the store at path. logCap is the number of events kept (0 means
// DefaultLogCap); older ones are pruned, but never past an uplink cursor. A new store is
// created only where no file exists: a damaged one (empty, cut short, a bad page, both meta
// pages bad) is a *DamageError naming the file, the damage and what to do, never a panic
// and never a fresh start.
func OpenStore(path string, logCap int) (*Store, error) {
	if err := inspectStore(path); err != nil {
		return nil, err
	}
	db, from, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	if logCap <= 0 {
		logCap = DefaultLogCap
	}
	return &Store{db: db, cap: uint64(logCap), migratedFrom: from}, nil
}

// OpenedSchema returns the schema version the store had when OpenStore opened it: below
// SchemaVersion when it was migrated, 0 when it was created new.
func (s *Store) OpenedSchema() int { return s.migratedFrom }

// Close closes the store; close it after everything that writes to it has stopped.
func (s *Store) Close() error {
	err := s.flushStaged()
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// Path returns the store's file.
func (s *Store) Path() string { return s.db.Path() }

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

// Installation returns the stored installation, or nil if there is none yet.
func (s *Store) Installation() (*Installation, error) {
	var inst *Installation
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyInstallation)
		if v == nil {
			return nil
		}
		inst = new(Installation)
		return json.Unmarshal(v, inst)
	})
	if err != nil {
		return nil, fmt.Errorf("read installation: %w", err)
	}
	return inst, nil
}

// SaveInstallation stores the installation after validating it.
func (s *Store) SaveInstallation(inst *Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	v, err := json.Marshal(inst)
	if err != nil {
		return fmt.Errorf("save installation: %w", err)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyInstallation, v)
	})
}

// State returns the stored engine state; ok is false on a new store.
func (s *Store) State() (st State, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyState)
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &st)
	})
	if err != nil {
		return State{}, false, fmt.Errorf("read state: %w", err)
	}
	return st, ok, nil
}

// Secret returns the named random secret of n bytes, creating it on first use. It keys code
// hashes and seeds generated credentials; it never leaves the store.
func (s *Store) Secret(name string, n int) ([]byte, error) {
	var out []byte
	key := []byte("secret/" + name)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if v := b.Get(key); v != nil {
			out = bytes.Clone(v)
			return nil
		}
		out = make([]byte, n)
		if _, err := rand.Read(out); err != nil {
			return err
		}
		return b.Put(key, out)
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return out, nil
}

// Commit stores the new state and appends the events in one transaction: after it returns,
// neither is lost in a crash. Events must continue the log's sequence without a gap.
func (s *Store) Commit(st *State, events []Event) error {
	return s.commit(nil, st, events)
}

// CommitInstallation is Commit with a changed installation, all in one transaction.
func (s *Store) CommitInstallation(inst *Installation, st *State, events []Event) error {
	return s.commit(inst, st, events)
}

func (s *Store) commit(inst *Installation, st *State, events []Event) error {
	v, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("commit: encode state: %w", err)
	}
	var iv []byte
	if inst != nil {
		if iv, err = json.Marshal(inst); err != nil {
			return fmt.Errorf("commit: encode installation: %w", err)
		}
	}
	staged := s.takeStaged()
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := putDriverData(tx, staged); err != nil {
			return err
		}
		if iv != nil {
			if err := tx.Bucket(bucketMeta).Put(keyInstallation, iv); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(keyState, v); err != nil {
			return err
		}
		return s.append(tx, events)
	})
	if err != nil {
		s.restage(staged)
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (s *Store) append(tx *bolt.Tx, events []Event) error {
	b := tx.Bucket(bucketEvents)
	b.FillPercent = 1 // keys only ever grow
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	last := lastSeq(b)
	for i := range events {
		ev := &events[i]
		if last != 0 && ev.Seq != last+1 {
			return fmt.Errorf("event %d does not follow %d", ev.Seq, last)
		}
		buf.Reset()
		if err := enc.Encode(ev); err != nil {
			return err
		}
		if err := b.Put(seqKey(ev.Seq), bytes.Clone(bytes.TrimRight(buf.Bytes(), "\n"))); err != nil {
			return err
		}
		last = ev.Seq
	}
	return s.prune(tx, last)
}

func lastSeq(b *bolt.Bucket) uint64 {
	k, _ := b.Cursor().Last()
	if k == nil {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}

// prune deletes the oldest events beyond the cap, but none that a cursor has not passed.
func (s *Store) prune(tx *bolt.Tx, last uint64) error {
	if last <= s.cap {
		return nil
	}
	limit := last - s.cap
	err := tx.Bucket(bucketCursors).ForEach(func(_, v []byte) error {
		if c := binary.BigEndian.Uint64(v); c < limit {
			limit = c
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Collect first: a bbolt cursor skips a key when it moves on after a Delete.
	b := tx.Bucket(bucketEvents)
	var old [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= limit && len(old) < pruneBatch; k, _ = c.Next() {
		old = append(old, k)
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// LastSeq returns the sequence of the newest event, 0 if the log is empty.
func (s *Store) LastSeq() (uint64, error) {
	var last uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		last = lastSeq(tx.Bucket(bucketEvents))
		return nil
	})
	return last, err
}

// Events returns up to limit events with a sequence greater than after, oldest first.
func (s *Store) Events(after uint64, limit int) ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			var ev Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// History returns up to limit of the newest events at or before seq (0 means the newest),
// newest first: for the history view.
func (s *Store) History(before uint64, limit int) ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		var k, v []byte
		if before == 0 {
			k, v = c.Last()
		} else if k, v = c.Seek(seqKey(before)); k == nil || binary.BigEndian.Uint64(k) > before {
			k, v = c.Prev()
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			var ev Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	return out, nil
}

// HistoryRaw calls each with up to limit of the newest events at or before before (0 means
// the newest), newest first, as stored (the event's JSON), in one read transaction; raw is
// valid only during the call. It stops early when each returns false, and returns how many
// events it visited. It lets a search skip decoding the events it can rule out.
func (s *Store) HistoryRaw(before uint64, limit int, each func(seq uint64, raw []byte) bool) (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		var k, v []byte
		if before == 0 {
			k, v = c.Last()
		} else if k, v = c.Seek(seqKey(before)); k == nil || binary.BigEndian.Uint64(k) > before {
			k, v = c.Prev()
		}
		for ; k != nil && n < limit; k, v = c.Prev() {
			n++
			if !each(binary.BigEndian.Uint64(k), v) {
				break
			}
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("read history: %w", err)
	}
	return n, nil
}

// Cursor returns the last sequence the named receiver has acknowledged, and whether the
// cursor exists. A receiver's events are those after its cursor.
func (s *Store) Cursor(name string) (seq uint64, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCursors).Get([]byte(name)); v != nil {
			seq, ok = binary.BigEndian.Uint64(v), true
		}
		return nil
	})
	return seq, ok, err
}

// SetCursor durably moves the named receiver's cursor; events up to seq may then be pruned
// as far as this receiver is concerned. A new cursor holds back pruning from seq on.
func (s *Store) SetCursor(name string, seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCursors).Put([]byte(name), seqKey(seq))
	})
}

// DeleteCursor forgets a receiver, so it no longer holds back pruning.
func (s *Store) DeleteCursor(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCursors).Delete([]byte(name))
	})
}

// FirstSeq returns the sequence of the oldest event kept, 0 if the log is empty.
func (s *Store) FirstSeq() (uint64, error) {
	var first uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketEvents).Cursor().First(); k != nil {
			first = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return first, err
}
