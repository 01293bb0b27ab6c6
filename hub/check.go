package hub

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrStoreDamaged means the store file is damaged: vakt neither starts on it nor replaces
// it. A *DamageError says what is wrong and what to do.
var ErrStoreDamaged = errors.New("store is damaged")

// DamageError is a damaged store: the file, what is wrong with it, and what to do.
type DamageError struct {
	Path    string
	Problem string
}

// Error is one message for the person at the gateway: the file, the damage, and the way
// out (a backup, or check and salvage).
func (e *DamageError) Error() string {
	dir, name := filepath.Dir(e.Path), filepath.Base(e.Path)
	demo := ""
	if name == "demo.db" {
		demo = " -demo"
	}
	return fmt.Sprintf("store %s is damaged: %s. vakt does not start on a damaged store and does not replace it. "+
		"Restore a backup with `vakt restore -data %s%s BACKUPFILE`, or run `vakt store check -data %s%s` to see what is wrong and "+
		"`vakt store salvage -data %s%s -o NEWFILE` to copy every readable event, the installation, the state, "+
		"the secrets and the cursors into NEWFILE, then move NEWFILE to %s",
		e.Path, e.Problem, dir, demo, dir, demo, dir, demo, e.Path)
}

// Is makes errors.Is(err, ErrStoreDamaged) true.
func (e *DamageError) Is(target error) bool { return target == ErrStoreDamaged }

// inspectStore checks an existing store file before bbolt opens it for writing, so that
// damage bbolt would panic or fault on (a bad free-page list, an overwritten page, a file
// cut short) or silently start afresh on (an empty file) is a *DamageError instead. A
// missing file is no error: OpenStore creates it.
func inspectStore(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	if info.Size() == 0 {
		return &DamageError{Path: path, Problem: "the file is empty (0 bytes): it was truncated or never written"}
	}
	lock, err := lockStore(path)
	if err != nil {
		return err
	}
	defer lock.Close()
	c, err := readStoreFileDamage(path)
	if err != nil {
		return err
	}
	if c.fatal != nil {
		return &DamageError{Path: path, Problem: c.fatal.Error()}
	}
	if len(c.damage) > 0 {
		p := c.damage[0].String()
		if n := len(c.damage); n > 1 {
			p += fmt.Sprintf(" (and %d more damaged parts)", n-1)
		}
		return &DamageError{Path: path, Problem: p}
	}
	return nil
}

// lockStore takes bbolt's shared lock on an existing store, so that nothing reads it while
// a running vakt writes it. bbolt's read-only open reads only the two meta pages, which
// it validates before use, so a damaged file gives an error here, never a panic.
func lockStore(path string) (io.Closer, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w", path, ErrStoreLocked)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
		// Say precisely what is wrong where bbolt only says "invalid".
		if c, rerr := readStoreFile(path); rerr == nil && c.fatal != nil {
			return nil, &DamageError{Path: path, Problem: c.fatal.Error()}
		}
		return nil, &DamageError{Path: path, Problem: err.Error()}
	}
	return db, nil
}

