package photos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
)

// ErrUnknownAlarm is a hold or release for an alarm with no photos kept.
var ErrUnknownAlarm = errors.New("no photos kept for that alarm")

// Photo is what is known of a photo besides the picture: never secret, kept next to it.
type Photo struct {
	ID     string    `json:"id"`
	Alarm  uint64    `json:"alarm"` // the alarm event's sequence
	Kind   string    `json:"kind"`  // burglary or fire
	Area   int       `json:"area"`
	Camera string    `json:"camera"`
	N      int       `json:"n"` // from 1, per camera and alarm
	Taken  time.Time `json:"taken"`
	// Size is the sealed (encrypted) size in bytes.
	Size int64 `json:"size"`
	// SentAt is when the station's broker acknowledged the photo; zero while queued.
	SentAt time.Time `json:"sent_at,omitzero"`
	// HoldUntil keeps the photo past its retention, for the station's investigation.
	HoldUntil time.Time `json:"hold_until,omitzero"`
}

// Archive keeps photos in a directory, each sealed with age to the station's recipient as
// it is read from the camera: the picture never touches the disk in the clear, and
// nothing on the card opens it. Each photo is <id>.age with its Photo in <id>.json.
type Archive struct {
	dir string
	to  age.Recipient

	mu sync.Mutex
}

// OpenArchive opens (creating) the archive in dir, sealing to to. Leftovers of a crash
// (temporary files, a picture without its record or the other way round) are removed.
func OpenArchive(dir string, to age.Recipient) (*Archive, error) {
	if to == nil {
		return nil, errors.New("open photo archive: no station key to encrypt to")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open photo archive: %w", err)
	}
	a := &Archive{dir: dir, to: to}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open photo archive: %w", err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	for name := range have {
		var orphan bool
		switch {
		case strings.HasSuffix(name, ".tmp"):
			orphan = true
		case strings.HasSuffix(name, ".age"):
			orphan = !have[strings.TrimSuffix(name, ".age")+".json"]
		case strings.HasSuffix(name, ".json"):
			orphan = !have[strings.TrimSuffix(name, ".json")+".age"]
		}
		if orphan {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("open photo archive: %w", err)
			}
		}
	}
	return a, nil
}

