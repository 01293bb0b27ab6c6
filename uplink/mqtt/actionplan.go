package mqtt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"filippo.io/age"

	"vakt/hub"
)

// KindPlanCheck is the station request that checks a verbal password: PlanCheck in, the
// answer "yes" or "no" out.
const KindPlanCheck = "plan_check"

// Limits of verbal password checks: per contact, at most PlanChecksPerContact in any
// PlanCheckWindow, counted in the store so a restart does not reset them.
const (
	PlanChecksPerContact = 5
	PlanCheckWindow      = 10 * time.Minute
)

// Refusals of verbal password checks.
var (
	ErrNoContact     = errors.New("no such contact in the action plan")
	ErrTooManyChecks = errors.New("too many password checks for contact")
)

// ActionPlan is the action plan as the station receives it on <prefix>/<hub_id>/actionplan,
// retained, once decrypted with the station's age identity: the contacts in the order to
// call them, without their verbal passwords or anything derived from them.
type ActionPlan struct {
	HubID        string        `json:"hub_id"`
	Installation string        `json:"installation"`
	Contacts     []PlanContact `json:"contacts"`
}

// PlanContact is one contact of the ActionPlan.
type PlanContact struct {
	// Position is the contact's place in the plan, from 1: what a PlanCheck names.
	Position int    `json:"position"`
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Role     string `json:"role"`
}

// PlanCheck is the signed request (kind plan_check) that asks whether Password is the
// verbal password of the contact at Position. The answer is "yes" or "no", nothing more.
type PlanCheck struct {
	RequestHeader
	Position int    `json:"position"`
	Password string `json:"password"`
}

// planState is what was last published of the plan on the current connection.
type planState struct {
	sent   string // digest of the plaintext; "" after a (re)connect
	at     time.Time
	warned bool // that no station key is configured
}

// actionPlan returns the station's view of inst's action plan.
func actionPlan(hubID string, inst *hub.Installation) ActionPlan {
	p := ActionPlan{HubID: hubID, Installation: inst.Name, Contacts: []PlanContact{}}
	for i, c := range inst.ActionPlan {
		p.Contacts = append(p.Contacts, PlanContact{Position: i + 1, Name: c.Name, Phone: c.Phone, Role: c.Role.String()})
	}
	return p
}

// publishPlan publishes the action plan, encrypted to the station, retained, whenever it
// differs from what this connection last published: on every change, and on every connect.
func (u *Uplink) publishPlan(ctx context.Context) error {
	inst := u.hub.Snapshot().Installation
	if u.cfg.recipient == nil {
		if len(inst.ActionPlan) > 0 && !u.plan.warned {
			u.plan.warned = true
			u.log.Warn("the action plan is not sent: uplink_mqtt.station_public_key is not set")
		}
		return nil
	}
	plain, err := json.Marshal(actionPlan(u.cfg.HubID, inst))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(plain)
	digest := hex.EncodeToString(sum[:])
	u.mu.Lock()
	same := u.plan.sent == digest
	u.mu.Unlock()
	if same {
		return nil
	}
	sealed, err := Seal(u.cfg.recipient, plain)
	if err != nil {
		return fmt.Errorf("encrypt the action plan: %w", err)
	}
	lost, err := u.conn()
	if err != nil {
		return err
	}
	if err := waitToken(u.client.Publish(u.topic.plan, 1, true, sealed), lost, publishTimeout); err != nil {
		if errors.Is(err, errOffline) {
			return err
		}
		return fmt.Errorf("publish the action plan: %w", err)
	}
	u.mu.Lock()
	u.plan.sent, u.plan.at = digest, time.Now()
	u.mu.Unlock()
	u.log.Info("action plan sent to the station, encrypted", "contacts", len(inst.ActionPlan))
	return nil
}

// Seal encrypts plain to the station's age recipient: only the station's identity opens it.
func Seal(to age.Recipient, plain []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, to)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// checkPassword answers a PlanCheck: "yes" or "no", after counting the check against the
// contact's limit. The hash is compared in the hub and never leaves it.
func (u *Uplink) checkPassword(_ context.Context, req []byte, now time.Time) (any, error) {
	var r PlanCheck
	if err := json.Unmarshal(req, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	plan := u.hub.Snapshot().Installation.ActionPlan
	if r.Position < 1 || r.Position > len(plan) {
		return nil, fmt.Errorf("%w: position %d (the plan has %d)", ErrNoContact, r.Position, len(plan))
	}
	c := plan[r.Position-1]
	// Counted per contact's password hash, not position: reordering the plan does not
	// reset a contact's count, and a new password starts a new one.
	sum := sha256.Sum256([]byte(c.Password))
	scope := "plan_check/" + u.cfg.HubID + "/" + hex.EncodeToString(sum[:8])
	switch err := u.hub.Store().UseNonce(scope, r.Nonce, now, PlanCheckWindow, PlanChecksPerContact); {
	case errors.Is(err, hub.ErrNoncesFull):
		return nil, fmt.Errorf("%w %d: at most %d in %s; try again later", ErrTooManyChecks, r.Position, PlanChecksPerContact, PlanCheckWindow)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrBusy, err) // fail closed
	}
	ok := c.CheckPassword(r.Password)
	u.log.Info("verbal password checked for the station", "position", r.Position, "role", c.Role.String(), "match", ok)
	if ok {
		return "yes", nil
	}
	return "no", nil
}
