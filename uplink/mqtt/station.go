package mqtt

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// ErrUnknownRequest is the refusal of a station request of a kind nobody handles.
var ErrUnknownRequest = errors.New("unknown request")

// stationPrefix versions and separates what a station's signature covers.
const stationPrefix = "vakt-station-v1\n"

// StationRequest is a signed request from the monitoring station, sent on
// <prefix>/<hub_id>/station/<kind>. Req is the request's JSON (base64 in the envelope):
// at least {"hub_id","ts","nonce"}, and the kind's own fields. Sig is the ed25519
// signature, under the station's signing key, of StationSignedBytes(kind, Req). Binding
// the kind means a request signed for one purpose cannot be replayed as another.
type StationRequest struct {
	Req []byte `json:"req"`
	Sig []byte `json:"sig"`
}

// RequestHeader is what every station request carries: the hub it is for, the station's
// time in Unix seconds, and a nonce (8–64 of A-Z, a-z, 0-9, '_', '-') never used twice.
type RequestHeader struct {
	HubID string `json:"hub_id"`
	TS    int64  `json:"ts"`
	Nonce string `json:"nonce"`
}

// StationReply is published on <prefix>/<hub_id>/station/<kind>/result for every request
// that could be read: the kind's answer, or why it was refused.
type StationReply struct {
	Nonce  string `json:"nonce"`
	Answer any    `json:"answer,omitempty"`
	Error  string `json:"error,omitempty"`
}

// StationHandler answers a verified station request of one kind; req is the signed JSON.
// Its error goes back to the station as text, so it must say what was wrong and reveal
// nothing else.
type StationHandler func(ctx context.Context, req []byte, now time.Time) (any, error)

// StationSignedBytes returns what a station's signature covers.
func StationSignedBytes(kind string, req []byte) []byte {
	return append([]byte(stationPrefix+kind+"\n"), req...)
}

// SignStationRequest signs req for kind with the station's private key: what a station
// does, and what tests do.
func SignStationRequest(key ed25519.PrivateKey, kind string, req []byte) StationRequest {
	return StationRequest{Req: req, Sig: ed25519.Sign(key, StationSignedBytes(kind, req))}
}

// HandleStation registers what answers station requests of kind (a single topic level of
// a-z, 0-9 and '_'). Call it before Run; requests of kinds not registered are refused.
func (u *Uplink) HandleStation(kind string, h StationHandler) error {
	if u.started.Load() {
		return errors.New("mqtt uplink: HandleStation after Run")
	}
	if kind == "" || strings.Trim(kind, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return fmt.Errorf("mqtt uplink: station request kind %q, want a-z, 0-9 and '_'", kind)
	}
	u.handlers[kind] = h
	return nil
}

// stationMessage is a station request as paho delivered it.
type stationMessage struct {
	kind    string
	payload []byte
}

// onStation is paho's handler for station requests: copy and hand on, never block.
func (u *Uplink) onStation(_ paho.Client, m paho.Message) {
	kind := strings.TrimPrefix(m.Topic(), u.topic.station)
	if len(m.Payload()) > MaxStationRequestSize || strings.Contains(kind, "/") {
		u.countRefused(time.Now(), ErrTooLarge, "station request refused unread", "kind", kind, "size", len(m.Payload()))
		return
	}
	select {
	case u.station <- stationMessage{kind: kind, payload: bytes.Clone(m.Payload())}:
	default:
		u.countRefused(time.Now(), ErrBusy, "station request refused: queue full", "kind", kind)
	}
}

// MaxStationRequestSize bounds a station request's payload: a larger one is refused unread.
const MaxStationRequestSize = 8192

func (u *Uplink) countRefused(now time.Time, err error, msg string, args ...any) {
	u.mu.Lock()
	u.refused++
	u.mu.Unlock()
	if u.refusals.allow(now, reason(err)) {
		u.log.Warn(msg, append(args, "error", err)...)
	}
}