// Add reads a picture from take (which writes it to the writer it gets) sealing it on the
// way, and records it durably: the photo is in the archive when Add returns, or not at all.
func (a *Archive) Add(p Photo, take func(io.Writer) error) (Photo, error) {
	p.ID = fmt.Sprintf("%d-%s-%d", p.Alarm, p.Camera, p.N)
	base := filepath.Join(a.dir, p.ID)
	f, err := os.OpenFile(base+".age.tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return p, fmt.Errorf("photo %s: %w", p.ID, err)
	}
	defer os.Remove(base + ".age.tmp") // a no-op once renamed
	err = func() error {
		defer f.Close()
		w, err := age.Encrypt(f, a.to)
		if err != nil {
			return err
		}
		if err := take(w); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			return err
		}
		p.Size = st.Size()
		return f.Sync()
	}()
	if err != nil {
		return p, fmt.Errorf("photo %s: %w", p.ID, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// A hold placed while the alarm is still being photographed (a fire) covers the
	// photos that follow.
	others, err := a.list()
	if err != nil {
		return p, err
	}
	for _, q := range others {
		if q.Alarm == p.Alarm && q.HoldUntil.After(p.HoldUntil) {
			p.HoldUntil = q.HoldUntil
		}
	}
	if err := a.writeMeta(p); err != nil {
		return p, err
	}
	if err := os.Rename(base+".age.tmp", base+".age"); err != nil {
		os.Remove(base + ".json")
		return p, fmt.Errorf("photo %s: %w", p.ID, err)
	}
	return p, syncDir(a.dir)
}

// writeMeta replaces p's record atomically. Call with mu held.
func (a *Archive) writeMeta(p Photo) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	path := filepath.Join(a.dir, p.ID+".json")
	if err := writeFileSync(path+".tmp", b); err != nil {
		return fmt.Errorf("photo %s: %w", p.ID, err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("photo %s: %w", p.ID, err)
	}
	return nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// List returns every photo kept, oldest first.
func (a *Archive) List() ([]Photo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.list()
}

func (a *Archive) list() ([]Photo, error) {
	paths, err := filepath.Glob(filepath.Join(a.dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Photo
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("photo record %s: %w", filepath.Base(path), err)
		}
		var p Photo
		if err := json.Unmarshal(b, &p); err != nil || p.ID+".json" != filepath.Base(path) {
			return nil, fmt.Errorf("photo record %s: damaged", filepath.Base(path))
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(x, y Photo) int {
		if c := x.Taken.Compare(y.Taken); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out, nil
}

// Pending returns the photos not yet delivered, oldest first.
func (a *Archive) Pending() ([]Photo, error) {
	all, err := a.List()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(p Photo) bool { return !p.SentAt.IsZero() }), nil
}

// Sealed returns a photo's encrypted bytes.
func (a *Archive) Sealed(id string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(a.dir, id+".age"))
	if err != nil {
		return nil, fmt.Errorf("photo %s: %w", id, err)
	}
	return b, nil
}

// update changes the records of the photos match selects, and returns how many.
func (a *Archive) update(match func(Photo) bool, change func(*Photo)) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	all, err := a.list()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range all {
		if !match(p) {
			continue
		}
		change(&p)
		if err := a.writeMeta(p); err != nil {
			return n, err
		}
		n++
	}
	if n > 0 {
		return n, syncDir(a.dir)
	}
	return 0, nil
}

// MarkSent records that the station's broker acknowledged photo id at.
func (a *Archive) MarkSent(id string, at time.Time) error {
	_, err := a.update(func(p Photo) bool { return p.ID == id }, func(p *Photo) { p.SentAt = at })
	return err
}

// Hold keeps the photos of alarm until until (never shortening a hold), and returns how
// many photos it holds; ErrUnknownAlarm when none is kept.
func (a *Archive) Hold(alarm uint64, until time.Time) (int, error) {
	n, err := a.update(func(p Photo) bool { return p.Alarm == alarm }, func(p *Photo) {
		if until.After(p.HoldUntil) {
			p.HoldUntil = until
		}
	})
	if err == nil && n == 0 {
		err = ErrUnknownAlarm
	}
	return n, err
}

// Release ends the hold on alarm's photos: they go when their retention is over.
func (a *Archive) Release(alarm uint64) (int, error) {
	n, err := a.update(func(p Photo) bool { return p.Alarm == alarm }, func(p *Photo) { p.HoldUntil = time.Time{} })
	if err == nil && n == 0 {
		err = ErrUnknownAlarm
	}
	return n, err
}

// Prune deletes, at now, the photos taken more than retention ago and not held past now,
// delivered or not, and returns them.
func (a *Archive) Prune(now time.Time, retention time.Duration) ([]Photo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	all, err := a.list()
	if err != nil {
		return nil, err
	}
	var gone []Photo
	for _, p := range all {
		if now.Sub(p.Taken) < retention || now.Before(p.HoldUntil) {
			continue
		}
		base := filepath.Join(a.dir, p.ID)
		// The picture first: a record without one is an orphan OpenArchive removes.
		if err := os.Remove(base + ".age"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return gone, fmt.Errorf("delete photo %s: %w", p.ID, err)
		}
		if err := os.Remove(base + ".json"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return gone, fmt.Errorf("delete photo %s: %w", p.ID, err)
		}
		gone = append(gone, p)
	}
	if len(gone) > 0 {
		return gone, syncDir(a.dir)
	}
	return nil, nil
}

// jpegMagic starts every JPEG file; the tests look for it on disk.
var jpegMagic = []byte{0xFF, 0xD8, 0xFF}

// isJPEG reports whether b starts as a JPEG does.
func isJPEG(b []byte) bool { return bytes.HasPrefix(b, jpegMagic) }
