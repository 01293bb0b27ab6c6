package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Pushover sends through the Pushover API: a form POST to /1/messages.json. Alarms go at
// emergency priority (2), which Pushover repeats every Retry until someone acknowledges
// it or Expire passes; the receipt is polled and its acknowledgement logged.
type Pushover struct {
	cfg    PushoverConfig
	client *http.Client
	log    *slog.Logger

	ctx     context.Context // ends the receipt polls; set by Run
	mu      sync.Mutex
	polls   sync.WaitGroup
	acks    map[string]Receipt // by receipt, once polled to the end
	running bool

	// OnAck, when set, is called once for an alarm acknowledged in Pushover: the user key
	// it was sent to, its area, and the receipt. Set it before Run.
	OnAck func(user string, area int, r Receipt)
}

var _ Channel = (*Pushover)(nil)

// Receipt is what Pushover says of an emergency-priority message.
type Receipt struct {
	Acknowledged   bool
	AcknowledgedAt time.Time
	// AcknowledgedBy is the user key, and AcknowledgedByDevice the device, that
	// acknowledged.
	AcknowledgedBy       string
	AcknowledgedByDevice string
	Expired              bool
}

// NewPushover returns the channel; client nil means one with a timeout.
func NewPushover(cfg PushoverConfig, client *http.Client, logger *slog.Logger) *Pushover {
	if client == nil {
		client = &http.Client{Timeout: httpTimeout}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Pushover{cfg: cfg, client: client, log: logger.With("channel", ChannelPushover), acks: map[string]Receipt{}, ctx: context.Background()}
}

// Run lets receipts be polled until ctx ends, then waits for the polls.
func (p *Pushover) Run(ctx context.Context) error {
	p.mu.Lock()
	p.ctx, p.running = ctx, true
	p.mu.Unlock()
	<-ctx.Done()
	p.mu.Lock()
	p.running = false
	p.mu.Unlock()
	p.polls.Wait()
	return nil
}

type pushoverReply struct {
	Status  int      `json:"status"`
	Request string   `json:"request"`
	Receipt string   `json:"receipt"`
	Errors  []string `json:"errors"`
	// Receipt polls.
	Acknowledged         int    `json:"acknowledged"`
	AcknowledgedAt       int64  `json:"acknowledged_at"`
	AcknowledgedBy       string `json:"acknowledged_by"`
	AcknowledgedByDevice string `json:"acknowledged_by_device"`
	Expired              int    `json:"expired"`
}

// Send posts m to the user key user.
func (p *Pushover) Send(ctx context.Context, user string, m Message) error {
	form := url.Values{"token": {p.cfg.Token}, "user": {user}, "title": {m.Title}, "message": {m.Body}, "priority": {"0"}}
	if m.Alarm {
		form.Set("priority", "2")
		form.Set("retry", strconv.Itoa(int(p.cfg.Retry.D()/time.Second)))
		form.Set("expire", strconv.Itoa(int(p.cfg.Expire.D()/time.Second)))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint("/1/messages.json"), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("pushover: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var reply pushoverReply
	if err := p.do(req, &reply); err != nil {
		return err
	}
	if m.Alarm && reply.Receipt != "" {
		p.poll(reply.Receipt, user, m.Area)
	}
	return nil
}

func (p *Pushover) endpoint(path string) string { return strings.TrimRight(p.cfg.API, "/") + path }

func (p *Pushover) do(req *http.Request, reply *pushoverReply) error {
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("pushover: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return statusError("pushover", resp, body)
	}
	if err := json.Unmarshal(body, reply); err != nil {
		return fmt.Errorf("pushover: reply: %w", err)
	}
	if reply.Status != 1 {
		return fmt.Errorf("pushover: %w: status %d: %s", ErrRejected, reply.Status, strings.Join(reply.Errors, "; "))
	}
	return nil
}

// poll polls the receipt of an emergency message until it is acknowledged or expired,
// logging who acknowledged it.
func (p *Pushover) poll(receipt, user string, area int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return
	}
	ctx := p.ctx
	p.polls.Go(func() {
		log := p.log.With("receipt", receipt)
		t := time.NewTicker(p.cfg.Poll.D())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			r, err := p.Receipt(ctx, receipt)
			if err != nil {
				log.Warn("poll alarm receipt", "error", err)
				continue
			}
			if r.Acknowledged {
				log.Info("alarm acknowledged in Pushover", "by", r.AcknowledgedBy, "device", r.AcknowledgedByDevice, "at", r.AcknowledgedAt)
			} else if r.Expired {
				log.Warn("alarm never acknowledged in Pushover: its retries expired")
			} else {
				continue
			}
			p.mu.Lock()
			p.acks[receipt] = r
			p.mu.Unlock()
			if r.Acknowledged && p.OnAck != nil {
				p.OnAck(user, area, r)
			}
			return
		}
	})
}

// Receipt fetches what Pushover says of an emergency message's receipt.
func (p *Pushover) Receipt(ctx context.Context, receipt string) (Receipt, error) {
	u := p.endpoint("/1/receipts/"+url.PathEscape(receipt)+".json") + "?" + url.Values{"token": {p.cfg.Token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Receipt{}, fmt.Errorf("pushover: %w", err)
	}
	var reply pushoverReply
	if err := p.do(req, &reply); err != nil {
		return Receipt{}, err
	}
	r := Receipt{Acknowledged: reply.Acknowledged == 1, AcknowledgedBy: reply.AcknowledgedBy, AcknowledgedByDevice: reply.AcknowledgedByDevice, Expired: reply.Expired == 1}
	if reply.AcknowledgedAt > 0 {
		r.AcknowledgedAt = time.Unix(reply.AcknowledgedAt, 0)
	}
	return r, nil
}

// Acknowledged returns the final state of a polled receipt, once polling has ended.
func (p *Pushover) Acknowledged(receipt string) (Receipt, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.acks[receipt]
	return r, ok
}
