package uplink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"vakt/uplink/dc09"
)

// PathProbe is one path's answer to a NULL poll sent by Probe.
type PathProbe struct {
	Receiver string
	// Path is "primary" or "backup".
	Path    string
	Network string
	Addr    string
	// Acked reports that the receiver acknowledged the poll, RTT how fast.
	Acked bool
	RTT   time.Duration
	// Err is why it did not; ErrRefusedPoll when the receiver answered DUH.
	Err error
	// ClockOffset is the receiver's clock minus ours, when the receiver refused the first
	// poll's time (NAK) and said its own; zero otherwise.
	ClockOffset time.Duration
}

// ErrRefusedPoll means the receiver answered a NULL poll with DUH: it does not know the
// account, or cannot read the message (a wrong key).
var ErrRefusedPoll = errors.New("the receiver refused the NULL poll (DUH): check the account and the key")

// Probe sends one NULL poll on every path of every receiver in cfg, as the running uplink
// supervises them, and reports each answer, in order (receivers as configured, primary
// first). Each exchange gets timeout at most (the path's own timeout if shorter); a NAK
// for the clock is answered once with the corrected time, as the uplink does. seq gives
// the DC-09 sequence number for a receiver's polls: the uplink's polls reuse the number of
// the last event acknowledged (its cursor), which no event still to come carries, and so
// must every poll, lest a station that drops repeated numbers take a later event for a
// repeat of it.
func Probe(ctx context.Context, cfg Config, seq func(receiver string) int, timeout time.Duration) ([]PathProbe, error) {
	if !cfg.valid {
		if err := cfg.Validate(os.Getenv); err != nil {
			return nil, err
		}
	}
	var out []PathProbe
	for _, rc := range cfg.Receivers {
		paths := []struct {
			name string
			pc   *PathConfig
		}{{"primary", &rc.Primary}, {"backup", rc.Backup}}
		for _, p := range paths {
			if p.pc == nil {
				continue
			}
			set := p.pc.settings(rc.Account, p.name == "backup")
			set.client.Timeout = min(set.client.Timeout, timeout)
			pp := PathProbe{Receiver: rc.Name, Path: p.name, Network: set.client.Network, Addr: set.client.Addr}
			c, err := dc09.New(set.client)
			if err != nil {
				pp.Err = fmt.Errorf("%s %s: %w", rc.Name, p.name, err)
				out = append(out, pp)
				continue
			}
			resp, err := c.SendRetryNAK(ctx, dc09.Message{ID: dc09.IDNull, Seq: seq(rc.Name)})
			pp.ClockOffset = c.ClockOffset()
			c.Close()
			switch {
			case err == nil:
				pp.Acked, pp.RTT = true, resp.RTT
			case errors.Is(err, dc09.ErrDUH):
				pp.Err = ErrRefusedPoll
			default:
				pp.Err = err
			}
			out = append(out, pp)
		}
	}
	return out, nil
}

// PollSeq is the DC-09 sequence number of a NULL poll after the event with log sequence
// cursor was acknowledged (0: none yet): the number that event went with.
func PollSeq(cursor uint64) int { return dc09Seq(cursor) }
