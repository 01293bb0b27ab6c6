package outbox

import (
	"fmt"
	"log/slog"
	"slices"
	"sort"
)

// CursorStore is what DeleteStale and Prepare need of hub.Store.
type CursorStore interface {
	Cursors() (map[string]uint64, error)
	DeleteCursor(name string) error
	SetCursor(name string, seq uint64) error
	LastSeq() (uint64, error)
}

// Prepare readies the cursors of every configured destination before anything can log an
// event: it deletes the stale ones (DeleteStale) and creates the missing ones at the end of
// the log as it is now. Call it before the hub runs. A destination that created its cursor
// only when it opened would pass over whatever was logged between the hub's start and its
// own, such as an alarm or a transmission test in the first moments of a first start.
func Prepare(store CursorStore, names []string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, err := DeleteStale(store, names, logger); err != nil {
		return err
	}
	cursors, err := store.Cursors()
	if err != nil {
		return fmt.Errorf("prepare cursors: %w", err)
	}
	last, err := store.LastSeq()
	if err != nil {
		return fmt.Errorf("prepare cursors: %w", err)
	}
	for _, name := range names {
		if _, ok := cursors[name]; ok {
			continue
		}
		if err := store.SetCursor(name, last); err != nil {
			return fmt.Errorf("create cursor %s: %w", name, err)
		}
		logger.Info("new destination starts at the end of the log", "cursor", name, "seq", last)
	}
	return nil
}

// DeleteStale deletes the cursors not named in keep: those of receivers and uplinks no
// longer configured. A stale cursor holds back pruning for ever, so the log would outgrow
// its cap. Each deletion is logged with the number of events the cursor held back. Call it
// at start, with the cursor names of every configured destination, before they open.
func DeleteStale(store CursorStore, keep []string, logger *slog.Logger) (deleted []string, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cursors, err := store.Cursors()
	if err != nil {
		return nil, fmt.Errorf("delete stale cursors: %w", err)
	}
	last, err := store.LastSeq()
	if err != nil {
		return nil, fmt.Errorf("delete stale cursors: %w", err)
	}
	names := make([]string, 0, len(cursors))
	for name := range cursors {
		if !slices.Contains(keep, name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if err := store.DeleteCursor(name); err != nil {
			return deleted, fmt.Errorf("delete stale cursor %s: %w", name, err)
		}
		held := uint64(0)
		if c := cursors[name]; last > c {
			held = last - c
		}
		logger.Warn("deleted the cursor of a destination no longer configured", "cursor", name, "held_back", held)
		deleted = append(deleted, name)
	}
	return deleted, nil
}
