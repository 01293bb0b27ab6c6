package hub

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketNonces holds, per scope (a signer), the nonces of accepted signed commands and
// when each was used, so that a command captured before a crash is still refused after.
var bucketNonces = []byte("nonces")

// Errors of UseNonce.
var (
	// ErrNonceUsed means the nonce was used within the memory: the command is a replay.
	ErrNonceUsed = errors.New("nonce already used")
	// ErrNoncesFull means the scope remembers as many nonces as it may: commands are
	// refused (fail closed) until old ones are forgotten.
	ErrNoncesFull = errors.New("too many nonces remembered")
)

// UseNonce records that scope used nonce at now, durably before it returns, unless it was
// used less than memory ago (ErrNonceUsed). Nonces of scope older than memory are
// forgotten; when max are remembered it refuses with ErrNoncesFull. A clock that went
// back keeps nonces longer, never shorter.
func (s *Store) UseNonce(scope, nonce string, now time.Time, memory time.Duration, max int) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucketIfNotExists(bucketNonces)
		if err != nil {
			return err
		}
		b, err := top.CreateBucketIfNotExists([]byte(scope))
		if err != nil {
			return err
		}
		var old [][]byte
		n := 0
		err = b.ForEach(func(k, v []byte) error {
			if len(v) == 8 && now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(v)))) >= memory {
				old = append(old, k)
			} else {
				n++
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		if b.Get([]byte(nonce)) != nil {
			return ErrNonceUsed
		}
		if n >= max {
			return ErrNoncesFull
		}
		var at [8]byte
		binary.BigEndian.PutUint64(at[:], uint64(now.UnixNano()))
		return b.Put([]byte(nonce), at[:])
	})
	if errors.Is(err, ErrNonceUsed) || errors.Is(err, ErrNoncesFull) {
		return err
	}
	if err != nil {
		return fmt.Errorf("use nonce: %w", err)
	}
	return nil
}
