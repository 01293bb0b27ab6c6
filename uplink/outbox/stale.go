package outbox

import (
	"fmt"
	"log/slog"
	"slices"
	"sort"
)

// CursorStore is what DeleteStale needs of hub.Store.
type CursorStore interface {
	Cursors() (map[string]uint64, error)
	DeleteCursor(name string) error
	LastSeq() (uint64, error)
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
