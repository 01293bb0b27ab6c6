// Package outbox delivers the hub's event log to one destination behind a durable cursor:
// the mechanism every uplink shares (DC-09 receivers, the MQTT uplink).
//
// The log is the outbox. An Outbox keeps its cursor in the store under its name ("dc09/arc",
// "mqtt/home"): the last event delivered or passed over. Drain hands the wanted events behind
// the cursor to the uplink in order, a batch at a time, and moves the cursor only past what
// the uplink says is done; so delivery is at least once and in order, and a restart resends
// from the saved cursor. Cursor saves are batched: each is a bbolt commit on the store the
// hub commits alarms to. Run is the delivery loop, in which a new wanted event cuts any
// retry wait short: an alarm never waits for a back-off.
package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"vakt/hub"
)

// ReadBatch is how many events Drain reads from the log, and hands over, at a time.
const ReadBatch = 64

// DefaultSaveEvery bounds how long a moved cursor stays unsaved. A crash resends what was
// delivered since the last save: at most ReadBatch events, or this much time's worth.
const DefaultSaveEvery = time.Second

// Store is what an Outbox needs of hub.Store.
type Store interface {
	Cursor(name string) (seq uint64, ok bool, err error)
	SetCursor(name string, seq uint64) error
	LastSeq() (uint64, error)
	Events(after uint64, limit int) ([]hub.Event, error)
}

var _ Store = (*hub.Store)(nil)

// Outbox is one destination's durable cursor over the event log and the drain behind it.
// Its methods are safe for concurrent use, but Drain and Run are for one goroutine.
type Outbox struct {
	store Store
	name  string
	wants func(hub.Event) bool
	log   *slog.Logger
	// SaveEvery bounds how long a moved cursor stays unsaved; set it before Open.
	SaveEvery time.Duration

	mu      sync.Mutex
	cursor  uint64 // delivered or passed over, in memory
	saved   uint64 // as last saved in the store
	savedAt time.Time
}

// New returns an outbox named name (the store's cursor name) for the events wants accepts
// (nil: every event). It reads and writes nothing; Open does.
func New(store Store, name string, wants func(hub.Event) bool, logger *slog.Logger) *Outbox {
	if wants == nil {
		wants = func(hub.Event) bool { return true }
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Outbox{store: store, name: name, wants: wants, log: logger, SaveEvery: DefaultSaveEvery}
}

// Name returns the cursor's name in the store.
func (o *Outbox) Name() string { return o.name }

// Wants reports whether ev is for this outbox.
func (o *Outbox) Wants(ev hub.Event) bool { return o.wants(ev) }

// Open reads the cursor, creating it at the end of the log the first time: a new
// destination gets what happens from now on, not the installation's whole history.
func (o *Outbox) Open() error {
	seq, ok, err := o.store.Cursor(o.name)
	if err != nil {
		return fmt.Errorf("read cursor %s: %w", o.name, err)
	}
	if !ok {
		if seq, err = o.store.LastSeq(); err != nil {
			return fmt.Errorf("cursor %s: read log: %w", o.name, err)
		}
		if err := o.store.SetCursor(o.name, seq); err != nil {
			return fmt.Errorf("create cursor %s: %w", o.name, err)
		}
		o.log.Info("new destination starts at the end of the log", "cursor", o.name, "seq", seq)
	}
	o.mu.Lock()
	o.cursor, o.saved, o.savedAt = seq, seq, time.Now()
	o.mu.Unlock()
	return nil
}

// Cursor returns the last event delivered or passed over, in memory.
func (o *Outbox) Cursor() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cursor
}

// Passed reports whether the cursor has passed seq: in memory, or in the store (before
// Open, or for an event delivered before a restart).
func (o *Outbox) Passed(seq uint64) (bool, error) {
	if o.Cursor() >= seq {
		return true, nil
	}
	c, _, err := o.store.Cursor(o.name)
	return c >= seq, err
}

// Deliver sends a batch of wanted events, in order, calling done with each one once it is
// delivered (or settled for good): the cursor moves past it. It returns nil when the whole
// batch is done, or the error that stopped it.
type Deliver func(ctx context.Context, batch []hub.Event, done func(hub.Event)) error

// Drain hands every wanted event behind the cursor to deliver, in order and a batch at a
// time, until the log is done or deliver fails. Events the outbox does not want are
// passed over.
func (o *Outbox) Drain(ctx context.Context, deliver Deliver) error {
	for {
		cursor := o.Cursor()
		events, err := o.store.Events(cursor, ReadBatch)
		if err != nil {
			return fmt.Errorf("read log after %d: %w", cursor, err)
		}
		if len(events) == 0 {
			return nil
		}
		batch := make([]hub.Event, 0, len(events))
		for _, ev := range events {
			if o.wants(ev) {
				batch = append(batch, ev)
			}
		}
		if len(batch) > 0 {
			err = deliver(ctx, batch, o.done)
		}
		if err == nil {
			o.advance(events[len(events)-1].Seq)
		}
		o.Save(false)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func (o *Outbox) done(ev hub.Event) { o.advance(ev.Seq) }

func (o *Outbox) advance(seq uint64) {
	o.mu.Lock()
	o.cursor = max(o.cursor, seq)
	o.mu.Unlock()
}

// Save writes the cursor to the store if it moved: always when force is set, otherwise
// once ReadBatch events or SaveEvery have passed since the last save. Saving after every
// delivery would slow the hub's commits for nothing, since a cursor that lags only means a
// few events sent twice after a crash. A failed save is logged and returned; the cursor
// stays in memory and the next save tries again.
func (o *Outbox) Save(force bool) error {
	o.mu.Lock()
	cursor, saved, at := o.cursor, o.saved, o.savedAt
	o.mu.Unlock()
	if cursor == saved || !force && cursor-saved < ReadBatch && time.Since(at) < o.SaveEvery {
		return nil
	}
	if err := o.store.SetCursor(o.name, cursor); err != nil {
		o.log.Error("save cursor", "cursor", o.name, "seq", cursor, "error", err)
		return fmt.Errorf("save cursor %s: %w", o.name, err)
	}
	o.mu.Lock()
	o.saved, o.savedAt = cursor, time.Now()
	o.mu.Unlock()
	return nil
}

// saveDue returns in how long the cursor should be saved, if it moved since it last was.
func (o *Outbox) saveDue() (time.Duration, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cursor == o.saved {
		return 0, false
	}
	return max(o.SaveEvery-time.Since(o.savedAt), 0), true
}