// openBolt opens the store for writing, creates its buckets and migrates it from the
// schema version it had, which it returns (0 for a new store), to SchemaVersion, all in
// one transaction.
// Should bbolt still panic or fault on damage inspectStore did not see, that is a
// *DamageError too.
func openBolt(path string) (db *bolt.DB, from int, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, from, err = nil, 0, &DamageError{Path: path, Problem: fmt.Sprintf("bbolt: %v", r)}
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, 0, fmt.Errorf("open store %s: %w", path, ErrStoreLocked)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open store %s: %w", path, err)
	}
	// A store this vakt cannot read is refused before anything writes to it, so that the
	// newer vakt it came from finds it as it left it.
	if err := db.View(func(tx *bolt.Tx) error { _, err := checkSchema(tx, path); return err }); err != nil {
		db.Close()
		return nil, 0, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		fresh := tx.Bucket(bucketMeta) == nil
		for _, b := range [][]byte{bucketMeta, bucketEvents, bucketCursors} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if from, err = checkSchema(tx, path); err != nil {
			return err
		}
		if err := migrate(tx, from); err != nil {
			return err
		}
		if fresh {
			from = 0
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, 0, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, from, nil
}

// storeContents is what a walk of a store file read: buckets and their keys and values in
// key order, and the damaged parts it skipped.
type storeContents struct {
	// fatal is damage that leaves nothing to read (an empty file, both meta pages bad), or
	// a file cut short, of which the pages still there were read.
	fatal   error
	buckets [][]string
	kvs     []storeKV
	damage  []damage
	// orphanEvents are events on sound leaf pages the walk did not reach; an event never
	// changes once written, so any copy of it is good.
	orphanEvents []storeKV
}

type storeKV struct {
	path []string
	k, v []byte
}

// readStoreFile reads every readable bucket, key and value of the store file at path
// without bbolt, so that no damage can make it panic.
func readStoreFile(path string) (*storeContents, error) { return readStore(path, true) }

// readStoreFileDamage only looks for damage, reading every page but keeping no values: what
// OpenStore does at every start.
func readStoreFileDamage(path string) (*storeContents, error) { return readStore(path, false) }

func readStore(path string, keep bool) (*storeContents, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	defer f.Close()
	c := &storeContents{}
	b, err := openBoltFile(f)
	if err != nil {
		c.fatal = err
	}
	if b == nil {
		return c, nil
	}
	if err := b.checkFreelist(); err != nil {
		c.damage = append(c.damage, damage{Problem: err.Error()})
	}
	v := boltVisitor{Damage: func(d damage) { c.damage = append(c.damage, d) }}
	if keep {
		v.Bucket = func(p []string) { c.buckets = append(c.buckets, p) }
		v.KV = func(p []string, k, v []byte) { c.kvs = append(c.kvs, storeKV{path: p, k: k, v: v}) }
	}
	seen := b.walk(v)
	if keep && (c.fatal != nil || len(c.damage) > 0) {
		b.orphanLeaves(seen, func(k, v []byte) {
			if len(k) == 8 && bytes.HasPrefix(v, []byte(`{"seq":`)) {
				c.orphanEvents = append(c.orphanEvents, storeKV{path: []string{string(bucketEvents)}, k: k, v: v})
			}
		})
	}
	return c, nil
}

// get returns the value of key in the top-level bucket, nil when absent.
func (c *storeContents) get(bucket, key []byte) []byte {
	for _, kv := range c.kvs {
		if len(kv.path) == 1 && kv.path[0] == string(bucket) && string(kv.k) == string(key) {
			return kv.v
		}
	}
	return nil
}

// SeqRange is a run of event sequences, From to To inclusive; To 0 means "and on".
type SeqRange struct{ From, To uint64 }

func (r SeqRange) String() string {
	switch {
	case r.To == 0:
		return fmt.Sprintf("%d on", r.From)
	case r.From == r.To:
		return fmt.Sprint(r.From)
	}
	return fmt.Sprintf("%d–%d", r.From, r.To)
}

// eventScan sorts a store's events into the readable ones and the sequences lost.
type eventScan struct {
	events      []storeKV // readable, in sequence order
	first, last uint64
	lost        []SeqRange
	problems    []string
}

// scanEvents decodes every event read and finds what is lost: undecodable events, gaps
// between readable ones, damaged pages before the first, and the tail up to the state's
// next sequence. Events found on orphaned pages fill the gaps the tree leaves.
func scanEvents(c *storeContents, st *State) eventScan {
	var s eventScan
	good := map[uint64]storeKV{}
	bad := map[uint64]bool{}
	decode := func(kv storeKV, orphan bool) {
		if len(kv.k) != 8 {
			if !orphan {
				s.problems = append(s.problems, fmt.Sprintf("events: key %x is not a sequence", kv.k))
			}
			return
		}
		seq := binary.BigEndian.Uint64(kv.k)
		if _, ok := good[seq]; ok {
			return
		}
		var ev Event
		err := json.Unmarshal(kv.v, &ev)
		switch {
		case err == nil && ev.Seq == seq:
			good[seq] = kv
			delete(bad, seq)
		case orphan:
		case err != nil:
			s.problems = append(s.problems, fmt.Sprintf("event %d does not decode: %v", seq, err))
			bad[seq] = true
		default:
			s.problems = append(s.problems, fmt.Sprintf("event %d says it is event %d", seq, ev.Seq))
			bad[seq] = true
		}
	}
	var treeFirst uint64
	for _, kv := range c.kvs {
		if len(kv.path) == 1 && kv.path[0] == string(bucketEvents) {
			decode(kv, false)
			if len(kv.k) == 8 && treeFirst == 0 {
				treeFirst = binary.BigEndian.Uint64(kv.k)
			}
		}
	}
	// The oldest event the log kept: the tree's first, unless damage cut off older ones.
	floor := treeFirst
	for _, d := range c.damage {
		if d.Bucket == string(bucketEvents) {
			if len(d.From) != 8 {
				floor = 1
			} else if f := binary.BigEndian.Uint64(d.From); floor == 0 || f < floor {
				floor = f
			}
		}
	}
	if c.fatal != nil && treeFirst == 0 {
		floor = 1
	}
	for _, kv := range c.orphanEvents {
		if seq := binary.BigEndian.Uint64(kv.k); floor != 0 && seq >= floor && (st == nil || seq < st.NextSeq) {
			decode(kv, true)
		}
	}
	seqs := make([]uint64, 0, len(good))
	for seq := range good {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	for seq := range bad {
		if _, ok := good[seq]; !ok && (len(seqs) == 0 || seq < seqs[0] || seq > seqs[len(seqs)-1]) {
			s.addLost(seq, seq)
		}
	}
	for i, seq := range seqs {
		if i > 0 && seq > seqs[i-1]+1 {
			s.addLost(seqs[i-1]+1, seq-1)
		}
		s.events = append(s.events, good[seq])
	}
	if len(seqs) > 0 {
		s.first, s.last = seqs[0], seqs[len(seqs)-1]
	}
	if floor != 0 && (s.first == 0 || floor < s.first) {
		to := uint64(0)
		if s.first != 0 {
			to = s.first - 1
		}
		if st != nil && to == 0 && st.NextSeq > floor {
			to = st.NextSeq - 1
		}
		s.addLost(floor, to)
	}
	if st != nil && st.NextSeq > s.last+1 && s.last != 0 {
		s.addLost(s.last+1, st.NextSeq-1)
	}
	slices.SortFunc(s.lost, func(a, b SeqRange) int { return cmp.Compare(a.From, b.From) })
	return s
}

func (s *eventScan) addLost(from, to uint64) {
	for _, r := range s.lost {
		if r.From <= from && (r.To == 0 || to != 0 && to <= r.To) {
			return
		}
	}
	s.lost = append(s.lost, SeqRange{from, to})
}

func (s eventScan) lostString() string {
	parts := make([]string, len(s.lost))
	for i, r := range s.lost {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// StoreReport is what `vakt store check` found.
type StoreReport struct {
	Path string
	// Problems lists every damage found: bbolt's structure and vakt's own data.
	Problems []string
	// Events is how many events are readable, FirstSeq and LastSeq the oldest and newest.
	Events            int
	FirstSeq, LastSeq uint64
	// Lost lists the sequences of events that are damaged or missing.
	Lost []SeqRange
}

// Damaged reports whether the check found anything wrong.
func (r *StoreReport) Damaged() bool { return len(r.Problems) > 0 }

// WriteTo prints the report for a person.
func (r *StoreReport) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	if r.Damaged() {
		fmt.Fprintf(&b, "store %s is damaged:\n", r.Path)
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  - %s\n", p)
		}
	} else {
		fmt.Fprintf(&b, "store %s is sound\n", r.Path)
	}
	fmt.Fprintf(&b, "events: %d readable", r.Events)
	if r.Events > 0 {
		fmt.Fprintf(&b, " (%d to %d)", r.FirstSeq, r.LastSeq)
	}
	if len(r.Lost) > 0 {
		s := eventScan{lost: r.Lost}
		fmt.Fprintf(&b, "; lost: %s", s.lostString())
	}
	b.WriteString("\n")
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// CheckStore runs bbolt's consistency check and vakt's own on the store at path: the
// installation decodes and is valid, the state decodes, the events decode in sequence
// order. It reads a damaged file without panicking; the error is for a file it cannot
// read at all (missing, in use by a running vakt).
func CheckStore(path string) (*StoreReport, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("check store %s: %w", path, err)
	}
	r := &StoreReport{Path: path}
	lock, err := lockStore(path)
	var de *DamageError
	switch {
	case errors.As(err, &de):
		// Damaged headers: read what can be read without bbolt.
	case err != nil:
		return nil, err
	default:
		defer lock.Close()
	}
	c, err := readStoreFile(path)
	if err != nil {
		return nil, err
	}
	if c.fatal != nil {
		r.Problems = append(r.Problems, c.fatal.Error())
	}
	for _, d := range c.damage {
		r.Problems = append(r.Problems, d.String())
	}
	if c.fatal == nil && len(c.damage) == 0 && lock != nil {
		// Only a file whose every page is sound goes to bbolt's own check, which would
		// fault on a page outside the file.
		err := lock.(*bolt.DB).View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				r.Problems = append(r.Problems, "bbolt: "+err.Error())
			}
			return nil
		})
		if err != nil {
			r.Problems = append(r.Problems, "bbolt: "+err.Error())
		}
	}
	st, problems := checkContents(c)
	r.Problems = append(r.Problems, problems...)
	ev := scanEvents(c, st)
	r.Problems = append(r.Problems, ev.problems...)
	if len(ev.lost) > 0 && len(ev.problems) == 0 && !hasEventDamage(c) {
		r.Problems = append(r.Problems, "events missing from the log: "+ev.lostString())
	}
	r.Events, r.FirstSeq, r.LastSeq, r.Lost = len(ev.events), ev.first, ev.last, ev.lost
	return r, nil
}