// stationLoop answers station requests one at a time, in order of arrival.
func (u *Uplink) stationLoop(ctx context.Context) {
	seen := nonceGuard{store: u.hub.Store(), scope: "station/" + u.cfg.HubID}
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-u.station:
			rep, ok := u.answerStation(ctx, m, time.Now(), &seen)
			if !ok {
				continue
			}
			out, _ := json.Marshal(rep)
			lost, err := u.conn()
			if err == nil {
				err = waitToken(u.client.Publish(u.topic.station+m.kind+"/result", 1, false, out), lost, publishTimeout)
			}
			if err != nil {
				u.log.Warn("publish station reply", "kind", m.kind, "nonce", rep.Nonce, "error", err)
			}
		}
	}
}

// answerStation verifies a station request and hands it to its kind's handler. It reports
// whether to answer: refusals beyond refusedPerMinute are only counted.
func (u *Uplink) answerStation(ctx context.Context, m stationMessage, now time.Time, seen *nonceGuard) (StationReply, bool) {
	var hdr RequestHeader
	req, err := u.verifyStation(m, now, seen, &hdr)
	rep := StationReply{Nonce: hdr.Nonce}
	if err != nil {
		rep.Error = err.Error()
		u.mu.Lock()
		u.refused++
		u.mu.Unlock()
		if !u.refusals.allow(now, reason(err)) {
			return rep, false
		}
		u.log.Warn("station request refused", "kind", m.kind, "nonce", hdr.Nonce, "error", err)
		return rep, true
	}
	u.mu.Lock()
	u.accepted++
	u.mu.Unlock()
	ans, err := u.handlers[m.kind](ctx, req, now)
	if err != nil {
		rep.Error = err.Error()
		u.log.Info("station request answered with a refusal", "kind", m.kind, "nonce", hdr.Nonce, "error", err)
		return rep, true
	}
	rep.Answer = ans
	u.log.Info("station request answered", "kind", m.kind, "nonce", hdr.Nonce)
	return rep, true
}

// verifyStation checks the envelope's signature, then the request's hub, time and nonce
// (remembered in seen, in the store), and returns the signed request.
func (u *Uplink) verifyStation(m stationMessage, now time.Time, seen *nonceGuard, hdr *RequestHeader) ([]byte, error) {
	var env StationRequest
	if err := json.Unmarshal(m.payload, &env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	// The nonce is read before the signature is checked only to address the refusal.
	_ = json.Unmarshal(env.Req, hdr)
	if !validNonce(hdr.Nonce) {
		hdr.Nonce = ""
	}
	if len(env.Sig) != ed25519.SignatureSize || !ed25519.Verify(u.cfg.stationKey, StationSignedBytes(m.kind, env.Req), env.Sig) {
		return nil, ErrBadSignature
	}
	if u.handlers[m.kind] == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownRequest, m.kind)
	}
	*hdr = RequestHeader{}
	if err := json.Unmarshal(env.Req, hdr); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	if !validNonce(hdr.Nonce) {
		return nil, fmt.Errorf("%w: nonce must be 8–64 of A-Z, a-z, 0-9, '_' and '-'", ErrBadCommand)
	}
	if hdr.HubID != u.cfg.HubID {
		return nil, fmt.Errorf("%w: for hub %q, this is %q", ErrBadCommand, hdr.HubID, u.cfg.HubID)
	}
	if d := now.Sub(time.Unix(hdr.TS, 0)); d > MaxClockSkew || d < -MaxClockSkew {
		return nil, fmt.Errorf("%w: %s off the hub's clock", ErrStale, d.Round(time.Second))
	}
	if err := seen.use(hdr.Nonce, now); err != nil {
		return nil, err
	}
	return env.Req, nil
}

// Send publishes payload on <prefix>/<hub_id>/<topic>, QoS 1, not retained, and returns
// once the broker acknowledged it: how alarm photos leave (photos.Sender). Offline, it
// fails at once; the caller keeps the payload queued and retries.
func (u *Uplink) Send(ctx context.Context, topic string, payload []byte) error {
	lost, err := u.conn()
	if err != nil {
		return err
	}
	tok := u.client.Publish(u.topic.base+topic, 1, false, payload)
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
	}
	return waitToken(tok, lost, publishTimeout)
}

// Topic returns the full name of a topic under this hub's: <prefix>/<hub_id>/<sub>.
func (u *Uplink) Topic(sub string) string { return u.topic.base + sub }
