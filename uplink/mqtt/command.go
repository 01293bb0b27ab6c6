package mqtt

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vakt/hub"
)

// Refusal reasons for remote commands. They go back to the sender in the result.
var (
	ErrBadCommand   = errors.New("malformed command")
	ErrBadSignature = errors.New("bad signature")
	ErrStale        = errors.New("timestamp outside the accepted window")
	ErrReplay       = errors.New("nonce already used")
	ErrBusy         = errors.New("too many commands")
	ErrTooLarge     = errors.New("command too large")
)

// Commands a remote sender may give.
const (
	CmdArm    = "arm"
	CmdDisarm = "disarm"
	CmdAck    = "ack"
)

const (
	// MaxClockSkew is how far a command's ts may be from the hub's clock.
	MaxClockSkew = 60 * time.Second
	// NonceMemory is how long a nonce is remembered, and refused if seen again. It is
	// much longer than MaxClockSkew, so a replay is refused by one check or the other.
	NonceMemory = 10 * time.Minute
	// maxNonces bounds the replay memory; when it is full, commands are refused (fail
	// closed) until old nonces expire. Only correctly signed commands take a place.
	maxNonces = 4096
	// MaxCommandSize bounds a command's payload: a larger one is refused unread.
	MaxCommandSize = 4096
	// signedPrefix versions the signed bytes.
	signedPrefix = "vakt-cmd-v1"
)

// Command is a remote command as sent on <prefix>/<hub_id>/commands.
type Command struct {
	Cmd  string `json:"cmd"`
	Area int    `json:"area"`
	// Mode is the armed mode for arm: away, home (or stay) or night; empty otherwise.
	Mode string `json:"mode,omitempty"`
	// TS is the sender's time in Unix seconds.
	TS int64 `json:"ts"`
	// Nonce is 8–64 characters of A-Z, a-z, 0-9, '_' and '-', never used twice.
	Nonce string `json:"nonce"`
	// Sig is the HMAC-SHA256, in hex, of SignedBytes under the command key.
	Sig string `json:"sig"`
}

// CommandResult is published on <prefix>/<hub_id>/commands/result for every command.
type CommandResult struct {
	Nonce string `json:"nonce"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// SignedBytes returns what a command's signature covers:
//
//	vakt-cmd-v1|<hub_id>|<cmd>|<area>|<mode>|<ts>|<nonce>
//
// with area and ts in decimal, and mode empty when not given. The hub id is included so a
// command signed for one hub cannot be replayed to another sharing the key; no field may
// contain '|' (validate refuses such commands), so the encoding is unambiguous.
func SignedBytes(hubID string, c Command) []byte {
	return []byte(strings.Join([]string{signedPrefix, hubID, c.Cmd, strconv.Itoa(c.Area), c.Mode,
		strconv.FormatInt(c.TS, 10), c.Nonce}, "|"))
}

// Sign sets c.Sig for hubID under key: what a station or the owner's server does.
func (c *Command) Sign(hubID string, key []byte) {
	c.Sig = hex.EncodeToString(mac(key, SignedBytes(hubID, *c)))
}

func mac(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// parseCommand reads and checks the shape of a command, without its signature.
func parseCommand(payload []byte) (Command, error) {
	var c Command
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	if !validNonce(c.Nonce) {
		return c, fmt.Errorf("%w: nonce must be 8–64 of A-Z, a-z, 0-9, '_' and '-'", ErrBadCommand)
	}
	switch c.Cmd {
	case CmdArm:
		if c.Mode == "" {
			return c, fmt.Errorf("%w: arm needs a mode", ErrBadCommand)
		}
	case CmdDisarm, CmdAck:
	default:
		return c, fmt.Errorf("%w: cmd %q, want arm, disarm or ack", ErrBadCommand, c.Cmd)
	}
	if strings.ContainsAny(c.Mode, "|") || len(c.Mode) > 16 {
		return c, fmt.Errorf("%w: mode %q", ErrBadCommand, c.Mode)
	}
	if c.Area < 0 {
		return c, fmt.Errorf("%w: area %d", ErrBadCommand, c.Area)
	}
	return c, nil
}

func validNonce(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// verify checks c's signature and freshness at now, and remembers its nonce in seen.
func verify(c Command, hubID string, key []byte, now time.Time, seen *nonceGuard) error {
	sig, err := hex.DecodeString(c.Sig)
	if err != nil || !hmac.Equal(sig, mac(key, SignedBytes(hubID, c))) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(c.TS, 0)); d > MaxClockSkew || d < -MaxClockSkew {
		return fmt.Errorf("%w: %s off the hub's clock", ErrStale, d.Round(time.Second))
	}
	return seen.use(c.Nonce, now)
}

// input turns an accepted command into the hub input it asks for.
func (c Command) input(user string) (hub.Input, error) {
	in := hub.Input{Area: c.Area, User: user, How: hub.HowRemote}
	switch c.Cmd {
	case CmdArm:
		m, err := hub.ParseMode(c.Mode)
		if err != nil || !m.Armed() {
			return in, fmt.Errorf("%w: mode %q, want away, home or night", ErrBadCommand, c.Mode)
		}
		in.Kind, in.Mode = hub.InArm, m
	case CmdDisarm:
		in.Kind = hub.InDisarm
	case CmdAck:
		in.Kind = hub.InAcknowledge
	}
	return in, nil
}

// nonceGuard remembers nonces of accepted commands for NonceMemory in the store, so that a
// command captured before a crash is refused after it. Time comes in as an argument.
type nonceGuard struct {
	store *hub.Store
	scope string // the signer: one command key of one hub
}

func (g *nonceGuard) use(nonce string, now time.Time) error {
	err := g.store.UseNonce(g.scope, nonce, now, NonceMemory, maxNonces)
	switch {
	case errors.Is(err, hub.ErrNonceUsed):
		return ErrReplay
	case errors.Is(err, hub.ErrNoncesFull):
		return ErrBusy
	case err != nil:
		return fmt.Errorf("%w: %w", ErrBusy, err) // fail closed
	}
	return nil
}

// reason names err's kind for a sum of refusals.
func reason(err error) string {
	for _, e := range []error{ErrBadCommand, ErrBadSignature, ErrStale, ErrReplay, ErrBusy, ErrTooLarge, ErrUnknownRequest} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "refused by the hub"
}
