package hub

// StoreWrites is what the store has written to its file since it was opened, from bbolt's
// transaction statistics: what wears an SD card.
type StoreWrites struct {
	// Bytes is the size of the pages the store's transactions wrote: every page a write
	// transaction changes is written whole. Each commit also writes one meta page, counted
	// in Writes.
	Bytes int64
	// Writes counts the write calls, meta pages included.
	Writes int64
}

// Writes returns what the store has written since it was opened. It is safe for concurrent
// use.
func (s *Store) Writes() StoreWrites {
	st := s.db.Stats().TxStats
	return StoreWrites{Bytes: st.GetPageAlloc(), Writes: st.GetWrite()}
}
