package hub

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketSessions holds web sessions and API tokens, keyed by the SHA-256 of their token: a
// stolen store file gives away no session.
var bucketSessions = []byte("sessions")

// Session kinds.
const (
	// SessionWeb is a browser's login, carried in a cookie; its requests need the CSRF token.
	SessionWeb = "web"
	// SessionAPI is a user's API token, sent as "Authorization: Bearer …".
	SessionAPI = "api"
)

// Session is a signed-in browser or an API token of one user.
type Session struct {
	Kind string `json:"kind"`
	User string `json:"user"`
	// CSRF is the token every state-changing request of a web session must carry.
	CSRF    string    `json:"csrf,omitempty"`
	Created time.Time `json:"created"`
	// Expires is when the session ends; zero never (API tokens).
	Expires time.Time `json:"expires,omitzero"`
	// Name says what an API token is for.
	Name string `json:"name,omitempty"`
	// Address and Agent are where a web session signed in from and its browser (the
	// User-Agent, cut short), so that its user can tell their sessions apart.
	Address string `json:"address,omitempty"`
	Agent   string `json:"agent,omitempty"`
}

// SessionEntry is a stored session with its ID: the hash of its token, URL-safe base64, by
// which it can be listed and revoked but never used.
type SessionEntry struct {
	ID string `json:"id"`
	Session
}

// SessionID is the ID of token's session (SessionEntry.ID).
func SessionID(token string) string { return base64.RawURLEncoding.EncodeToString(sessionKey(token)) }

// Expired reports whether the session has ended at now.
func (s Session) Expired(now time.Time) bool {
	return !s.Expires.IsZero() && !now.Before(s.Expires)
}

// NewToken returns a random token of 32 bytes, URL-safe base64: for session ids, API
// tokens, CSRF tokens and one-time links.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func sessionKey(token string) []byte {
	k := sha256.Sum256([]byte(token))
	return k[:]
}

// SaveSession stores the session under the hash of token.
func (s *Store) SaveSession(token string, sess Session) error {
	v, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSessions)
		if err != nil {
			return err
		}
		return b.Put(sessionKey(token), v)
	})
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// Session returns the session of token; ok is false when there is none.
func (s *Store) Session(token string) (sess Session, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil {
			return nil
		}
		v := b.Get(sessionKey(token))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &sess)
	})
	if err != nil {
		return Session{}, false, fmt.Errorf("read session: %w", err)
	}
	return sess, ok, nil
}

// DeleteSession ends the session of token; there being none is no error.
func (s *Store) DeleteSession(token string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil {
			return nil
		}
		return b.Delete(sessionKey(token))
	})
}

// PruneSessions deletes the sessions that ended at now, and those of users keep does not
// know (a removed user's sessions end with them); it returns how many it deleted.
func (s *Store) PruneSessions(now time.Time, keep func(user string) bool) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil {
			return nil
		}
		var dead [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var sess Session
			if err := json.Unmarshal(v, &sess); err != nil || sess.Expired(now) || (keep != nil && !keep(sess.User)) {
				dead = append(dead, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return n, nil
}

// Sessions lists the sessions that have not ended at now, of user only unless user is
// empty, oldest first.
func (s *Store) Sessions(now time.Time, user string) ([]SessionEntry, error) {
	var out []SessionEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var sess Session
			if err := json.Unmarshal(v, &sess); err != nil || sess.Expired(now) || (user != "" && sess.User != user) {
				return nil
			}
			out = append(out, SessionEntry{ID: base64.RawURLEncoding.EncodeToString(k), Session: sess})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	slices.SortFunc(out, func(a, b SessionEntry) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// SessionByID returns the session with the given ID; ok is false when there is none.
func (s *Store) SessionByID(id string) (sess Session, ok bool, err error) {
	k, derr := base64.RawURLEncoding.DecodeString(id)
	if derr != nil || len(k) != sha256.Size {
		return Session{}, false, nil
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil {
			return nil
		}
		v := b.Get(k)
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &sess)
	})
	if err != nil {
		return Session{}, false, fmt.Errorf("read session: %w", err)
	}
	return sess, ok, nil
}

// DeleteSessionID ends the session with the given ID; there being none is no error.
func (s *Store) DeleteSessionID(id string) error {
	k, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(k) != sha256.Size {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil {
			return nil
		}
		return b.Delete(k)
	})
}
