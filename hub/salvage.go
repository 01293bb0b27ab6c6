package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SalvageReport says what `vakt store salvage` copied into the new file and what it lost.
type SalvageReport struct {
	Path, Out string
	// Events is how many events were saved, FirstSeq and LastSeq the oldest and newest.
	Events            int
	FirstSeq, LastSeq uint64
	// Lost lists the sequences of events that could not be read.
	Lost []SeqRange
	// Installation and State say whether each was saved; Secrets and Cursors count them.
	Installation, State bool
	Secrets, Cursors    int
	// Problems lists the damage met on the way.
	Problems []string
}

// WriteTo prints the report for a person.
func (r *SalvageReport) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "salvaged %s into %s\n", r.Path, r.Out)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  damage: %s\n", p)
	}
	fmt.Fprintf(&b, "events saved: %d", r.Events)
	if r.Events > 0 {
		fmt.Fprintf(&b, " (%d to %d)", r.FirstSeq, r.LastSeq)
	}
	b.WriteString("\n")
	if len(r.Lost) > 0 {
		fmt.Fprintf(&b, "events lost: %s\n", eventScan{lost: r.Lost}.lostString())
	} else {
		b.WriteString("events lost: none\n")
	}
	yes := map[bool]string{true: "saved", false: "LOST"}
	fmt.Fprintf(&b, "installation: %s; state: %s; secrets: %d; cursors: %d\n", yes[r.Installation], yes[r.State], r.Secrets, r.Cursors)
	if !r.State && r.Events > 0 {
		fmt.Fprintf(&b, "without the state vakt starts disarmed and numbers new events from %d on: tell the monitoring station, which may have seen later numbers\n", r.LastSeq+1)
	}
	if !r.Installation {
		b.WriteString("without the installation vakt starts with an empty one: import a backup with `vakt installation import`\n")
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// SalvageStore copies everything readable from the store at path into a new store at out:
// every event that decodes, the installation (if it decodes and is valid), the state,
// the secrets, the cursors and what drivers saved. It reads the damaged file without
// bbolt, so it never panics, and skips damaged pages. now stamps the history entry that
// marks lost events at the end of the log.
func SalvageStore(path, out string, now time.Time) (*SalvageReport, error) {
	if abs, _ := filepath.Abs(path); abs == mustAbs(out) {
		return nil, errors.New("salvage: the new file must not be the damaged one")
	}
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("salvage: %s already exists; give a new file", out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("salvage: %w", err)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("salvage: %w", err)
	}
	if lock, err := lockStore(path); err == nil {
		defer lock.Close()
	} else if !errors.Is(err, ErrStoreDamaged) {
		return nil, err
	}
	c, err := readStoreFile(path)
	if err != nil {
		return nil, err
	}
	r := &SalvageReport{Path: path, Out: out}
	if c.fatal != nil {
		r.Problems = append(r.Problems, c.fatal.Error())
	}
	for _, d := range c.damage {
		r.Problems = append(r.Problems, d.String())
	}
	if c.fatal != nil && len(c.kvs) == 0 && len(c.orphanEvents) == 0 {
		return r, fmt.Errorf("salvage %s: nothing is readable: %w", path, c.fatal)
	}

	var st *State
	if v := c.get(bucketMeta, keyState); v != nil {
		st = new(State)
		if err := json.Unmarshal(v, st); err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("the state does not decode: %v", err))
			st = nil
		}
	}
	ev := scanEvents(c, st)
	r.Problems = append(r.Problems, ev.problems...)
	r.Events, r.FirstSeq, r.LastSeq, r.Lost = len(ev.events), ev.first, ev.last, ev.lost

	// The log must end where the state goes on, or the next commit would leave a gap; the
	// lost sequences must never be used again (the station may have seen them). So a lost
	// tail ends in one history entry that says so.
	var marker *storeKV
	if st != nil && st.NextSeq > ev.last+1 {
		m := Event{Seq: st.NextSeq - 1, Time: now.UTC(), Kind: KindDiskFault,
			Note: fmt.Sprintf("store salvaged: events %s lost", eventScan{lost: ev.lost}.lostString())}
		v, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("salvage: %w", err)
		}
		marker = &storeKV{path: []string{string(bucketEvents)}, k: seqKey(m.Seq), v: v}
	}

	db, err := bolt.Open(out, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("salvage: create %s: %w", out, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		bucket := func(path []string) (*bolt.Bucket, error) {
			b, err := tx.CreateBucketIfNotExists([]byte(path[0]))
			for _, p := range path[1:] {
				if err != nil {
					break
				}
				b, err = b.CreateBucketIfNotExists([]byte(p))
			}
			return b, err
		}
		for _, name := range [][]byte{bucketMeta, bucketEvents, bucketCursors} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		for _, p := range c.buckets {
			if _, err := bucket(p); err != nil {
				return err
			}
		}
		put := func(kv storeKV) error {
			b, err := bucket(kv.path)
			if err != nil {
				return err
			}
			return b.Put(kv.k, kv.v)
		}
		for _, kv := range c.kvs {
			top := kv.path[0]
			switch {
			case len(kv.path) == 1 && top == string(bucketEvents):
				continue // only the readable ones, below
			case len(kv.path) == 1 && top == string(bucketMeta) && string(kv.k) == string(keyInstallation):
				if _, err := decodeInstallation(kv.v); err != nil {
					r.Problems = append(r.Problems, err.Error())
					continue
				}
				r.Installation = true
			case len(kv.path) == 1 && top == string(bucketMeta) && string(kv.k) == string(keyState):
				if st == nil {
					continue
				}
				r.State = true
			case len(kv.path) == 1 && top == string(bucketMeta) && strings.HasPrefix(string(kv.k), "secret/"):
				r.Secrets++
			case len(kv.path) == 1 && top == string(bucketCursors):
				if len(kv.v) != 8 {
					r.Problems = append(r.Problems, fmt.Sprintf("cursor %q is %d bytes, want 8", kv.k, len(kv.v)))
					continue
				}
				r.Cursors++
			}
			if err := put(kv); err != nil {
				return err
			}
		}
		events := tx.Bucket(bucketEvents)
		events.FillPercent = 1
		for _, kv := range ev.events {
			if err := events.Put(kv.k, kv.v); err != nil {
				return err
			}
		}
		if marker != nil {
			return put(*marker)
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return nil, fmt.Errorf("salvage: write %s: %w", out, err)
	}
	return r, nil
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}