func hasEventDamage(c *storeContents) bool {
	for _, d := range c.damage {
		if d.Bucket == string(bucketEvents) {
			return true
		}
	}
	return false
}

// checkContents checks vakt's own data: the installation decodes and validates, the state
// decodes, the cursors are sequences. It returns the state when it decodes.
func checkContents(c *storeContents) (*State, []string) {
	var problems []string
	if c.fatal != nil && len(c.kvs) == 0 {
		return nil, nil
	}
	if v := c.get(bucketMeta, keyInstallation); v == nil {
		problems = append(problems, "the installation is missing")
	} else if _, err := decodeInstallation(v); err != nil {
		problems = append(problems, err.Error())
	}
	if v := c.get(bucketMeta, keySchema); v != nil {
		if n, ok := parseSchema(v); !ok {
			problems = append(problems, fmt.Sprintf("the schema version %q does not read", v))
		} else if n > SchemaVersion {
			problems = append(problems, fmt.Sprintf("store schema %d is newer than this vakt (%d): upgrade vakt", n, SchemaVersion))
		}
	}
	var st *State
	if v := c.get(bucketMeta, keyState); v != nil {
		st = new(State)
		if err := json.Unmarshal(v, st); err != nil {
			problems = append(problems, fmt.Sprintf("the state does not decode: %v", err))
			st = nil
		}
	}
	for _, kv := range c.kvs {
		if len(kv.path) == 1 && kv.path[0] == string(bucketCursors) && len(kv.v) != 8 {
			problems = append(problems, fmt.Sprintf("cursor %q is %d bytes, want 8", kv.k, len(kv.v)))
		}
	}
	return st, problems
}

func decodeInstallation(v []byte) (*Installation, error) {
	inst := new(Installation)
	if err := json.Unmarshal(v, inst); err != nil {
		return nil, fmt.Errorf("the installation does not decode: %v", err)
	}
	if err := inst.Validate(); err != nil {
		return nil, fmt.Errorf("the installation is not valid: %v", err)
	}
	return inst, nil
}
